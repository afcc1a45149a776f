"""Evaluate a Dr. Seg policy the way the paper does: ReasonSeg gIoU/cIoU through SAM2 masks,
COCO AP, and counting accuracy. ``rankreward eval ...`` and ``python examples/eval_drseg.py ...``
both run `main`.

    rankreward eval --task reasonseg --model runs/drseg/checkpoint-600 \\
        --dataset data/reasonseg_test.jsonl --segmenter checkpoints/sam2-hiera-large \\
        --output-dir runs/eval
    rankreward eval --task coco --model ... --dataset instances_val2017.json \\
        --image-root val2017 --output-dir runs/eval_coco
    rankreward eval --task count --model ... --dataset pixmo_val.jsonl ...
    rankreward eval --task reasonseg --protocol visionreasoner --dataset Ricky06662/ReasonSeg_test ...
    rankreward eval --tiny            # offline smoke run of all three tasks

Protocols (``--protocol``): ``paper`` (default: ``drseg`` for reasonseg, ``visionreasoner`` for
coco and count, the scripts behind the paper's numbers), ``drseg``, ``visionreasoner``,
``visionreasoner-nonobj`` or ``rankreward``. Each sets the prompt, decoding, batch size, image
size, answer reader and scoring rules of its released scripts; ``--batch-size``,
``--max-new-tokens`` and ``--seen-size`` override the generation settings.

Datasets: ReasonSeg-style JSONL rows ``{"image", "question", "mask"}`` (mask as an RLE dict,
COCO polygons, or a PNG path), counting JSONL rows ``{"image", "question", "count"}``, a
COCO detection JSON (one query per image and category present, the question being the
category name), or the released evaluation sets (a parquet file, a ``save_to_disk``
directory or a hub id such as ``Ricky06662/ReasonSeg_test``, split ``test``; columns
``image``, ``text``, ``mask``, ``bbox``, ``count``, ``cat_id``, ``img_width``, ``img_height``;
COCO needs ``--coco-gt``). Image paths are relative to the dataset file (or ``--image-root``).

Writes ``results.json`` (metrics and settings), ``records-<task>.jsonl`` (completion, parsed
objects in original-image pixels, parse problems, per-sample score) and prints a short table.
``--completions`` reads precomputed completions (JSONL of {"completion"} in dataset order)
instead of generating.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rankreward._deprecation import REMOVAL_RELEASE
from rankreward.arguments import HelpFormatter
from rankreward.jsonl import read_jsonl, read_jsonl_field

TASKS = ("reasonseg", "coco", "count")
PROTOCOL_NAMES = ("drseg", "visionreasoner", "visionreasoner-nonobj", "rankreward")
#: the released evaluation sets' columns -> this loader's sample keys
RELEASED_COLUMNS = {"text": "question", "cat_id": "category_id", "img_width": "width",
                    "img_height": "height"}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rankreward eval", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])  # fmt: skip
    p.add_argument("--task", choices=TASKS, help="which evaluation (all three with --tiny)")
    p.add_argument("--model", help="policy checkpoint directory or hub id (Qwen2.5-VL)")
    p.add_argument("--dataset", help="JSONL (reasonseg, count) or COCO JSON (coco)")
    p.add_argument("--image-root", help="directory image paths are relative to")
    p.add_argument("--segmenter", default="box",
                   help="a SAM2 checkpoint for transformers' Sam2Model, or 'box' (box = mask)")  # fmt: skip
    p.add_argument("--output-dir", default="runs/eval", help="where results and records go")
    p.add_argument("--completions", help="JSONL of precomputed completions (skips generation)")
    p.add_argument("--protocol", default="paper", choices=("paper", *PROTOCOL_NAMES),
                   help="whose evaluation rules (default: the paper's for the task)")  # fmt: skip
    p.add_argument("--coco-gt", help="COCO ground-truth JSON for a released COCO dataset")
    p.add_argument("--seen-size", type=int,
                   help="the square size images are resized to for the model (0: no resize; "
                        "default: the protocol's 840)")  # fmt: skip
    p.add_argument("--frame", default="absolute", choices=("absolute", "rel1000", "rel1"),
                   help="the policy's answer coordinates: absolute pixels of the image it saw "
                        "(Qwen2.5-VL, the paper), rel1000 (Qwen3-VL, Qwen2-VL) or rel1; a "
                        "rel1000 answer maps as int(v * W / 1000 + 0.5)")  # fmt: skip
    p.add_argument("--batch-size", type=int, help="default: the protocol's (16)")
    p.add_argument("--max-new-tokens", type=int, help="default: the protocol's")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples")
    p.add_argument("--compat", choices=("lenient", "strict"), default="lenient",
                   help="how the rankreward protocol's parser reads answers: strict is plain "
                        "json.loads (rankreward protocol only)")  # fmt: skip
    p.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)  # 0.1: --compat strict
    p.add_argument("--tiny", action="store_true",
                   help="offline CPU smoke run: tiny random Qwen2.5-VL and SAM2, synthetic data")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        p.error(f"--limit must be a positive number of samples, got {args.limit}")
    if not args.tiny and not (args.task and args.dataset and (args.model or args.completions)):
        p.error("--task, --dataset and --model (or --completions) are required without --tiny")
    return args


# ----------------------------------------------------------------------------- data
def _mask(value: Any, root: Path, size: tuple[int, int]) -> np.ndarray:
    """A ground-truth mask from an RLE dict, COCO polygons or a PNG path; size is (H, W)."""
    from rankreward.metrics import polygon_to_mask, rle_to_mask

    if isinstance(value, dict):
        return rle_to_mask(value).astype(bool)
    if isinstance(value, list):
        return polygon_to_mask(value, *size).astype(bool)
    if isinstance(value, str):
        from PIL import Image

        return np.asarray(Image.open(root / value).convert("L")) > 127
    raise SystemExit(f"unsupported mask {type(value).__name__}: use RLE, polygons or a PNG path")


def load_released(task: str, dataset: str, coco_gt: str | None = None) -> tuple[list[dict], Any]:
    """Rows of a released evaluation set (the Hugging Face datasets the released scripts read
    with ``load_dataset(path, split="test")``): a parquet file, a ``save_to_disk`` directory or
    a hub id. Columns are renamed to this loader's keys (``text`` -> ``question``, ``cat_id``
    -> ``category_id``, ``img_width``/``img_height`` -> ``width``/``height``); masks become
    bool arrays. O(rows)."""
    import datasets

    path = Path(dataset)
    if path.suffix == ".parquet":
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    elif path.is_dir() and (path / "dataset_info.json").exists():
        ds = datasets.load_from_disk(str(path))
        ds = ds["test"] if isinstance(ds, datasets.DatasetDict) else ds
    else:
        ds = datasets.load_dataset(dataset, split="test")
    need = {"reasonseg": ("image", "text", "mask"), "count": ("image", "text", "count"),
            "coco": ("image", "text", "image_id", "cat_id", "bbox")}[task]  # fmt: skip
    missing = [c for c in need if c not in ds.column_names]
    if missing:
        raise SystemExit(f"{dataset}: the {task} evaluation needs columns {missing}")
    rows = []
    for row in ds:
        sample = {RELEASED_COLUMNS.get(k, k): v for k, v in row.items()}
        if task == "reasonseg":
            sample["mask"] = np.asarray(sample["mask"], bool)
        rows.append(sample)
    if task != "coco":
        return rows, None
    if not coco_gt:
        raise SystemExit("--coco-gt (the COCO ground-truth JSON) is needed with a released set")
    return rows, json.loads(Path(coco_gt).read_text())


def load_samples(task: str, dataset: str, image_root: str | None,
                 coco_gt: str | None = None) -> tuple[list[dict], Any]:  # fmt: skip
    """Samples for ``task`` (and the COCO ground truth for coco)."""
    from PIL import Image

    path = Path(dataset)
    root = Path(image_root) if image_root else path.parent
    if path.suffix not in (".json", ".jsonl"):
        return load_released(task, dataset, coco_gt)
    if task == "coco":
        gt = json.loads(path.read_text())
        names = {c["id"]: c.get("name", str(c["id"])) for c in gt["categories"]}
        present: dict[int, list[int]] = {}
        for a in gt["annotations"]:
            cats = present.setdefault(a["image_id"], [])
            if a["category_id"] not in cats:
                cats.append(a["category_id"])
        samples = [
            {"image": root / im["file_name"], "image_id": im["id"], "category_id": c,
             "question": names[c], "width": im["width"], "height": im["height"]}
            for im in gt["images"] for c in sorted(present.get(im["id"], []))
        ]  # fmt: skip
        return samples, gt
    try:
        lines = list(read_jsonl(path))
    except ValueError as e:
        raise SystemExit(f"rankreward eval: --dataset {e}") from None
    rows = []
    for lineno, row in lines:
        need = ("image", "question", "mask" if task == "reasonseg" else "count")
        if not isinstance(row, dict):
            raise SystemExit(f"{path}:{lineno}: a sample must be an object with {list(need)}")
        missing = [k for k in need if k not in row]
        if missing:
            raise SystemExit(f"{path}:{lineno}: missing {missing}")
        rows.append(row)
        row["image"] = root / row["image"]
        if task == "reasonseg":
            w, h = Image.open(row["image"]).size
            row["mask"] = _mask(row["mask"], root, (h, w))
    return rows, None


def tiny_setup(out: Path, seed: int) -> dict[str, Any]:
    """Tiny random Qwen2.5-VL and SAM2 (built, saved, reloaded) and synthetic data for every
    task: coloured shapes with their masks, counts and a COCO ground truth."""
    from rankreward.evaluation import Sam2Segmenter, build_tiny_sam2
    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl

    rows = synthetic_shapes(6, 56, seed, with_masks=True)
    names = sorted({r["category"] for r in rows})
    images, annotations, coco_samples = [], [], []
    for i, r in enumerate(rows, 1):
        images.append({"id": i, "file_name": f"{i}.png", "width": 56, "height": 56})
        cat = names.index(r["category"]) + 1
        for obj, m in zip(json.loads(r["solution"]), r["masks"], strict=True):
            x1, y1, x2, y2 = obj["bbox_2d"]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": cat,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(m.sum()),
                                "iscrowd": 0})  # fmt: skip
        coco_samples.append({"image": r["image"], "image_id": i, "category_id": cat,
                             "question": r["category"], "width": 56, "height": 56})  # fmt: skip
    gt = {"images": images, "annotations": annotations,
          "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)]}  # fmt: skip
    return {
        "model": build_tiny_qwen2_5_vl(out / "tiny-model", seed=seed),
        "segmenter": Sam2Segmenter(build_tiny_sam2(out / "tiny-sam2", seed=seed), device="cpu"),
        "data": {"reasonseg": (rows, None), "count": (rows, None), "coco": (coco_samples, gt)},
    }


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Run an evaluation from command-line arguments; returns the exit status.

    Example:
        ```python
        main(["--tiny", "--output-dir", "runs/eval_tiny"])
        ```
    """
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rankreward.evaluation import (
        BoxSegmenter,
        Sam2Segmenter,
        evaluate_coco,
        evaluate_count,
        evaluate_reasonseg,
        generate_completions,
        get_protocol,
    )

    start = time.time()
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file in the way, no permission
        raise SystemExit(f"rankreward eval: --output-dir {out}: {e.strerror or e}") from None
    tasks = [args.task] if args.task else list(TASKS)
    name = None if args.protocol == "paper" else args.protocol
    try:
        protocols = {t: get_protocol(name, t) for t in tasks}
    except ValueError as e:
        raise SystemExit(f"rankreward eval: {e}") from None
    if args.strict:
        print("rankreward eval: --strict is deprecated: use --compat strict (removed in "
              f"rankreward {REMOVAL_RELEASE})", file=sys.stderr)  # fmt: skip
        args.compat = "strict"
    if args.compat == "strict" and any(p.reader != "rankreward" for p in protocols.values()):
        raise SystemExit("rankreward eval: --compat strict needs --protocol rankreward")
    max_new = args.max_new_tokens
    if args.tiny:
        setup = tiny_setup(out, args.seed)
        model_path, segmenter = setup["model"], setup["segmenter"]
        data = setup["data"]
        seen, max_new = (56, 56), 24
    else:
        try:
            data = {args.task: load_samples(args.task, args.dataset, args.image_root, args.coco_gt)}
        except OSError as e:  # a missing dataset, image or COCO file: one line, the file named
            raise SystemExit(f"rankreward eval: {e.filename}: {e.strerror or e}") from None
        model_path = args.model
        if args.segmenter == "box":
            segmenter = BoxSegmenter()
        else:  # the released protocols keep the best of SAM2's three candidates
            segmenter = Sam2Segmenter(args.segmenter, multimask=protocols[args.task].multimask)
        if args.seen_size is None:
            seen = "protocol"  # the protocol's size, 840x840
        else:  # 0: no resize
            seen = (args.seen_size, args.seen_size) if args.seen_size else None

    model = processor = None
    if not args.completions:
        from rankreward._extras import require

        torch = require("torch", "trl", "rankreward eval (generating completions)")
        require("transformers", "trl", "rankreward eval (generating completions)")
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from rankreward.testing.tiny_vlm import load_image_only_processor

        model = AutoModelForImageTextToText.from_pretrained(
            model_path, dtype=torch.float32 if args.tiny else "auto"
        ).eval()
        if torch.cuda.is_available():
            model = model.cuda()
        try:
            processor = AutoProcessor.from_pretrained(model_path)
        except (ImportError, ValueError, OSError):  # no torchvision: image-only processor
            processor = load_image_only_processor(model_path)

    results: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items()}}
    if not args.completions:
        import torch

        torch.manual_seed(args.seed)  # the drseg protocol samples
    for task in tasks:
        proto = protocols[task]
        task_seen = proto.seen_size if seen == "protocol" else seen
        results.setdefault("protocols", {})[task] = proto.name
        samples, gt = data[task]
        samples = samples[: args.limit] if args.limit else samples
        if args.completions:
            try:
                completions = read_jsonl_field(args.completions, ("completion",),
                                               "a completion", (str,))  # fmt: skip
            except ValueError as e:
                raise SystemExit(f"rankreward eval: --completions {e}") from None
            if len(completions) < len(samples):
                raise SystemExit(
                    f"rankreward eval: --completions {args.completions} has {len(completions)} "
                    f"completions for {len(samples)} {task} samples"
                )
            completions = completions[: len(samples)]
        else:
            completions = generate_completions(
                model, processor, [s["image"] for s in samples], [s["question"] for s in samples],
                protocol=proto, seen_size=task_seen, batch_size=args.batch_size,
                max_new_tokens=max_new,
            )  # fmt: skip
        if task == "reasonseg":
            res = evaluate_reasonseg(samples, completions, segmenter, seen_size=task_seen,
                                     compat=args.compat, protocol=proto, frame=args.frame)  # fmt: skip
        elif task == "coco":
            res = evaluate_coco(samples, completions, gt, seen_size=task_seen,
                                compat=args.compat, protocol=proto, frame=args.frame)  # fmt: skip
        else:
            res = evaluate_count(samples, completions, compat=args.compat, protocol=proto)
        results[task] = res.metrics
        with open(out / f"records-{task}.jsonl", "w", encoding="utf-8") as f:
            for rec in res.records:
                f.write(json.dumps(rec) + "\n")
        print(f"protocol: {proto.name}")
        print(res.table())
        if res.coco is not None:
            print(res.coco.summary())
        print()
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {out / 'results.json'}  records: {out}/records-*.jsonl  "
          f"({time.time() - start:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
