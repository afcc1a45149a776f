"""The evaluation protocols of the released code, as data, and their answer reader.

The paper's numbers come from two sets of scripts (``docs/paper.md``, "The evaluation
protocols"), and they disagree with each other on the answer
reader, on which samples count and on how empty predictions score. A reproduction has to pick
one; ``protocol=`` on every ``evaluate_*`` function and ``--protocol`` on ``rankreward eval``
name them:

| name | the released scripts it reproduces |
|---|---|
| ``"drseg"`` | Dr. Seg's ``evaluation_drseg.py`` + ``calculate_iou.py`` (ReasonSeg, RefCOCO/+/g; gIoU) |
| ``"visionreasoner"`` | VisionReasoner's ``evaluation_segmentation.py`` + ``calculate_iou_with_bbox.py``, ``evaluation_coco.py`` + ``calculate_coco_ap.py``, ``evaluation_count.py`` + ``calculate_counting.py`` |
| ``"visionreasoner-nonobj"`` | its ``calculate_iou_with_bbox_nonobj.py`` variant (no-object samples score 1; N-Acc) |
| ``"rankreward"`` | this library's own protocol (lenient parser, float coordinates, both-empty = 1, COCO score 1.0) |

What the released scripts share: the policy sees the image resized to 840x840 with PIL
BILINEAR; every coordinate is mapped back per axis and rounded as ``int(v * W / 840 + 0.5)``
(``int`` truncates toward zero); SAM2 gets each object's point (label 1) and box and returns
three candidates, of which the best-scored one is kept; the objects' masks are OR-ed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .._deprecation import renamed_attributes
from ..rewards.recipes.drseg.prompt import LOOK_TO_CONFIRM, VISIONREASONER_PROMPT

__all__ = [
    "PROTOCOLS",
    "EvalAnswer",
    "EvalProtocol",
    "get_protocol",
    "read_eval_answer",
]

ReaderName = Literal["drseg", "visionreasoner", "rankreward"]


@dataclass(frozen=True)
class EvalProtocol:
    """One evaluation protocol: which tasks it defines, its answer reader, its prompt and its
    generation settings (those of the released shell scripts).

    Examples:
        >>> p = get_protocol("drseg")
        >>> p.generation_kwargs()
        {'max_new_tokens': 3000, 'do_sample': True, 'temperature': 1.0, 'top_p': 1.0, 'top_k': 0}
        >>> p.batch_size, p.seen_size, p.resample
        (16, (840, 840), 'bilinear')
    """

    name: str
    #: the tasks the released scripts of this protocol evaluate
    tasks: tuple[str, ...]
    #: ``"drseg"``: any error while reading is a penalty; ``"visionreasoner"``: errors give no
    #: objects, but boxes read before a point error are kept; ``"rankreward"``: our parser
    reader: ReaderName
    template: str
    max_new_tokens: int
    do_sample: bool
    batch_size: int
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seen_size: tuple[int, int] | None = (840, 840)
    resample: Literal["bilinear", "bicubic"] = "bilinear"
    #: SAM2 returns three candidates per prompt and the best-scored one is kept
    multimask: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def generation_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``model.generate`` (without the inputs). O(1)."""
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        if self.do_sample:
            out.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return out


