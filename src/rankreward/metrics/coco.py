"""COCO-style detection and segmentation AP with pycocotools' exact numbers, vectorised.

`coco_evaluate` reproduces ``COCOeval.evaluate(); accumulate(); summarize()`` rule for rule:

- ground truth ``ignore`` is ``iscrowd``; a crowd region may match many detections and its IoU
  is intersection / detection area; area ranges filter ground truths by their ``area`` field
  and unmatched detections by their own area (bounds inclusive);
- detections are ordered by score with a stable sort (so ties keep file order within an image,
  then image-id order across images) and cut to ``max(max_dets)`` per image and category;
- greedy matching per IoU threshold, preferring non-ignored ground truths, in pycocotools' loop
  order; the IoU formula is computed with the same float64 operations, so threshold ties fall
  the same way;
- precision is interpolated at 101 recall points with the monotone envelope; -1 marks
  "no ground truth"; pycocotools' quirk that a ground truth with ``id == 0`` never counts as
  matched is kept, so numbers stay identical.

Instead of Python loops over images and categories, annotations become flat arrays grouped by
(category, image); one Numba pass matches every group (in parallel) and a second accumulates
every category (in parallel). `DetectionAP` streams per-image arrays into the same kernels.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from .._parallel import launch
from .rle import RLEBatch, _group_ious, rle_batch
from .rle import _concat as _concat_rles

__all__ = ["COCOResult", "DetectionAP", "ap_per_image", "coco_evaluate"]

#: pycocotools' default area ranges (all, small, medium, large), bounds inclusive.
AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


# ----------------------------------------------------------------------------- result
@dataclass
class COCOResult:
    """What ``COCOeval`` leaves in ``stats`` and ``eval`` after ``summarize()``.

    Attributes:
        stats: the 12 summary numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
            ARm, ARl); -1 where undefined.
        precision: (T, R, K, A, M) interpolated precision, -1 where a category has no ground
            truth (pycocotools' ``eval["precision"]``).
        recall: (T, K, A, M) recall, -1 likewise.
        scores: (T, R, K, A, M) the score at each recall point.
        category_ids, iou_thresholds, recall_thresholds, area_ranges, max_dets: the axes.

    Examples:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 3}], "annotations": [
        ...     {"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100}]}
        >>> r = coco_evaluate(gt, [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 1}])
        >>> r.precision.shape, round(r.per_category_ap()[3], 6)
        ((10, 101, 1, 4, 3), 1.0)
    """

    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    category_ids: np.ndarray
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    area_ranges: tuple[tuple[float, float], ...]
    max_dets: tuple[int, ...]
    _lines: list[str] = field(default_factory=list, repr=False)

    def per_category_ap(self) -> dict[int, float]:
        """AP@[.5:.95] per category id (area all, the largest max_dets); -1 without ground
        truth. O(T R K)."""
        out = {}
        for k, cat in enumerate(self.category_ids.tolist()):
            s = self.precision[:, :, k, 0, -1]
            s = s[s > -1]
            out[int(cat)] = float(np.mean(s)) if s.size else -1.0
        return out

    def summary(self) -> str:
        """pycocotools' 12-line table (also what ``print(result)`` shows)."""
        return "\n".join(self._lines)

    def __str__(self) -> str:
        return self.summary()


# ----------------------------------------------------------------------------- kernels
@nb.njit(cache=True)
def _bbox_iou_group(db, gb, crowd, out):
    """pycocotools' ``bbIou`` (maskApi.c) for one group, same float64 operations in the same
    order: rows are detections, columns ground truths (xywh)."""
    for g in range(gb.shape[0]):
        ga = gb[g, 2] * gb[g, 3]
        for d in range(db.shape[0]):
            da = db[d, 2] * db[d, 3]
            w = min(db[d, 0] + db[d, 2], gb[g, 0] + gb[g, 2]) - max(db[d, 0], gb[g, 0])
            if w <= 0:
                out[d, g] = 0.0
                continue
            h = min(db[d, 1] + db[d, 3], gb[g, 1] + gb[g, 3]) - max(db[d, 1], gb[g, 1])
            if h <= 0:
                out[d, g] = 0.0
                continue
            i = w * h
            u = da if crowd[g] else da + ga - i
            out[d, g] = i / u


@nb.njit(cache=True, parallel=True)
def _bbox_ious(gstart, dstart, g_box, d_box, g_crowd, iou_start, ious):
    for grp in nb.prange(gstart.shape[0] - 1):
        g0, g1 = gstart[grp], gstart[grp + 1]
        d0, d1 = dstart[grp], dstart[grp + 1]
        if g1 == g0 or d1 == d0:
            continue
        block = ious[iou_start[grp] : iou_start[grp] + (d1 - d0) * (g1 - g0)]
        _bbox_iou_group(
            d_box[d0:d1], g_box[g0:g1], g_crowd[g0:g1], block.reshape((d1 - d0, g1 - g0))
        )


@nb.njit(cache=True, parallel=True)
def _match_groups(
    gstart, dstart, iou_start, ious, g_area, g_crowd, g_id, d_area, thr, area_rng, matched, ignored
):
    """pycocotools' ``evaluateImg`` for every (category, image) group and area range.

    Writes ``matched[a, t, j]`` (matched to a ground truth with a non-zero id) and
    ``ignored[a, t, j]`` for every kept detection j (in score order within its group).
    """
    T = thr.shape[0]
    A = area_rng.shape[0]
    for grp in nb.prange(gstart.shape[0] - 1):
        g0, g1 = gstart[grp], gstart[grp + 1]
        d0, d1 = dstart[grp], dstart[grp + 1]
        G, D = g1 - g0, d1 - d0
        if D == 0:
            continue
        if G:
            iou = ious[iou_start[grp] : iou_start[grp] + D * G].reshape((D, G))
        else:
            iou = np.zeros((D, 0))
        g_ign = np.empty(G, np.bool_)
        order = np.empty(G, np.int64)
        taken = np.zeros(G, np.bool_)
        for a in range(A):
            lo, hi = area_rng[a, 0], area_rng[a, 1]
            # ground truths sorted by ignore flag, stably: non-ignored first
            n = 0
            for pas in range(2):
                for g in range(G):
                    ig = g_crowd[g0 + g] or g_area[g0 + g] < lo or g_area[g0 + g] > hi
                    if ig == (pas == 1):
                        order[n] = g
                        g_ign[n] = ig
                        n += 1
            for t in range(T):
                taken[:] = False
                for d in range(D):
                    best = min(thr[t], 1 - 1e-10)
                    m = -1
                    for gi in range(G):
                        g = order[gi]
                        if taken[gi] and not g_crowd[g0 + g]:
                            continue
                        if m > -1 and not g_ign[m] and g_ign[gi]:
                            break
                        if iou[d, g] < best:
                            continue
                        best = iou[d, g]
                        m = gi
                    j = d0 + d
                    if m == -1:
                        matched[a, t, j] = False
                        ignored[a, t, j] = d_area[j] < lo or d_area[j] > hi
                    else:
                        taken[m] = True
                        gid = g_id[g0 + order[m]]
                        matched[a, t, j] = gid != 0
                        ignored[a, t, j] = g_ign[m] or (
                            gid == 0 and (d_area[j] < lo or d_area[j] > hi)
                        )


@nb.njit(cache=True, parallel=True)
def _accumulate(
    cat_start, d_score, d_pos, matched, ignored, npig, max_dets, rec_thr, prec, rec, sc
):
    """pycocotools' ``accumulate`` for every category (in parallel)."""
    K = cat_start.shape[0] - 1
    A, T = matched.shape[0], matched.shape[1]
    R = rec_thr.shape[0]
    for k in nb.prange(K):
        c0, c1 = cat_start[k], cat_start[k + 1]
        for m in range(max_dets.shape[0]):
            keep = np.empty(c1 - c0, np.int64)
            n = 0
            for j in range(c0, c1):
                if d_pos[j] < max_dets[m]:
                    keep[n] = j
                    n += 1
            keep = keep[:n]
            order = keep[np.argsort(-d_score[keep], kind="mergesort")]
            s_sorted = d_score[order]
            for a in range(A):
                if npig[k, a] == 0:
                    continue
                for t in range(T):
                    tp = 0.0
                    fp = 0.0
                    rc = np.empty(n)
                    pr = np.empty(n)
                    for i in range(n):
                        j = order[i]
                        if not ignored[a, t, j]:
                            if matched[a, t, j]:
                                tp += 1.0
                            else:
                                fp += 1.0
                        rc[i] = tp / npig[k, a]
                        pr[i] = tp / (fp + tp + np.spacing(1))
                    rec[t, k, a, m] = rc[n - 1] if n else 0.0
                    for i in range(n - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    inds = np.searchsorted(rc, rec_thr, side="left")
                    for r in range(R):
                        if inds[r] < n:
                            prec[t, r, k, a, m] = pr[inds[r]]
                            sc[t, r, k, a, m] = s_sorted[inds[r]]
                        else:
                            prec[t, r, k, a, m] = 0.0
                            sc[t, r, k, a, m] = 0.0


# ----------------------------------------------------------------------------- flat data
@dataclass
class _Flat:
    """Annotations as arrays: ground truths and detections, each with image and category
    indices (into sorted id lists), boxes (xywh), areas; ground truths with crowd flag and id;
    detections with score. Segmentations (RLE) ride along for segm."""

    img_ids: np.ndarray
    cat_ids: np.ndarray
    g_img: np.ndarray
    g_cat: np.ndarray
    g_box: np.ndarray
    g_area: np.ndarray
    g_crowd: np.ndarray
    g_id: np.ndarray
    d_img: np.ndarray
    d_cat: np.ndarray
    d_box: np.ndarray
    d_area: np.ndarray
    d_score: np.ndarray
    g_seg: RLEBatch | None = None
    d_seg: RLEBatch | None = None
    # row of each ground truth / detection in g_seg / d_seg (None: the same order)
    g_seg_rows: np.ndarray | None = None
    d_seg_rows: np.ndarray | None = None


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


def _summarize(r: COCOResult) -> None:
    """pycocotools' ``summarize`` for bbox/segm: fills ``stats`` and the printed lines.

    The 12 numbers need 3 max_dets and the 4 area ranges (all, small, medium, large); with
    other settings ``stats`` stays empty and ``precision``/``recall`` carry the results.
    """
    r._lines.clear()
    if len(r.max_dets) != 3 or len(r.area_ranges) != 4:
        r.stats = np.zeros(0)
        r._lines.append(f"(no summary for max_dets={r.max_dets}, {len(r.area_ranges)} areas)")
        return
    title = {1: ("Average Precision", "(AP)"), 0: ("Average Recall", "(AR)")}
    t0, t1 = r.iou_thresholds[0], r.iou_thresholds[-1]

    def one(ap: int, iou: float | None = None, area: str = "all", dets: int = 100) -> float:
        a = AREA_LABELS.index(area)
        m = [i for i, v in enumerate(r.max_dets) if v == dets]
        s = r.precision if ap else r.recall
        if iou is not None:
            s = s[np.where(iou == r.iou_thresholds)[0]]
        s = s[:, :, :, a, m] if ap else s[:, :, a, m]
        value = -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))
        iou_s = f"{t0:0.2f}:{t1:0.2f}" if iou is None else f"{iou:0.2f}"
        name, kind = title[ap]
        r._lines.append(
            f" {name:<18} {kind} @[ IoU={iou_s:<9} | area={area:>6s} | maxDets={dets:>3d} ] = "
            f"{value:0.3f}"
        )
        return value

    d = r.max_dets
    r.stats = np.array([
        one(1),  # pycocotools' default maxDets=100 here, whatever max_dets is
        one(1, 0.5, dets=d[2]),
        one(1, 0.75, dets=d[2]),
        one(1, area="small", dets=d[2]),
        one(1, area="medium", dets=d[2]),
        one(1, area="large", dets=d[2]),
        one(0, dets=d[0]),
        one(0, dets=d[1]),
        one(0, dets=d[2]),
        one(0, area="small", dets=d[2]),
        one(0, area="medium", dets=d[2]),
        one(0, area="large", dets=d[2]),
    ])  # fmt: skip


