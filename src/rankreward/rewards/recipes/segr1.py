"""Seg-R1's reward (``seg-r1/src/open_r1/grpo.py``: ``segmentation_reward`` + ``format_reward``),
restated with the segmenter in the loop.

The answer holds ``<bbox>[x1,y1,x2,y2]</bbox>`` (every one counts), ``<points>[[x,y],...]</points>``
and ``<labels>[1,0,...]</labels>`` (the first of each), in pixels of the image the model saw.
Per box, the points inside it (inclusive) and their labels prompt the segmenter with the box;
the masks are united. Published terms:

- ``segment``: ``0.7 * IoU + 0.3 * clip(S, 0, 1)`` of the united mask against the ground truth,
  0 unless the answer has points, labels and a box;
- ``format``: 1 when points, labels and a box parse and a ``<think>...</think>`` is there.

The released parser is three regexes and ``eval``; here a linear scan finds exactly what the
regexes match (theirs backtrack exponentially on a long malformed ``<labels>`` run) and
``ast.literal_eval`` reads exactly what ``eval`` reads, failing where it fails (a leading zero
in ``[01]``, a missing comma in ``[1 2]``, a number of more than 4300 digits): any failure, as
in the released ``try``, leaves the answer without points, labels or boxes.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np

from ...metrics.masks import s_measure
from ...segment import Prompts
from ..spec import Component, ComponentReward, Terms
from .masks import MaskBatch, batch_images, check_segmenter

__all__ = ["SegR1Answer", "SegR1Recipe", "read_segr1", "segr1_reward"]

_BBOX = re.compile(r"<bbox>\s*(\[\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\])\s*</bbox>")
_INT64 = 2**63


def _ws(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():  # what the regex's \s matches
        i += 1
    return i


def _digits(s: str, i: int) -> int:
    j = i
    while j < len(s) and s[j].isdecimal():  # what the regex's \d matches
        j += 1
    return j


def _tail(s: str, i: int, close: str) -> bool:
    """``\\s*`` then the closing tag at ``i``."""
    return s.startswith(close, _ws(s, i))


def _points_at(s: str, i: int) -> int:
    """End of ``\\[\\s*(?:\\[\\s*\\d+\\s*,\\s*\\d+\\s*\\]\\s*,?\\s*)+\\]`` at ``i``, or -1."""
    if not s.startswith("[", i):
        return -1
    i = _ws(s, i + 1)
    pairs = 0
    while s.startswith("[", i):
        j = _digits(s, _ws(s, i + 1))
        if j == _ws(s, i + 1):
            return -1
        j = _ws(s, j)
        if not s.startswith(",", j):
            return -1
        k = _ws(s, j + 1)
        j = _digits(s, k)
        if j == k:
            return -1
        j = _ws(s, j)
        if not s.startswith("]", j):
            return -1
        i = _ws(s, j + 1)
        if s.startswith(",", i):
            i = _ws(s, i + 1)
        pairs += 1
    return i + 1 if pairs and s.startswith("]", i) else -1


def _labels_at(s: str, i: int) -> int:
    """End of ``\\[\\s*(?:\\d+\\s*,?\\s*)+\\]`` at ``i``, or -1."""
    if not s.startswith("[", i):
        return -1
    i = _ws(s, i + 1)
    items = 0
    while i < len(s) and s[i].isdecimal():
        i = _ws(s, _digits(s, i))
        if s.startswith(",", i):
            i = _ws(s, i + 1)
        items += 1
    return i + 1 if items and s.startswith("]", i) else -1


def _first(s: str, tag: str, body: Any) -> str | None:
    """The group of ``re.search(<tag>\\s*(body)\\s*</tag>)``: the body at the first opening
    tag where it matches. Linear: a body holds no ``<``, so attempts never overlap."""
    open_, close = f"<{tag}>", f"</{tag}>"
    at = s.find(open_)
    while at >= 0:
        start = _ws(s, at + len(open_))
        end = body(s, start)
        if end >= 0 and _tail(s, end, close):
            return s[start:end]
        at = s.find(open_, at + 1)
    return None


class SegR1Answer:
    """What a completion holds for Seg-R1, as the released ``parse_custom_format`` returns it:
    ``points`` (k, 2), ``labels`` (k,) and ``boxes`` (m, 4) integer arrays, each ``None`` when
    absent (all three ``None`` when any ``eval`` fails); ``think``: a ``<think>...</think>``
    is there.

    Examples:
        >>> a = SegR1Answer("<think>x</think><bbox>[0,0,9,9]</bbox><points>[[2,2]]</points><labels>[1]</labels>")
        >>> a.boxes.tolist(), a.points.tolist(), a.labels.tolist(), a.think
        ([[0, 0, 9, 9]], [[2, 2]], [1], True)
    """

    __slots__ = ("boxes", "labels", "points", "problem", "think")

    def __init__(self, text: str) -> None:
        self.points: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.boxes: np.ndarray | None = None
        self.problem: str | None = None
        open_at = text.find("<think>")
        self.think = open_at >= 0 and text.find("</think>", open_at + 7) >= 0
        point_src = _first(text, "points", _points_at)
        label_src = _first(text, "labels", _labels_at)
        try:
            points = np.array(ast.literal_eval(point_src)) if point_src is not None else None
            labels = np.array(ast.literal_eval(label_src)) if label_src is not None else None
            if points is not None and labels is not None:
                if not (points.ndim == 2 and points.shape[1] == 2 and len(labels) == len(points)):
                    points, labels = None, None
            boxes = [np.array(ast.literal_eval(m.group(1))) for m in _BBOX.finditer(text)]
            boxes = [b for b in boxes if b.ndim == 1 and b.shape[0] == 4]
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as err:
            self.problem = f"the answer's lists do not evaluate ({type(err).__name__}): no points, labels or boxes"
            return
        self.points, self.labels = points, labels
        self.boxes = np.stack(boxes) if boxes else None

    @property
    def complete(self) -> bool:
        """Points (at least one), labels and a box: what both terms need."""
        return (
            self.points is not None
            and len(self.points) > 0
            and self.labels is not None
            and self.boxes is not None
        )

    def prompts(self) -> tuple[Prompts, list[str]]:
        """One prompt per box: the box and the points inside it (inclusive) with their labels.
        A box or point too large for int64 (the released SAM call fails on it, and its per-box
        ``except`` skips the box) gives no prompt, with a problem."""
        objects, problems = [], []
        for b in self.boxes:  # type: ignore[union-attr]
            p, lab = self.points, self.labels
            inside = (p[:, 0] >= b[0]) & (p[:, 0] <= b[2]) & (p[:, 1] >= b[1]) & (p[:, 1] <= b[3])  # type: ignore[index]
            p, lab = p[inside], lab[inside]  # type: ignore[index]
            values = [*b.tolist(), *p.ravel().tolist()]
            if any(abs(int(v)) >= _INT64 for v in values):
                problems.append(f"box {b.tolist()!s:.60}: a coordinate beyond int64, skipped")
                continue
            labels = [int(v) if abs(int(v)) < _INT64 else -1 for v in lab.tolist()]
            objects.append((np.asarray(b, np.float64), np.asarray(p, np.float64) if len(p) else None,
                            labels if len(p) else None))  # fmt: skip
        return (Prompts.from_objects(objects) if objects else Prompts.empty()), problems


def read_segr1(text: str) -> SegR1Answer:
    """`SegR1Answer` of ``text``. O(len(text))."""
    return SegR1Answer(text)


class SegR1Recipe:
    """Seg-R1's terms of a batch: ``iou``, ``s_measure`` (NaN where the answer lacks points,
    labels or a box), their published combination ``segment`` (0 there) and ``format``.

    Args:
        segmenter: the `rankreward.segment.Segmenter` (built once, reused every call).
        compat: ``"released"`` (default) computes the S-measure as Seg-R1 trained with (its
            ground truth thresholded at 128 after a 0/1 read, so ``S = 1 - mean(mask)``);
            ``"corrected"`` against the true ground truth.
        swap_rb: hand the segmenter the image with R and B swapped, as the released
            ``cv2.COLOR_BGR2RGB`` on an RGB image does (default ``False``: the image as it is).
    """

    name = "seg-r1"
    context: tuple[str, ...] = ("image?", "images?")

    def __init__(self, segmenter: Any, compat: str = "released", swap_rb: bool = False) -> None:
        if compat not in ("released", "corrected"):
            raise ValueError(f"compat must be 'released' or 'corrected', got {compat!r}")
        if not isinstance(swap_rb, bool):
            raise TypeError(f"swap_rb must be True or False, got {swap_rb!r}")
        self.segmenter = check_segmenter(segmenter, "seg-r1")
        self.compat, self.swap_rb = compat, swap_rb

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        n = len(texts)
        batch = MaskBatch(batch_images(context, n, "seg-r1"), ground_truths, "gt_mask")
        answers = [read_segr1(t) for t in texts]
        problems: list[list[str]] = [[a.problem] if a.problem else [] for a in answers]
        prompts = []
        for k, a in enumerate(answers):
            if a.complete:
                p, why = a.prompts()
                problems[k] += why
            else:
                p = Prompts.empty()
                if not a.problem:
                    problems[k].append("no points, labels and box: segment scores 0")
            prompts.append(p)
        masks = batch.masks(self.segmenter, prompts, self.swap_rb)
        iou = batch.iou(masks)
        sm = np.full(n, np.nan)
        for k, a in enumerate(answers):
            if a.complete:
                pred = masks[k].astype(np.float64)
                if self.compat == "released":
                    sm[k] = float(1 - pred.mean())  # its ground truth is all background
                else:
                    sm[k] = s_measure(pred, batch.truths[k])
        complete = np.array([a.complete for a in answers], bool)
        iou = np.where(complete, iou, np.nan)
        clipped = np.clip(sm, 0.0, 1.0)
        segment = np.where(complete, 0.7 * iou + 0.3 * clipped, 0.0)
        fmt = np.array([float(a.points is not None and a.labels is not None and a.boxes is not None
                              and a.think) for a in answers])  # fmt: skip
        return Terms(
            {"iou": iou, "s_measure": clipped, "segment": segment,
             "iou_term": np.nan_to_num(iou), "s_measure_term": np.nan_to_num(clipped),
             "format": fmt},
            problems,
        )  # fmt: skip


def segr1_reward(
    ranked: bool = False,
    *,
    segmenter: Any = None,
    compat: str = "released",
    swap_rb: bool = False,
) -> ComponentReward:
    """The ``seg-r1`` preset: Seg-R1's segmentation and format rewards (0..2) with a segmenter
    in the loop, or with ``ranked`` its IoU and S-measure ranked. O(1).

    Published:
        [Seg-R1](https://github.com/geshang777/Seg-R1) (arXiv 2506.22624),
        ``seg-r1/src/open_r1/grpo.py``: ``segmentation_reward`` (per box, the points inside it
        and the box prompt SAM2.1 with ``multimask_output=False``, masks united;
        ``0.7 * IoU + 0.3 * S-measure``) and ``format_reward`` (points, labels, a box and a
        think block), summed.

    Answer:
        ``<think>...</think> <bbox>[x1,y1,x2,y2]</bbox>, <points>[[x,y],...]</points>,
        <labels>[1,0,...]</labels>`` (several ``<bbox>`` allowed; integer pixels).

    Ground truth:
        The ``gt_mask`` column (or ``ground_truth=``): one mask per sample of its image's size,
        as a bool/0-1 array, COCO RLE, polygon list or PNG path
        (`rankreward.metrics.read_mask`); the ``image`` column holds the images.

    Options:
        ``segmenter`` (required: `rankreward.segment.Sam2Segmenter` or any callable of the
        contract); ``compat`` (``"released"``: the S-measure as trained, ``1 - mean(mask)``;
        ``"corrected"``: against the true ground truth); ``swap_rb`` (the released R/B swap
        before SAM; default off). ``ranked`` ranks the IoU (weight 0.7) and the S-measure
        (0.3) in one window; an answer without points, labels and a box stays out of it.

    Frame:
        Pixels of the image in the ``image`` column (Seg-R1 resizes every image to 768x768
        first). Other sizes work here; in the released code they crash the step.

    Deviations:
        The canvas is the image's own size (the released 768x768 canvas raises on any other
        size). SAM2 is built once by the caller (the released code loads SAM2.1-L in every
        reward call) and each image is encoded once per batch (released: once per completion);
        the masks are the same. The R/B swap is off unless ``swap_rb=True``. A coordinate
        beyond int64 skips its box (the released SAM call fails on it and skips it too).

    Examples:
        >>> import numpy as np
        >>> from rankreward.segment import BoxSegmenter
        >>> reward = segr1_reward(segmenter=BoxSegmenter())
        >>> gt = np.zeros((16, 16), bool); gt[2:8, 2:8] = True
        >>> text = "<think>ok</think><bbox>[2,2,7,7]</bbox><points>[[4,4]]</points><labels>[1]</labels>"
        >>> reward([text], ground_truth=[gt], image=[np.zeros((16, 16, 3), np.uint8)])
        [1.9578125]
    """
    recipe = SegR1Recipe(segmenter, compat, swap_rb)
    if ranked:
        components = [
            Component("iou", weight=0.7, ranked=True, window="segment", part="segment"),
            Component("s_measure", weight=0.3, ranked=True, window="segment", part="segment"),
        ]
    else:
        components = [
            Component("iou", column="iou_term", weight=0.7, part="segment"),
            Component("s_measure", column="s_measure_term", weight=0.3, part="segment"),
        ]
    components.append(Component("format"))
    return ComponentReward(components, recipe=recipe, ground_truth_key="gt_mask", max_reward=2.0)
