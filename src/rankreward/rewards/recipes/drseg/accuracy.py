"""The Dr. Seg accuracy metrics of a batch, in one compiled pass: each sample's IoU, L1 and point
distances, the paper's cost matrix, the Hungarian matching (scipy's pairs) and the matched
means, with numpy's own summation order so the batch equals the released per-sample numpy code
bit for bit. x1 = mean matched IoU, x2 = count fit, x3 = mean matched point score, and
VisionReasoner's matched-cost accuracy beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from ...._parallel import launch
from ....metrics.kernels import PAIR_IOU, PAIR_L1, pair_value, solve_assignment
from ....text import extract_answer
from .inputs import parse_ground_truth
from .parser import parse_completion, read_answer_released

__all__ = [
    "COMPAT_MODES",
    "AccuracyConfig",
    "accuracy_metrics",
    "accuracy_rows",
    "batch_accuracy",
    "check_compat",
    "pack_rows",
]

#: The answer-reading modes of `DrSegReward` (see docs/reward.md for the differences).
COMPAT_MODES = ("released", "strict", "lenient")


def check_compat(compat: str) -> None:
    """``ValueError`` unless ``compat`` is one of `COMPAT_MODES`."""
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, got {compat!r}")


@dataclass(frozen=True)
class AccuracyConfig:
    """Thresholds of the accuracy metrics (the paper's values by default).

    Examples:
        >>> AccuracyConfig(iou_threshold=0.7).iou_threshold
        0.7
    """

    iou_threshold: float = 0.5
    l1_threshold: float = 10.0
    point_threshold: float = 30.0
    point_outer: float = 200.0
    max_objects: int = 120
    pixel_inclusive: bool = True

    def __post_init__(self) -> None:
        if not self.point_outer > self.point_threshold:
            raise ValueError("point_outer must be greater than point_threshold")
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be >= 1, got {self.max_objects}")


@nb.njit(cache=True)
def _block_sum(values, lo, n):
    """numpy's ``pairwise_sum`` for ``n <= 128``: sequential below 8, else 8 accumulators."""
    if n < 8:
        s = 0.0
        for i in range(lo, lo + n):
            s += values[i]
        return s
    r = values[lo : lo + 8].copy()
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += values[lo + i + j]
        i += 8
    s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        s += values[lo + i]
        i += 1
    return s


@nb.njit(cache=True)
def _pairwise_sum(values, lo, n):
    """numpy's pairwise summation of ``values[lo:lo + n]``: above 128 values it sums the two
    halves (the first a multiple of 8) separately. Written with an explicit stack because
    Numba cannot reload a recursive function from its cache."""
    if n <= 128:
        return _block_sum(values, lo, n)
    # frames: start, length, left sum, whether the left half is done
    f_lo = np.empty(64, np.int64)
    f_n = np.empty(64, np.int64)
    f_left = np.empty(64)
    f_stage = np.zeros(64, np.int64)
    f_lo[0], f_n[0], f_stage[0] = lo, n, 0
    top = 1
    value = 0.0
    descend = True
    while True:
        if descend:
            k = top - 1
            if f_n[k] <= 128:
                value = _block_sum(values, f_lo[k], f_n[k])
                top -= 1
                descend = False
            else:
                n2 = f_n[k] // 2
                n2 -= n2 % 8
                f_lo[top], f_n[top], f_stage[top] = f_lo[k], n2, 0
                top += 1
            continue
        if top == 0:
            return value
        k = top - 1  # the parent of the frame that produced ``value``
        n2 = f_n[k] // 2
        n2 -= n2 % 8
        if f_stage[k] == 0:
            f_left[k], f_stage[k] = value, 1
            f_lo[top], f_n[top], f_stage[top] = f_lo[k] + n2, f_n[k] - n2, 0
            top += 1
            descend = True
        else:
            value = f_left[k] + value
            top -= 1


@nb.njit(cache=True)
def _numpy_mean(values, n):
    """``np.mean`` of ``values[:n]`` with numpy's own summation order, so the batch path equals
    the paper's per-sample numpy code bit for bit."""
    return _pairwise_sum(values, 0, n) / n


@nb.njit(cache=True)
def _sample_accuracy(pred, gt, m, n, cfg, out):
    """x1 and x3 of one sample (``m, n > 0``): the paper's geometry and cost, the Hungarian
    matching (scipy's pairs), the numpy means of the matched IoUs and point scores."""
    iou_thr, l1_thr, inner, outer, extra = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4]
    cost = np.empty((m, n))
    iou = np.empty((m, n))
    dist = np.empty((m, n))
    for i in range(m):
        px, py = pred[i, 4], pred[i, 5]
        inside = px >= pred[i, 0] and px <= pred[i, 2] and py >= pred[i, 1] and py <= pred[i, 3]
        for j in range(n):
            v = pair_value(pred[i], gt[j], PAIR_IOU, extra)
            l1 = pair_value(pred[i], gt[j], PAIR_L1, 0.0)
            dx, dy = px - gt[j, 4], py - gt[j, 5]
            d = np.sqrt(dx * dx + dy * dy)
            iou[i, j], dist[i, j] = v, d
            cost[i, j] = 3.0 - (v > iou_thr) - (l1 < l1_thr) - (d < inner and inside)
    cols = np.empty(m, np.int64)
    solve_assignment(cost, m, n, cols)
    buf_iou = np.empty(m)
    buf_pt = np.empty(m)
    buf_cost = np.empty(m)
    k = 0
    for i in range(m):
        j = cols[i]
        if j >= 0:
            buf_cost[k] = cost[i, j]
            buf_iou[k] = iou[i, j]
            d = dist[i, j]
            buf_pt[k] = 1.0 if d <= inner else ((outer - d) / (outer - inner) if d < outer else 0.0)
            k += 1
    out[0] = _numpy_mean(buf_iou, k)
    out[2] = _numpy_mean(buf_pt, k)
    # VisionReasoner's accuracy: (3 * matches - matched cost) / max(M, N)
    out[3] = (k * 3.0 - _pairwise_sum(buf_cost, 0, k)) / max(m, n)


