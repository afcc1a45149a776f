"""Seg-Zero's reward (``verl/utils/reward_score/seg.py``, ``seg_compute_score``), restated.

The answer is the first ``{...}`` (no ``}`` inside) of the completion, read with ``json.loads``;
its box is the first key containing ``bbox``, its points the keys containing ``point``. The
ground truth is the string ``<box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points>``.
Published terms (each 0 or 1, summed in this order):

- ``iou``: IoU > 0.5 between the box and the ground-truth box (pixel-inclusive areas);
- ``thinking_format``: the whole text is ``<think>...</think> <answer>...</answer>``;
- ``segmentation_format``: a box of 4 values and at least 2 point keys of 2 values each;
- ``point_l1``: two ``points`` keys, both inside the box, mean distance to the two
  ground-truth points (best pairing) < 100;
- ``box_l1``: mean absolute coordinate difference to the ground-truth box < 10.

Anything that raises in the published code (missing keys, strings where numbers belong, an empty
union) scores that term 0 here too.

Ranked (the Dr. Seg idea): the three accuracy terms become the continuous values behind their
thresholds (the IoU, minus the box L1 distance, minus the point distance) and are ranked; a
sample whose term cannot be computed (no readable box or points) leaves it out of the window
and out of its sum, which is what the published 0 gives it there.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from ....text import structure_ok
from ...spec import Component, ComponentReward, Terms
from .scan import SEGZERO_COLUMNS, segzero_batch_terms

_GT_BOX = re.compile(r"<box>\((\d+),(\d+)\),\((\d+),(\d+)\)</box>")
_GT_POINTS = re.compile(r"<points>\((\d+),(\d+)\),\((\d+),(\d+)\)</points>")

__all__ = [
    "SegZeroAnswer",
    "SegZeroRecipe",
    "first_object",
    "read_segzero",
    "segzero_reward",
    "segzero_terms",
]


def first_object(text: str) -> str | None:
    """The published ``re.search(r"{[^}]+}", text)`` match (the first ``{`` with at least one
    character before the next ``}``), in linear time where the regex is quadratic on a run of
    ``{``. O(len(text)).

    Examples:
        >>> first_object('x {} {"a": [1]} }'), first_object("{" * 5) is None
        ('{"a": [1]}', True)
    """
    close = -1  # the first "}" after the candidate "{"
    p = text.find("{")
    while p >= 0:
        if close <= p:
            close = text.find("}", p + 1)
        if close < 0:
            return None  # no later "{" has a "}" after it either
        if close > p + 1:
            return text[p : close + 1]
        p = text.find("{", p + 1)
    return None


class SegZeroAnswer:
    """What a completion holds for Seg-Zero: its text and its first JSON object (or None)."""

    __slots__ = ("data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data: Any = None
        found = first_object(text)
        if found is not None:
            try:
                self.data = json.loads(found)
            except (ValueError, RecursionError):
                self.data = None


def read_segzero(text: str) -> SegZeroAnswer:
    """Parse once for every term. O(len(text)).

    Examples:
        >>> read_segzero('<answer>{"bbox": [1, 2, 3, 4]}</answer>').data
        {'bbox': [1, 2, 3, 4]}
    """
    return SegZeroAnswer(text)


def _gt(ground_truth: str) -> tuple[list[int] | None, list[list[int]] | None]:
    box = _GT_BOX.search(ground_truth.strip())
    points = _GT_POINTS.search(ground_truth)
    gt_box = [int(v) for v in box.groups()] if box else None
    gt_points = None
    if points:
        v = [int(x) for x in points.groups()]
        gt_points = [v[:2], v[2:]]
    return gt_box, gt_points


def _check_gt(ground_truth: str, k: int) -> None:
    """A ground truth without its box or its two points is the user's mistake (the published
    code would score every accuracy term 0 for it without a word): a ``ValueError`` naming
    sample ``k``."""
    gt_box, gt_points = _gt(ground_truth)
    if gt_box is None or gt_points is None:
        missing = " and ".join(
            part for part, got in (("<box>(x1,y1),(x2,y2)</box>", gt_box),
                                   ("<points>(x,y),(x,y)</points>", gt_points)) if got is None
        )  # fmt: skip
        raise ValueError(
            f"ground truth of sample {k} has no {missing} (Seg-Zero's form is "
            f"'<box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points>'), got {ground_truth[:80]!r}"
        )


def _box(data: Any) -> Any:
    """The first ``bbox`` key's value if it has length 4, else None (raises like the
    published code on a value without a length)."""
    key = next((k for k in data if "bbox" in k.lower()), None)
    if key is not None and len(data[key]) == 4:
        return data[key]
    return None


def _inclusive_iou(a: Any, b: list[int]) -> tuple[float, bool]:
    """Pixel-inclusive IoU, and whether it passes (> 0.5)."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = (x2 - x1 + 1) * (y2 - y1 + 1) if x1 < x2 and y1 < y2 else 0
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    value = float(inter) / union
    return value, value > 0.5


