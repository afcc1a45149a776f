"""Parse a Look-to-Confirm completion: think, look blocks, answer, objects, and what went wrong.

Every scan here is linear in the text: tags are found with ``str.find`` and one alternation
regex without nested quantifiers, so 1 MB of unclosed tags parses in milliseconds. Texts longer
than ``max_chars`` are not parsed at all (a ``too_long`` problem, every score 0).

The scores follow ``docs/paper.md`` exactly (the paper-compatible rules):

* structure: the whole text matches ``<think>.*?</think>\\s*<answer>.*?</answer>`` (DOTALL);
* answer items: ``json.loads`` of the first ``<answer>...</answer>``; per item +1 for a
  4-list ``bbox_2d`` and +1 for a 2-list ``point_2d``, divided by the item count; the paper's
  item loop runs inside one ``try``, so an item that raises keeps the items before it;
* look: a ``<look>`` block with non-whitespace content inside the think or the answer section.

This module is the readable, one-completion rule set (and the public single-completion API);
`DrSegReward` scores batches with the compiled scanner in ``scan.py``, which the tests hold to
exactly these results, problem strings included.

``strict=True`` (the paper) reads objects with a plain ``json.loads`` of the answer and needs a
list of ``{"bbox_2d": [4 numbers], "point_2d": [2 numbers]}``; any malformed item makes the
answer unusable for accuracy. ``strict=False`` also accepts a fenced ```json block, a single
object instead of a list, and numeric strings, and lists what it tolerated.
"""

from __future__ import annotations

import gc
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....text import extract_answer, structure_ok

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MAX_COORDINATE",
    "LookBlock",
    "ParsedCompletion",
    "Problem",
    "ReleasedAnswer",
    "answer_items_score",
    "extract_answer",
    "parse_completion",
    "parse_objects",
    "read_answer",
    "read_answer_released",
    "structure_ok",
]

#: Completions longer than this are rejected unparsed (generation limits are far below it).
DEFAULT_MAX_CHARS = 200_000
#: Coordinates beyond this magnitude are rejected: no image is that large, and squaring them
#: would overflow the IoU arithmetic to inf/NaN (the paper's code then produces a NaN reward).
MAX_COORDINATE = 1e9

#: Tag nesting is checked for this many tags; beyond it only the total is reported (bounded work
#: per completion whatever the model writes).
MAX_TAGS_CHECKED = 64
_TAG = re.compile(r"</?(?:think|answer|look)>")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
#: The detail of each problem the tag scan finds, shared with the batch scanner (`scan.py`).
DETAIL = {
    "too_long": "{} characters, over the cap of {}",
    "no_think": "no <think> section",
    "no_answer": "no <answer> section",
    "nested_tag": "<{}> at {} inside <{}>",
    "stray_close": "</{}> at {} closes nothing open",
    "many_tags": "{} tags; nesting checked for the first {} only",
    "unclosed_tag": "<{}> at {} is never closed",
    "structure": "not <think>...</think> then <answer>...</answer>",
    "text_outside_tags": "text before <think> or after </answer>",
    "no_look": "no non-empty <look> block inside think or answer",
}


