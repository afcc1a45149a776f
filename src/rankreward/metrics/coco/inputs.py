"""Inputs of the COCO evaluation: parameter checks, ground-truth and detection files or objects
validated with errors naming the entry, flattened into arrays grouped by (category, image)
(`_Flat`), and segmentation masks as RLEs."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._parallel import launch
from ..rle import RLEBatch, _group_ious, rle_batch
from ..rle import _concat as _concat_rles
from .result import AREA_RANGES, IOU_THRESHOLDS


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