PROTOCOLS: dict[str, EvalProtocol] = {
    "drseg": EvalProtocol(
        "drseg", ("reasonseg",), "drseg", LOOK_TO_CONFIRM, max_new_tokens=3000, do_sample=True,
        batch_size=16, temperature=1.0, top_p=1.0, top_k=0,
        notes=("an answer that raises while read is a penalty: I = 0, U = ground-truth area",
               "a sample whose predicted and true masks are both empty is dropped",
               "gIoU = mean I/U over the kept samples (ciou is ours: the scripts print none)"),
    ),
    "visionreasoner": EvalProtocol(
        "visionreasoner", ("reasonseg", "coco", "count"), "visionreasoner",
        VISIONREASONER_PROMPT, max_new_tokens=2048, do_sample=False, batch_size=16,
        notes=("both-empty scores IoU 0", "bbox_accuracy: any predicted box or the union box of "
               "all predictions with IoU > 0.5 against the ground-truth box",
               "COCO score = box area / image area (0 without ground truth of the category)",
               "count = number of boxes read"),
    ),
    "visionreasoner-nonobj": EvalProtocol(
        "visionreasoner-nonobj", ("reasonseg",), "visionreasoner", VISIONREASONER_PROMPT,
        max_new_tokens=2048, do_sample=False, batch_size=16,
        notes=("a sample with an empty ground truth and no predicted box scores IoU 1",
               "n_acc = such samples / samples with an empty ground truth"),
    ),
    "rankreward": EvalProtocol(
        "rankreward", ("reasonseg", "coco", "count"), "rankreward", LOOK_TO_CONFIRM,
        max_new_tokens=1024, do_sample=False, batch_size=8, multimask=False,
        notes=("lenient Dr. Seg parser, float coordinates", "both-empty scores IoU 1",
               "COCO score 1.0 for every box, boxes clamped to non-negative size"),
    ),
}  # fmt: skip

#: the protocol each task uses when none is named: the one behind the paper's numbers
PAPER_PROTOCOL = {"reasonseg": "drseg", "coco": "visionreasoner", "count": "visionreasoner"}


def get_protocol(name: str | EvalProtocol | None, task: str | None = None) -> EvalProtocol:
    """The protocol called ``name`` (``None``: the paper's protocol for ``task``), checked to
    define ``task``. O(1).

    Examples:
        >>> get_protocol(None, "coco").name
        'visionreasoner'
        >>> get_protocol("drseg", "count")
        Traceback (most recent call last):
        ...
        ValueError: protocol 'drseg' has no count evaluation (it defines: reasonseg); use 'visionreasoner' or 'rankreward'
    """
    if isinstance(name, EvalProtocol):
        proto = name
    elif name is None:
        if task is None:
            raise ValueError("name a protocol or a task")
        proto = PROTOCOLS[PAPER_PROTOCOL[task]]
    elif name in PROTOCOLS:
        proto = PROTOCOLS[name]
    else:
        raise ValueError(f"unknown protocol {name!r}; choose from {sorted(PROTOCOLS)}")
    if task is not None and task not in proto.tasks:
        others = [n for n, p in PROTOCOLS.items() if task in p.tasks]
        raise ValueError(
            f"protocol {proto.name!r} has no {task} evaluation (it defines: "
            f"{', '.join(proto.tasks)}); use {' or '.join(repr(o) for o in others)}"
        )
    return proto


# ----------------------------------------------------------------------------- reader
# The released readers take the first <answer>, then the shortest text up to </answer>.
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)


@dataclass
class EvalAnswer:
    """What the released evaluation scripts' reader (`read_eval_answer`) made of one
    completion: integer boxes (xyxy) and points in the original image's pixels, and the error
    that stopped it, if any.

    ``stage`` says where reading stopped: ``"answer_tag"`` (no ``<answer>...</answer>``),
    ``"json"``, ``"bbox"`` or ``"point"``; ``None`` when it read everything.

    Examples:
        >>> read_eval_answer("no answer").stage
        'answer_tag'
    """

    boxes: list[list[int]]
    points: list[list[int]]
    error: str | None = None
    stage: str | None = None


def _coordinate(value: Any, factor: float) -> int:
    """``int(value * factor + 0.5)`` with Python's rules: numbers and booleans only (a string
    times a float raises), and NaN, infinities and floats past 2**1024 raise."""
    if not isinstance(value, (int, float)):  # bool is an int
        raise TypeError(f"coordinate {value!r} is not a number")
    return int(value * factor + 0.5)


def _coordinates(item: Any, key: str, n: int, fx: float, fy: float) -> list[int]:
    if not isinstance(item, dict):
        raise TypeError(f"answer item {item!r} is not an object")
    if key not in item:
        raise KeyError(f"answer item has no {key!r}")
    values = item[key]
    if not isinstance(values, list):  # a string would index to characters, which then raise
        raise TypeError(f"{key} {values!r} is not a list")
    if len(values) < n:
        raise IndexError(f"{key} {values!r} has fewer than {n} numbers")
    return [_coordinate(values[k], fx if k % 2 == 0 else fy) for k in range(n)]