# ----------------------------------------------------------------------------- segm
def _mask_api() -> Any:
    try:
        from pycocotools import mask as mask_api
    except ImportError as exc:  # pragma: no cover - the coco extra brings it
        raise ImportError(
            "iou_type='segm' needs pycocotools: pip install 'rankreward[coco]'"
        ) from exc
    return mask_api


def _to_rle(seg: Any, h: int, w: int, where: str) -> Any:
    """pycocotools' ``annToRLE`` for one segmentation: polygons are rasterised by pycocotools
    (its exact rasteriser) into a compressed RLE; RLE dicts pass through (validated later)."""
    if isinstance(seg, list):
        if not seg or not all(isinstance(p, (list, tuple)) and len(p) >= 6 for p in seg):
            raise ValueError(f"{where}: a polygon segmentation needs lists of >= 3 points")
        mask_api = _mask_api()
        return mask_api.merge(mask_api.frPyObjects(seg, h, w))
    if isinstance(seg, Mapping) and "counts" in seg and "size" in seg:
        return seg
    raise ValueError(
        f"{where}: segmentation must be polygons or an RLE dict, got {type(seg).__name__}"
    )


def _segm_rles(entries: list, images: dict, what: str) -> RLEBatch:
    """Every segmentation of ``entries`` as one validated RLE batch, each checked against its
    image's size (pycocotools would score a mismatch -1, i.e. silently unmatched)."""
    segs = _field(entries, "segmentation", what)
    img = _field(entries, "image_id", what)
    rles = []
    for n, (s, i) in enumerate(zip(segs, img, strict=True)):
        rles.append(s if isinstance(s, Mapping) else _to_rle(s, *images[i], f"{what}[{n}]"))
    batch = rle_batch(rles, what)
    want = np.array([images[i] for i in img], np.int64).reshape(-1, 2)
    bad = np.flatnonzero((batch.hw != want).any(axis=1))
    if len(bad):
        n = int(bad[0])
        raise ValueError(
            f"{what}[{n}]: segmentation size {batch.hw[n].tolist()} differs from image "
            f"{img[n]}'s [height, width] {want[n].tolist()}"
        )
    return batch


