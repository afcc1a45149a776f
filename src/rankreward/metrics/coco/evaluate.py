"""The COCO evaluation of flat annotations (`_evaluate`) and its entry points: `coco_evaluate`
(pycocotools' numbers) and `ap_per_image` (every sample's AP in one pass)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..._parallel import launch
from .inputs import _check_params, _Flat, _flatten, _load_json, _per_image_predictions, _segm_ious
from .kernels import _accumulate, _bbox_ious, _match_groups
from .result import AREA_RANGES, IOU_THRESHOLDS, RECALL_THRESHOLDS, COCOResult, _summarize


def _evaluate(
    flat: _Flat,
    iou_type: str,
    iou_thresholds: np.ndarray,
    area_ranges: Sequence[tuple[float, float]],
    max_dets: Sequence[int],
) -> COCOResult:
    n_img, K = len(flat.img_ids), len(flat.cat_ids)
    max_dets_arr = np.asarray(sorted(int(m) for m in max_dets), np.int64)
    # group by (category, image), keeping file order inside a group (stable sorts)
    g_key = flat.g_cat.astype(np.int64) * n_img + flat.g_img
    g_order = np.argsort(g_key, kind="mergesort")
    d_key = flat.d_cat.astype(np.int64) * n_img + flat.d_img
    d_order = np.lexsort((-flat.d_score, d_key))  # stable: score ties keep file order
    d_key_sorted = d_key[d_order]
    bounds = np.arange(K * n_img + 1, dtype=np.int64)
    dstart_all = np.searchsorted(d_key_sorted, bounds, side="left")
    pos = np.arange(len(d_order), dtype=np.int64) - dstart_all[d_key_sorted]
    keep = pos < max_dets_arr[-1]
    d_order, pos = d_order[keep], pos[keep]
    d_key_sorted = d_key_sorted[keep]
    gstart = np.searchsorted(g_key[g_order], bounds, side="left")
    dstart = np.searchsorted(d_key_sorted, bounds, side="left")

    g_box = np.ascontiguousarray(flat.g_box[g_order])
    g_area = np.ascontiguousarray(flat.g_area[g_order])
    g_crowd = np.ascontiguousarray(flat.g_crowd[g_order])
    g_id = np.ascontiguousarray(flat.g_id[g_order])
    d_box = np.ascontiguousarray(flat.d_box[d_order])
    d_area = np.ascontiguousarray(flat.d_area[d_order])
    d_score = np.ascontiguousarray(flat.d_score[d_order])

    sizes = np.diff(gstart) * np.diff(dstart)
    iou_start = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=iou_start[1:])
    ious = np.zeros(int(iou_start[-1]))
    if iou_type == "bbox":
        launch("coco", 0, None, _bbox_ious, gstart, dstart, g_box, d_box, g_crowd, iou_start, ious)
    else:
        _segm_ious(flat, g_order, d_order, gstart, dstart, g_crowd, iou_start, ious)

    thr = np.asarray(iou_thresholds, np.float64)
    area_rng = np.asarray(area_ranges, np.float64).reshape(-1, 2)
    A, T, M = len(area_rng), len(thr), len(max_dets_arr)
    matched = np.zeros((A, T, len(d_order)), np.bool_)
    ignored = np.zeros((A, T, len(d_order)), np.bool_)
    launch("coco", 0, None, _match_groups, gstart, dstart, iou_start, ious, g_area, g_crowd, g_id,
           d_area, thr, area_rng, matched, ignored)  # fmt: skip

    # non-ignored ground truths per (category, area range)
    npig = np.zeros((K, A), np.int64)
    for a, (lo, hi) in enumerate(area_rng):
        ok = ~flat.g_crowd & (flat.g_area >= lo) & (flat.g_area <= hi)
        npig[:, a] = np.bincount(flat.g_cat[ok], minlength=K)

    R = len(RECALL_THRESHOLDS)
    prec = -np.ones((T, R, K, A, M))
    rec = -np.ones((T, K, A, M))
    sc = -np.ones((T, R, K, A, M))
    cat_start = dstart[np.arange(K + 1) * n_img]
    launch("coco", 0, None, _accumulate, cat_start, d_score, pos, matched, ignored, npig,
           max_dets_arr, RECALL_THRESHOLDS, prec, rec, sc)  # fmt: skip
    result = COCOResult(
        stats=np.zeros(12),
        precision=prec,
        recall=rec,
        scores=sc,
        category_ids=flat.cat_ids,
        iou_thresholds=thr,
        recall_thresholds=RECALL_THRESHOLDS.copy(),
        area_ranges=tuple((float(lo), float(hi)) for lo, hi in area_rng),
        max_dets=tuple(int(m) for m in max_dets_arr),
    )
    _summarize(result)
    return result


def coco_evaluate(
    gt: Mapping | str | os.PathLike[str],
    predictions: Sequence[Mapping] | Mapping | str | os.PathLike[str],
    *,
    iou_type: str = "bbox",
    max_dets: Sequence[int] = (1, 10, 100),
    area_ranges: Sequence[tuple[float, float]] | None = None,
    iou_thresholds: Sequence[float] | None = None,
    use_categories: bool = True,
    negative_sizes: str = "raise",
) -> COCOResult:
    """COCO AP/AR exactly as pycocotools computes it (``evaluate``, ``accumulate``,
    ``summarize``), vectorised.

    Args:
        gt: a COCO dict (``images``, ``annotations`` with ``area``, ``categories``) or its path.
        predictions: COCO results (list of ``{"image_id", "category_id", "bbox" | "segmentation",
            "score"}``), their JSON path, or per-image arrays
            ``{image_id: {"boxes": (N, 4) xywh, "scores", "labels"}}`` (bbox).
        iou_type: ``"bbox"`` or ``"segm"`` (RLE or polygon segmentations; needs pycocotools).
        max_dets: detections kept per image and category; three values for the summary.
        area_ranges: four (lo, hi) ranges for all/small/medium/large (pycocotools' default).
        iou_thresholds: default 0.50:0.05:0.95.
        use_categories: ``False`` pools all categories (pycocotools' ``useCats=0``).
        negative_sizes: ``"raise"`` (default) rejects a result box with a negative width or
            height; ``"allow"`` scores it as pycocotools does (it overlaps nothing, and its area
            w*h decides its area range), which unclamped released results need.

    Bad input (negative sizes, missing keys, unknown image or category ids, NaN scores) raises
    ``ValueError`` naming the entry; nothing is dropped silently.

    Complexity: O(N log N) sorting plus, per (category, image), O(T D G) matching; parallel.

    Examples:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 7}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 7,
        ...                        "bbox": [10, 10, 50, 50], "area": 2500, "iscrowd": 0}]}
        >>> dets = [{"image_id": 1, "category_id": 7, "bbox": [12, 10, 50, 50], "score": 0.9}]
        >>> r = coco_evaluate(gt, dets)
        >>> r.stats[:3].round(3).tolist()  # IoU 0.923: matched at 0.50..0.90, missed at 0.95
        [0.9, 1.0, 1.0]
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    gt = _load_json(gt, "ground truth")
    predictions = _load_json(predictions, "predictions")
    if isinstance(predictions, Mapping):
        if iou_type != "bbox":
            raise ValueError("per-image prediction arrays are boxes: use iou_type='bbox'")
        predictions = _per_image_predictions(predictions)
    if not isinstance(predictions, Sequence) or isinstance(predictions, (str, bytes)):
        raise ValueError("predictions must be a list of result dicts, a path, or a mapping")
    params = _check_params(max_dets, iou_thresholds, area_ranges)
    if negative_sizes not in ("raise", "allow"):
        raise ValueError(f"negative_sizes must be 'raise' or 'allow', got {negative_sizes!r}")
    flat = _flatten(gt, list(predictions), iou_type, use_categories, negative_sizes)
    return _evaluate(flat, iou_type, *params)