def read_eval_answer(text: str, x_factor: float = 1.0, y_factor: float = 1.0,
                         *, keep_boxes: bool = False) -> EvalAnswer:  # fmt: skip
    """Read an answer the way the released evaluation scripts do.

    The first ``<answer>...</answer>`` is decoded with ``json.loads``; every item must be an
    object whose ``bbox_2d`` is a list of at least 4 numbers and ``point_2d`` at least 2 (the
    first 4 / 2 are used, the rest ignored); each coordinate becomes
    ``int(v * factor + 0.5)``. All boxes are read before any point. A top-level value other
    than a list reads as its iteration would in Python: an empty object or string gives no
    objects, any other fails.

    Args:
        text: the completion.
        x_factor: original width / the width the model saw.
        y_factor: original height / the height the model saw.
        keep_boxes: VisionReasoner's reader: when reading a point fails, the boxes already read
            are kept (with no points). Dr. Seg's reader (``False``) keeps nothing.

    Complexity: O(len(text)).

    Examples:
        >>> a = read_eval_answer('<answer>[{"bbox_2d": [0, 0, 420, 840.5, 9], '
        ...                          '"point_2d": [4, 8]}]</answer>', 0.5, 0.5)
        >>> a.boxes, a.points, a.error
        ([[0, 0, 210, 420]], [[2, 4]], None)
        >>> b = read_eval_answer('<answer>[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1]}]</answer>',
        ...                          keep_boxes=True)
        >>> b.boxes, b.points, b.stage
        ([[1, 2, 3, 4]], [], 'point')
        >>> print(b.error)
        IndexError: point_2d [1] has fewer than 2 numbers
    """
    m = _ANSWER.search(text)
    if m is None:
        return EvalAnswer([], [], "no <answer>...</answer>", "answer_tag")
    try:
        data = json.loads(m.group(1))
    except (ValueError, RecursionError) as e:
        return EvalAnswer([], [], f"invalid JSON: {e}", "json")
    if isinstance(data, list):
        items = data
    elif isinstance(data, (dict, str)):
        items = list(data)  # keys or characters: strings, which fail as items
    else:
        return EvalAnswer([], [], f"TypeError: {type(data).__name__} is not iterable", "json")
    boxes: list[list[int]] = []
    try:
        boxes = [_coordinates(it, "bbox_2d", 4, x_factor, y_factor) for it in items]
    except (TypeError, KeyError, IndexError, ValueError, OverflowError) as e:
        return EvalAnswer([], [], _describe(e), "bbox")
    try:
        points = [_coordinates(it, "point_2d", 2, x_factor, y_factor) for it in items]
    except (TypeError, KeyError, IndexError, ValueError, OverflowError) as e:
        return EvalAnswer(boxes if keep_boxes else [], [], _describe(e), "point")
    return EvalAnswer(boxes, points)


def _describe(e: Exception) -> str:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    return f"{type(e).__name__}: {msg}"


def box_iou_exclusive(a: list[float], b: list[float]) -> float:
    """The released scripts' box IoU: exclusive pixels (area = (x2 - x1)(y2 - y1)), 0 when the
    union is 0. O(1).

    Examples:
        >>> box_iou_exclusive([0, 0, 10, 10], [5, 0, 15, 10])
        0.3333333333333333
    """
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union == 0 else inter / union


#: Former names: they warn (the *reward's* released reader is the different
#: `rankreward.rewards.recipes.drseg.read_answer_released` / its `ReleasedAnswer`).
RENAMED = {
    "ReleasedAnswer": ("rankreward.evaluation.EvalAnswer", lambda: EvalAnswer),
    "read_released_answer": ("rankreward.evaluation.read_eval_answer", lambda: read_eval_answer),
}
__getattr__ = renamed_attributes(__name__, RENAMED)