def _segm_inputs(images: list, anns: list, dets: list) -> tuple[RLEBatch, RLEBatch, np.ndarray]:
    """Ground-truth and result RLEs and the results' areas, by pycocotools' ``loadRes`` rule:
    if the first result carries a non-empty ``bbox``, every result's area is its box's
    ``w * h`` (detectron2-style output); otherwise it is the mask's pixel count."""
    size = {}
    for n, im in enumerate(images):
        if "height" not in im or "width" not in im:
            raise ValueError(f"gt['images'][{n}] needs 'height' and 'width' for iou_type='segm'")
        size[im["id"]] = (int(im["height"]), int(im["width"]))
    g_seg = _segm_rles(anns, size, "gt['annotations']")
    d_seg = _segm_rles(dets, size, "predictions")
    if dets and isinstance(dets[0], Mapping) and dets[0].get("bbox") not in (None, []):
        boxes = _boxes(_field(dets, "bbox", "predictions"), "predictions")
        d_area = boxes[:, 2] * boxes[:, 3]
    else:
        d_area = d_seg.area.astype(np.float64)
    return g_seg, d_seg, d_area


def _segm_ious(flat, g_order, d_order, gstart, dstart, g_crowd, iou_start, ious) -> None:
    both = _concat_rles(flat.d_seg, flat.g_seg)
    d_index = np.ascontiguousarray(_rows(flat.d_seg_rows, d_order), np.int64)
    g_index = np.ascontiguousarray(_rows(flat.g_seg_rows, g_order), np.int64) + len(flat.d_seg)
    launch("coco", 0, None, _group_ious, d_index, g_index, gstart, dstart, iou_start,
           both.runs, both.start, both.area, both.bbox, g_crowd, ious)  # fmt: skip


