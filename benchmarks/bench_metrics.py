"""Benchmark the vectorized metrics against the reference-style baselines, ratios in one run.

1. A GRPO step's geometry: 4096 rollouts of 8 predictions x 8 ground truths. Batched `box_iou`
   (pixel-inclusive) + `box_l1` + `point_distance` + `points_in_boxes` + `hungarian_match_padded`
   against a per-rollout loop of numpy broadcasting plus `scipy.optimize.linear_sum_assignment`
   (the VisionReasoner/Dr. Seg reward code's style). Both give the same matched IoUs.
2. `mask_iou` on 256 pairs of 840x840 masks: paired (one IoU per pair) against plain numpy and
   pycocotools' `maskUtils.iou` per pair on the same masks as RLE; pairwise 256 x 256 against
   pycocotools' `maskUtils.iou` on the lists. The same with RLE input (compressed strings, as
   result files hold them): rankreward's validated run-length kernels against `maskUtils.iou`.
3. `dense_mask_iou`, a segmenter's dense masks scored in the loop, against pycocotools encoding
   them and calling `maskUtils.iou` per mask: a GRPO shape (256 masks, 8 per RLE ground truth)
   and 256 dense pairs.
4. `generalized_box_iou` 2000 x 2000 against a straightforward numpy implementation.

Writes the `bench_metrics` section of docs/performance.md. ``--quick`` shrinks every size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, fmt_time, replace_section, time_interleaved

from rankreward.metrics import (
    box_iou,
    box_l1,
    dense_mask_iou,
    generalized_box_iou,
    hungarian_match_padded,
    mask_iou,
    mask_to_rle,
    point_distance,
    points_in_boxes,
)
from rankreward.testing.reference import match as reference_match


def make_rollouts(n: int, m: int, rng: np.random.Generator):
    """n rollouts of m predicted and m ground-truth objects on an 840x840 image."""
    xy = rng.uniform(0, 700, (n, m, 2))
    gt = np.concatenate([xy, xy + rng.uniform(20, 140, (n, m, 2))], -1).round()
    pred = (gt + rng.normal(0, 12, gt.shape)).round()
    pred[..., 2:] = np.maximum(pred[..., 2:], pred[..., :2])
    gt_pts = ((gt[..., :2] + gt[..., 2:]) / 2).round()
    pred_pts = (gt_pts + rng.normal(0, 25, gt_pts.shape)).round()
    perm = rng.permuted(np.tile(np.arange(m), (n, 1)), axis=1)  # predictions in random order
    take = np.take_along_axis
    return take(pred, perm[..., None], 1), take(pred_pts, perm[..., None], 1), gt, gt_pts


def reference_step(pred, pred_pts, gt, gt_pts) -> np.ndarray:
    """Per-rollout loop in the style of the paper's reward code; returns mean matched IoU."""
    out = np.empty(len(pred))
    for k in range(len(pred)):
        iou, _, rows, cols = reference_match(pred[k], pred_pts[k], gt[k], gt_pts[k])
        out[k] = iou[rows, cols].mean()
    return out


def batched_step(pred, pred_pts, gt, gt_pts) -> np.ndarray:
    """The same with one call per metric for the whole batch."""
    iou = box_iou(pred, gt, pixel_inclusive=True, validate=False)
    l1 = box_l1(pred, gt, validate=False)
    dist = point_distance(pred_pts, gt_pts, validate=False)
    inside = points_in_boxes(pred_pts, pred, validate=False)
    cost = 3.0 - (iou > 0.5) - (l1 < 10) - ((dist < 30) & inside[..., None])
    cols = hungarian_match_padded(cost)
    return np.take_along_axis(iou, cols[..., None], 2)[..., 0].mean(1)