def ap_per_image(
    g_img: np.ndarray,
    g_cat: np.ndarray,
    g_box: np.ndarray,
    g_area: np.ndarray,
    d_img: np.ndarray,
    d_cat: np.ndarray,
    d_box: np.ndarray,
    d_score: np.ndarray,
    n_images: int,
    *,
    iou: float | None = None,
) -> np.ndarray:
    """Each image's COCO AP as if it were evaluated *alone*: pycocotools' ``stats[0]`` (or,
    with ``iou=0.5``, ``stats[1]``) of a ``COCOeval`` holding only that image, its categories
    being those of its ground truths. Per-sample detection rewards (VLM-R1's ``od_ap``) call
    COCOeval once per completion; this scores a whole batch in one pass, same numbers.

    Args:
        g_img: each ground truth's image, 0..n_images-1.
        g_cat: its category id, local to the image.
        g_box: (G, 4) xywh.
        g_area: ground-truth areas as given (pycocotools does not recompute them); a negative
            one is outside every area range, so that ground truth is ignored.
        d_img: each detection's image.
        d_cat: its category id; a category the image's ground truths lack is an error (leave
            such detections out, as the per-image evaluation never sees them).
        d_box: (D, 4) xywh (negative sizes scored as pycocotools scores them).
        d_score: detection scores (ties keep input order, as pycocotools' stable sort does).
        n_images: the number of images.
        iou: ``None`` for AP@[.5:.95], else one of the ten thresholds.

    Returns ``(n_images,)``: the AP, -1 where no ground truth counts (pycocotools' -1).

    Complexity: as `coco_evaluate` over all images at once, plus O(images x 1010) for the means.

    Examples:
        >>> box = np.array([[0.0, 0, 10, 10]])
        >>> ap_per_image(np.array([0, 1]), np.array([0, 0]), np.vstack([box, box]), np.array([100.0, 100]),
        ...              np.array([0, 1]), np.array([0, 0]), np.array([[0.0, 0, 10, 10], [5, 5, 10, 10]]),
        ...              np.ones(2), 2).round(3).tolist()
        [1.0, 0.0]
    """
    g_img, g_cat, d_img, d_cat = (np.asarray(a, np.int64) for a in (g_img, g_cat, d_img, d_cat))
    g_box, d_box = np.asarray(g_box, np.float64), np.asarray(d_box, np.float64)
    g_area, d_score = np.asarray(g_area, np.float64), np.asarray(d_score, np.float64)
    G, D = len(g_img), len(d_img)
    shapes = {"g_cat": (g_cat.shape, (G,)), "g_box": (g_box.shape, (G, 4)),
              "g_area": (g_area.shape, (G,)), "d_cat": (d_cat.shape, (D,)),
              "d_box": (d_box.shape, (D, 4)), "d_score": (d_score.shape, (D,))}  # fmt: skip
    for name, (got, want) in shapes.items():
        if got != want and not (want[0] == 0 and np.prod(got) == 0):
            raise ValueError(f"{name} must have shape {want} for {G} ground truths and {D} "
                             f"detections, got {got}")  # fmt: skip
    for name, values in (("g_img", g_img), ("d_img", d_img)):
        if len(values) and (values.min() < 0 or values.max() >= n_images):
            raise ValueError(f"{name} must lie in 0..{n_images - 1}")
    if not (np.isfinite(d_score).all() and np.isfinite(d_box).all() and np.isfinite(g_box).all()):
        raise ValueError("boxes and scores must be finite (pycocotools gives NaN boxes NaN IoUs)")
    if len(d_img) and not np.isin(d_img * (1 << 32) + d_cat, g_img * (1 << 32) + g_cat).all():
        raise ValueError("a detection's category has no ground truth in its image")
    # one category per (image, category): each category's accumulation is then one image's
    pairs, g_global = np.unique(np.stack([g_img, g_cat], 1), axis=0, return_inverse=True)
    g_global = g_global.reshape(-1)
    d_global = np.searchsorted(pairs[:, 0] * (1 << 32) + pairs[:, 1], d_img * (1 << 32) + d_cat)
    d_box = np.asarray(d_box, np.float64).reshape(-1, 4)
    # Matching and accumulation never mix categories, and each category now belongs to one
    # image, so one shared image gives the same numbers without a (category x image) grid.
    flat = _Flat(
        img_ids=np.zeros(1, np.int64),
        cat_ids=np.arange(len(pairs), dtype=np.int64),
        g_img=np.zeros(len(g_img), np.int64),
        g_cat=g_global.astype(np.int64),
        g_box=np.asarray(g_box, np.float64).reshape(-1, 4),
        g_area=np.asarray(g_area, np.float64),
        g_crowd=np.zeros(len(g_img), np.bool_),
        g_id=np.arange(1, len(g_img) + 1, dtype=np.int64),
        d_img=np.zeros(len(d_img), np.int64),
        d_cat=d_global.astype(np.int64),
        d_box=d_box,
        d_area=d_box[:, 2] * d_box[:, 3],
        d_score=np.asarray(d_score, np.float64),
    )
    result = _evaluate(flat, "bbox", IOU_THRESHOLDS, [AREA_RANGES[0]], [100])
    precision = result.precision[:, :, :, 0, 0]
    if iou is not None:
        precision = precision[np.where(iou == IOU_THRESHOLDS)[0]]
    bounds = np.searchsorted(pairs[:, 0], np.arange(n_images + 1))
    out = np.full(n_images, -1.0)
    for i in range(n_images):
        s = precision[:, :, bounds[i] : bounds[i + 1]]
        valid = s[s > -1]  # summarize's own selection and np.mean: the same float sums
        if len(valid):
            out[i] = np.mean(valid)
    return out