# ----------------------------------------------------------------------------- input
def _check_params(
    max_dets: Sequence[int],
    iou_thresholds: Sequence[float] | None,
    area_ranges: Sequence[tuple[float, float]] | None,
) -> tuple[np.ndarray, tuple[tuple[float, float], ...], tuple[int, ...]]:
    """The evaluation parameters of `coco_evaluate` and `DetectionAP`, checked one way:
    ``max_dets`` positive integers, strictly increasing; ``iou_thresholds`` a non-empty 1-D
    list in [0, 1]; ``area_ranges`` (lo, hi) pairs with 0 <= lo <= hi. Returns them as the
    kernels take them."""
    md = tuple(max_dets)
    if (
        not md
        or not all(isinstance(m, (int, np.integer)) and not isinstance(m, bool) for m in md)
        or any(m < 1 for m in md)
        or any(b <= a for a, b in itertools.pairwise(md))
    ):
        raise ValueError(f"max_dets must be positive integers in increasing order, got {md}")
    if iou_thresholds is None:
        thr = IOU_THRESHOLDS
    else:
        try:
            thr = np.asarray(iou_thresholds, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"iou_thresholds must be numbers, got {iou_thresholds!r}") from None
    if thr.ndim != 1 or not len(thr) or not np.isfinite(thr).all() or ((thr < 0) | (thr > 1)).any():
        raise ValueError(f"iou_thresholds must be a non-empty list of values in [0, 1], got {thr}")
    try:
        rng = np.asarray(AREA_RANGES if area_ranges is None else area_ranges, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"area_ranges must be (lo, hi) pairs, got {area_ranges!r}") from None
    if (
        rng.ndim != 2
        or rng.shape[1] != 2
        or not len(rng)
        or np.isnan(rng).any()
        or ((rng[:, 0] < 0) | (rng[:, 1] < rng[:, 0])).any()
    ):
        raise ValueError(
            f"area_ranges must be (lo, hi) pairs with 0 <= lo <= hi, got {rng.tolist()}"
        )
    return thr, tuple((float(a), float(b)) for a, b in rng), md


