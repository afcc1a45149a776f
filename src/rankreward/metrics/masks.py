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
    "dense_mask_iou",
    "mask_intersection_union",
    "mask_iou",
    "mask_to_rle",
    "polygon_iou",
    "polygon_to_mask",
    "polygon_to_rle",
    "read_mask",
    "rle_area",
    "rle_to_mask",
    "s_measure",
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
    if not pairwise and not _is_rle(pred) and _is_rle(gt) and len(tuple(np.shape(pred))) == 3:
        return dense_mask_iou(pred, gt)  # a segmenter's masks against RLE truths: no encode
    if _is_rle(pred) or _is_rle(gt):
        return _rle_iou(pred, gt, pairwise)
    if pairwise:
        return _pairwise_dense(pred, gt)
    if (
        isinstance(pred, np.ndarray)
        and isinstance(gt, np.ndarray)
        and pred.ndim == 3
        and pred.shape == gt.shape
    ):
        return dense_mask_iou(pred, gt)  # stacks of pairs: the word-packed kernel
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


# -- dense predictions against their ground truths: the segmenter-in-the-loop shape ------------

_LO = np.uint64(0x00FF00FF00FF00FF)
_ONES16 = np.uint64(0x0001000100010001)


@nb.njit(cache=True, inline="always")
def _byte_sum(acc):
    """The sum of the 8 bytes of ``acc`` (each at most 255). O(1)."""
    pairs = (acc & _LO) + ((acc >> np.uint64(8)) & _LO)  # four 16-bit lanes, each <= 510
    return np.int64((pairs * _ONES16) >> np.uint64(48))


@nb.njit(cache=True)
def _count_words(words, lo, hi, other):
    """Foreground count of ``words[lo:hi]`` (bytes 0/1) and, where ``other`` is given, of
    ``words & other``: 255 words summed per lane before a byte could overflow."""
    total = 0
    both = 0
    j = lo
    while j < hi:
        stop = min(j + 255, hi)
        acc = np.uint64(0)
        acc_both = np.uint64(0)
        if other.shape[0]:
            for t in range(j, stop):
                w = words[t]
                acc += w
                acc_both += w & other[t]
        else:
            for t in range(j, stop):
                acc += words[t]
        total += _byte_sum(acc)
        both += _byte_sum(acc_both)
        j = stop
    return total, both


@nb.njit(cache=True, parallel=True)
def _dense_pairs(pred, gt, index, g_lo, g_hi, g_area, inter, union):
    """Pred mask k (bytes 0/1 as uint64 words) against gt[index[k]]: the intersection only
    over the span of words holding the ground truth's foreground (pruning), the prediction's
    area over all of them."""
    empty = np.zeros(0, np.uint64)
    n_words = pred.shape[1]
    for k in nb.prange(pred.shape[0]):
        g = index[k]
        lo, hi = g_lo[g], g_hi[g]
        before, _ = _count_words(pred[k], 0, lo, empty)
        inside, both = _count_words(pred[k], lo, hi, gt[g])
        after, _ = _count_words(pred[k], hi, n_words, empty)
        inter[k] = both
        union[k] = before + inside + after + g_area[g] - both


@nb.njit(cache=True, parallel=True)
def _truth_stats(gt, lo, hi, area):
    """Per ground truth: its area and the span of words holding its foreground."""
    empty = np.zeros(0, np.uint64)
    for g in nb.prange(gt.shape[0]):
        first, last = gt.shape[1], 0
        for t in range(gt.shape[1]):
            if gt[g, t]:
                first = t
                break
        for t in range(gt.shape[1] - 1, first - 1, -1):
            if gt[g, t]:
                last = t + 1
                break
        lo[g], hi[g] = min(first, last), last
        area[g], _ = _count_words(gt[g], lo[g], hi[g], empty)


def _as_bytes(masks: np.ndarray, what: str) -> np.ndarray:
    """(n, H, W) masks as contiguous 0/1 bytes, padded to whole uint64 words: (n, words)."""
    if masks.ndim != 3:
        raise ValueError(f"{what} must have shape (N, H, W), got {masks.shape}")
    flat = masks.reshape(len(masks), -1)
    flat = flat.view(np.uint8) if flat.dtype == np.bool_ else (flat != 0).view(np.uint8)
    pad = -flat.shape[1] % 8
    if pad or not flat.flags.c_contiguous:
        flat = np.concatenate([flat, np.zeros((len(flat), pad), np.uint8)], axis=1)
    return np.ascontiguousarray(flat).view(np.uint64)