def numpy_giou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A straightforward numpy GIoU (torchvision's formula with numpy broadcasting)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    iou = inter / union
    lt_c = np.minimum(a[:, None, :2], b[None, :, :2])
    rb_c = np.maximum(a[:, None, 2:], b[None, :, 2:])
    wh_c = np.clip(rb_c - lt_c, 0, None)
    area_c = wh_c[..., 0] * wh_c[..., 1]
    return iou - (area_c - union) / area_c


def blob_masks(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """n masks, each a random ellipse (object-like masks, as SAM2 produces)."""
    yy, xx = np.mgrid[:size, :size]
    out = np.empty((n, size, size), bool)
    for k in range(n):
        cy, cx = rng.uniform(0.2, 0.8, 2) * size
        ry, rx = rng.uniform(0.05, 0.3, 2) * size
        out[k] = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short budget")
    parser.add_argument("--budget", type=float, default=None, help="seconds per comparison")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    budget = args.budget or (0.2 if args.quick else 3.0)
    rollouts, masks, mask_size, giou_n = (
        (256, 16, 128, 300) if args.quick else (4096, 256, 840, 2000)
    )
    rng = np.random.default_rng(0)
    from tqdm import tqdm

    rows: list[tuple[str, str, float, float]] = []  # (case, baseline, ours, theirs)
    bar = tqdm(total=6, desc="bench_metrics", unit="case")

    data = make_rollouts(rollouts, 8, rng)
    np.testing.assert_allclose(batched_step(*data), reference_step(*data), rtol=1e-12)
    t = time_interleaved(
        {"ours": lambda: batched_step(*data), "ref": lambda: reference_step(*data)}, budget
    )
    case = f"{rollouts} rollouts x 8x8: IoU+L1+points+Hungarian"
    rows.append((case, "per-rollout numpy + scipy", t["ours"], t["ref"]))
    bar.update()

    p, g = blob_masks(masks, mask_size, rng), blob_masks(masks, mask_size, rng)
    from pycocotools import mask as mask_utils

    def coco_rle(m):  # pycocotools' own type: compressed counts as bytes
        r = mask_to_rle(m)
        return {"size": r["size"], "counts": r["counts"].encode()}

    rp, rg = [coco_rle(m) for m in p], [coco_rle(m) for m in g]

    def numpy_paired():
        inter = np.logical_and(p, g).sum(axis=(1, 2))
        union = np.logical_or(p, g).sum(axis=(1, 2))
        return inter / union

    def coco_paired():
        return np.array([mask_utils.iou([a], [b], [0])[0, 0] for a, b in zip(rp, rg, strict=True)])

    ours = mask_iou(p, g, pairwise=False)
    np.testing.assert_allclose(ours, numpy_paired(), atol=1e-12)
    np.testing.assert_allclose(ours, coco_paired(), atol=1e-12)
    t = time_interleaved(
        {
            "ours": lambda: mask_iou(p, g, pairwise=False),
            "numpy": numpy_paired,
            "coco": coco_paired,
        },
        budget,
    )
    case = f"mask_iou {masks} pairs {mask_size}x{mask_size} (paired)"
    rows.append((case, "plain numpy", t["ours"], t["numpy"]))
    rows.append((case, "pycocotools iou per pair (RLE)", t["ours"], t["coco"]))
    bar.update()

    # a segmenter's dense masks scored in the loop: pycocotools must encode them first (its
    # encode is timed with it); the ground truths are RLE as datasets hold them (GRPO shape: 8
    # completions per ground truth) or dense (paired)
    def coco_encode_iou(masks_, truths, index):
        enc = [mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks_]
        return np.array(
            [mask_utils.iou([enc[k]], [truths[j]], [0])[0, 0] for k, j in enumerate(index)]
        )

    group = 8
    index = np.repeat(np.arange(masks // group), group)
    truth_rle = [coco_rle(m) for m in g[: masks // group]]
    truth_str = [mask_to_rle(m) for m in g[: masks // group]]
    np.testing.assert_array_equal(
        dense_mask_iou(p, truth_str, index), coco_encode_iou(p, truth_rle, index)
    )
    np.testing.assert_array_equal(dense_mask_iou(p, g), coco_encode_iou(p, rg, np.arange(masks)))
    t = time_interleaved(
        {
            "grpo": lambda: dense_mask_iou(p, truth_str, index),
            "coco_grpo": lambda: coco_encode_iou(p, truth_rle, index),
            "paired": lambda: dense_mask_iou(p, g),
            "coco_paired": lambda: coco_encode_iou(p, rg, np.arange(masks)),
        },
        budget,
    )
    case = f"dense_mask_iou {masks} masks vs {masks // group} RLE truths ({group} per truth) {mask_size}x{mask_size}"
    rows.append((case, "pycocotools encode + iou", t["grpo"], t["coco_grpo"]))
    case = f"dense_mask_iou {masks} dense pairs {mask_size}x{mask_size}"
    rows.append((case, "pycocotools encode + iou", t["paired"], t["coco_paired"]))
    bar.update()

    np.testing.assert_allclose(mask_iou(p, g), mask_utils.iou(rp, rg, [0] * len(rg)), atol=1e-6)
    t = time_interleaved(
        {"ours": lambda: mask_iou(p, g), "coco": lambda: mask_utils.iou(rp, rg, [0] * len(rg))},
        budget,
    )
    case = f"mask_iou {masks}x{masks} pairwise {mask_size}x{mask_size}"
    rows.append((case, "pycocotools iou (RLE)", t["ours"], t["coco"]))
    bar.update()

    # RLE in, RLE kernels (validation and decoding of the compressed strings included)
    sp, sg = [mask_to_rle(m) for m in p], [mask_to_rle(m) for m in g]
    np.testing.assert_array_equal(mask_iou(sp, sg), mask_utils.iou(rp, rg, [0] * len(rg)))
    np.testing.assert_array_equal(mask_iou(sp, sg, pairwise=False), coco_paired())
    t = time_interleaved(
        {
            "pairwise": lambda: mask_iou(sp, sg),
            "coco": lambda: mask_utils.iou(rp, rg, [0] * len(rg)),
            "paired": lambda: mask_iou(sp, sg, pairwise=False),
            "coco_paired": coco_paired,
        },
        budget,
    )
    case = f"mask_iou RLE input, {masks}x{masks} pairwise {mask_size}x{mask_size}"
    rows.append((case, "pycocotools iou (RLE)", t["pairwise"], t["coco"]))
    case = f"mask_iou RLE input, {masks} pairs {mask_size}x{mask_size} (paired)"
    rows.append((case, "pycocotools iou per pair (RLE)", t["paired"], t["coco_paired"]))
    bar.update()

    xy = rng.uniform(0, 800, (giou_n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 120, (giou_n, 2))], 1)
    np.testing.assert_allclose(
        generalized_box_iou(boxes, boxes), numpy_giou(boxes, boxes), atol=1e-12
    )
    t = time_interleaved(
        {
            "ours": lambda: generalized_box_iou(boxes, boxes),
            "numpy": lambda: numpy_giou(boxes, boxes),
        },
        budget,
    )
    rows.append(
        (f"generalized_box_iou {giou_n}x{giou_n}", "straightforward numpy", t["ours"], t["numpy"])
    )
    bar.update()
    bar.close()

    lines = [
        "| case | baseline | rankreward | baseline time | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    for case, base, ours_t, theirs in rows:
        lines.append(
            f"| {case} | {base} | {fmt_time(ours_t)} | {fmt_time(theirs)} | {theirs / ours_t:.1f}x |"
        )
    table = "\n".join(lines) + "\n"
    replace_section(args.out, "bench_metrics", table)
    print(table)
    return table


if __name__ == "__main__":
    main()