def _integer_ids(values: Any, what: str, kind: str) -> np.ndarray:
    """Ids (image, category, label) as int64; a non-integer value raises naming the entry
    (``1.7`` is an error, not category 1; ``2.0`` is 2)."""
    arr = np.asarray(values).reshape(-1)
    if not len(arr):
        return np.zeros(0, np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if not bad.any():
            return arr.astype(np.int64)
        n = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{n}]: {kind}s must be integers, got {arr[n].item()!r}")
    raise ValueError(f"{what}: {kind}s must be integers, got {arr.dtype}")


def _load_json(obj: Any, what: str) -> Any:
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {what} from {path}: {exc}") from exc
    return obj


def _field(entries: Sequence[Mapping], key: str, what: str) -> list:
    try:
        return [e[key] for e in entries]
    except KeyError:
        for n, e in enumerate(entries):
            if key not in e:
                raise ValueError(f"{what}[{n}] has no {key!r}: {_short(e)}") from None
        raise
    except TypeError:
        for n, e in enumerate(entries):
            if not isinstance(e, Mapping):
                raise ValueError(f"{what}[{n}] must be a dict, got {type(e).__name__}") from None
        raise


def _short(e: Any) -> str:
    text = repr(e)
    return text if len(text) < 160 else text[:157] + "..."


def _boxes(raw: list, what: str, negative_ok: bool = False) -> np.ndarray:
    if not raw:
        return np.zeros((0, 4))
    try:
        box = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
    except (ValueError, TypeError):
        for n, b in enumerate(raw):
            if np.shape(b) != (4,):
                raise ValueError(f"{what}[{n}] bbox must be [x, y, w, h], got {b!r}") from None
        raise
    if box.shape[1] != 4 and len(raw):
        raise ValueError(f"{what} bbox must be [x, y, w, h], got shape {box.shape}")
    box = box.reshape(-1, 4)
    bad = ~np.isfinite(box).all(axis=1)
    if not negative_ok:
        bad |= (box[:, 2] < 0) | (box[:, 3] < 0)
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{n}] bbox has a negative size or non-finite value: {raw[n]!r}")
    return box