@nb.njit(cache=True)
def _accuracy_serial(pred, prow, pcount, mcount, gt, grow, gcount, cfg, out):
    for b in range(pcount.shape[0]):
        _accuracy_one(pred, prow, pcount, mcount, gt, grow, gcount, cfg, out, b)


@nb.njit(cache=True, parallel=True)
def _accuracy_parallel(pred, prow, pcount, mcount, gt, grow, gcount, cfg, out):
    for b in nb.prange(pcount.shape[0]):
        _accuracy_one(pred, prow, pcount, mcount, gt, grow, gcount, cfg, out, b)


@nb.njit(cache=True)
def _accuracy_one(pred, prow, pcount, mcount, gt, grow, gcount, cfg, out, b):
    """Row ``b`` of ``out``: x1, x2 (count fit), x3, VisionReasoner's accuracy.
    ``mcount`` is M for the count fit (``< 0``: unusable answer, all 0); ``pcount`` the rows
    the geometry runs on (0: none)."""
    m, n = pcount[b], gcount[b]
    count = mcount[b]
    if count < 0:
        return
    lo, hi = min(count, n), max(count, n)
    out[b, 1] = lo / hi if hi > 0 else 1.0
    if m > 0 and n > 0:
        _sample_accuracy(pred[prow[b] : prow[b] + m], gt[grow[b] : grow[b] + n], m, n, cfg, out[b])


def accuracy_rows(pred, prow, pcount, mcount, gt, grow, gcount, cfg: AccuracyConfig) -> np.ndarray:
    """Raw metrics ``(B, 4)`` (x1, x2, x3, VisionReasoner's accuracy) from packed ``(K, 6)``
    object rows: sample ``b`` predicts ``pred[prow[b]:prow[b] + pcount[b]]`` against
    ``gt[grow[b]:grow[b] + gcount[b]]`` and counts ``mcount[b]`` predictions (``< 0``:
    unusable); counts are already capped."""
    out = np.zeros((len(pcount), 4))
    params = np.array([cfg.iou_threshold, cfg.l1_threshold, cfg.point_threshold,
                       cfg.point_outer, 1.0 if cfg.pixel_inclusive else 0.0])  # fmt: skip
    args = (pred, prow, pcount, mcount, gt, grow, gcount, params, out)
    launch("reward", len(pcount), _accuracy_serial, _accuracy_parallel, *args)
    return out


def _object_rows(pair: tuple[Any, Any], cap: int, where: str) -> np.ndarray:
    """``(boxes (M, 4), points (M, 2))`` -> the first ``cap`` objects as ``(M, 6)`` float64 rows."""
    boxes, points = (np.asarray(a, np.float64) for a in pair)
    if boxes.ndim != 2 or boxes.shape[1:] != (4,) or points.shape != (len(boxes), 2):
        raise ValueError(
            f"{where}: expected boxes (M, 4) and points (M, 2), got {boxes.shape} and {points.shape}"
        )
    return np.concatenate([boxes[:cap], points[:cap]], axis=1)


