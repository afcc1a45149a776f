"""Benchmark `coco_evaluate` against pycocotools and faster-coco-eval, ratios in one run.

A synthetic bbox set (default 5000 images, 80 categories, 1-15 ground truths and 100 detections
per image, crowd regions, tied scores; `rankreward.testing.synthetic.synthetic_coco`) is
evaluated end to end from the in-memory dicts (index building, loadRes, evaluate, accumulate,
summarize) by each tool, each run in a fresh subprocess so its peak memory (ru_maxrss over the
data-loaded baseline) is its own. Runs are interleaved round by round; the median is reported.
The 12 stats must be identical. Writes the `bench_coco` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, fmt_time, replace_section

TOOLS = ("rankreward", "faster-coco-eval", "pycocotools")


def _data(images: int, categories: int):
    from rankreward.testing.synthetic import synthetic_coco

    return synthetic_coco(images, categories, np.random.default_rng(0), dets_per_image=100)


def _run_tool(tool: str, gt: dict, dets: list) -> np.ndarray:
    if tool == "rankreward":
        from rankreward.metrics import coco_evaluate

        return coco_evaluate(gt, dets).stats
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            coco = COCO()
            coco.dataset = gt
            coco.createIndex()
            ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        else:
            from faster_coco_eval import COCO, COCOeval_faster

            coco = COCO(gt)
            ev = COCOeval_faster(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12], np.float64)


def _child(tool: str, images: int, categories: int) -> None:
    """One measurement in this fresh process: prints seconds, peak MB over baseline, stats."""
    gt, dets = _data(images, categories)
    if tool == "rankreward":  # compile outside the timing, like the C++ tools' build
        from rankreward.metrics import coco_evaluate

        coco_evaluate(*_data(3, 2))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    stats = _run_tool(tool, gt, dets)
    seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "stats": stats.tolist()}))


def _measure(tool: str, images: int, categories: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            tool,
            "--images",
            str(images),
            "--categories",
            str(categories),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per tool")
    parser.add_argument("--quick", action="store_true", help="200 images, one round")
    parser.add_argument("--skip-pycocotools", action="store_true", help="it takes ~1 min")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.images, args.categories)
        return ""
    images = 200 if args.quick else args.images
    rounds = 1 if args.quick else args.rounds
    tools = [t for t in TOOLS if not (args.skip_pycocotools and t == "pycocotools")]
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        tools.remove("faster-coco-eval")
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for _ in range(rounds):
        for tool in tools:
            runs[tool].append(_measure(tool, images, args.categories))
    stats = {t: np.array(r[0]["stats"]) for t, r in runs.items()}
    ours = stats["rankreward"]
    for tool, s in stats.items():
        if np.abs(s - ours).max() > 1e-12:
            raise AssertionError(f"stats differ from {tool}: {ours} vs {s}")
    secs = {t: float(np.median([r["seconds"] for r in rs])) for t, rs in runs.items()}
    peak = {t: float(np.median([r["peak_mb"] for r in rs])) for t, rs in runs.items()}
    dets = images * 100
    lines = [
        f"{images} images, {args.categories} categories, 1-15 ground truths and 100 detections "
        f"per image ({dets:,} detections), bbox, from in-memory dicts to the 12 stats; median of "
        f"{rounds} interleaved run(s), each in a fresh process; stats identical (max |diff| "
        f"{max(np.abs(s - ours).max() for s in stats.values()):.0e}).",
        "",
        "| tool | time | rankreward speed-up | peak memory over data |",
        "|---|---:|---:|---:|",
    ]
    for tool in tools:
        ratio = secs[tool] / secs["rankreward"]
        lines.append(f"| {tool} | {fmt_time(secs[tool])} | {ratio:.1f}x | {peak[tool]:.0f} MB |")
    table = "\n".join(lines)
    if not args.quick:
        replace_section(args.out, "bench_coco", table)
    print(table)
    return table


if __name__ == "__main__":
    main()