def dense_mask_iou(pred: Any, gt: Any, index: Any = None) -> np.ndarray:
    """IoU of each dense predicted mask with its ground truth: a segmenter's masks scored in a
    GRPO step (G completions per ground truth).

    Args:
        pred: (N, H, W) bool (or 0/1) masks, numpy or torch.
        gt: the ground truths: (G, H, W) dense masks, or a list of G COCO RLE dicts (decoded
            once each, however many predictions share them).
        index: (N,) the ground truth of each prediction (default ``arange(N)``: paired, G = N).

    Returns (N,) float64; an empty union gives 0 (as `mask_iou`). Equal to pycocotools'
    ``iou`` of the encoded masks.

    One parallel Numba pass over the predictions, 8 pixels per 64-bit word; the intersection is
    only counted over the span of words where the ground truth has foreground. O(N H W / 8 + G H W).

    Examples:
        >>> p = np.zeros((3, 4, 4), bool); p[0, :2] = True; p[1] = True
        >>> g = np.zeros((1, 4, 4), bool); g[0, :1] = True
        >>> dense_mask_iou(p, g, [0, 0, 0]).tolist()
        [0.5, 0.25, 0.0]
    """
    if is_torch(pred):
        pred = pred.detach().cpu().numpy()
    pred = np.asarray(pred)
    if pred.ndim != 3:
        raise ValueError(f"pred must have shape (N, H, W), got {pred.shape}")
    h, w = pred.shape[1:]
    if _is_rle(gt):
        rles = _rle_dicts(gt)
        dense = np.zeros((len(rles), h, w), np.bool_)
        for j, r in enumerate(rles):
            rh, rw, runs = rle_counts(r, f"gt[{j}]")
            if (rh, rw) != (h, w):
                raise ValueError(f"gt[{j}] has size {[rh, rw]}, the predictions {[h, w]}")
            dense[j] = rle_decode(rh, rw, runs)
        gt = dense
    if is_torch(gt):
        gt = gt.detach().cpu().numpy()
    gt = np.asarray(gt)
    if gt.ndim != 3 or gt.shape[1:] != (h, w):
        raise ValueError(f"gt must have shape (G, {h}, {w}), got {gt.shape}")
    idx = np.arange(len(pred)) if index is None else np.asarray(index, np.int64).reshape(-1)
    if len(idx) != len(pred):
        raise ValueError(f"{len(pred)} predictions but {len(idx)} index entries")
    if index is None and len(gt) != len(pred):
        raise ValueError(f"{len(pred)} predictions but {len(gt)} ground truths (pass index=)")
    if len(idx) and (idx.min() < 0 or idx.max() >= len(gt)):
        raise ValueError(f"index must lie in [0, {len(gt)}), got {idx.min()}..{idx.max()}")
    if not len(pred):
        return np.zeros(0)
    p_words, g_words = _as_bytes(pred, "pred"), _as_bytes(gt, "gt")
    g_lo, g_hi, g_area = (np.empty(len(gt), np.int64) for _ in range(3))
    launch("masks", 0, None, _truth_stats, g_words, g_lo, g_hi, g_area)
    inter = np.empty(len(pred), np.int64)
    union = np.empty(len(pred), np.int64)
    launch("masks", 0, None, _dense_pairs, p_words, g_words, idx, g_lo, g_hi, g_area, inter, union)
    return _safe_ratio(inter, union)


