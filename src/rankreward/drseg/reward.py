"""The Dr. Seg reward: format + distribution-ranked accuracy + non_repeat, for whole batches.

One call scores a batch of completions in three compiled passes and one normalizer call:

1. `scan.scan_batch` parses every completion at once (tags, structure, looks, canonical answers
   and their coordinates, the repeat check); the rare non-canonical answer and non-ASCII
   repeat check fall back to the Python rules (`read_answer`, `non_repeat_problems`), which
   are also the spec the scanner is tested against;
2. one Numba pass over the samples computes each sample's IoU, L1, point distances, cost
   matrix, Hungarian matching (scipy's pairs) and matched means, with no padding;
3. the raw metrics are ranked with one `RankNormalizer.rank_and_stage` call (the paper's
   per-step semantics: rank against the window as it stood before the step; the step's values
   join the window at `commit`).
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from .._parallel import launch
from .._pickling import LockFreePickle
from ..metrics.kernels import PAIR_IOU, PAIR_L1, pair_value, solve_assignment
from ..normalize import NormalizerLike, RankNormalizer
from ..text import completion_text
from . import scan as _scan
from .parser import (
    DEFAULT_MAX_CHARS,
    Problem,
    extract_answer,
    parse_completion,
    parse_objects,
    read_answer,
    read_answer_released,
)
from .prompt import LOOK_TO_CONFIRM, placeholder_phrases
from .rules import _placeholder_problem, _repeat_problem, non_repeat_problems

__all__ = [
    "ACCURACY_MODES",
    "COMPAT_MODES",
    "COMPONENTS",
    "NON_REPEAT_MODES",
    "AccuracyConfig",
    "DrSegReward",
    "VisionReasonerReward",
    "accuracy_metrics",
    "batch_accuracy",
    "completion_text",
    "parse_ground_truth",
    "visionreasoner_non_repeat",
]

#: Names of the per-sample components in `DrSegReward.last_breakdown` and the weights mapping.
COMPONENTS = ("structure", "answer_items", "look", "r1", "r2", "r3", "non_repeat")
#: The largest value of each component (answer items score 0..2, the rest 0..1).
COMPONENT_MAX = {name: 2.0 if name == "answer_items" else 1.0 for name in COMPONENTS}


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


@functools.lru_cache(maxsize=8192)
def _packed_ground_truth_str(text: str | bytes, max_objects: int) -> np.ndarray:
    # A GRPO batch repeats each ground truth once per rollout: parse each string once.
    packed = np.concatenate(_parse_ground_truth(text, max_objects), axis=1)
    packed.flags.writeable = False
    return packed


def _packed_ground_truth(ground_truth: Any, max_objects: int) -> np.ndarray:
    """Ground truth as one ``(N, 6)`` array of (x1, y1, x2, y2, px, py) rows."""
    if isinstance(ground_truth, (str, bytes)):
        return _packed_ground_truth_str(ground_truth, max_objects)
    return np.concatenate(_parse_ground_truth(ground_truth, max_objects), axis=1)


def parse_ground_truth(ground_truth: Any, max_objects: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth objects (a JSON string as datasets store it, or a list of ``{"bbox_2d",
    "point_2d"}`` dicts) -> ``(boxes (N, 4), points (N, 2))``. Ground truth is data, not model
    output: anything malformed raises ``ValueError`` rather than scoring 0.

    Examples:
        >>> b, p = parse_ground_truth('[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]')
        >>> b.shape, p.shape
        ((1, 4), (1, 2))
    """
    if isinstance(ground_truth, (str, bytes)):
        packed = _packed_ground_truth_str(ground_truth, max_objects)
        return packed[:, :4], packed[:, 4:]
    return _parse_ground_truth(ground_truth, max_objects)


def _parse_ground_truth(ground_truth: Any, max_objects: int) -> tuple[np.ndarray, np.ndarray]:
    data = ground_truth
    if isinstance(ground_truth, (str, bytes)):
        try:
            data = json.loads(ground_truth)
        except ValueError as e:
            raise ValueError(f"ground truth is not valid JSON: {e}") from None
    if isinstance(data, Mapping):
        data = [data]
    if isinstance(data, tuple):
        data = list(data)
    boxes, points, problems, _ = parse_objects(data, strict=True, max_objects=max_objects)
    if boxes is None:
        raise ValueError("invalid ground truth: " + "; ".join(map(str, problems)))
    return boxes, points


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