def _index(ids: list, known: np.ndarray, what: str, kind: str) -> np.ndarray:
    """Positions of ``ids`` in the sorted ``known`` ids; unknown ids raise naming the entry."""
    arr = _integer_ids(ids, what, kind)
    idx = np.searchsorted(known, arr)
    found = np.zeros(len(arr), np.bool_)
    inside = idx < len(known)
    found[inside] = known[idx[inside]] == arr[inside]
    if not found.all():
        n = int(np.flatnonzero(~found)[0])
        raise ValueError(f"{what}[{n}] refers to unknown {kind} {int(arr[n])}")
    return idx.astype(np.int64)


def _flatten(
    gt: Mapping, dets: list, iou_type: str, use_categories: bool, negative_sizes: str = "raise"
) -> _Flat:
    if not isinstance(gt, Mapping) or "annotations" not in gt or "images" not in gt:
        raise ValueError("gt must be a COCO dict with 'images' and 'annotations' (or its path)")
    images = gt["images"]
    img_list = _field(images, "id", "gt['images']")
    img_ids = np.unique(np.asarray(img_list, np.int64))
    cats = gt.get("categories") or []
    cat_ids = np.unique(np.asarray(_field(cats, "id", "gt['categories']"), np.int64))
    anns = gt["annotations"]
    g_img = _index(
        _field(anns, "image_id", "gt['annotations']"), img_ids, "gt['annotations']", "image id"
    )
    g_cat_ids = _field(anns, "category_id", "gt['annotations']")
    g_cat = _index(g_cat_ids, cat_ids, "gt['annotations']", "category id")
    g_area = np.asarray(_field(anns, "area", "gt['annotations']"), np.float64)
    g_id = np.asarray(_field(anns, "id", "gt['annotations']"), np.int64)
    g_crowd = np.asarray([bool(a.get("iscrowd", 0)) for a in anns], np.bool_)
    d_img = _index(_field(dets, "image_id", "predictions"), img_ids, "predictions", "image id")
    d_cat = _index(
        _field(dets, "category_id", "predictions"), cat_ids, "predictions", "category id"
    )
    d_score = np.asarray(_field(dets, "score", "predictions"), np.float64)
    if not np.isfinite(d_score).all():
        n = int(np.flatnonzero(~np.isfinite(d_score))[0])
        raise ValueError(f"predictions[{n}] has a non-finite score: {dets[n]['score']!r}")
    g_seg = d_seg = None
    if iou_type == "bbox":
        g_box = _boxes(_field(anns, "bbox", "gt['annotations']"), "gt['annotations']")
        d_box = _boxes(
            _field(dets, "bbox", "predictions"), "predictions", negative_sizes == "allow"
        )
        d_area = d_box[:, 2] * d_box[:, 3]
    else:
        g_seg, d_seg, d_area = _segm_inputs(images, anns, dets)
        g_box = np.zeros((len(anns), 4))
        d_box = np.zeros((len(dets), 4))
    if (g_area < 0).any() or not np.isfinite(g_area).all():
        n = int(np.flatnonzero((g_area < 0) | ~np.isfinite(g_area))[0])
        raise ValueError(f"gt['annotations'][{n}] has an invalid area {anns[n]['area']!r}")
    flat = _Flat(img_ids, cat_ids, g_img, g_cat, g_box, g_area, g_crowd, g_id, d_img, d_cat,
                 d_box, d_area, d_score, g_seg, d_seg)  # fmt: skip
    return flat if use_categories else _pool_categories(flat)


