"""Pairwise box metrics: IoU (plain and pixel-inclusive), GIoU, DIoU, CIoU and L1, batched.

Every function takes boxes of shape ``(..., M, 4)`` and ``(..., N, 4)`` and returns ``(..., M, N)``;
leading dimensions broadcast, so a whole GRPO group (``(G, M, 4)`` against ``(G, N, 4)``) is one
call. numpy in gives numpy out; torch in gives torch out on the same device (no host copies, except
the single ``any()`` flag that validation reads; pass ``validate=False`` to skip it).

Conventions:

* ``fmt`` is ``"xyxy"`` (corners, the default), ``"xywh"`` (top-left corner and size) or
  ``"cxcywh"`` (centre and size). Boxes are converted to corners before any metric.
* ``pixel_inclusive=True`` (the Dr. Seg reward, from VisionReasoner) counts pixels: a box from
  x1 to x2 is ``x2 - x1 + 1`` wide and the intersection width is ``min(x2) - max(x1) + 1``,
  clipped at 0.
* A pair whose union is empty (two zero-area boxes) has IoU 0, never NaN. GIoU/DIoU/CIoU drop
  their penalty terms when the enclosing box is degenerate.
* Huge finite coordinates (float32 past 1e18, float64 past 1e152) are scaled by an exact power
  of two before the arithmetic, so areas cannot overflow: finite input never gives NaN.
* Validation (the default) rejects NaN/inf and boxes with ``x2 < x1`` or ``y2 < y1`` (negative
  width/height for the size formats) with a ``ValueError`` naming the offending box. With
  ``validate=False`` the formulas run as written on whatever arrives (the paper's reward code
  does this on model-predicted boxes).

Complexity: O(M N) time and memory per leading index; each pair is a handful of flops.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numba as nb
import numpy as np

from .._arrays import (
    as_float,
    check_finite,
    check_last_dim,
    common_float,
    first_true,
    float_pair,
    format_index,
    is_torch,
    namespace,
)
from .._parallel import launch

__all__ = [
    "BoxFormat",
    "box_area",
    "box_convert",
    "box_iou",
    "box_l1",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
]

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]
_FORMATS = ("xyxy", "xywh", "cxcywh")


def _stack(parts: list[Any], xp: Any) -> Any:
    return xp.stack(parts, -1) if xp is not np else np.stack(parts, axis=-1)


def _check_fmt(fmt: str) -> None:
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")


def _validate_boxes(boxes: Any, name: str, fmt: str) -> None:
    check_finite(boxes, name)
    if fmt == "xyxy":
        bad = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
        what = "has x2 < x1 or y2 < y1"
    else:
        bad = (boxes[..., 2] < 0) | (boxes[..., 3] < 0)
        what = "has a negative width or height"
    idx = first_true(bad)
    if idx is not None:
        values = [float(v) for v in boxes[idx].tolist()]
        raise ValueError(f"{name}{format_index(idx)} {what}: {values} ({fmt})")


def box_convert(boxes: Any, in_fmt: BoxFormat, out_fmt: BoxFormat) -> Any:
    """Convert boxes of shape ``(..., 4)`` between ``xyxy``, ``xywh`` and ``cxcywh``.

    Integer input is converted to float (see `rankreward._arrays.as_float`). O(n).

    Examples:
        >>> box_convert(np.array([[10.0, 20.0, 4.0, 6.0]]), "cxcywh", "xyxy").tolist()
        [[8.0, 17.0, 12.0, 23.0]]
    """
    _check_fmt(in_fmt)
    _check_fmt(out_fmt)
    check_last_dim(boxes, 4, "boxes")
    xp = namespace(boxes)
    b = as_float(boxes, xp)
    if in_fmt == out_fmt:
        return b
    c0, c1, c2, c3 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    if in_fmt == "xywh":
        x1, y1, x2, y2 = c0, c1, c0 + c2, c1 + c3
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = c0 - c2 / 2, c1 - c3 / 2, c0 + c2 / 2, c1 + c3 / 2
    else:
        x1, y1, x2, y2 = c0, c1, c2, c3
    if out_fmt == "xyxy":
        out = [x1, y1, x2, y2]
    elif out_fmt == "xywh":
        out = [x1, y1, x2 - x1, y2 - y1]
    else:
        out = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    return _stack(out, xp)


def _as_xyxy(boxes: Any, name: str, fmt: str, validate: bool, xp: Any, like: Any) -> Any:
    check_last_dim(boxes, 4, name)
    if len(tuple(boxes.shape)) < 2:
        raise ValueError(f"{name} must have shape (..., M, 4), got {tuple(boxes.shape)}")
    _check_fmt(fmt)
    b = as_float(boxes, xp, like if is_torch(like) else None)
    if validate:
        _validate_boxes(b, name, fmt)
    return box_convert(b, fmt, "xyxy") if fmt != "xyxy" else b


def _prepare(a: Any, b: Any, fmt: str, validate: bool) -> tuple[Any, Any, Any]:
    """Namespace and float xyxy boxes of one dtype for a pairwise metric."""
    if not hasattr(a, "shape"):
        a = np.asarray(a)
    if not hasattr(b, "shape"):
        b = np.asarray(b)
    xp = namespace(a, b)
    fa = _as_xyxy(a, "a", fmt, validate, xp, b)
    fb = _as_xyxy(b, "b", fmt, validate, xp, a)
    if fa.dtype != fb.dtype:
        fa, fb = common_float(fa, fb, xp)
    return xp, fa, fb


def _rescale(xp: Any, fa: Any, fb: Any) -> tuple[Any, Any, Any]:
    """Boxes scaled by one power of two so that no area, union, enclosing area or squared
    diagonal can overflow (coordinates at most ``2**((maxexp - 8) // 2)``: 2^60 for float32,
    2^508 for float64), and the scale. IoU, GIoU, DIoU and CIoU are scale-free, and scaling by
    a power of two is exact (every operation rounds the same way), so results are unchanged
    for ordinary boxes and correct, not NaN, for huge finite ones.

    numpy: one max over the boxes, scaled only when needed; torch: the scale is computed on
    the device (no host sync) and always applied.
    """
    if xp is np:
        if not fa.size or not fb.size:
            return fa, fb, 1.0
        m = max(float(np.abs(fa).max()), float(np.abs(fb).max()))
        limit = (np.finfo(fa.dtype).maxexp - 8) // 2
        if not math.isfinite(m) or m <= 2.0**limit:
            return fa, fb, 1.0
        k = math.frexp(m)[1] - limit
        scale = math.ldexp(1.0, -k)
        return fa * fa.dtype.type(scale), fb * fb.dtype.type(scale), scale
    if not fa.numel() or not fb.numel():
        return fa, fb, 1.0
    m = xp.maximum(fa.abs().amax(), fb.abs().amax())
    limit = (int(math.log2(xp.finfo(fa.dtype).max)) + 1 - 8) // 2
    exponent = xp.frexp(xp.where(xp.isfinite(m), m, xp.ones_like(m)))[1]
    k = (exponent - limit).clamp(min=0)
    scale = xp.ldexp(xp.ones_like(m), -k)
    return fa * scale, fb * scale, scale


def _split(fa: Any, fb: Any) -> tuple[tuple, tuple]:
    """Views ``a[..., :, None, k]`` and ``b[..., None, :, k]`` for k = 0..3 (array-API path)."""
    fa, fb = fa[..., :, None, :], fb[..., None, :, :]
    return tuple(fa[..., k] for k in range(4)), tuple(fb[..., k] for k in range(4))


# Metric codes of the fused Numba kernel.
_IOU, _GIOU, _DIOU, _CIOU, _L1 = 0, 1, 2, 3, 4


@nb.njit(cache=True, inline="always")
def _pair_value(a, b, kind, extra):
    if kind == _L1:
        return (abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]) + abs(a[3] - b[3])) / 4
    iw = max(min(a[2], b[2]) - max(a[0], b[0]) + extra, 0.0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]) + extra, 0.0)
    inter = iw * ih
    area_a = (a[2] - a[0] + extra) * (a[3] - a[1] + extra)
    area_b = (b[2] - b[0] + extra) * (b[3] - b[1] + extra)
    union = area_a + area_b - inter  # (A + B) - I, the order of the reference numpy code
    iou = inter / union if union > 0 else 0.0
    if kind == _IOU:
        return iou
    cw = max(a[2], b[2]) - min(a[0], b[0])
    ch = max(a[3], b[3]) - min(a[1], b[1])
    if kind == _GIOU:
        area_c = cw * ch
        return iou - (area_c - union) / area_c if area_c > 0 else iou
    diag2 = cw * cw + ch * ch
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    out = iou - ((dx * dx + dy * dy) / diag2 if diag2 > 0 else 0.0)
    if kind == _DIOU:
        return out
    d = math.atan2(b[2] - b[0], b[3] - b[1]) - math.atan2(a[2] - a[0], a[3] - a[1])
    v = (4 / math.pi**2) * d * d
    den = 1 - iou + v
    return out - (v / den if den > 0 else 0.0) * v


@nb.njit(cache=True)
def _pairwise_serial(a, b, kind, extra, out):
    for r in range(a.shape[0] * a.shape[1]):
        g = r // a.shape[1]
        i = r - g * a.shape[1]
        for j in range(b.shape[1]):
            out[g, i, j] = _pair_value(a[g, i], b[g, j], kind, extra)


@nb.njit(cache=True, parallel=True)
def _pairwise_parallel(a, b, kind, extra, out):
    for r in nb.prange(a.shape[0] * a.shape[1]):
        g = r // a.shape[1]
        i = r - g * a.shape[1]
        for j in range(b.shape[1]):
            out[g, i, j] = _pair_value(a[g, i], b[g, j], kind, extra)


def _pairwise_numpy(fa: np.ndarray, fb: np.ndarray, kind: int, extra: float) -> np.ndarray:
    """Fused kernel for numpy: one pass, no (M, N) temporaries. Leading dims broadcast."""
    lead = np.broadcast_shapes(fa.shape[:-2], fb.shape[:-2])
    m, n = fa.shape[-2], fb.shape[-2]
    size = math.prod(lead)
    # writeable contiguous copies only when needed (one compiled signature, no readonly variant)
    a = np.require(np.broadcast_to(fa, (*lead, m, 4)), requirements=["C", "W"]).reshape(size, m, 4)
    b = np.require(np.broadcast_to(fb, (*lead, n, 4)), requirements=["C", "W"]).reshape(size, n, 4)
    out = np.empty((a.shape[0], m, n), fa.dtype)
    if out.size:
        launch("boxes", out.size, _pairwise_serial, _pairwise_parallel, a, b, kind, extra, out)
    return out.reshape(*lead, m, n)


def _safe_div(num: Any, den: Any, xp: Any) -> Any:
    """``num / den`` where ``den > 0``, else 0 (no warnings, no NaN)."""
    ok = den > 0
    return xp.where(ok, num / xp.where(ok, den, 1), 0 * num)


def _iou_parts(xp: Any, pa: tuple, pb: tuple, extra: float) -> tuple[Any, Any]:
    ax1, ay1, ax2, ay2 = pa
    bx1, by1, bx2, by2 = pb
    iw = (xp.minimum(ax2, bx2) - xp.maximum(ax1, bx1) + extra).clip(min=0)
    ih = (xp.minimum(ay2, by2) - xp.maximum(ay1, by1) + extra).clip(min=0)
    inter = iw * ih
    union = (ax2 - ax1 + extra) * (ay2 - ay1 + extra) + (bx2 - bx1 + extra) * (by2 - by1 + extra)
    return inter, union - inter


def box_area(boxes: Any, *, fmt: BoxFormat = "xyxy", pixel_inclusive: bool = False) -> Any:
    """Area of boxes ``(..., 4) -> (...)``. O(n).

    Examples:
        >>> box_area(np.array([[0, 0, 9, 9]]), pixel_inclusive=True).tolist()
        [100.0]
    """
    check_last_dim(boxes, 4, "boxes")
    b = box_convert(boxes, fmt, "xyxy")
    e = 1.0 if pixel_inclusive else 0.0
    return (b[..., 2] - b[..., 0] + e) * (b[..., 3] - b[..., 1] + e)


def box_iou(
    a: Any,
    b: Any,
    *,
    fmt: BoxFormat = "xyxy",
    pixel_inclusive: bool = False,
    validate: bool = True,
) -> Any:
    """Pairwise intersection over union: ``(..., M, 4)`` x ``(..., N, 4)`` -> ``(..., M, N)``.

    ``pixel_inclusive=True`` is the Dr. Seg reward's convention (width ``x2 - x1 + 1``).
    O(M N) per leading index.

    Examples:
        >>> a = np.array([[0.0, 0.0, 10.0, 10.0]])
        >>> b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
        >>> box_iou(a, b).round(4).tolist()
        [[1.0, 0.3333, 0.0]]
        >>> box_iou(np.zeros((0, 4)), b).shape
        (0, 3)
    """
    xp, fa, fb = _prepare(a, b, fmt, validate)
    fa, fb, scale = _rescale(xp, fa, fb)
    extra = scale if pixel_inclusive else 0.0  # one pixel, in the scaled units
    if xp is np:
        return _pairwise_numpy(fa, fb, _IOU, extra)
    pa, pb = _split(fa, fb)
    inter, union = _iou_parts(xp, pa, pb, extra)
    return _safe_div(inter, union, xp)


def _enclosing(xp: Any, pa: tuple, pb: tuple) -> tuple[Any, Any]:
    cw = xp.maximum(pa[2], pb[2]) - xp.minimum(pa[0], pb[0])
    ch = xp.maximum(pa[3], pb[3]) - xp.minimum(pa[1], pb[1])
    return cw, ch


def generalized_box_iou(a: Any, b: Any, *, fmt: BoxFormat = "xyxy", validate: bool = True) -> Any:
    """Pairwise generalized IoU, ``IoU - (C - U) / C`` with C the enclosing box area; in [-1, 1].

    O(M N) per leading index.

    Examples:
        >>> a = np.array([[0.0, 0.0, 1.0, 1.0]])
        >>> generalized_box_iou(a, np.array([[2.0, 0.0, 3.0, 1.0]])).tolist()
        [[-0.3333333333333333]]
    """
    xp, fa, fb = _prepare(a, b, fmt, validate)
    fa, fb, _ = _rescale(xp, fa, fb)
    if xp is np:
        return _pairwise_numpy(fa, fb, _GIOU, 0.0)
    pa, pb = _split(fa, fb)
    inter, union = _iou_parts(xp, pa, pb, 0.0)
    iou = _safe_div(inter, union, xp)
    cw, ch = _enclosing(xp, pa, pb)
    area_c = cw * ch
    return iou - _safe_div(area_c - union, area_c, xp)


def _diou_parts(xp: Any, pa: tuple, pb: tuple) -> tuple[Any, Any]:
    inter, union = _iou_parts(xp, pa, pb, 0.0)
    iou = _safe_div(inter, union, xp)
    cw, ch = _enclosing(xp, pa, pb)
    diag2 = cw * cw + ch * ch
    dx = (pa[0] + pa[2] - pb[0] - pb[2]) / 2
    dy = (pa[1] + pa[3] - pb[1] - pb[3]) / 2
    return iou, _safe_div(dx * dx + dy * dy, diag2, xp)


def distance_box_iou(a: Any, b: Any, *, fmt: BoxFormat = "xyxy", validate: bool = True) -> Any:
    """Pairwise distance IoU, ``IoU - d^2 / c^2`` (centre distance over enclosing diagonal).

    O(M N) per leading index.

    Examples:
        >>> a = np.array([[0.0, 0.0, 2.0, 2.0]])
        >>> distance_box_iou(a, np.array([[2.0, 0.0, 4.0, 2.0]])).round(4).tolist()
        [[-0.2]]
    """
    xp, fa, fb = _prepare(a, b, fmt, validate)
    fa, fb, _ = _rescale(xp, fa, fb)
    if xp is np:
        return _pairwise_numpy(fa, fb, _DIOU, 0.0)
    iou, penalty = _diou_parts(xp, *_split(fa, fb))
    return iou - penalty


def complete_box_iou(a: Any, b: Any, *, fmt: BoxFormat = "xyxy", validate: bool = True) -> Any:
    """Pairwise complete IoU: DIoU minus ``alpha * v``, the aspect-ratio consistency term.

    ``v = 4 / pi^2 (atan(w_b / h_b) - atan(w_a / h_a))^2`` (zero-height boxes count as
    ``atan = pi / 2``), ``alpha = v / (1 - IoU + v)`` (0 when both vanish). O(M N).

    Examples:
        >>> a = np.array([[0.0, 0.0, 2.0, 2.0]])
        >>> complete_box_iou(a, a).tolist()
        [[1.0]]
    """
    xp, fa, fb = _prepare(a, b, fmt, validate)
    fa, fb, _ = _rescale(xp, fa, fb)
    if xp is np:
        return _pairwise_numpy(fa, fb, _CIOU, 0.0)
    pa, pb = _split(fa, fb)
    iou, penalty = _diou_parts(xp, pa, pb)
    atan2 = np.arctan2 if xp is np else xp.atan2
    ang_a = atan2(pa[2] - pa[0], pa[3] - pa[1])
    ang_b = atan2(pb[2] - pb[0], pb[3] - pb[1])
    v = (4 / math.pi**2) * (ang_b - ang_a) ** 2
    alpha = _safe_div(v, 1 - iou + v, xp)
    return iou - penalty - alpha * v


def box_l1(a: Any, b: Any, *, validate: bool = True) -> Any:
    """Pairwise mean absolute difference of the four coordinates, ``(..., M, N)``.

    Coordinates are compared as given (no format conversion), which is what the Dr. Seg reward's
    "L1 < 10 pixels" test uses. Only finiteness is validated. O(M N) per leading index.

    Examples:
        >>> box_l1(np.array([[0, 0, 10, 10]]), np.array([[1, 2, 13, 14]])).tolist()
        [[2.5]]
    """
    xp, fa, fb = float_pair(a, b, ("a", "b"), (4, 4), validate)
    if xp is np:
        if fa.ndim < 2 or fb.ndim < 2:
            raise ValueError(
                f"box_l1 needs (..., M, 4) and (..., N, 4), got {fa.shape}, {fb.shape}"
            )
        return _pairwise_numpy(fa, fb, _L1, 0.0)
    return abs(fa[..., :, None, :] - fb[..., None, :, :]).mean(-1)