def _accuracy(pred, prow, pcount, mcount, gt, grow, gcount, cfg: AccuracyConfig) -> np.ndarray:
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


def _pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    pred_rows, prow, pcount = _pack(
        [empty if p is None else _object_rows(p, cap, f"pred[{k}]") for k, p in enumerate(pred)]
    )
    mcount = pcount.copy()
    mcount[[p is None for p in pred]] = -1  # unusable answers
    gt_rows, grow, gcount = _pack([_object_rows(g, cap, f"gt[{k}]") for k, g in enumerate(gt)])
    return _accuracy(pred_rows, prow, pcount, mcount, gt_rows, grow, gcount, cfg)[:, :3]


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
    _check_compat(compat)
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
        out = _accuracy(rows, np.zeros(1, np.int64), np.array([len(rows)]), np.array([count]),
                        gt_rows, np.zeros(1, np.int64), np.array([len(gt_rows)]), cfg)[0]  # fmt: skip
        out = np.where(np.isfinite(out), out, 0.0)
    else:
        parsed = parse_completion(text, strict=compat == "strict", max_objects=cfg.max_objects)
        pred = (parsed.boxes, parsed.points) if parsed.objects_ok else None
        out = batch_accuracy([pred], [gt], cfg)[0]
    return float(out[0]), float(out[1]), float(out[2])


#: The answer-reading modes of `DrSegReward` (see docs/reward.md for the differences).
COMPAT_MODES = ("released", "strict", "lenient")
#: What the accuracy part of the reward is.
ACCURACY_MODES = ("ranked", "raw", "visionreasoner")
#: Which non_repeat rule.
NON_REPEAT_MODES = ("drseg", "visionreasoner")


def _check_compat(compat: str) -> None:
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, got {compat!r}")


def visionreasoner_non_repeat(text: str) -> float:
    """VisionReasoner's non_repeat (the baseline's): split on ``.``, strip, drop empty pieces;
    0 once two pieces repeat an earlier one, else 1. O(len(text)).

    Examples:
        >>> visionreasoner_non_repeat("a. b. a. b.")
        0.0
        >>> visionreasoner_non_repeat("A. a. B")
        1.0
    """
    pieces = [s.strip() for s in text.split(".")]
    pieces = [s for s in pieces if s]
    return 0.0 if len(pieces) - len(set(pieces)) >= 2 else 1.0


