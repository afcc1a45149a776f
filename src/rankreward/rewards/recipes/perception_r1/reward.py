"""Perception-R1's grounding reward (``src/open_r1/rewards.py``: ``pr1_grounding_reward``,
``pr1_grounding_format_reward``; helpers in ``src/open_r1/utils.py``), restated.

- ``grounding``: the squared IoU of the first box in the completion against the solution box.
  The box is the first ``[a, b, c, d]``, else ``(a, b, c, d)``, else ``(a, b), (c, d)`` (decimal
  numbers, optional minus), else ``[0, 0, 0, 0]``. Without ``<|box_start|>`` in the text the
  numbers are 0-1 fractions and become ``int(v * 1000)`` (Qwen2-VL's 0-1000 frame, the
  solution's). ``<|endoftext|>`` is removed first. The solution is a Python list literal (read
  with `ast.literal_eval`; the published code uses ``eval``).
- ``format``: the published pattern leaves ``|`` unescaped, so it is an alternation: a
  completion scores 1 when it *starts* with ``<``, ``>``, ``object_ref_start``,
  ``object_ref_end``, ``box_start``, ``box_end`` or ``im_end``. Reproduced as published.

Ranked (the Dr. Seg idea): the IoU is ranked; a completion with no box at all leaves it out of
the window and out of its sum (the published code scores its fallback ``[0, 0, 0, 0]``: 0).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np

from ...spec import Component, ComponentReward, Terms
from .scan import grounding_batch

__all__ = [
    "GroundingRecipe",
    "grounding_box",
    "grounding_format",
    "grounding_iou",
    "perception_r1_reward",
]

_NUM = r"(-?\d+(?:\.\d+)?)"
_PATTERNS = (
    re.compile(rf"\[\s*{_NUM},\s*{_NUM},\s*{_NUM},\s*{_NUM}\s*\]"),
    re.compile(rf"\(\s*{_NUM},\s*{_NUM},\s*{_NUM},\s*{_NUM}\s*\)"),
    re.compile(rf"\(\s*{_NUM},\s*{_NUM}\),\s*\(\s*{_NUM},\s*{_NUM}\)"),
)
# the published format pattern, as written (its "|" make it an alternation of these pieces)
_FORMAT = re.compile(
    r"^<|object_ref_start|>.*?<|object_ref_end|><|box_start|>.*?<|box_end|><|im_end|>"
)


def grounding_box(text: str) -> tuple[list[float], bool]:
    """The box Perception-R1 reads (in the 0-1000 frame) and whether one was found; a box with
    a number beyond float's range reads as none (the published code scores such a
    ``<|box_start|>`` box 0 or NaN, and crashes on a fractional one: ``int(inf)``). O(len).

    Examples:
        >>> grounding_box("<|box_start|>(10,20),(30,40)<|box_end|>")
        ([10.0, 20.0, 30.0, 40.0], True)
        >>> grounding_box("[0.1, 0.2, 0.5, 0.5]")
        ([100, 200, 500, 500], True)
    """
    text = text.replace("<|endoftext|>", "")
    box: list[Any] = [0, 0, 0, 0]
    found = False
    for pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            box, found = [float(v) for v in m.groups()], True
            break
    if not all(math.isfinite(v) for v in box):
        # a number past float's range: the published code crashes the step (int(inf) raises,
        # or the IoU is NaN); read it as no box
        box, found = [0, 0, 0, 0], False
    if "<|box_start|>" not in text:
        box = [int(v * 1000) for v in box]
    return box, found


def grounding_iou(text: str, solution: str) -> tuple[float, bool]:
    """Perception-R1's IoU (its reward is the square) and whether the completion had a box.
    Where the published code divides by a zero union (an inverted box whose negative area
    cancels the solution's) and so crashes the training step, this scores 0: model output
    never makes a reward raise. O(len(text)).

    Examples:
        >>> grounding_iou("<|box_start|>(0,0),(10,10)<|box_end|>", "[0, 0, 10, 20]")
        (0.5, True)
    """
    box, found = grounding_box(text)
    gt = ast.literal_eval(solution)
    left, top = max(box[0], gt[0]), max(box[1], gt[1])
    right, bottom = min(box[2], gt[2]), min(box[3], gt[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (gt[2] - gt[0]) * (gt[3] - gt[1]) - inter
    if union == 0:  # the published code raises ZeroDivisionError here
        return 0.0, found
    return inter / union, found


def check_solution(solution: str, k: int) -> None:
    """Raise ``ValueError`` naming sample ``k`` unless ``solution`` is a Python literal list
    whose first four items are finite numbers (what the published code indexes; it would crash
    the step with ``IndexError`` / ``TypeError``, or score an infinite box 0). O(len).

    Examples:
        >>> check_solution("[0, 0, 10, 20]", 0)
        >>> check_solution("[0, 0, 1]", 2)
        Traceback (most recent call last):
        ...
        ValueError: solution of sample 2 must be [x1, y1, x2, y2] of finite numbers, got '[0, 0, 1]'
    """
    try:
        gt = ast.literal_eval(solution)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        gt = None
    ok = isinstance(gt, (list, tuple)) and len(gt) >= 4 and all(
        type(v) in (int, float) and math.isfinite(v) for v in gt[:4]
    )  # fmt: skip
    if not ok:
        raise ValueError(
            f"solution of sample {k} must be [x1, y1, x2, y2] of finite numbers, got {solution[:80]!r}"
        )


def grounding_format(text: str) -> float:
    """Perception-R1's ``pr1_grounding_format_reward`` for one completion (see the module
    docs for what its pattern really accepts). O(len(text)).

    Examples:
        >>> grounding_format("<|object_ref_start|>cat<|object_ref_end|>"), grounding_format("cat")
        (1.0, 0.0)
    """
    return 1.0 if _FORMAT.match(text.replace("<|endoftext|>", "")) else 0.0


class GroundingRecipe:
    """Perception-R1's grounding term and format of a batch: the batch scanner
    (`scan.grounding_batch`), and the readable restatement for the rows it leaves. Columns:
    ``grounding`` (the IoU squared, as published; ranked: the IoU, NaN without a box) and
    ``format``.

    Examples:
        >>> GroundingRecipe(ranked=False).terms(["<|box_start|>(0,0),(10,10)<|box_end|>"],
        ...     ["[0, 0, 10, 20]"], {}).columns["grounding"].tolist()
        [0.25]
    """

    name = "perception-r1"  # what its windows' state files say they belong to

    context: tuple[str, ...] = ()

    def __init__(self, ranked: bool) -> None:
        self.ranked = ranked

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        sols = [str(g) for g in ground_truths]
        checked: set[str] = set()  # a prompt's completions share its solution
        for k, sol in enumerate(sols):
            if sol not in checked:
                check_solution(sol, k)
                checked.add(sol)
        values, fallback = grounding_batch(texts, sols)
        iou, found, fmt = values[:, 0].tolist(), values[:, 1].tolist(), values[:, 2].tolist()
        for k in np.flatnonzero(fallback).tolist():
            iou[k], found[k] = grounding_iou(texts[k], sols[k])
            fmt[k] = grounding_format(texts[k])
        if self.ranked:
            grounding = [v if f else None for v, f in zip(iou, found, strict=True)]
        else:
            grounding = [v**2 for v in iou]  # Python's float power, as published
        return Terms({"grounding": grounding, "format": fmt})


def perception_r1_reward(ranked: bool = False) -> ComponentReward:
    """The ``perception-r1`` preset: Perception-R1's grounding reward (IoU squared) and format,
    or with ``ranked`` the IoU ranked. O(1).

    Published:
        [Perception-R1](https://github.com/linkangheng/PR1), ``src/open_r1/rewards.py``:
        ``pr1_grounding_reward`` and ``pr1_grounding_format_reward`` (whose unescaped ``|``
        accept any completion starting with ``<``, ``>`` or a token name; reproduced as
        published).

    Answer:
        The first ``[a, b, c, d]``, ``(a, b, c, d)`` or ``(a, b), (c, d)`` in the completion:
        0-1 fractions, or Qwen2-VL's own 0-1000 output after ``<|box_start|>``.

    Ground truth:
        The ``solution`` column: a Python list literal in the 0-1000 frame,
        ``'[10, 100, 200, 210]'`` (read with ``ast.literal_eval``, not ``eval``). One whose first
        four items are not finite numbers raises naming the sample.

    Options:
        None besides ``ranked`` (a completion with no box leaves the window alone).

    Frame:
        Qwen2-VL's 0-1000 frame; fractions become ``int(v * 1000)``.

    Deviations:
        A box with a number beyond float's range is read as no box (the published code's IoU
        is 0 or NaN for such a ``<|box_start|>`` box, the NaN reaching the advantage, and
        ``int(inf)`` crashes the step for a fractional one).

    Examples:
        >>> [c.name for c in perception_r1_reward().components]
        ['grounding', 'format']
    """
    # Perception-R1's grounding script: pr1_grounding, then pr1_grounding_format
    return ComponentReward([Component("grounding", ranked=ranked), Component("format")],
                           recipe=GroundingRecipe(ranked), max_reward=2.0)  # fmt: skip