def _box_l1(a: Any, b: list[int]) -> tuple[float, bool]:
    """Minus the mean absolute coordinate difference (higher is better), and whether the
    difference passes (< 10)."""
    l1 = sum(abs(a[i] - b[i]) for i in range(4)) / 4
    return -l1, l1 < 10


def _format(data: Any) -> float:
    box_key, point_keys = None, []
    for key in data.keys():
        if "bbox" in key.lower() and box_key is None:
            box_key = key
        elif "point" in key.lower():
            point_keys.append(key)
    if not (box_key and len(point_keys) >= 2) or len(data[box_key]) != 4:
        return 0.0
    return 1.0 if all(len(data[k]) == 2 for k in point_keys[:2]) else 0.0


def _point_distance(data: Any, gt_points: list[list[int]]) -> float | None:
    """The best-pairing mean distance of the two ``points`` keys, when both lie in the box."""
    box = _box(data)
    keys = [k for k in data if "points" in k.lower()][:2]
    if len(keys) != 2:
        return None
    p = [[int(data[k][0]), int(data[k][1])] for k in keys]
    if box is None:
        raise NameError("no box to hold the points")  # the published code's unbound name
    if not all(box[0] <= q[0] <= box[2] and box[1] <= q[1] <= box[3] for q in p):
        return None
    g = gt_points

    def dist(a: list[int], b: list[int]) -> float:  # the published arithmetic, not math.dist
        return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)

    straight = dist(p[0], g[0]) + dist(p[1], g[1])
    crossed = dist(p[0], g[1]) + dist(p[1], g[0])
    return min(straight, crossed) / 2