class DrSegReward(LockFreePickle):
    """The Dr. Seg reward as a TRL-style callable ``(completions, ground_truth, **kw) -> list``.

    reward = structure + answer_items + look + r1 + r2 + r3 + non_repeat (each times its
    weight, all 1 by default: 0..8), where r1..r3 are the ranks of the raw accuracy metrics
    x1..x3 in the normalizer's windows. With no arguments this is the released reward
    (``drseg-reference.md``), input for input.

    Args:
        normalizer: a 3-metric `RankNormalizer` or a wrapper with the same calls
            (`AutoCommitNormalizer`, `DistributedRankNormalizer`, `RayRankNormalizer`);
            default `RankNormalizer.paper()`.
        weights: per-component weights, keys from `COMPONENTS` (missing keys weigh 1).
        compat: how answers are read. ``"released"`` (default): the released code's rules
            (M counts every item; coordinates coerced like ``float()``; wrong widths zero the
            geometry but keep the count fit; no or empty answer against an empty ground truth
            has count fit 1). ``"strict"``: an answer that is not a list of well-formed objects
            scores (0, 0, 0) with a problem. ``"lenient"``: strict, but also accepts a fenced
            JSON answer, a single object and numeric strings. docs/reward.md lists every input
            class where they differ.
        look: the paper's look part of the format score (the ablations turn it off).
        accuracy: ``"ranked"`` (the paper: r1..r3 are ranks), ``"raw"`` (r1..r3 are x1..x3,
            no normalizer) or ``"visionreasoner"`` (the baseline's matched-cost accuracy,
            0..3, reported in ``accuracy``; r1..r3 are 0).
        non_repeat: ``"drseg"`` (placeholders + normalised sentences) or ``"visionreasoner"``
            (sentences split on ``.`` only).
        template: the prompt template in use; its bracketed placeholder phrases are what
            non_repeat rejects (`placeholder_phrases`). Default: the released prompt.
        config: thresholds (`AccuracyConfig`); keyword overrides like ``iou_threshold=0.7``
            are accepted directly.
        max_chars: completions longer than this score 0 everywhere (``too_long`` problem).

    Per-step semantics (the paper): every call ranks against the windows as they stood before
    the step and stages the raw metrics; `commit` (called by the trainer adapter once per
    optimizer step, or by you) appends them. A warning fires if more than a window's worth of
    values is staged without a commit, since that usually means nobody is committing.

    Thread safety: the whole of `score` (ranking, staging, the breakdown it returns) runs under
    one lock, so concurrent calls are serialised and each gets its own breakdown; `commit`
    takes the same lock. `last_breakdown` / `last_problems` are a convenience for single-
    threaded use (the latest call's, set under the lock): from threads, use what `score`
    returns.

    Examples:
        >>> reward = DrSegReward()
        >>> text = ('<think>the cup <look>red handle</look></think>'
        ...         '<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>')
        >>> reward([text], ground_truth=['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'])
        [8.0]
        >>> reward.commit()
        1
    """

    def __init__(
        self,
        normalizer: NormalizerLike | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        compat: str = "released",
        look: bool = True,
        accuracy: str = "ranked",
        non_repeat: str = "drseg",
        template: str = LOOK_TO_CONFIRM,
        strict: bool | None = None,
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        **thresholds: Any,
    ) -> None:
        if strict is not None:  # the older switch: strict=True/False
            compat = "strict" if strict else "lenient"
        _check_compat(compat)
        if accuracy not in ACCURACY_MODES:
            raise ValueError(f"accuracy must be one of {ACCURACY_MODES}, got {accuracy!r}")
        if non_repeat not in NON_REPEAT_MODES:
            raise ValueError(f"non_repeat must be one of {NON_REPEAT_MODES}, got {non_repeat!r}")
        self.normalizer = normalizer if normalizer is not None else RankNormalizer.paper()
        if self.normalizer.num_metrics != 3:
            raise ValueError(
                f"the normalizer must rank 3 metrics (x1, x2, x3), it has {self.normalizer.num_metrics}"
            )
        unknown = set(weights or {}) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown weight keys {sorted(unknown)}; known: {COMPONENTS}")
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in COMPONENTS}
        if not look:
            self.weights["look"] = 0.0
        base = config or AccuracyConfig()
        self.config = AccuracyConfig(**{**base.__dict__, **thresholds}) if thresholds else base
        self.compat = compat
        self.strict = compat != "lenient"
        self.look = look
        self.accuracy = accuracy
        self.non_repeat = non_repeat
        self.template = template
        self.phrases = placeholder_phrases(template)
        self.max_chars = max_chars
        self.last_breakdown: dict[str, Any] = {}
        self.last_problems: list[list[str]] = []
        self._lock = threading.RLock()
        self._warned = False
        self.__name__ = "drseg_reward"  # TRL logs reward functions by __name__

    def _read_answers(self, texts, found, problems_by_k):
        """Answer counts and object rows for every sample: the scanner's canonical answers,
        the Python reader for the rest. Returns (pred_rows, prow, pcount, mcount, plain)."""
        cfg = self.config
        released = self.compat == "released"
        answer_items = found.answer_items
        canonical = found.canonical
        pcount = np.where(canonical, found.num_kept, 0 if released else -1)
        mcount = pcount.copy()
        plain = canonical.copy()
        prow = found.row.copy()
        pred_rows = found.coords
        extra_rows: list[np.ndarray] = []
        extra_total = len(pred_rows)
        for k in np.flatnonzero(found.status & _scan.NEEDS_ANSWER).tolist():
            s, e = found.answer_span[k].tolist()
            if released:
                r = read_answer_released(texts[k][s:e], max_objects=cfg.max_objects)
                answer_items[k] = r.answer_items
                problems_by_k[k] += r.problems
                mcount[k] = r.count
                boxes, points, plain[k] = r.boxes, r.points, r.plain_numbers
            else:
                items, boxes, points, more, _ = read_answer(
                    texts[k][s:e], strict=self.strict, max_objects=cfg.max_objects
                )
                answer_items[k] = items
                problems_by_k[k] += more
                plain[k] = boxes is not None
            if boxes is not None:
                pcount[k], prow[k] = len(boxes), extra_total
                mcount[k] = len(boxes)
                extra_rows.append(np.concatenate([boxes, points], axis=1))
                extra_total += len(boxes)
        if extra_rows:
            pred_rows = np.concatenate([pred_rows, *extra_rows])
        return pred_rows, prow, pcount, mcount, plain

    def score(
        self, completions: Sequence[Any], ground_truth: Sequence[Any], *, stage: bool = True
    ) -> dict[str, Any]:
        """Parse, measure and rank a batch; stages the raw metrics (ranked accuracy). Returns
        this call's breakdown: per-sample arrays (``reward``, every component, ``format``,
        ``accuracy``, x1..x3, counts) and ``problems`` (a list of strings per sample).

        ``stage=False`` ranks against the window without staging anything: validation
        batches scored on the training distribution, never entering it.
        O(total text + sum M N + matching)."""
        texts = [c if type(c) is str else completion_text(c) for c in completions]
        if isinstance(ground_truth, (str, bytes, Mapping)):
            raise TypeError("ground_truth must be a sequence with one entry per completion")
        if len(texts) != len(ground_truth):
            raise ValueError(f"{len(texts)} completions but {len(ground_truth)} ground truths")
        cfg = self.config
        gt_arrays = []
        for k, g in enumerate(ground_truth):
            try:
                gt_arrays.append(_packed_ground_truth(g, cfg.max_objects))
            except ValueError as e:
                raise ValueError(f"ground_truth[{k}]: {e}") from None
        found = _scan.scan_batch(
            texts, max_chars=self.max_chars, max_objects=cfg.max_objects, phrases=self.phrases
        )
        probs: dict[int, list] = defaultdict(list)
        for k in np.flatnonzero(found.num_records).tolist():
            probs[k] = _scan.problems_of(found, k)
        pred_rows, prow, pcount, mcount, plain = self._read_answers(texts, found, probs)
        non_repeat = self._non_repeat(texts, found, probs)
        gt_rows, grow, gcount = _pack(gt_arrays)
        raw = _accuracy(pred_rows, prow, pcount, mcount, gt_rows, grow, gcount, cfg)
        bad = ~np.isfinite(raw).all(axis=1)
        for k in np.flatnonzero(bad).tolist():  # huge coordinates overflowed the arithmetic
            raw[k, [0, 2, 3]] = 0.0
            probs[k].append(Problem("non_finite", "the metrics overflowed (huge coordinates)"))
        vr = np.where(plain, raw[:, 3], 0.0)
        with self._lock:
            if self.accuracy == "ranked":
                ranks = self._rank(raw[:, :3]) if stage else self._rank_only(raw[:, :3])
            elif self.accuracy == "raw":
                ranks = raw[:, :3]
            else:
                ranks = np.zeros((len(texts), 3))
            parts = {
                "structure": found.structure,
                "answer_items": found.answer_items,
                "look": found.look,
                "r1": np.asarray(ranks[:, 0], np.float64),
                "r2": np.asarray(ranks[:, 1], np.float64),
                "r3": np.asarray(ranks[:, 2], np.float64),
                "non_repeat": non_repeat,
            }
            total = np.zeros(len(texts))
            for name in COMPONENTS:  # a fixed order: the same float sum as the one-by-one path
                total = total + self.weights[name] * parts[name]
            w = self.weights
            if self.accuracy == "visionreasoner":
                accuracy = vr
                total = total + vr
            else:
                accuracy = w["r1"] * parts["r1"] + w["r2"] * parts["r2"] + w["r3"] * parts["r3"]
            problems = [[str(x) for x in probs.get(k, ())] for k in range(len(texts))]
            breakdown = {
                **parts,
                "format": parts["structure"] + parts["answer_items"] + w["look"] * parts["look"],
                "accuracy": accuracy,
                "x1": raw[:, 0],
                "x2": raw[:, 1],
                "x3": raw[:, 2],
                "num_pred": np.maximum(mcount, 0),
                "num_gt": gcount,
                "num_problems": np.fromiter(map(len, problems), np.int64, len(problems)),
                "reward": total,
                "problems": problems,
            }
            self.last_breakdown = breakdown
            self.last_problems = problems
        return breakdown

    def _rank(self, raw: np.ndarray) -> np.ndarray:
        """Rank against the step's windows and stage (under the lock)."""
        if not len(raw):
            return np.zeros((0, 3))
        ranks = self.normalizer.rank_and_stage(raw)
        # Normalizers that commit by count (`AutoCommitNormalizer`, Ray) need no warning.
        manual = getattr(self.normalizer, "commit_every", None) is None
        staged = self.normalizer.num_staged if manual else 0
        if staged > self.normalizer.capacity and not self._warned:
            self._warned = True
            warnings.warn(
                f"{staged} values staged without commit(); call DrSegReward.commit() once "
                "per optimizer step (the trainer adapters do this for you)",
                RuntimeWarning,
                stacklevel=4,
            )
        return ranks

    def _rank_only(self, raw: np.ndarray) -> np.ndarray:
        return self.normalizer.rank(raw) if len(raw) else np.zeros((0, 3))

    def _non_repeat(self, texts, found, probs) -> np.ndarray:
        if self.non_repeat == "visionreasoner":
            return np.array([visionreasoner_non_repeat(t) for t in texts], np.float64)
        non_repeat = (found.non_repeat[:, 0] == _scan.NR_OK).astype(np.float64)
        for k in np.flatnonzero(found.non_repeat[:, 0] | found.status).tolist():
            outcome, a, b = found.non_repeat[k].tolist()
            if found.status[k] & _scan.NEEDS_NON_REPEAT:
                nr = non_repeat_problems(texts[k], self.phrases)
                non_repeat[k] = 0.0 if nr else 1.0
                probs[k] += nr
            elif outcome == _scan.NR_PLACEHOLDER:
                probs[k].append(_placeholder_problem(texts[k][a:b].lower()))
            elif outcome == _scan.NR_REPEATED:
                probs[k].append(_repeat_problem(a))
        return non_repeat

    def __call__(
        self, completions: Sequence[Any], ground_truth: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        """Score a batch: one float per completion. ``ground_truth`` may also arrive as a
        ``solution`` keyword (the VisionReasoner dataset column)."""
        if ground_truth is None:
            ground_truth = kwargs.get("solution")
        if ground_truth is None:
            raise TypeError("DrSegReward needs ground_truth=... (or a 'solution' column)")
        return [float(x) for x in self.score(completions, ground_truth)["reward"]]

    @property
    def max_reward(self) -> float:
        """The largest reward this configuration can give (8 with unit weights).

        Examples:
            >>> DrSegReward(weights={"look": 0.0}).max_reward
            7.0
        """
        parts = dict(self.weights)
        if self.accuracy == "visionreasoner":  # r1..r3 are 0; the accuracy part is 0..3
            parts.update(r1=0.0, r2=0.0, r3=0.0)
            return sum(max(w, 0.0) * COMPONENT_MAX[n] for n, w in parts.items()) + 3.0
        return sum(max(w, 0.0) * COMPONENT_MAX[n] for n, w in parts.items())

    def commit(self) -> int:
        """Append every staged raw metric to the windows (once per optimizer step). O(window)."""
        with self._lock:
            self._warned = False
            return self.normalizer.commit()

    def means(self, breakdown: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Mean of every numeric component of ``breakdown`` (default: the last call's), for
        logging."""
        out = {}
        for k, v in (self.last_breakdown if breakdown is None else breakdown).items():
            if isinstance(v, np.ndarray) and len(v):
                out[k] = float(np.mean(v))
        return out

    def state_dict(self) -> dict[str, Any]:
        """The normalizer's state (the only state that matters)."""
        return self.normalizer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.normalizer.load_state_dict(state)


class VisionReasonerReward(DrSegReward):
    """The paper's baseline: VisionReasoner's released reward, batched, called like
    `DrSegReward` (same ``score`` breakdown and problems).

    reward = structure + answer_items (no look part, 0..3) + accuracy + non_repeat, where
    accuracy = (3 * matches - matched cost) / max(M, N) on the Dr. Seg cost matrix (0..3; 0
    when either side is empty or the answer's coordinates are not all JSON numbers, as the
    released code's exception handler gives), and non_repeat splits on ``.`` only. No
    normalizer: nothing is staged, `commit` does nothing.

    Examples:
        >>> reward = VisionReasonerReward()
        >>> text = ('<think>the cup</think>'
        ...         '<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>')
        >>> reward([text], ground_truth=['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'])
        [7.0]
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        *,
        compat: str = "released",
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        **thresholds: Any,
    ) -> None:
        super().__init__(
            None,
            weights,
            compat=compat,
            look=False,
            accuracy="visionreasoner",
            non_repeat="visionreasoner",
            config=config,
            max_chars=max_chars,
            **thresholds,
        )
        self.__name__ = "visionreasoner_reward"