def _pool_categories(flat: _Flat) -> _Flat:
    """pycocotools' ``useCats=0``: one category, and inside an image the annotations are
    listed category by category (sorted ids), then in file order, which decides ties."""
    g = np.argsort(flat.g_cat, kind="mergesort")
    d = np.argsort(flat.d_cat, kind="mergesort")
    return _Flat(
        img_ids=flat.img_ids,
        cat_ids=np.array([-1], np.int64),
        g_img=flat.g_img[g],
        g_cat=np.zeros(len(g), np.int64),
        g_box=flat.g_box[g],
        g_area=flat.g_area[g],
        g_crowd=flat.g_crowd[g],
        g_id=flat.g_id[g],
        d_img=flat.d_img[d],
        d_cat=np.zeros(len(d), np.int64),
        d_box=flat.d_box[d],
        d_area=flat.d_area[d],
        d_score=flat.d_score[d],
        g_seg=flat.g_seg,
        d_seg=flat.d_seg,
        g_seg_rows=_rows(flat.g_seg_rows, g),
        d_seg_rows=_rows(flat.d_seg_rows, d),
    )


def _rows(rows: np.ndarray | None, order: np.ndarray) -> np.ndarray:
    return order if rows is None else rows[order]


def _per_image_predictions(preds: Mapping) -> list[dict]:
    """``{image_id: {"boxes": (N, 4) xywh, "scores": (N,), "labels": (N,)}}`` as result dicts."""
    out = []
    for img, p in preds.items():
        for key in ("boxes", "scores", "labels"):
            if key not in p:
                raise ValueError(f"predictions[{img!r}] needs 'boxes', 'scores' and 'labels'")
        boxes = np.asarray(p["boxes"], np.float64).reshape(-1, 4)
        scores = np.asarray(p["scores"], np.float64).reshape(-1)
        labels = np.asarray(p["labels"]).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(
                f"predictions[{img!r}]: boxes {boxes.shape}, scores {scores.shape} and labels "
                f"{labels.shape} disagree"
            )
        out.extend(
            {"image_id": img, "category_id": int(c), "bbox": b.tolist(), "score": float(s)}
            for b, s, c in zip(boxes, scores, labels, strict=True)
        )
    return out


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


