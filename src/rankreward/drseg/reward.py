"""The Dr. Seg reward: format + distribution-ranked accuracy + non_repeat, for whole batches.

One call scores a batch of completions: every completion is parsed, the geometry of the whole
batch (IoU, L1, point distances, point-in-box, the Hungarian matching) runs in a few vectorized
calls of `rankreward.metrics`, and the raw accuracy metrics are ranked with one
`RankNormalizer.rank_and_stage` call (the paper's per-step semantics: rank against the window as
it stood before the step; the step's values join the window at `commit`).
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from ..metrics import box_iou, box_l1, hungarian_match_padded, point_distance, points_in_boxes
from ..normalize import NormalizerLike, RankNormalizer
from .parser import DEFAULT_MAX_CHARS, ParsedCompletion, parse_completion, parse_objects
from .rules import non_repeat_problems

__all__ = [
    "COMPONENTS",
    "AccuracyConfig",
    "DrSegReward",
    "accuracy_metrics",
    "batch_accuracy",
    "completion_text",
    "parse_ground_truth",
]

#: Names of the per-sample components in `DrSegReward.last_breakdown` and the weights mapping.
COMPONENTS = ("structure", "answer_items", "look", "r1", "r2", "r3", "non_repeat")
#: The largest value of each component (answer items score 0..2, the rest 0..1).
COMPONENT_MAX = {name: 2.0 if name == "answer_items" else 1.0 for name in COMPONENTS}

#: Above this many padded matrix cells a batch's geometry is computed in chunks.
_CHUNK_CELLS = 1 << 22


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


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat messages (TRL's conversational
    format): the content of the last assistant message, text parts joined. O(len).

    Examples:
        >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
        'hi'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        messages = [m for m in completion if m.get("role", "assistant") == "assistant"]
        if not messages:
            raise ValueError("the completion has no assistant message")
        content = messages[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(
                p.get("text", "") if isinstance(p, Mapping) else str(p)
                for p in content
                if not isinstance(p, Mapping) or p.get("type", "text") == "text"
            )
    raise TypeError(
        f"a completion must be a str or a list of chat messages, got {type(completion).__name__}"
    )


@functools.lru_cache(maxsize=4096)
def _parse_ground_truth_str(text: str | bytes, max_objects: int) -> tuple[np.ndarray, np.ndarray]:
    # A GRPO batch repeats each ground truth once per rollout: parse each string once.
    boxes, points = _parse_ground_truth(text, max_objects)
    boxes.flags.writeable = False
    points.flags.writeable = False
    return boxes, points


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
        return _parse_ground_truth_str(ground_truth, max_objects)
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
def _numpy_mean(values, n):
    """``np.mean`` of ``values[:n]`` with numpy's own summation order (pairwise with 8
    accumulators for n >= 8), so the batch path equals the paper's per-sample numpy code bit for
    bit. Valid for n <= 128 (numpy's block size), which the object cap guarantees."""
    if n < 8:
        s = 0.0
        for i in range(n):
            s += values[i]
        return s / n
    r = values[:8].copy()
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += values[i + j]
        i += 8
    s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        s += values[i]
        i += 1
    return s / n


@nb.njit(cache=True)
def _matched_means(iou, dist, cols, nrows, inner, outer, x1, x3):
    buf_iou = np.empty(cols.shape[1])
    buf_pt = np.empty(cols.shape[1])
    for b in range(cols.shape[0]):
        k = 0
        for i in range(nrows[b]):
            j = cols[b, i]
            if j >= 0:
                buf_iou[k] = iou[b, i, j]
                d = dist[b, i, j]
                buf_pt[k] = (
                    1.0 if d <= inner else ((outer - d) / (outer - inner) if d < outer else 0.0)
                )
                k += 1
        if k:
            x1[b] = _numpy_mean(buf_iou, k)
            x3[b] = _numpy_mean(buf_pt, k)


def _geometry_chunk(pb, pp, gb, gp, m, n, cfg: AccuracyConfig, x1, x3) -> None:
    iou = box_iou(pb, gb, pixel_inclusive=cfg.pixel_inclusive, validate=False)
    l1 = box_l1(pb, gb, validate=False)
    dist = point_distance(pp, gp, validate=False)
    inside = points_in_boxes(pp, pb, validate=False)
    cost = (
        3.0
        - (iou > cfg.iou_threshold)
        - (l1 < cfg.l1_threshold)
        - ((dist < cfg.point_threshold) & inside[:, :, None])
    )
    cols = hungarian_match_padded(cost, m, n)
    _matched_means(iou, dist, cols, m, cfg.point_threshold, cfg.point_outer, x1, x3)


def batch_accuracy(
    pred: Sequence[tuple[np.ndarray, np.ndarray] | None],
    gt: Sequence[tuple[np.ndarray, np.ndarray]],
    config: AccuracyConfig | None = None,
) -> np.ndarray:
    """Raw accuracy metrics ``(B, 3)`` = (x1 mean matched IoU, x2 count fit, x3 mean matched
    point score) for a batch of (boxes, points) predictions (``None``: unusable answer, all 0)
    against ground truths. Objects beyond ``max_objects`` are dropped.

    Samples are grouped by size and padded, so the geometry is a few vectorized calls and one
    batched Hungarian call per group. O(sum M N) plus the matching, O(sum min^2 max).

    Examples:
        >>> box = np.array([[0.0, 0, 9, 9]]); pt = np.array([[4.0, 4]])
        >>> batch_accuracy([(box, pt), None], [(box, pt), (box, pt)]).tolist()
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    cfg = config or AccuracyConfig()
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predictions but {len(gt)} ground truths")
    cap = cfg.max_objects
    out = np.zeros((len(pred), 3))
    ok = np.array([p is not None for p in pred], bool)
    m = np.array([min(len(p[0]), cap) if p is not None else 0 for p in pred], np.int64)
    n = np.array([min(len(g[0]), cap) for g in gt], np.int64)
    hi, lo = np.maximum(m, n), np.minimum(m, n)
    out[:, 1] = np.where(ok, np.where(hi > 0, lo / np.maximum(hi, 1), 1.0), 0.0)
    idx = np.flatnonzero(ok & (lo > 0))
    # Sort by padded size and cut into chunks so one large answer does not pad the whole batch.
    idx = idx[np.argsort(m[idx] * n[idx], kind="stable")]
    start = 0
    while start < len(idx):
        stop = start + 1
        while stop < len(idx) and (stop - start + 1) * m[idx[stop]] * n[idx[stop]] <= max(
            _CHUNK_CELLS, m[idx[stop]] * n[idx[stop]]
        ):
            stop += 1
        chunk = idx[start:stop]
        mm, nn = m[chunk], n[chunk]
        pb = np.zeros((len(chunk), mm.max(), 4))
        pp = np.zeros((len(chunk), mm.max(), 2))
        gb = np.zeros((len(chunk), nn.max(), 4))
        gp = np.zeros((len(chunk), nn.max(), 2))
        for r, s in enumerate(chunk):
            pb[r, : m[s]], pp[r, : m[s]] = pred[s][0][: m[s]], pred[s][1][: m[s]]
            gb[r, : n[s]], gp[r, : n[s]] = gt[s][0][: n[s]], gt[s][1][: n[s]]
        x1, x3 = np.zeros(len(chunk)), np.zeros(len(chunk))
        _geometry_chunk(pb, pp, gb, gp, mm, nn, cfg, x1, x3)
        out[chunk, 0], out[chunk, 2] = x1, x3
        start = stop
    return out


def accuracy_metrics(
    text: str, ground_truth: Any, *, strict: bool = True, config: AccuracyConfig | None = None
) -> tuple[float, float, float]:
    """Raw (x1, x2, x3) of one completion: mean matched IoU, count fit, mean matched point
    score. An answer that does not parse into well-formed objects scores (0, 0, 0).

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'
        >>> accuracy_metrics('<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 90]}]</answer>', gt)
        (1.0, 1.0, 0.9411764705882353)
    """
    cfg = config or AccuracyConfig()
    parsed = parse_completion(text, strict=strict, max_objects=cfg.max_objects)
    pred = (parsed.boxes, parsed.points) if parsed.objects_ok else None
    row = batch_accuracy([pred], [parse_ground_truth(ground_truth, cfg.max_objects)], cfg)[0]
    return float(row[0]), float(row[1]), float(row[2])


class DrSegReward:
    """The Dr. Seg reward as a TRL-style callable ``(completions, ground_truth, **kw) -> list``.

    reward = structure + answer_items + look + r1 + r2 + r3 + non_repeat (each times its
    weight, all 1 by default: 0..8), where r1..r3 are the ranks of the raw accuracy metrics
    x1..x3 in the normalizer's windows.

    Args:
        normalizer: a 3-metric `RankNormalizer` or a wrapper with the same calls
            (`AutoCommitNormalizer`, `DistributedRankNormalizer`, `RayRankNormalizer`);
            default `RankNormalizer.paper()`.
        weights: per-component weights, keys from `COMPONENTS` (missing keys weigh 1).
        strict: the paper's answer parsing (``True``) or the lenient one.
        config: thresholds (`AccuracyConfig`); keyword overrides like ``iou_threshold=0.7``
            are accepted directly.
        max_chars: completions longer than this score 0 everywhere (``too_long`` problem).

    Per-step semantics (the paper): every call ranks against the windows as they stood before
    the step and stages the raw metrics; `commit` (called by the trainer adapter once per
    optimizer step, or by you) appends them. A warning fires if more than a window's worth of
    values is staged without a commit, since that usually means nobody is committing.
    Thread-safe: calls are serialised by a lock.

    After each call `last_breakdown` holds per-sample arrays (x1..x3, r1..r3, format parts,
    look, non_repeat, counts, reward) and `last_problems` the problems of each sample.

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
        strict: bool = True,
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        **thresholds: Any,
    ) -> None:
        self.normalizer = normalizer if normalizer is not None else RankNormalizer.paper()
        if self.normalizer.num_metrics != 3:
            raise ValueError(
                f"the normalizer must rank 3 metrics (x1, x2, x3), it has {self.normalizer.num_metrics}"
            )
        unknown = set(weights or {}) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown weight keys {sorted(unknown)}; known: {COMPONENTS}")
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in COMPONENTS}
        base = config or AccuracyConfig()
        self.config = AccuracyConfig(**{**base.__dict__, **thresholds}) if thresholds else base
        self.strict = strict
        self.max_chars = max_chars
        self.last_breakdown: dict[str, np.ndarray] = {}
        self.last_problems: list[list[str]] = []
        self._lock = threading.RLock()
        self._warned = False
        self.__name__ = "drseg_reward"  # TRL logs reward functions by __name__

    def score(
        self, completions: Sequence[Any], ground_truth: Sequence[Any]
    ) -> dict[str, np.ndarray]:
        """Parse, measure and rank a batch; returns the breakdown (also kept as
        `last_breakdown`) and stages the raw metrics. O(total text + sum M N + matching)."""
        texts = [completion_text(c) for c in completions]
        if isinstance(ground_truth, (str, bytes, Mapping)):
            raise TypeError("ground_truth must be a sequence with one entry per completion")
        if len(texts) != len(ground_truth):
            raise ValueError(f"{len(texts)} completions but {len(ground_truth)} ground truths")
        cfg = self.config
        parsed: list[ParsedCompletion] = [
            parse_completion(
                t, strict=self.strict, max_objects=cfg.max_objects, max_chars=self.max_chars
            )
            for t in texts
        ]
        gts = []
        for k, g in enumerate(ground_truth):
            try:
                gts.append(parse_ground_truth(g, cfg.max_objects))
            except ValueError as e:
                raise ValueError(f"ground_truth[{k}]: {e}") from None
        preds = [(p.boxes, p.points) if p.objects_ok else None for p in parsed]
        raw = batch_accuracy(preds, gts, cfg)
        problems = []
        non_repeat = np.empty(len(texts))
        for k, (t, p) in enumerate(zip(texts, parsed, strict=True)):
            nr = non_repeat_problems(t) if len(t) <= self.max_chars else p.problems[:1]
            non_repeat[k] = 0.0 if nr else 1.0
            problems.append(
                [str(x) for x in p.problems] + [str(x) for x in nr if x not in p.problems]
            )
        with self._lock:
            ranks = self.normalizer.rank_and_stage(raw) if len(texts) else np.zeros((0, 3))
            # Normalizers that commit by count (`AutoCommitNormalizer`, Ray) need no warning.
            manual = getattr(self.normalizer, "commit_every", None) is None
            staged = self.normalizer.num_staged if manual else 0
            if staged > self.normalizer.capacity and not self._warned:
                self._warned = True
                warnings.warn(
                    f"{staged} values staged without commit(); call DrSegReward.commit() once "
                    "per optimizer step (the trainer adapters do this for you)",
                    RuntimeWarning,
                    stacklevel=3,
                )
        parts = {
            "structure": np.array([p.structure for p in parsed]),
            "answer_items": np.array([p.answer_items for p in parsed]),
            "look": np.array([p.look for p in parsed]),
            "r1": np.asarray(ranks[:, 0], np.float64),
            "r2": np.asarray(ranks[:, 1], np.float64),
            "r3": np.asarray(ranks[:, 2], np.float64),
            "non_repeat": non_repeat,
        }
        total = np.zeros(len(texts))
        for name in COMPONENTS:  # a fixed order: the same float sum as the one-by-one path
            total = total + self.weights[name] * parts[name]
        breakdown = {
            **parts,
            "format": parts["structure"] + parts["answer_items"] + parts["look"],
            "x1": raw[:, 0],
            "x2": raw[:, 1],
            "x3": raw[:, 2],
            "num_pred": np.array([p.num_objects for p in parsed]),
            "num_gt": np.array([len(g[0]) for g in gts]),
            "num_problems": np.array([len(p) for p in problems]),
            "reward": total,
        }
        self.last_breakdown = breakdown
        self.last_problems = problems
        return breakdown

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
        return sum(max(w, 0.0) * COMPONENT_MAX[n] for n, w in self.weights.items())

    def commit(self) -> int:
        """Append every staged raw metric to the windows (once per optimizer step). O(window)."""
        with self._lock:
            self._warned = False
            return self.normalizer.commit()

    def means(self) -> dict[str, float]:
        """Mean of every component of the last batch, for logging."""
        out = {}
        for k, v in self.last_breakdown.items():
            if len(v):
                out[k] = float(np.mean(v))
        return out

    def state_dict(self) -> dict[str, Any]:
        """The normalizer's state (the only state that matters)."""
        return self.normalizer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.normalizer.load_state_dict(state)