def make_problem(code: str, *args: object, more: int = 0) -> Problem:
    """A tag-scan problem with its detail; ``more`` later occurrences are counted, not listed."""
    detail = DETAIL[code].format(*args)
    return Problem(code, detail + (f" (and {more} more)" if more else ""))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a completion: a stable ``code`` to count and a human ``detail``.

    Examples:
        >>> [p.code for p in parse_completion("<think>unclosed").problems][:1]
        ['no_answer']
    """

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class LookBlock:
    """A ``<look>`` block: its content and the character span of the content in the text.

    Examples:
        >>> parse_completion("<think><look>red</look></think><answer>[]</answer>").looks[0].text
        'red'
    """

    text: str
    span: tuple[int, int]
    section: str  # "think", "answer" or "outside"


@dataclass
class ParsedCompletion:
    """Everything the reward needs from one completion, plus the problems found.

    ``boxes`` is ``(M, 4)`` and ``points`` ``(M, 2)`` float64 (M = 0 when the answer is
    unusable); ``objects_ok`` says whether the answer gave a usable object list (an empty list is
    usable). ``problems`` lists every issue; ``tolerated`` what lenient mode accepted.

    Examples:
        >>> p = parse_completion('<think>a</think><answer>[{"bbox_2d": [1, 2, 3, 4], "point_2d": [2, 3]}]</answer>')
        >>> p.structure, p.num_objects, p.boxes.tolist()
        (1.0, 1, [[1.0, 2.0, 3.0, 4.0]])
    """

    text: str
    think: str | None = None
    think_span: tuple[int, int] | None = None
    answer: str | None = None
    answer_span: tuple[int, int] | None = None
    looks: list[LookBlock] = field(default_factory=list)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    objects_ok: bool = False
    structure: float = 0.0
    answer_items: float = 0.0
    look: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)

    @property
    def format_score(self) -> float:
        """structure + answer items + look, 0..4."""
        return self.structure + self.answer_items + self.look

    @property
    def num_objects(self) -> int:
        return int(self.boxes.shape[0])

    def problem_codes(self) -> list[str]:
        return [p.code for p in self.problems]


def answer_items_score(data: Any) -> float:
    """The paper's answer-items part (0..2) for already-decoded JSON ``data``.

    Ported statement by statement, including its quirks: ``in`` on a string item is a substring
    test, and an item that raises ends the loop but keeps the items summed before it.

    Examples:
        >>> answer_items_score([{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}, {"bbox_2d": [1]}])
        1.0
    """
    total = 0.0
    try:
        count = len(data)
        for item in data:
            cur = 0.0
            if "bbox_2d" in item:
                bbox = item["bbox_2d"]
                if isinstance(bbox, list) and len(bbox) == 4:
                    cur += 1.0
            if "point_2d" in item:
                point = item["point_2d"]
                if isinstance(point, list) and len(point) == 2:
                    cur += 1.0
            total += cur / count
    except Exception:
        pass
    return total


def _number(v: Any, strict: bool, where: str, problems: list[Problem], tolerated: list[str]):
    if isinstance(v, (int, float)):  # bool is an int, as numpy (the paper) treats it
        x = float(v) if not isinstance(v, int) or abs(v) < 2**1023 else math.inf
    elif isinstance(v, str) and not strict:
        try:
            x = float(v.strip())
        except ValueError:
            problems.append(Problem("non_numeric", f"{where} is {v!r}"))
            return None
        tolerated.append(f"numeric string at {where}")
    else:
        problems.append(Problem("non_numeric", f"{where} is {type(v).__name__} {str(v)[:40]!r}"))
        return None
    if not math.isfinite(x):
        problems.append(Problem("non_finite", f"{where} is {v!r}"))
        return None
    if abs(x) > MAX_COORDINATE:
        problems.append(Problem("out_of_range", f"{where} is {x:g}, beyond {MAX_COORDINATE:g}"))
        return None
    return x


def _fast_objects(data: list) -> tuple[np.ndarray, np.ndarray] | None:
    """The common case in one flat conversion: a list of dicts whose ``bbox_2d`` and
    ``point_2d`` are lists of 4 and 2 plain numbers within range. ``None`` sends the input to
    the slow path, which finds and names every problem."""
    try:
        b = [item["bbox_2d"] for item in data]
        p = [item["point_2d"] for item in data]
    except (TypeError, KeyError, IndexError):
        return None
    if not all(type(v) is list and len(v) == 4 for v in b):
        return None
    if not all(type(v) is list and len(v) == 2 for v in p):
        return None
    flat = [c for v in b for c in v] + [c for v in p for c in v]
    if not {type(c) for c in flat} <= {int, float}:
        return None
    try:
        arr = np.array(flat, dtype=np.float64)
    except OverflowError:
        return None
    if not (np.abs(arr) <= MAX_COORDINATE).all():
        return None  # NaN and inf fail the comparison too
    n = len(b)
    return arr[: 4 * n].reshape(n, 4), arr[4 * n :].reshape(n, 2)


def parse_objects(
    data: Any, *, strict: bool = True, max_objects: int | None = None
) -> tuple[np.ndarray | None, np.ndarray | None, list[Problem], list[str]]:
    """Decoded answer JSON -> ``(boxes (M, 4), points (M, 2), problems, tolerated)``.

    Boxes and points are ``None`` when the answer is unusable (not a list of well-formed
    objects). ``max_objects`` keeps the first that many (the paper's cap is 120).
    O(number of items).

    Examples:
        >>> b, p, probs, _ = parse_objects([{"bbox_2d": [0, 0, 4, 4], "point_2d": [2, 2]}])
        >>> b.tolist(), p.tolist(), probs
        ([[0.0, 0.0, 4.0, 4.0]], [[2.0, 2.0]], [])
    """
    problems: list[Problem] = []
    tolerated: list[str] = []
    if isinstance(data, dict) and not strict:
        data = [data]
        tolerated.append("a single object instead of a list")
    if not isinstance(data, list):
        problems.append(Problem("not_a_list", f"the answer is a {type(data).__name__}"))
        return None, None, problems, tolerated
    if max_objects is not None and len(data) > max_objects:
        # The paper reads both keys of every item before it truncates: keep that check.
        for k, item in enumerate(data[max_objects:], start=max_objects):
            if not isinstance(item, dict) or "bbox_2d" not in item or "point_2d" not in item:
                problems.append(
                    Problem("missing_key", f"item {k} is not a bbox_2d/point_2d object")
                )
                return None, None, problems, tolerated
        data = data[:max_objects]
    fast = _fast_objects(data)
    if fast is not None:
        return fast[0], fast[1], problems, tolerated
    boxes = np.empty((len(data), 4))
    points = np.empty((len(data), 2))
    for k, item in enumerate(data):
        if not isinstance(item, dict):
            problems.append(Problem("item_not_object", f"item {k} is a {type(item).__name__}"))
            continue
        for key, size, out in (("bbox_2d", 4, boxes), ("point_2d", 2, points)):
            if key not in item:
                problems.append(Problem("missing_key", f"item {k} has no {key!r}"))
                continue
            value = item[key]
            if not isinstance(value, list) or len(value) != size:
                n = len(value) if isinstance(value, list) else type(value).__name__
                problems.append(Problem("wrong_length", f"item {k} {key} is {n}, needs {size}"))
                continue
            for c, v in enumerate(value):
                if type(v) in (int, float) and -MAX_COORDINATE <= v <= MAX_COORDINATE:
                    out[k, c] = v  # the common case, without building the error location
                    continue
                x = _number(v, strict, f"item {k} {key}[{c}]", problems, tolerated)
                if x is not None:
                    out[k, c] = x
    if problems:
        return None, None, problems, tolerated
    return boxes, points, problems, tolerated


def _sections(text: str, problems: list[Problem]) -> None:
    """Report unclosed, nested and stray tags with one linear pass over the tag occurrences.

    Each kind of problem is reported once, with its first position and how often it occurred,
    so 100,000 unclosed tags make one problem entry, not 100,000. Nesting is checked for the
    first 64 tags only (a ``many_tags`` problem says so, and tags still open at that point are
    not called unclosed: they may close later).
    """
    stack: list[tuple[str, int]] = []
    open_count = {"think": 0, "answer": 0, "look": 0}
    first: dict[str, tuple] = {}
    count: dict[str, int] = {}

    def note(code: str, *args: object) -> None:
        count[code] = count.get(code, 0) + 1
        first.setdefault(code, args)

    for seen, m in enumerate(_TAG.finditer(text)):
        if seen == MAX_TAGS_CHECKED:
            total = seen + len(_TAG.findall(text, m.start()))
            note("many_tags", total, seen)
            stack.clear()  # what is still open may close after the cap: not reported
            break
        tag = m.group()
        closing = tag[1] == "/"
        name = tag[2:-1] if closing else tag[1:-1]
        if not closing:
            if open_count[name]:
                note("nested_tag", name, m.start(), name)
            elif name != "look" and stack:
                note("nested_tag", name, m.start(), stack[-1][0])
            stack.append((name, m.start()))
            open_count[name] += 1
        elif stack and stack[-1][0] == name:
            stack.pop()
            open_count[name] -= 1
        else:
            note("stray_close", name, m.start())
            if open_count[name]:  # close through the unclosed inner tags
                while stack:
                    inner, _ = stack.pop()
                    open_count[inner] -= 1
                    if inner == name:
                        break
    for name, pos in stack:
        note("unclosed_tag", name, pos)
    for code, args in first.items():
        problems.append(make_problem(code, *args, more=count[code] - 1))


def _looks(text: str, lo: int, hi: int, section: str) -> list[LookBlock]:
    out = []
    pos = lo
    while True:
        s = text.find("<look>", pos, hi)
        if s < 0:
            return out
        e = text.find("</look>", s + 6, hi)
        if e < 0:
            return out
        out.append(LookBlock(text[s + 6 : e], (s + 6, e), section))
        pos = e + 7


def _look_counts(text: str, span: tuple[int, int] | None) -> bool:
    """The released look rule in the section ``span``: ``<look>\\s*\\S[\\s\\S]*?</look>``
    found in it. Only the first ``<look>`` matters (a later one has a later first non-space
    character): its first non-space character must be followed by a ``</look>`` (that
    character may itself be the ``<`` of an empty block's ``</look>``)."""
    if span is None:
        return False
    lo, hi = span
    s = text.find("<look>", lo, hi)
    if s < 0:
        return False
    j = s + 6
    while j < hi and text[j].isspace():
        j += 1
    return j < hi and text.find("</look>", j + 1, hi) >= 0


def _section(text: str, name: str) -> tuple[int, int] | None:
    start = text.find(f"<{name}>")
    if start < 0:
        return None
    end = text.find(f"</{name}>", start + len(name) + 2)
    return None if end < 0 else (start + len(name) + 2, end)


def parse_completion(
    text: str,
    *,
    strict: bool = True,
    max_objects: int | None = 120,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> ParsedCompletion:
    """Parse one completion into sections, look blocks, objects, format parts and problems.

    Never raises on any string. O(len(text)) plus ``json.loads`` of the answer.

    Examples:
        >>> p = parse_completion('<think>hm <look>red cup</look></think>'
        ...                      '<answer>[{"bbox_2d": [1, 2, 30, 40], "point_2d": [9, 9]}]</answer>')
        >>> p.format_score, p.num_objects, p.looks[0].text, p.problems
        (4.0, 1, 'red cup', [])
        >>> parse_completion("no tags at all").problem_codes()
        ['no_think', 'no_answer', 'structure', 'no_look']
    """
    if not isinstance(text, str):
        raise TypeError(f"a completion must be a str, got {type(text).__name__}")
    out = ParsedCompletion(text=text)
    problems = out.problems
    if len(text) > max_chars:
        problems.append(make_problem("too_long", len(text), max_chars))
        return out

    think = _section(text, "think")
    if think is not None:
        out.think, out.think_span = text[think[0] : think[1]], think
    elif "<think>" not in text:  # an unclosed <think> is reported by _sections below
        problems.append(make_problem("no_think"))
    answer_region = _section(text, "answer")
    found = extract_answer(text)
    if found is not None:
        out.answer, out.answer_span = found
    elif "<answer>" not in text:
        problems.append(make_problem("no_answer"))
    _sections(text, problems)

    out.structure = 1.0 if structure_ok(text) else 0.0
    if not out.structure:
        problems.append(make_problem("structure"))
        if think is not None and answer_region is not None:
            before = text[: think[0] - len("<think>")]
            after = text[answer_region[1] + len("</answer>") :]
            if before.strip() or after.strip():
                problems.append(make_problem("text_outside_tags"))

    # Looks: everything found, then the ones that count (inside think or answer).
    for sec_name, span in (("think", think), ("answer", answer_region)):
        if span is not None:
            out.looks.extend(_looks(text, span[0], span[1], sec_name))
    out.look = 1.0 if _look_counts(text, think) or _look_counts(text, answer_region) else 0.0
    if not out.look:
        problems.append(make_problem("no_look"))

    if out.answer is not None:
        _read_answer(out, strict, max_objects)
    return out


def _loads(text: str) -> Any:
    """``json.loads``; for big answers with the cyclic GC paused, since decoded JSON holds no
    cycles and a million small dicts otherwise trigger repeated full collections (2.5x)."""
    if len(text) < 1 << 16 or not gc.isenabled():
        return json.loads(text)
    gc.disable()
    try:
        return json.loads(text)
    finally:
        gc.enable()


def _read_answer(out: ParsedCompletion, strict: bool, max_objects: int | None) -> None:
    items, boxes, points, problems, tolerated = read_answer(
        out.answer, strict=strict, max_objects=max_objects
    )
    out.answer_items = items
    out.problems.extend(problems)
    out.tolerated.extend(tolerated)
    if boxes is not None:
        out.boxes, out.points, out.objects_ok = boxes, points, True


def read_answer(
    content: str, *, strict: bool = True, max_objects: int | None = 120
) -> tuple[float, np.ndarray | None, np.ndarray | None, list[Problem], list[str]]:
    """The stripped answer content -> ``(answer_items, boxes, points, problems, tolerated)``;
    boxes and points are ``None`` when the answer gives no usable object list.
    O(len(content)).

    Examples:
        >>> items, boxes, points, problems, _ = read_answer('[{"bbox_2d": [1, 2, 3, 4]}]')
        >>> items, boxes, [p.code for p in problems]
        (1.0, None, ['missing_key'])
    """
    if not isinstance(content, str):
        raise TypeError(f"an answer must be a str, got {type(content).__name__}")
    problems: list[Problem] = []
    tolerated: list[str] = []
    items = 0.0
    try:
        data = _loads(content)
        parsed = True
    except (ValueError, RecursionError) as e:
        data, parsed = None, False
        error = str(e)[:80]
    if parsed:
        items = answer_items_score(data)
    if not parsed and not strict:
        fenced = _FENCE.match(content)
        if fenced:
            try:
                data, parsed = json.loads(fenced.group(1)), True
                tolerated.append("a ```json fenced answer")
            except (ValueError, RecursionError):
                pass
    if not parsed:
        problems.append(Problem("invalid_json", f"the answer is not JSON ({error})"))
        return items, None, None, problems, tolerated
    boxes, points, more, lenient = parse_objects(data, strict=strict, max_objects=max_objects)
    return items, boxes, points, problems + more, tolerated + lenient


@dataclass
class ReleasedAnswer:
    """What the released reward reads from an answer (see `read_answer_released`).

    Attributes:
        answer_items: the format part (0..2), the released loop.
        count: M, the number of predictions the count fit sees (every item, capped).
        boxes, points: ``(M, 4)`` / ``(M, 2)`` float64 when the geometry can run, else None.
        plain_numbers: every coordinate was a JSON number (VisionReasoner's reader, which does
            not coerce, needs this; booleans count as numbers unless a whole list is boolean).
        problems: why the answer lost points (for logging).

    Examples:
        >>> r = read_answer_released('[{"bbox_2d": [1, 2, 3, 4], "point_2d": [2, 3]}]')
        >>> r.count, r.boxes.shape, r.plain_numbers
        (1, (1, 4), True)
    """

    answer_items: float
    count: int
    boxes: np.ndarray | None
    points: np.ndarray | None
    plain_numbers: bool
    problems: list[Problem]


def _released_values(values: list, width: int) -> tuple[np.ndarray | None, str]:
    """``np.array(values, dtype=float)`` as the released code builds it, kept only when it is
    ``(M, width)`` and finite; else ``None`` and why."""
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        return None, f"coordinates do not convert to numbers ({str(e)[:60]})"
    if arr.shape != (len(values), width):
        return None, f"coordinates have shape {arr.shape}, need ({len(values)}, {width})"
    if not np.isfinite(arr).all():
        return None, "a coordinate is NaN or infinite"
    return arr, ""


def _plain(values: list) -> bool:
    flat = [c for v in values for c in (v if isinstance(v, list) else [v])]
    kinds = {type(c) for c in flat}
    return kinds <= {int, float, bool} and kinds != {bool}


def read_answer_released(content: str, *, max_objects: int = 120) -> ReleasedAnswer:
    """The released reward's reading of the stripped answer content. O(len(content)).

    - ``json.loads``; invalid JSON: no predictions (M = 0);
    - only a JSON list gives predictions: ``item["bbox_2d"]`` and ``item["point_2d"]`` of every
      item; if any item lacks a key (or is not a dict) there are none (M = 0);
    - M counts every item, whatever its values (capped at ``max_objects``);
    - the geometry runs on ``float()``-coerced coordinates (numeric strings, booleans) when the
      boxes are ``(M, 4)`` and the points ``(M, 2)``; otherwise x1 = x3 = 0 and x2 keeps M.
      Non-finite coordinates (JSON ``NaN``/``Infinity``, ``"nan"``) also skip the geometry
      here, where the released code computes NaN.

    Examples:
        >>> r = read_answer_released('[{"bbox_2d": [1, 2, 3], "point_2d": [1, 2]}]')
        >>> r.count, r.boxes, r.answer_items
        (1, None, 1.0)
        >>> read_answer_released('[{"bbox_2d": ["1", 2, 3, 4], "point_2d": [true, 2]}]').boxes
        array([[1., 2., 3., 4.]])
    """
    if not isinstance(content, str):
        raise TypeError(f"an answer must be a str, got {type(content).__name__}")
    try:
        data = _loads(content)
    except (ValueError, RecursionError) as e:
        problem = Problem("invalid_json", f"the answer is not JSON ({str(e)[:80]})")
        return ReleasedAnswer(0.0, 0, None, None, False, [problem])
    items = answer_items_score(data)
    if not isinstance(data, list):
        problem = Problem("not_a_list", f"the answer is a {type(data).__name__}")
        return ReleasedAnswer(items, 0, None, None, False, [problem])
    try:
        boxes = [item["bbox_2d"] for item in data]
        points = [item["point_2d"] for item in data]
    except Exception:
        problem = Problem("missing_key", "an item is not an object with bbox_2d and point_2d")
        return ReleasedAnswer(items, 0, None, None, False, [problem])
    boxes, points = boxes[:max_objects], points[:max_objects]
    count = len(boxes)
    if count == 0:
        return ReleasedAnswer(items, 0, None, None, True, [])
    b, why_b = _released_values(boxes, 4)
    p, why_p = _released_values(points, 2)
    problems = []
    if b is None or p is None:
        problems.append(Problem("wrong_length" if "shape" in why_b + why_p else "non_numeric",
                                why_b or why_p))  # fmt: skip
        return ReleasedAnswer(items, count, None, None, False, problems)
    return ReleasedAnswer(items, count, b, p, _plain(boxes) and _plain(points), problems)