# ----------------------------------------------------------------------------- streaming
class DetectionAP:
    """Streaming COCO bbox AP for evaluation inside a trainer; same numbers as
    `coco_evaluate` on the same data (ground-truth area = box area).

    ``update`` takes one image at a time (numpy or torch arrays); ``compute`` evaluates
    everything seen; ``merge`` adds another accumulator's images (data-parallel workers).
    Categories are the labels seen in ground truths or predictions.

    Args:
        box_format: ``"xyxy"`` (default), ``"xywh"`` (COCO) or ``"cxcywh"``.
        max_dets: as in `coco_evaluate`.
        iou_thresholds: as in `coco_evaluate`.
        area_ranges: as in `coco_evaluate`.

    Complexity: ``update`` O(N); ``compute`` as `coco_evaluate`.

    Examples:
        >>> ap = DetectionAP(box_format="xywh")
        >>> ap.update(1, [[12, 10, 50, 50]], [0.9], [7], [[10, 10, 50, 50]], [7])
        >>> ap.compute().stats[:3].round(3).tolist()
        [0.9, 1.0, 1.0]
    """

    def __init__(
        self,
        box_format: str = "xyxy",
        *,
        max_dets: Sequence[int] = (1, 10, 100),
        iou_thresholds: Sequence[float] | None = None,
        area_ranges: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        if box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"box_format must be xyxy, xywh or cxcywh, got {box_format!r}")
        self.box_format = box_format
        self._params = _check_params(max_dets, iou_thresholds, area_ranges)
        self.iou_thresholds, self.area_ranges, self.max_dets = self._params
        self.reset()

    def reset(self) -> None:
        self._images: dict[int, int] = {}
        self._gt: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._dt: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def _xywh(self, boxes: Any, what: str) -> np.ndarray:
        from .._arrays import to_numpy

        b = np.asarray(to_numpy(boxes), np.float64)
        if b.size == 0:
            return np.zeros((0, 4))
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"{what} must have shape (N, 4), got {b.shape}")
        if not np.isfinite(b).all():
            raise ValueError(f"{what} contains NaN or inf")
        if self.box_format == "xyxy":
            b = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        elif self.box_format == "cxcywh":
            b = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], axis=1)
        if (b[:, 2:] < 0).any():
            raise ValueError(f"{what} has boxes with negative width or height")
        return b

    def update(
        self,
        image_id: int,
        pred_boxes: Any,
        pred_scores: Any,
        pred_labels: Any,
        gt_boxes: Any,
        gt_labels: Any,
        gt_iscrowd: Any = None,
    ) -> None:
        """Add one image's predictions and ground truths. O(N)."""
        from .._arrays import to_numpy

        image_id = int(image_id)
        pb = self._xywh(pred_boxes, f"image {image_id} pred_boxes")
        ps = np.asarray(to_numpy(pred_scores), np.float64).reshape(-1)
        pl = _integer_ids(to_numpy(pred_labels), f"image {image_id} pred_labels", "label")
        gb = self._xywh(gt_boxes, f"image {image_id} gt_boxes")
        gl = _integer_ids(to_numpy(gt_labels), f"image {image_id} gt_labels", "label")
        gc = (
            np.zeros(len(gb), np.bool_)
            if gt_iscrowd is None
            else np.asarray(to_numpy(gt_iscrowd)).reshape(-1).astype(np.bool_)
        )
        if not len(pb) == len(ps) == len(pl):
            raise ValueError(
                f"image {image_id}: pred_boxes {pb.shape}, pred_scores {ps.shape} and "
                f"pred_labels {pl.shape} disagree"
            )
        if not len(gb) == len(gl) == len(gc):
            raise ValueError(
                f"image {image_id}: gt_boxes {gb.shape}, gt_labels {gl.shape} and gt_iscrowd "
                f"{gc.shape} disagree"
            )
        if not np.isfinite(ps).all():
            raise ValueError(f"image {image_id}: pred_scores contain NaN or inf")
        self._add((image_id, gb, gl, gc), (image_id, pb, ps, pl))

    def merge(self, other: DetectionAP) -> None:
        """Add the images of another accumulator (their image ids must not overlap)."""
        for gt, dt in zip(other._gt, other._dt, strict=True):
            self._add(gt, dt)

    def _add(self, gt: tuple, dt: tuple) -> None:
        if gt[0] in self._images:
            raise ValueError(f"image {gt[0]} was already added")
        self._images[gt[0]] = len(self._images)
        self._gt.append(gt)
        self._dt.append(dt)

    def compute(self) -> COCOResult:
        """Evaluate every image added so far (pycocotools' numbers)."""
        imgs = np.array(sorted(self._images), np.int64)
        gl = np.concatenate([g[2] for g in self._gt]) if self._gt else np.zeros(0, np.int64)
        pl = np.concatenate([d[3] for d in self._dt]) if self._dt else np.zeros(0, np.int64)
        cats = np.unique(np.concatenate([gl, pl]))

        def cat(parts, i, empty):
            return np.concatenate([p[i] for p in parts]) if parts else empty

        g_img = (
            np.concatenate([np.full(len(g[1]), g[0]) for g in self._gt])
            if self._gt
            else np.zeros(0, np.int64)
        )
        d_img = (
            np.concatenate([np.full(len(d[1]), d[0]) for d in self._dt])
            if self._dt
            else np.zeros(0, np.int64)
        )
        g_box = cat(self._gt, 1, np.zeros((0, 4)))
        d_box = cat(self._dt, 1, np.zeros((0, 4)))
        flat = _Flat(
            img_ids=imgs,
            cat_ids=cats,
            g_img=np.searchsorted(imgs, g_img).astype(np.int64),
            g_cat=np.searchsorted(cats, gl).astype(np.int64),
            g_box=g_box,
            g_area=g_box[:, 2] * g_box[:, 3],
            g_crowd=cat(self._gt, 3, np.zeros(0, np.bool_)),
            g_id=np.arange(1, len(g_box) + 1, dtype=np.int64),
            d_img=np.searchsorted(imgs, d_img).astype(np.int64),
            d_cat=np.searchsorted(cats, pl).astype(np.int64),
            d_box=d_box,
            d_area=d_box[:, 2] * d_box[:, 3],
            d_score=cat(self._dt, 2, np.zeros(0)),
        )
        return _evaluate(flat, "bbox", *self._params)
