"""Benchmark `coco_evaluate` against pycocotools and faster-coco-eval, ratios in one run.

bbox (``--iou-type bbox``, the default): a synthetic set (default 5000 images, 80 categories,
1-15 ground truths and 100 detections per image, crowd regions, tied scores;
`rankreward.testing.synthetic.synthetic_coco`).

segm (``--iou-type segm``): 5000 images of 427x640, 20 categories, 0-8 polygon ground truths
per image (crowd regions as uncompressed RLE) and 20 results per image as compressed RLE
strings, as real result files hold them (`synthetic_coco_segm`); RLE validation included.

Each tool evaluates end to end from the in-memory dicts (index building, loadRes, evaluate,
accumulate, summarize), each run in a fresh subprocess (the data is generated once and read from
a JSON file outside the timing) so its peak memory (ru_maxrss over the data-loaded baseline) is
its own. Runs are interleaved round by round; the median is reported. The 12 stats must agree
(to 1e-12). Writes the `bench_coco` / `bench_coco_segm` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, fmt_time, replace_section

TOOLS = ("rankreward", "faster-coco-eval", "pycocotools")


def _data(images: int, categories: int, iou_type: str = "bbox"):
    from rankreward.testing.synthetic import synthetic_coco, synthetic_coco_segm

    rng = np.random.default_rng(0)
    if iou_type == "segm":
        return synthetic_coco_segm(images, categories, rng, image_size=(427, 640))
    return synthetic_coco(images, categories, rng, dets_per_image=100)


def _run_tool(tool: str, gt: dict, dets: list, iou_type: str = "bbox") -> np.ndarray:
    if tool == "rankreward":
        from rankreward.metrics import coco_evaluate

        return coco_evaluate(gt, dets, iou_type=iou_type).stats
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            coco = COCO()
            coco.dataset = gt
            coco.createIndex()
            ev = COCOeval(coco, coco.loadRes(dets), iou_type)
        else:
            from faster_coco_eval import COCO, COCOeval_faster

            coco = COCO(gt)
            ev = COCOeval_faster(coco, coco.loadRes(dets), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12], np.float64)


def _child(tool: str, data: Path, iou_type: str) -> None:
    """One measurement in this fresh process: prints seconds, peak MB over baseline, stats."""
    gt, dets = json.loads(data.read_text())
    if tool == "rankreward":  # compile outside the timing, like the C++ tools' build
        from rankreward.metrics import coco_evaluate

        coco_evaluate(*_data(3, 2, iou_type), iou_type=iou_type)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    stats = _run_tool(tool, gt, dets, iou_type)
    seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "stats": stats.tolist()}))


def _measure(tool: str, data: Path, iou_type: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, "--data", str(data), "--iou-type", iou_type],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--categories", type=int, default=None, help="80 bbox, 20 segm")
    parser.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox")
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per tool")
    parser.add_argument("--quick", action="store_true", help="200 images, one round")
    parser.add_argument("--skip-pycocotools", action="store_true", help="it takes ~1 min")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.data, args.iou_type)
        return ""
    images = 200 if args.quick else args.images
    categories = args.categories or (80 if args.iou_type == "bbox" else 20)
    tmp = tempfile.TemporaryDirectory()
    data = Path(tmp.name) / "data.json"
    gt, dets = _data(images, categories, args.iou_type)
    data.write_text(json.dumps([gt, dets]))
    rounds = 1 if args.quick else args.rounds
    tools = [t for t in TOOLS if not (args.skip_pycocotools and t == "pycocotools")]
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        tools.remove("faster-coco-eval")
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for _ in range(rounds):
        for tool in tools:
            runs[tool].append(_measure(tool, data, args.iou_type))
    stats = {t: np.array(r[0]["stats"]) for t, r in runs.items()}
    ours = stats["rankreward"]
    for tool, s in stats.items():
        if np.abs(s - ours).max() > 1e-12:
            raise AssertionError(f"stats differ from {tool}: {ours} vs {s}")
    secs = {t: float(np.median([r["seconds"] for r in rs])) for t, rs in runs.items()}
    peak = {t: float(np.median([r["peak_mb"] for r in rs])) for t, rs in runs.items()}
    if args.iou_type == "bbox":
        what = "1-15 ground truths and 100 detections per image"
    else:
        what = (
            "427x640 masks, 0-8 polygon ground truths (crowd as uncompressed RLE) and 20 "
            "compressed-RLE results per image"
        )
    lines = [
        f"{images} images, {categories} categories, {what} ({len(dets):,} results, "
        f"{len(gt['annotations']):,} ground truths), {args.iou_type}, from in-memory dicts to "
        f"the 12 stats; median of {rounds} interleaved run(s), each in a fresh process; stats "
        f"identical (max |diff| {max(np.abs(s - ours).max() for s in stats.values()):.0e}).",
        "",
        "| tool | time | rankreward speed-up | peak memory over data |",
        "|---|---:|---:|---:|",
    ]
    for tool in tools:
        ratio = secs[tool] / secs["rankreward"]
        lines.append(f"| {tool} | {fmt_time(secs[tool])} | {ratio:.1f}x | {peak[tool]:.0f} MB |")
    table = "\n".join(lines)
    if not args.quick:
        name = "bench_coco" if args.iou_type == "bbox" else "bench_coco_segm"
        replace_section(args.out, name, table)
    print(table)
    return table


if __name__ == "__main__":
    main()
