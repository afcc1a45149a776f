"""A configurable answer reader and the matched-IoU component, for rewards you write yourself.

The presets read answers exactly as their recipes do. A new recipe usually wants the same few
choices: which tag holds the answer (and its first or last occurrence), whether the JSON sits in a
fenced block, which keys name the box, point, label and confidence, and the coordinate frame.
`AnswerReader` makes those choices data; it never raises on a completion: what it cannot read
comes back as an `Answer` with a ``problem`` you can log, and components decide what that means
(`MatchedIoU` leaves such an answer out of its window, never scoring it 0 silently).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..frames import FRAMES, to_pixels
from ..text import all_between, fenced_blocks

__all__ = ["Answer", "AnswerReader", "MatchedIoU"]


@dataclass(frozen=True)
class Answer:
    """What `AnswerReader` read from one completion.

    ``boxes`` ``(N, 4)`` xyxy and ``points`` ``(N, 2)`` are NaN where an object lacks them,
    ``labels`` holds None where it has none, ``scores`` NaN; ``problem`` says why nothing was
    read (None when the answer was read), ``notes`` what was skipped inside it.

    Examples:
        >>> a = AnswerReader()('<answer>[{"bbox": [0, 0, 4, 4]}, {"label": "cat"}]</answer>')
        >>> len(a), a.ok, a.boxes[1].tolist(), a.labels
        (2, True, [nan, nan, nan, nan], (None, 'cat'))
    """

    boxes: np.ndarray
    points: np.ndarray
    labels: tuple[Any, ...]
    scores: np.ndarray
    problem: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __len__(self) -> int:
        return len(self.boxes)


def _empty(problem: str | None) -> Answer:
    return Answer(np.zeros((0, 4)), np.zeros((0, 2)), (), np.zeros(0), problem)


def _finite(v: Any) -> float | None:
    """``v`` as a finite float, or None (not a number, a bool, NaN/inf, or an integer past
    float's range, which a model can write with 400 digits)."""
    if type(v) not in (int, float):
        return None
    try:
        x = float(v)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def _numbers(value: Any, n: int) -> list[float] | None:
    if isinstance(value, (list, tuple)) and len(value) == n:
        out = [_finite(v) for v in value]
        if None not in out:
            return out  # type: ignore[return-value]
    return None


@dataclass(frozen=True)
class AnswerReader:
    """Read a completion's objects: ``reader(text) -> Answer``. O(len(text)).

    Args:
        tag: the answer sits in ``<tag>...</tag>`` (``None``: the whole text).
        which: ``"first"`` or ``"last"`` such block (and fenced block inside it).
        fenced: the JSON sits in a fenced block (```` ```json ... ``` ```` or ```` ``` ... ``` ````).
        box_keys: the keys of a box, tried in order, compared case-insensitively.
        point_keys: likewise for a point.
        label_keys: likewise for a label.
        score_keys: likewise for a confidence.
        python_literals: also accept Python literals (single quotes, ``True``), as models often
            write them.
        frame: the answer's coordinate frame (`rankreward.rewards.FRAMES`); ``read(text,
            image_size, seen_size)`` maps it to the original image's pixels.

    A top-level object, a list of objects, or a bare ``[x1, y1, x2, y2]`` list are read.

    Examples:
        >>> reader = AnswerReader(tag="answer", fenced=True, which="last")
        >>> a = reader('<answer>```json[{"bbox_2d": [1, 2, 3, 4], "label": "cat"}]```</answer>')
        >>> a.boxes.tolist(), a.labels, a.ok
        ([[1.0, 2.0, 3.0, 4.0]], ('cat',), True)
        >>> reader("no tags").problem
        'no <answer>...</answer>'
    """

    tag: str | None = "answer"
    which: Literal["first", "last"] = "first"
    fenced: bool = False
    box_keys: tuple[str, ...] = ("bbox_2d", "bbox", "box", "position")
    point_keys: tuple[str, ...] = ("point_2d", "point", "points")
    label_keys: tuple[str, ...] = ("label", "category", "name")
    score_keys: tuple[str, ...] = ("confidence", "score")
    python_literals: bool = True
    frame: str = "absolute"

    def __post_init__(self) -> None:
        if self.which not in ("first", "last"):
            raise ValueError(f"which must be 'first' or 'last', got {self.which!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")

    def _body(self, text: str) -> tuple[str | None, str | None]:
        if self.tag is not None:
            blocks = all_between(text, f"<{self.tag}>", f"</{self.tag}>")
            if not blocks:
                return None, f"no <{self.tag}>...</{self.tag}>"
            text = blocks[0] if self.which == "first" else blocks[-1]
        if self.fenced:
            blocks = fenced_blocks(text)
            if not blocks:
                return None, "no fenced block"
            text = blocks[0] if self.which == "first" else blocks[-1]
        return text.strip(), None

    def _parse(self, body: str) -> tuple[Any, str | None]:
        try:
            return json.loads(body), None
        except (ValueError, RecursionError):
            pass
        if self.python_literals:
            try:
                return ast.literal_eval(body), None
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                pass
        return None, "not JSON" + (" or a Python literal" if self.python_literals else "")

    def __call__(self, text: str) -> Answer:
        if not isinstance(text, str):
            raise TypeError(f"completions must be text, got {type(text).__name__}")
        body, problem = self._body(text)
        if problem:
            return _empty(problem)
        data, problem = self._parse(body)
        if problem:
            return _empty(problem)
        if isinstance(data, Mapping):
            data = [data]
        elif _numbers(data, 4) is not None:
            data = [{self.box_keys[0]: data}]
        if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
            return _empty(f"expected objects, got {type(data).__name__}")
        boxes, points, labels, scores, notes = [], [], [], [], []
        for k, obj in enumerate(data):
            if not isinstance(obj, Mapping):
                notes.append(f"item {k} is not an object")
                continue
            keys = {str(key).lower(): key for key in obj}

            def get(names: tuple[str, ...], keys: dict = keys, obj: Mapping = obj) -> Any:
                return next((obj[keys[n.lower()]] for n in names if n.lower() in keys), None)

            box, point = get(self.box_keys), get(self.point_keys)
            b, p = _numbers(box, 4), _numbers(point, 2)
            if box is not None and b is None:
                notes.append(f"item {k}: the box is not 4 finite numbers")
            if point is not None and p is None:
                notes.append(f"item {k}: the point is not 2 finite numbers")
            score = get(self.score_keys)
            boxes.append(b or [np.nan] * 4)
            points.append(p or [np.nan] * 2)
            labels.append(get(self.label_keys))
            x = _finite(score)
            scores.append(np.nan if x is None else x)
        return Answer(np.array(boxes, np.float64).reshape(-1, 4),
                      np.array(points, np.float64).reshape(-1, 2), tuple(labels),
                      np.array(scores, np.float64), None, tuple(notes))  # fmt: skip

    def read(self, text: str, image_size: Any, seen_size: Any = None) -> Answer:
        """`__call__`, then boxes and points mapped from ``frame`` to the original image's
        pixels (`to_pixels`)."""
        a = self(text)
        if not a.ok or (self.frame == "absolute" and seen_size is None):
            return a
        return Answer(to_pixels(a.boxes, self.frame, image_size, seen_size=seen_size),
                      to_pixels(a.points, self.frame, image_size, seen_size=seen_size),
                      a.labels, a.scores, None, a.notes)  # fmt: skip


class MatchedIoU:
    """A component function: each answer's boxes matched to its ground truth's (a
    `metrics.match_boxes` method, label-constrained if asked), the sum of matched IoUs over
    max(predictions, ground truths) (Dr. Seg's x1 form). An answer that could not be read, or
    whose boxes are all unreadable, is not applicable (None): its format component carries the
    penalty, and ranking never sees a made-up 0.

    Args:
        method: ``"hungarian"``, ``"greedy_iou"`` or ``"greedy_confidence"`` (answer scores).
        threshold: a match counts from this IoU (inclusive).
        labels: match only equal labels.
        gt_reader: reads the ground truths (default: `AnswerReader` over the whole text, so a
            JSON list of objects); an `Answer` or a list of xyxy boxes is used as is.

    Examples:
        >>> from rankreward.rewards import Component, ComponentReward
        >>> reward = ComponentReward([Component("iou", MatchedIoU(), ranked=False)],
        ...                          reader=AnswerReader())
        >>> reward(['<answer>[{"bbox_2d": [0, 0, 10, 10]}]</answer>', "?"],
        ...        ground_truth=[[[0, 0, 10, 5]], [[0, 0, 10, 5]]])
        [0.5, None]
    """

    def __init__(
        self,
        method: str = "hungarian",
        *,
        threshold: float = 0.0,
        labels: bool = False,
        gt_reader: AnswerReader | None = None,
    ) -> None:
        from ..metrics import MATCHERS

        if method not in MATCHERS:
            raise ValueError(f"method must be one of {MATCHERS}, got {method!r}")
        self.method, self.threshold, self.labels = method, threshold, labels
        self.gt_reader = gt_reader or AnswerReader(tag=None)

    def _truth(self, gt: Any, k: int) -> Answer:
        """Sample ``k``'s ground truth as an `Answer`; a ``ValueError`` names the sample and
        what was wrong (it is the user's data, never silently scored)."""
        if isinstance(gt, Answer):
            truth = gt
        elif isinstance(gt, str):
            truth = self.gt_reader(gt)
            if not truth.ok:
                raise ValueError(
                    f"ground truth of sample {k} is unreadable ({truth.problem}): {gt[:80]!r}"
                )
        else:
            try:
                boxes = np.asarray(gt, np.float64)
            except (TypeError, ValueError):
                boxes = None
            if boxes is None or boxes.size % 4 or (boxes.ndim > 1 and boxes.shape[-1] != 4):
                raise ValueError(
                    f"ground truth of sample {k} must be a JSON string, an Answer or xyxy boxes "
                    f"([x1, y1, x2, y2] or a list of them), got {type(gt).__name__} {gt!r:.80}"
                )
            boxes = boxes.reshape(-1, 4)
            n = len(boxes)
            truth = Answer(boxes, np.full((n, 2), np.nan), (None,) * n, np.full(n, np.nan))
        if not np.isfinite(truth.boxes).all():
            raise ValueError(f"ground truth of sample {k} has a box that is not 4 finite numbers")
        return truth

    def __call__(self, answers: list, gts: list) -> list[float | None]:
        from ..metrics import box_iou, match_boxes

        out: list[float | None] = []
        read: dict[str, Answer] = {}  # a prompt's completions share its ground-truth string
        for k, (answer, gt) in enumerate(zip(answers, gts, strict=True)):
            if isinstance(gt, str):
                truth = read[gt] if gt in read else read.setdefault(gt, self._truth(gt, k))
            else:
                truth = self._truth(gt, k)
            if not isinstance(answer, Answer):
                raise TypeError("MatchedIoU reads Answer objects: use reader=AnswerReader(...)")
            keep = np.isfinite(answer.boxes).all(axis=1)
            if not answer.ok or (len(answer) and not keep.any()):
                out.append(None)
                continue
            pred = answer.boxes[keep]
            n = max(len(pred), len(truth))
            if n == 0:
                out.append(1.0)  # nothing to find, nothing claimed
                continue
            ious = box_iou(pred, truth.boxes, validate=False) if len(pred) and len(truth) else \
                np.zeros((len(pred), len(truth)))  # fmt: skip
            labels = {}
            if self.labels:
                labels = {"pred_labels": [answer.labels[i] for i in np.flatnonzero(keep)],
                          "gt_labels": list(truth.labels)}  # fmt: skip
            pairs = match_boxes(ious, self.method, scores=answer.scores[keep],
                                threshold=self.threshold, **labels)  # fmt: skip
            out.append(float(sum(ious[i, j] for i, j in pairs)) / n)
        return out