def pack_rows(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate ``(k, 6)`` arrays once each (a repeated one is stored once): rows, and each
    array's start row and row count."""
    starts = np.empty(len(arrays), np.int64)
    seen: dict[int, int] = {}
    chunks = []
    total = 0
    for k, a in enumerate(arrays):
        start = seen.get(id(a))
        if start is None:
            start = seen[id(a)] = total
            chunks.append(a)
            total += len(a)
        starts[k] = start
    rows = np.concatenate(chunks) if chunks else np.zeros((0, 6))
    counts = np.fromiter(map(len, arrays), np.int64, len(arrays))
    return np.ascontiguousarray(rows, np.float64), starts, counts


def batch_accuracy(
    pred: Sequence[tuple[np.ndarray, np.ndarray] | None],
    gt: Sequence[tuple[np.ndarray, np.ndarray]],
    config: AccuracyConfig | None = None,
) -> np.ndarray:
    """Raw accuracy metrics ``(B, 3)`` = (x1 mean matched IoU, x2 count fit, x3 mean matched
    point score) for a batch of (boxes, points) predictions (``None``: unusable answer, all 0)
    against ground truths. Objects beyond ``max_objects`` are dropped.

    One compiled pass over the samples (parallel threads for big batches) computes each
    sample's cost matrix and matching, with no padding. O(sum M N) plus the matching,
    O(sum min^2 max).

    Examples:
        >>> box = np.array([[0.0, 0, 9, 9]]); pt = np.array([[4.0, 4]])
        >>> batch_accuracy([(box, pt), None], [(box, pt), (box, pt)]).tolist()
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    cfg = config or AccuracyConfig()
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predictions but {len(gt)} ground truths")
    cap = cfg.max_objects
    empty = np.zeros((0, 6))
    pred_rows, prow, pcount = pack_rows(
        [empty if p is None else _object_rows(p, cap, f"pred[{k}]") for k, p in enumerate(pred)]
    )
    mcount = pcount.copy()
    mcount[[p is None for p in pred]] = -1  # unusable answers
    gt_rows, grow, gcount = pack_rows([_object_rows(g, cap, f"gt[{k}]") for k, g in enumerate(gt)])
    return accuracy_rows(pred_rows, prow, pcount, mcount, gt_rows, grow, gcount, cfg)[:, :3]


def accuracy_metrics(
    text: str,
    ground_truth: Any,
    *,
    compat: str = "released",
    config: AccuracyConfig | None = None,
) -> tuple[float, float, float]:
    """Raw (x1, x2, x3) of one completion: mean matched IoU, count fit, mean matched point
    score. ``compat="released"`` (default) reads the answer as the released reward does
    (`read_answer_released`: M counts every item; geometry on coerced coordinates when the
    widths are right); ``"strict"`` / ``"lenient"`` score an answer that does not parse into
    well-formed objects (0, 0, 0).

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'
        >>> accuracy_metrics('<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 90]}]</answer>', gt)
        (1.0, 1.0, 0.9411764705882353)
        >>> accuracy_metrics("no answer", "[]")  # M = N = 0: count fit 1
        (0.0, 1.0, 0.0)
    """
    cfg = config or AccuracyConfig()
    check_compat(compat)
    gt = parse_ground_truth(ground_truth, cfg.max_objects)
    if compat == "released":
        found = extract_answer(text)
        count, rows = 0, np.zeros((0, 6))
        if found is not None:
            r = read_answer_released(found[0], max_objects=cfg.max_objects)
            count = r.count
            if r.boxes is not None:
                rows = np.concatenate([r.boxes, r.points], axis=1)
        gt_rows = np.concatenate(gt, axis=1)
        out = accuracy_rows(rows, np.zeros(1, np.int64), np.array([len(rows)]), np.array([count]),
                        gt_rows, np.zeros(1, np.int64), np.array([len(gt_rows)]), cfg)[0]  # fmt: skip
        out = np.where(np.isfinite(out), out, 0.0)
    else:
        parsed = parse_completion(text, strict=compat == "strict", max_objects=cfg.max_objects)
        pred = (parsed.boxes, parsed.points) if parsed.objects_ok else None
        out = batch_accuracy([pred], [gt], cfg)[0]
    return float(out[0]), float(out[1]), float(out[2])