def segzero_terms(answer: SegZeroAnswer, ground_truth: str) -> dict[str, float | None]:
    """The published terms of one sample and the continuous values behind the accuracy ones
    (``iou_value``, ``box_l1_value``, ``point_value``; None where they cannot be computed).
    O(len(text)).

    Examples:
        >>> gt = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"
        >>> text = ('<think>x</think><answer>{"bbox": [10, 10, 50, 50], "points_1": [20, 20], '
        ...         '"points_2": [40, 40]}</answer>')
        >>> t = segzero_terms(read_segzero(text), gt)
        >>> [t[k] for k in ("iou", "thinking_format", "segmentation_format", "point_l1", "box_l1")]
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    out: dict[str, float | None] = {
        "thinking_format": 1.0 if structure_ok(answer.text) else 0.0,
        "segmentation_format": 0.0,
        "iou": 0.0,
        "box_l1": 0.0,
        "point_l1": 0.0,
        "iou_value": None,
        "box_l1_value": None,
        "point_value": None,
    }
    data = answer.data
    if not isinstance(data, dict):
        return out
    gt_box, gt_points = _gt(ground_truth)
    # the published terms each catch every exception (a 400-digit number overflowing a float
    # included) and score 0
    try:
        out["segmentation_format"] = _format(data)
    except Exception:
        pass
    # each published term reads the box again and fails on its own
    for term, measure in (("iou", _inclusive_iou), ("box_l1", _box_l1)):
        try:
            box = _box(data)
            if box is not None:
                if gt_box is None:
                    raise NameError("no ground-truth box")
                value, passed = measure(box, gt_box)
                out[term + "_value"], out[term] = value, 1.0 if passed else 0.0
        except Exception:
            pass
    try:
        if gt_points is None:
            raise NameError("no ground-truth points")
        dist = _point_distance(data, gt_points)
        if dist is not None:
            out["point_value"], out["point_l1"] = -dist, 1.0 if dist < 100 else 0.0
    except Exception:
        pass
    return out


class SegZeroRecipe:
    """Seg-Zero's terms of a batch as per-sample columns (NaN where a value cannot be
    computed): the batch scanner (`scan.segzero_batch_terms`) for the common answer form, the
    readable restatement (`segzero_terms`) for the rows it leaves. Columns: the published
    terms (``iou``, ``thinking_format``, ``segmentation_format``, ``point_l1``, ``box_l1``)
    and the values behind the thresholds (``iou_value``, ``box_l1_value``, ``point_value``).

    Examples:
        >>> text = '<think>x</think> <answer>{"bbox": [0, 0, 9, 9], "points_1": [2, 2], "points_2": [5, 5]}</answer>'
        >>> gt = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
        >>> SegZeroRecipe().terms([text], [gt], {}).columns["iou"].tolist()
        [1.0]
    """

    name = "seg-zero"  # what its windows' state files say they belong to

    context: tuple[str, ...] = ()

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        gts = [str(g) for g in ground_truths]
        checked: set[str] = set()  # a prompt's completions share its ground truth
        for k, gt in enumerate(gts):
            if gt not in checked:
                _check_gt(gt, k)
                checked.add(gt)
        terms, fallback = segzero_batch_terms(texts, gts)
        for k in np.flatnonzero(fallback).tolist():
            row = segzero_terms(read_segzero(texts[k]), gts[k])
            terms[k] = [np.nan if row[c] is None else row[c] for c in SEGZERO_COLUMNS]
        return Terms({name: terms[:, j] for j, name in enumerate(SEGZERO_COLUMNS)})


#: The ranked value behind each thresholded accuracy term.
_RANKED_VALUE = {"iou": "iou_value", "box_l1": "box_l1_value", "point_l1": "point_value"}


def segzero_reward(ranked: bool = False, **options: Any) -> ComponentReward:
    """The ``seg-zero`` preset: Seg-Zero's ``seg_compute_score`` (0..5), or with ``ranked``
    its three accuracy terms replaced by the ranks of the values behind their thresholds.
    O(1).

    Published:
        [Seg-Zero](https://github.com/dvlab-research/Seg-Zero),
        ``verl/utils/reward_score/seg.py``, ``seg_compute_score``: IoU > 0.5, the think/answer
        format, a box and two points in the answer, both points inside the box and within
        100 px of the true points (best pairing), box L1 < 10; each 0 or 1.

    Answer:
        ``<think>...</think> <answer>{"bbox": [x1, y1, x2, y2], "points_1": [x, y],
        "points_2": [x, y]}</answer>``: the first ``{...}`` of the text, its first key
        containing ``bbox`` and the keys containing ``point``.

    Ground truth:
        The ``solution`` column: ``'<box>(10,100),(200,210)</box><points>(30,110),(60,150)</points>'``.
        One without its box or its two points raises a ``ValueError`` naming the sample.

    Options:
        None besides ``ranked`` (the ranked terms: the IoU, minus the box L1 and minus the
        point distance; an answer where one cannot be computed leaves it out of the window).

    Frame:
        Pixels of the image the model saw (Seg-Zero resizes to 840x840).

    Deviations:
        The ground-truth check above (the published terms score 0 for every completion of
        such a prompt, without a word).

    Examples:
        >>> [c.name for c in segzero_reward().components]
        ['iou', 'thinking_format', 'segmentation_format', 'point_l1', 'box_l1']
    """
    if options:
        raise TypeError(f"the seg-zero preset takes no options, got {sorted(options)}")

    def term(name: str) -> Component:
        if ranked and name in _RANKED_VALUE:
            return Component(name, column=_RANKED_VALUE[name], ranked=True)
        return Component(name)

    # the published sum's order
    names = ("iou", "thinking_format", "segmentation_format", "point_l1", "box_l1")
    return ComponentReward([term(n) for n in names], recipe=SegZeroRecipe(), max_reward=5.0)