def read_mask(mask: Any, size: tuple[int, int] | None = None, where: str = "mask") -> np.ndarray:
    """A ground-truth mask in any of the formats datasets hold, as an (H, W) bool array.

    - a dense array (numpy, torch, nested lists; bool or numbers: non-zero is foreground);
    - a COCO RLE dict (compressed string or counts list);
    - a COCO polygon list ``[[x, y, x, y, ...], ...]`` (needs ``size``);
    - a PNG (or any image) path: pixels above 127, or non-zero when the file only holds 0/1.

    ``size`` (H, W), when given, must equal the mask's; a ``ValueError`` names ``where``
    (the sample and column) for anything unreadable or of the wrong size. O(H W).

    Examples:
        >>> int(read_mask([[0, 1], [1, 1]]).sum())
        3
        >>> int(read_mask(mask_to_rle(np.eye(3, dtype=bool)), (3, 3)).sum())
        3
        >>> int(read_mask([[0, 0, 2, 0, 2, 2, 0, 2]], (4, 4)).sum())  # a polygon
        4
    """
    import os

    if isinstance(mask, Mapping):
        try:
            h, w, runs = rle_counts(mask, where)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None
        out = rle_decode(h, w, runs)
    elif isinstance(mask, (str, os.PathLike)):
        try:
            from PIL import Image

            with Image.open(mask) as im:
                pixels = np.asarray(im.convert("L"))
        except (OSError, ImportError) as err:
            raise ValueError(f"{where}: cannot read the mask file {str(mask)!r} ({err})") from None
        out = pixels > (0 if pixels.max(initial=0) <= 1 else 127)
    elif (
        isinstance(mask, (list, tuple))
        and mask
        and isinstance(mask[0], (list, tuple))
        and mask[0]
        and not isinstance(mask[0][0], (list, tuple, np.ndarray))
        and size is not None
        and (len(mask) != size[0] or len(mask[0]) != size[1])
    ):
        try:
            out = polygon_to_mask(mask, *size)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: not a polygon list [[x, y, ...]] ({err})") from None
    else:
        if is_torch(mask):
            mask = mask.detach().cpu().numpy()
        try:
            arr = np.asarray(mask)
        except ValueError as err:
            raise ValueError(f"{where}: not a mask array ({err})") from None
        if arr.ndim != 2 or arr.dtype.kind not in "biuf":
            raise ValueError(
                f"{where} must be an (H, W) mask, an RLE dict, a polygon list or a PNG path; "
                f"got {type(mask).__name__} of shape {arr.shape} and dtype {arr.dtype}"
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"{where} holds non-finite values")
        out = arr != 0
    if size is not None and tuple(out.shape) != tuple(size):
        raise ValueError(f"{where} has size {list(out.shape)} but the image is {list(size)} (H, W)")
    return out


_EPS = np.spacing(1)


def _s_object(pred: np.ndarray, fg: np.ndarray) -> float:
    x = pred[fg]
    with np.errstate(all="ignore"):
        mean = float(np.mean(x)) if len(x) else np.nan
        sigma = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
    return 2 * mean / (mean**2 + 1 + sigma + _EPS)


def _ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    n = pred.size
    with np.errstate(all="ignore"):
        x, y = (np.mean(pred), np.mean(gt)) if n else (np.nan, np.nan)
        sx = np.sum((pred - x) ** 2) / np.float64(n - 1)
        sy = np.sum((gt - y) ** 2) / np.float64(n - 1)
        sxy = np.sum((pred - x) * (gt - y)) / np.float64(n - 1)
        a = 4 * x * y * sxy
        b = (x**2 + y**2) * (sx + sy)
        if a != 0:
            return float(a / (b + _EPS))
    return 1.0 if b == 0 else 0.0


def s_measure(pred: Any, gt: Any, alpha: float = 0.5) -> float:
    """The structure measure (Fan et al., ICCV 2017) of a prediction in [0, 1] against a binary
    ground truth, as the saliency-evaluation code Seg-R1 uses computes it:
    ``alpha * object + (1 - alpha) * region``, clipped below at 0; an all-background ground
    truth gives ``1 - mean(pred)``, an all-foreground one ``mean(pred)``. A degenerate split
    (a quadrant of no pixels, a single foreground pixel) makes the published arithmetic NaN,
    which its ``max(0, ...)`` turns into 0; so does this. O(H W).

    Examples:
        >>> g = np.zeros((8, 8), bool); g[2:6, 2:6] = True
        >>> round(s_measure(g.astype(float), g), 6), s_measure(np.zeros((4, 4)), np.zeros((4, 4)))
        (1.0, 1.0)
    """
    p = np.asarray(pred, np.float64)
    g = np.asarray(gt) != 0
    if p.shape != g.shape or p.ndim != 2:
        raise ValueError(f"pred {p.shape} and gt {g.shape} must be one (H, W) shape")
    y = g.mean()
    if y == 0:
        return float(1 - p.mean())
    if y == 1:
        return float(p.mean())
    gf = g.astype(np.float64)
    obj = y * _s_object(p * gf, g) + (1 - y) * _s_object((1 - p) * (1 - gf), ~g)
    h, w = g.shape
    rows, cols = np.nonzero(g)
    cy, cx = int(np.round(rows.mean())) + 1, int(np.round(cols.mean())) + 1
    area = h * w
    w1 = cx * cy / area
    w2 = cy * (w - cx) / area
    w3 = (h - cy) * cx / area
    w4 = 1 - w1 - w2 - w3
    region = 0.0
    for weight, rs, cs in ((w1, slice(0, cy), slice(0, cx)), (w2, slice(0, cy), slice(cx, w)),
                           (w3, slice(cy, h), slice(0, cx)), (w4, slice(cy, h), slice(cx, w))):  # fmt: skip
        region += weight * _ssim(p[rs, cs], gf[rs, cs])
    sm = alpha * obj + (1 - alpha) * region
    return float(sm) if sm > 0 else 0.0
