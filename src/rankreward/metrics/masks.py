"""Mask IoU for dense masks (numpy or torch) and COCO RLE, polygon IoU and polygon rasterisation.

Dense masks are boolean (or 0/1 integer) arrays ``(..., H, W)``; any non-zero pixel is
foreground. RLE masks are COCO dicts ``{"size": [H, W], "counts": ...}``, validated on entry and measured by
rankreward's own run-length kernels (`rankreward.metrics.rle`); only encoding a dense mask and
rasterising polygons use pycocotools (``pip install rankreward[coco]``). Polygons use shapely (``rankreward[geometry]``).

A pair whose union is empty has IoU 0 here; the ReasonSeg convention (both empty counts as 1.0)
belongs to the `ReasonSegIoU` accumulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numba as nb
import numpy as np

from .._arrays import is_torch, namespace
from .._parallel import launch
from .rle import rle_batch, rle_counts, rle_decode, rle_iou_lists

__all__ = [
    "mask_intersection_union",
    "mask_iou",
    "mask_to_rle",
    "polygon_iou",
    "polygon_to_mask",
    "polygon_to_rle",
    "rle_area",
    "rle_to_mask",
]


def _mask_utils() -> Any:
    try:
        from pycocotools import mask as mask_utils
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("RLE masks need pycocotools: pip install 'rankreward[coco]'") from e
    return mask_utils


def _is_rle(x: Any) -> bool:
    if isinstance(x, Mapping):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(r, Mapping) for r in x)


def _rle_dicts(x: Any) -> list:
    return [x] if isinstance(x, Mapping) else list(x)


def mask_to_rle(mask: Any) -> dict:
    """Encode one binary mask ``(H, W)`` as a compressed COCO RLE dict (``counts`` as str). O(HW).

    Examples:
        >>> rle = mask_to_rle(np.eye(3, dtype=bool))
        >>> rle["size"], rle_area(rle)
        ([3, 3], 3)
    """
    m = np.asarray(mask.detach().cpu() if is_torch(mask) else mask)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {m.shape}")
    rle = _mask_utils().encode(np.asfortranarray(m != 0, dtype=np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: Mapping) -> np.ndarray:
    """Decode a COCO RLE dict (compressed string or counts list) to a boolean ``(H, W)`` mask.
    The RLE is validated first (`rankreward.metrics.rle.rle_counts`). O(HW).

    Examples:
        >>> rle_to_mask(mask_to_rle(np.eye(2, dtype=bool))).tolist()
        [[True, False], [False, True]]
    """
    return rle_decode(*rle_counts(rle))


def rle_area(rle: Mapping) -> int:
    """Foreground pixel count of an RLE. O(number of runs).

    Examples:
        >>> rle_area(mask_to_rle(np.ones((2, 3))))
        6
    """
    return int(rle_batch([rle]).area[0])


@nb.njit(cache=True, parallel=True)
def _paired_counts(p, g, inter, union):
    for k in nb.prange(p.shape[0]):
        i = 0
        u = 0
        for j in range(p.shape[1]):
            a = p[k, j] != 0
            b = g[k, j] != 0
            i += a & b
            u += a | b
        inter[k] = i
        union[k] = u


def _dense(x: Any, name: str) -> Any:
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if len(tuple(x.shape)) < 2:
        raise ValueError(f"{name} must have shape (..., H, W), got {tuple(x.shape)}")
    return x


def mask_intersection_union(pred: Any, gt: Any) -> tuple[Any, Any]:
    """Per-pair intersection and union pixel counts of dense masks ``(..., H, W)`` (broadcast).

    Returns int64 arrays (or tensors on the input device) of the broadcast leading shape.
    numpy input runs one parallel Numba pass over the pixels. O(n H W).

    Examples:
        >>> i, u = mask_intersection_union(np.eye(3, dtype=bool), np.ones((3, 3), bool))
        >>> int(i), int(u)
        (3, 9)
    """
    pred, gt = _dense(pred, "pred"), _dense(gt, "gt")
    if tuple(pred.shape[-2:]) != tuple(gt.shape[-2:]):
        raise ValueError(f"mask sizes differ: pred {tuple(pred.shape)}, gt {tuple(gt.shape)}")
    xp = namespace(pred, gt)
    if xp is not np:
        p, g = pred != 0, gt.to(pred.device) != 0
        return (p & g).sum((-2, -1)), (p | g).sum((-2, -1))
    p, g = np.broadcast_arrays(np.asarray(pred), np.asarray(gt))
    lead = p.shape[:-2]
    hw = p.shape[-2] * p.shape[-1]
    p2 = np.ascontiguousarray(p).reshape(-1, hw)
    g2 = np.ascontiguousarray(g).reshape(-1, hw)
    if p2.dtype == np.bool_:
        p2 = p2.view(np.uint8)
    if g2.dtype == np.bool_:
        g2 = g2.view(np.uint8)
    inter = np.empty(p2.shape[0], np.int64)
    union = np.empty(p2.shape[0], np.int64)
    launch("masks", 0, None, _paired_counts, p2, g2, inter, union)
    return inter.reshape(lead), union.reshape(lead)


def _safe_ratio(inter: Any, union: Any) -> Any:
    xp = namespace(inter, union)
    if xp is np:
        inter = inter.astype(np.float64)
        union = union.astype(np.float64)
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    inter, union = inter.double(), union.double()
    return xp.where(union > 0, inter / union.clamp(min=1), 0 * inter)


def _pairwise_dense(pred: Any, gt: Any) -> Any:
    pred, gt = _dense(pred, "pred"), _dense(gt, "gt")
    if len(tuple(pred.shape)) < 3 or len(tuple(gt.shape)) < 3:
        raise ValueError(
            "pairwise mask_iou needs stacks (..., P, H, W) and (..., G, H, W); got "
            f"{tuple(pred.shape)} and {tuple(gt.shape)} (use pairwise=False for single masks)"
        )
    if tuple(pred.shape[-2:]) != tuple(gt.shape[-2:]):
        raise ValueError(f"mask sizes differ: pred {tuple(pred.shape)}, gt {tuple(gt.shape)}")
    xp = namespace(pred, gt)
    hw = pred.shape[-2] * pred.shape[-1]
    # Counts are sums of 0/1 products: exact in float32 below 2^24 pixels, else use float64.
    if xp is np:
        ftype = np.float32 if hw < (1 << 24) else np.float64
        p = (np.asarray(pred) != 0).reshape(*pred.shape[:-2], hw).astype(ftype)
        g = (np.asarray(gt) != 0).reshape(*gt.shape[:-2], hw).astype(ftype)
        inter = p @ np.swapaxes(g, -1, -2)
    else:
        ftype = xp.float32 if hw < (1 << 24) else xp.float64
        p = (pred != 0).reshape(*pred.shape[:-2], hw).to(ftype)
        g = (gt.to(pred.device) != 0).reshape(*gt.shape[:-2], hw).to(ftype)
        inter = p @ g.transpose(-1, -2)
    area_p = p.sum(-1)[..., :, None]
    area_g = g.sum(-1)[..., None, :]
    return _safe_ratio(inter, area_p + area_g - inter)


def _rle_iou(pred: Any, gt: Any, pairwise: bool) -> np.ndarray:
    return rle_iou_lists(_rle_dicts(pred), _rle_dicts(gt), pairwise)


def mask_iou(pred: Any, gt: Any, *, pairwise: bool = True) -> Any:
    """IoU of binary masks, dense (numpy or torch) or COCO RLE.

    * ``pairwise=True`` (default): ``(..., P, H, W)`` x ``(..., G, H, W)`` -> ``(..., P, G)``
      via one matrix product of the flattened masks (BLAS on CPU, cuBLAS on GPU);
      O(P G H W / simd).
    * ``pairwise=False``: masks paired elementwise, ``(..., H, W)`` x ``(..., H, W)`` -> ``(...)``
      (leading shapes broadcast); O(n H W), one pass.
    * RLE dicts or lists of them (compressed strings or counts lists): every RLE is validated
      (`rankreward.metrics.rle`), then a Numba kernel walks the run lengths of each pair (no
      decode to pixels), pycocotools' numbers bit for bit; pairwise gives ``(P, G)`` (one mask
      size, else ``ValueError``), paired gives ``(n,)``. O(runs) per overlapping pair.

    Results are float64 (float64 tensors for torch). An empty union gives 0.

    Examples:
        >>> a = np.zeros((1, 4, 4), bool); a[0, :2] = True
        >>> b = np.zeros((2, 4, 4), bool); b[0, :1] = True; b[1] = True
        >>> mask_iou(a, b).tolist()
        [[0.5, 0.5]]
        >>> float(mask_iou(a[0], b[0], pairwise=False))
        0.5
    """
    if _is_rle(pred) or _is_rle(gt):
        return _rle_iou(pred, gt, pairwise)
    if pairwise:
        return _pairwise_dense(pred, gt)
    inter, union = mask_intersection_union(pred, gt)
    return _safe_ratio(inter, union)


def _shapely() -> Any:
    try:
        import shapely
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("polygons need shapely: pip install 'rankreward[geometry]'") from e
    return shapely


def _polygon_parts(segmentation: Any) -> list[np.ndarray]:
    """A segmentation as a list of (K, 2) vertex arrays.

    Accepts a COCO polygon list ``[[x1, y1, x2, y2, ...], ...]``, one flat list, or a (K, 2)
    array / list of (K, 2) arrays.
    """
    if isinstance(segmentation, np.ndarray) or (
        isinstance(segmentation, Sequence)
        and segmentation
        and (
            isinstance(segmentation[0], (int, float, np.number))
            # [[x, y], ...]: vertex pairs (a flat polygon part has at least 6 numbers)
            or all(isinstance(v, Sequence) and len(v) == 2 for v in segmentation)
        )
    ):
        segmentation = [segmentation]
    parts = []
    for k, part in enumerate(segmentation):
        a = np.asarray(part, dtype=np.float64)
        if a.ndim == 1:
            if a.size % 2:
                raise ValueError(f"polygon part {k} has an odd number of coordinates ({a.size})")
            a = a.reshape(-1, 2)
        if a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"polygon part {k} must be (K, 2) or flat, got shape {a.shape}")
        if a.shape[0] < 3:
            raise ValueError(f"polygon part {k} has {a.shape[0]} vertices; a polygon needs 3")
        if not np.isfinite(a).all():
            raise ValueError(f"polygon part {k} has non-finite coordinates")
        parts.append(a)
    return parts


def _to_geometry(segmentation: Any) -> Any:
    shapely = _shapely()
    polys = [shapely.make_valid(shapely.Polygon(p)) for p in _polygon_parts(segmentation)]
    return shapely.union_all(polys) if polys else shapely.Polygon()


def polygon_iou(p: Any, q: Any) -> float:
    """IoU of two polygons (each a COCO polygon list, a flat list or a (K, 2) array).

    Multi-part segmentations are unioned; self-intersecting rings are repaired with
    ``shapely.make_valid``. Exact polygon areas, not rasterised. O((K1 + K2) log(K1 + K2)).

    Examples:
        >>> polygon_iou([0, 0, 2, 0, 2, 2, 0, 2], [[1, 0], [3, 0], [3, 2], [1, 2]])
        0.3333333333333333
    """
    a, b = _to_geometry(p), _to_geometry(q)
    union = a.union(b).area
    return float(a.intersection(b).area / union) if union > 0 else 0.0


def polygon_to_rle(segmentation: Any, height: int, width: int) -> dict:
    """Rasterise a polygon segmentation to a COCO RLE the way COCO does (pycocotools). O(HW).

    Examples:
        >>> rle_area(polygon_to_rle([0, 0, 4, 0, 4, 4, 0, 4], 8, 8))
        16
    """
    mu = _mask_utils()
    flat = [p.reshape(-1).tolist() for p in _polygon_parts(segmentation)]
    rle = mu.merge(mu.frPyObjects(flat, height, width))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def polygon_to_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Rasterise a polygon segmentation to a boolean ``(height, width)`` mask. O(HW).

    Examples:
        >>> int(polygon_to_mask([0, 0, 4, 0, 4, 4, 0, 4], 8, 8).sum())
        16
    """
    return rle_to_mask(polygon_to_rle(segmentation, height, width))
