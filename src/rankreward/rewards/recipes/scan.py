"""Batch scanners of the recipe presets: a whole batch's published terms in one Numba pass.

Each recipe's readable restatement (`segzero`, `perception_r1`, `vlmr1`) reads one completion at
a time with the published regexes and ``json.loads``. Here the batch's characters are one flat
array (`rankreward._textscan.characters`) and one compiled kernel per recipe computes the same
numbers for every completion whose text takes the *common form*: ASCII, the answer in the
grammar the model is asked for (JSON objects of number lists, decimal boxes), numbers of at most
15 significant digits (read exactly, as ``float`` reads them) and at most `MAX_COORDINATE`.
Every other completion is flagged and scored by the restatement, so the result never depends
on which path ran: the tests compare both paths with the published code on generated text,
including everything the fast path refuses.

Why the regexes can be replaced by forward scans: every published pattern used here is either
anchored by literal tags or a sequence of digit runs and literal separators, so the leftmost
match is found by trying each candidate start once and never needs backtracking (a digit run is
always followed by a non-digit literal).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..._parallel import launch
from ..._textscan import (
    POW10,
    at,
    characters,
    codes,
    find,
    json_number,
    skip_json_space,
    skip_spaces,
    structure_ok_at,
)

__all__ = [
    "MAX_COORDINATE",
    "SEGZERO_COLUMNS",
    "grounding_batch",
    "rec_batch",
    "segzero_batch_terms",
]

#: Larger numbers go to the Python path (their squares must stay exact in float64).
MAX_COORDINATE = 1e6
#: Keys / numbers of one answer object the fast path holds; more go to the Python path.
_MAX_KEYS, _MAX_VALUES = 16, 64

_BOX_OPEN, _BOX_CLOSE = codes("<box>("), codes(")</box>")
_POINTS_OPEN, _POINTS_CLOSE = codes("<points>("), codes(")</points>")
_PAIR_SEP = codes("),(")
_BBOX, _POINT, _POINTS = codes("bbox"), codes("point"), codes("points")
_BRACE_OPEN, _BRACE_CLOSE = codes("{"), codes("}")
_COMMA = codes(",")


@nb.njit(cache=True, inline="always")
def _pymax(a, b):
    """Python's ``max(a, b)``: ``a`` unless ``b > a`` (so the sign of an equal zero is a's)."""
    return b if b > a else a


@nb.njit(cache=True, inline="always")
def _pymin(a, b):
    """Python's ``min(a, b)``: ``a`` unless ``b < a``."""
    return b if b < a else a


@nb.njit(cache=True)
def _digits(t, p, e):
    """``\\d+`` (ASCII) at ``p``: ``(value, end)``; end == p when there is no digit, value -1
    when there are more than 15 digits (not exact in float64: the caller falls back)."""
    v = 0
    q = p
    while q < e and 48 <= t[q] <= 57:
        if q - p >= 15:
            return -1.0, q
        v = v * 10 + (t[q] - 48)
        q += 1
    return float(v), q


@nb.njit(cache=True)
def _int_quad(t, lo, hi, open_, sep, close, out):
    """The leftmost ``open_ D,D sep D,D close`` (D = ``\\d+``) in ``[lo, hi)``: its four ints
    in ``out``. Returns 1 found, 0 none, -1 a number too long (fall back)."""
    p = lo
    while True:
        p = find(t, p, hi, open_)
        if p < 0:
            return 0
        q = p + open_.shape[0]
        ok = True
        for k in range(4):
            v, r = _digits(t, q, hi)
            if r == q:
                ok = False
                break
            if v < 0:
                return -1
            out[k] = v
            q = r
            lit = _PAIR_SEP if k == 1 else close if k == 3 else _COMMA
            if not at(t, q, hi, lit):
                ok = False
                break
            q += lit.shape[0]
        if ok:
            return 1
        p += 1


@nb.njit(cache=True)
def _contains_lower(t, lo, hi, pat):
    """Whether the ASCII key ``t[lo:hi]``, lower-cased, contains ``pat`` (lower case)."""
    for p in range(lo, hi - pat.shape[0] + 1):
        ok = True
        for k in range(pat.shape[0]):
            c = t[p + k]
            if 65 <= c <= 90:
                c += 32
            if c != pat[k]:
                ok = False
                break
        if ok:
            return True
    return False


@nb.njit(cache=True)
def _same_key(t, a0, a1, b0, b1):
    if a1 - a0 != b1 - b0:
        return False
    for k in range(a1 - a0):
        if t[a0 + k] != t[b0 + k]:
            return False
    return True


@nb.njit(cache=True)
def _object_of_lists(t, p, q, key_lo, key_hi, val_lo, val_n, values):
    """``json.loads(t[p:q + 1])`` when it is an object whose values are lists of numbers, keys
    plain ASCII strings and unique: the number of keys (spans in ``key_lo/hi``, each value's
    numbers at ``values[val_lo[k]:val_lo[k] + val_n[k]]``), else -1 (fall back)."""
    i = skip_json_space(t, p + 1, q)
    if i == q:
        return 0  # "{ }"
    nkeys = 0
    nvals = 0
    while True:
        if i >= q or t[i] != 34:  # '"'
            return -1
        ks = i + 1
        i = ks
        while i < q and t[i] != 34:
            c = t[i]
            if c == 92 or c < 32 or c > 126:  # escapes, control and non-ASCII characters
                return -1
            i += 1
        if i >= q or nkeys == _MAX_KEYS:
            return -1
        for k in range(nkeys):
            if _same_key(t, key_lo[k], key_hi[k], ks, i):
                return -1  # json keeps the first position and the last value
        key_lo[nkeys], key_hi[nkeys] = ks, i
        i = skip_json_space(t, i + 1, q)
        if i >= q or t[i] != 58:  # ':'
            return -1
        i = skip_json_space(t, i + 1, q)
        if i >= q or t[i] != 91:  # '['
            return -1
        val_lo[nkeys], val_n[nkeys] = nvals, 0
        i = skip_json_space(t, i + 1, q)
        if i < q and t[i] == 93:  # ']'
            i += 1
        else:
            while True:
                ok, v, i = json_number(t, i, q, MAX_COORDINATE)
                if not ok or nvals == _MAX_VALUES:
                    return -1
                values[nvals] = v
                nvals += 1
                val_n[nkeys] += 1
                i = skip_json_space(t, i, q)
                if i < q and t[i] == 44:  # ','
                    i = skip_json_space(t, i + 1, q)
                elif i < q and t[i] == 93:
                    i += 1
                    break
                else:
                    return -1
        nkeys += 1
        i = skip_json_space(t, i, q)
        if i == q:
            return nkeys
        if t[i] != 44:
            return -1
        i = skip_json_space(t, i + 1, q)


@nb.njit(cache=True)
def _dist(ax, ay, bx, by):
    return np.sqrt((ax - bx) ** 2 + (ay - by) ** 2)


@nb.njit(cache=True)
def _segzero_one(t, lo, hi, g, glo, ghi, out):
    """Seg-Zero's terms of one completion into ``out`` (see `segzero_batch_terms`)."""
    nan = np.nan
    out[0] = 0.0  # handled here
    out[1] = 1.0 if structure_ok_at(t, lo, hi) else 0.0
    out[2:6] = 0.0
    out[6:9] = nan
    for p in range(lo, hi):
        if t[p] > 127:
            out[0] = 1.0
            return
    for p in range(glo, ghi):
        if g[p] > 127:
            out[0] = 1.0
            return
    # the first {[^}]+}
    p = lo
    obj_lo = -1
    obj_hi = -1
    while True:
        p = find(t, p, hi, _BRACE_OPEN)
        if p < 0 or p + 1 >= hi:
            break
        if t[p + 1] != 125:
            obj_hi = find(t, p + 1, hi, _BRACE_CLOSE)
            if obj_hi >= 0:
                obj_lo = p
            break
        p += 1
    if obj_lo < 0:
        return  # no object: only the thinking format counts
    key_lo = np.empty(_MAX_KEYS, np.int64)
    key_hi = np.empty(_MAX_KEYS, np.int64)
    val_lo = np.empty(_MAX_KEYS, np.int64)
    val_n = np.empty(_MAX_KEYS, np.int64)
    values = np.empty(_MAX_VALUES)
    nkeys = _object_of_lists(t, obj_lo, obj_hi, key_lo, key_hi, val_lo, val_n, values)
    if nkeys < 0:
        out[0] = 1.0
        return
    gt_box = np.empty(4)
    gt_pts = np.empty(4)
    has_box = _int_quad(g, glo, ghi, _BOX_OPEN, _PAIR_SEP, _BOX_CLOSE, gt_box)
    has_pts = _int_quad(g, glo, ghi, _POINTS_OPEN, _PAIR_SEP, _POINTS_CLOSE, gt_pts)
    if has_box < 0 or has_pts < 0:
        out[0] = 1.0
        return
    # keys: the first "bbox" key is the box; "point" keys (other than it) count for the
    # format; the first two "points" keys are the points
    box_key = -1
    n_point = 0
    point_a = -1
    point_b = -1
    n_points = 0
    pts_a = -1
    pts_b = -1
    for k in range(nkeys):
        is_bbox = _contains_lower(t, key_lo[k], key_hi[k], _BBOX)
        if is_bbox and box_key < 0:
            box_key = k
        elif _contains_lower(t, key_lo[k], key_hi[k], _POINT):
            if n_point == 0:
                point_a = k
            elif n_point == 1:
                point_b = k
            n_point += 1
        if _contains_lower(t, key_lo[k], key_hi[k], _POINTS):
            if n_points == 0:
                pts_a = k
            elif n_points == 1:
                pts_b = k
            n_points += 1
    box_ok = box_key >= 0 and val_n[box_key] == 4
    if box_ok and n_point >= 2 and val_n[point_a] == 2 and val_n[point_b] == 2:
        out[2] = 1.0
    if box_ok and has_box:
        b = values[val_lo[box_key] : val_lo[box_key] + 4]
        x1, y1 = _pymax(b[0], gt_box[0]), _pymax(b[1], gt_box[1])
        x2, y2 = _pymin(b[2], gt_box[2]), _pymin(b[3], gt_box[3])
        inter = (x2 - x1 + 1) * (y2 - y1 + 1) if x1 < x2 and y1 < y2 else 0.0
        union = (
            (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
            + (gt_box[2] - gt_box[0] + 1) * (gt_box[3] - gt_box[1] + 1)
            - inter
        )
        if union != 0:
            iou = inter / union
            out[6] = iou
            out[3] = 1.0 if iou > 0.5 else 0.0
        l1 = (abs(b[0] - gt_box[0]) + abs(b[1] - gt_box[1]) + abs(b[2] - gt_box[2])
              + abs(b[3] - gt_box[3])) / 4  # fmt: skip
        out[7] = -l1
        out[4] = 1.0 if l1 < 10 else 0.0
    if n_points >= 2 and has_pts and val_n[pts_a] >= 2 and val_n[pts_b] >= 2 and box_ok:
        b = values[val_lo[box_key] : val_lo[box_key] + 4]
        p1x, p1y = np.trunc(values[val_lo[pts_a]]), np.trunc(values[val_lo[pts_a] + 1])
        p2x, p2y = np.trunc(values[val_lo[pts_b]]), np.trunc(values[val_lo[pts_b] + 1])
        inside = (b[0] <= p1x <= b[2] and b[1] <= p1y <= b[3]
                  and b[0] <= p2x <= b[2] and b[1] <= p2y <= b[3])  # fmt: skip
        if inside:
            straight = _dist(p1x, p1y, gt_pts[0], gt_pts[1]) + _dist(p2x, p2y, gt_pts[2], gt_pts[3])
            crossed = _dist(p1x, p1y, gt_pts[2], gt_pts[3]) + _dist(p2x, p2y, gt_pts[0], gt_pts[1])
            dist = _pymin(straight, crossed) / 2
            out[8] = -dist
            out[5] = 1.0 if dist < 100 else 0.0


@nb.njit(cache=True)
def _segzero_serial(t, offsets, g, goffsets, out):
    for k in range(out.shape[0]):
        _segzero_one(t, offsets[k], offsets[k + 1], g, goffsets[k], goffsets[k + 1], out[k])


@nb.njit(cache=True, parallel=True)
def _segzero_parallel(t, offsets, g, goffsets, out):
    for k in nb.prange(out.shape[0]):
        _segzero_one(t, offsets[k], offsets[k + 1], g, goffsets[k], goffsets[k + 1], out[k])


#: Columns of `segzero_batch_terms`, after the fallback flag.
SEGZERO_COLUMNS = ("thinking_format", "segmentation_format", "iou", "box_l1", "point_l1",
                   "iou_value", "box_l1_value", "point_value")  # fmt: skip


def segzero_batch_terms(
    texts: list[str], ground_truths: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Seg-Zero's terms for a batch: ``(terms, fallback)`` where ``terms`` is ``(B, 8)`` in
    `SEGZERO_COLUMNS` order (NaN where a value cannot be computed) and ``fallback`` marks the
    rows the kernel left for `segzero_terms` (their ``terms`` rows are meaningless). O(total
    length), in parallel threads for large batches.

    Examples:
        >>> gt = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"
        >>> text = ('<think>x</think><answer>{"bbox": [10, 10, 50, 50], "points_1": [20, 20], '
        ...         '"points_2": [40, 40]}</answer>')
        >>> terms, fallback = segzero_batch_terms([text, "é"], [gt, gt])
        >>> terms[0, :5].tolist(), fallback.tolist()
        ([1.0, 1.0, 1.0, 1.0, 1.0], [False, True])
    """
    t, offsets = characters(texts)
    g, goffsets = characters(ground_truths)
    out = np.zeros((len(texts), 1 + len(SEGZERO_COLUMNS)))
    if len(texts):
        launch("scan", len(texts), _segzero_serial, _segzero_parallel, t, offsets, g, goffsets, out)
    return out[:, 1:], out[:, 0].astype(bool)


# ----------------------------------------------------------------------------- Perception-R1
_ENDOFTEXT, _BOX_START = codes("<|endoftext|>"), codes("<|box_start|>")
_FORMAT_PREFIXES = (codes("object_ref_start"), codes("object_ref_end"), codes("box_start"),
                    codes("box_end"), codes("im_end"))  # fmt: skip
_OPENERS = codes("[((")
_DOT = codes(".")
_CLOSERS = codes("]))")


@nb.njit(cache=True)
def _decimal(t, p, e):
    r"""``-?\d+(?:\.\d+)?`` (ASCII) at ``p`` read as ``float(match)``: ``(status, value, end)``;
    status 0 no match, 1 ok, -1 matched but not exact in the fast path (fall back)."""
    q = p
    neg = q < e and t[q] == 45
    if neg:
        q += 1
    if q >= e or not 48 <= t[q] <= 57:
        return 0, 0.0, p
    w = 0
    digits = 0
    exp10 = 0
    while q < e and 48 <= t[q] <= 57:
        if w or t[q] != 48:
            digits += 1
        w = w * 10 + (t[q] - 48)
        q += 1
        if digits > 15:
            return -1, 0.0, q
    if q + 1 < e and t[q] == 46 and 48 <= t[q + 1] <= 57:
        q += 1
        while q < e and 48 <= t[q] <= 57:
            if w or t[q] != 48:
                digits += 1
            w = w * 10 + (t[q] - 48)
            exp10 += 1
            q += 1
            if digits > 15 or exp10 > 22:
                return -1, 0.0, q
    v = w / POW10[exp10]
    if v > MAX_COORDINATE:
        return -1, 0.0, q
    return 1, -v if neg else v, q


@nb.njit(cache=True)
def _box_at(t, p, hi, form, box):
    """Perception-R1's box pattern ``form`` (0: ``[a, b, c, d]``, 1: ``(a, b, c, d)``, 2:
    ``(a, b), (c, d)``) at ``p``: 1 matched (values in ``box``), 0 not, -1 fall back."""
    q = skip_spaces(t, p + 1, hi)
    for k in range(4):
        status, v, q = _decimal(t, q, hi)
        if status <= 0:
            return status
        box[k] = v
        if k == 3:
            break
        if form == 2 and k == 1:  # "),\s*(\s*"
            if not (q + 1 < hi and t[q] == 41 and t[q + 1] == 44):
                return 0
            q = skip_spaces(t, q + 2, hi)
            if q >= hi or t[q] != 40:
                return 0
            q = skip_spaces(t, q + 1, hi)
        else:
            if q >= hi or t[q] != 44:
                return 0
            q = skip_spaces(t, q + 1, hi)
    if form != 2:
        q = skip_spaces(t, q, hi)
    return 1 if q < hi and t[q] == _CLOSERS[form] else 0


@nb.njit(cache=True)
def _solution_list(g, lo, hi, gt):
    """``ast.literal_eval(solution)`` when it is a plain list of at least 4 decimal numbers
    (``[1, 2.5, ...]``, spaces only): 1 with the first four in ``gt``, else 0 (fall back)."""
    p = lo
    while p < hi and (g[p] == 32 or g[p] == 9):
        p += 1
    if p >= hi or g[p] != 91:
        return 0
    p += 1
    n = 0
    while True:
        while p < hi and g[p] == 32:
            p += 1
        start = p + 1 if p < hi and g[p] == 45 else p
        if start + 1 < hi and g[start] == 48 and 48 <= g[start + 1] <= 57:
            return 0  # "07" is a SyntaxError for Python
        status, v, p = _decimal(g, p, hi)
        if status <= 0:
            return 0
        if v == 0.0 and find(g, start, p, _DOT) < 0:
            v = 0.0  # the int -0 is 0 (float("-0") keeps its sign, int("-0") does not)
        if n < 4:
            gt[n] = v
        n += 1
        while p < hi and g[p] == 32:
            p += 1
        if p < hi and g[p] == 44:
            p += 1
        elif p < hi and g[p] == 93:
            p += 1
            break
        else:
            return 0
    while p < hi and (g[p] == 32 or g[p] == 9 or g[p] == 10):
        p += 1
    return 1 if p == hi and n >= 4 else 0


@nb.njit(cache=True)
def _grounding_one(t, lo, hi, g, glo, ghi, out):
    """Perception-R1's IoU, whether a box was found, and its format of one completion."""
    out[0] = 1.0  # fall back unless the fast path finishes
    for p in range(lo, hi):
        if t[p] > 127:
            return
    if find(t, lo, hi, _ENDOFTEXT) >= 0:
        return
    box = np.zeros(4)
    found = False
    for form in range(3):
        p = lo
        while not found:
            p = find(t, p, hi, _OPENERS[form : form + 1])
            if p < 0:
                break
            status = _box_at(t, p, hi, form, box)
            if status < 0:
                return
            found = status == 1
            p += 1
        if found:
            break
    if not found:
        box[:] = 0.0
    if find(t, lo, hi, _BOX_START) < 0:
        for k in range(4):
            box[k] = np.trunc(box[k] * 1000)
    gt = np.zeros(4)
    if _solution_list(g, glo, ghi, gt) == 0:
        return
    left, top = _pymax(box[0], gt[0]), _pymax(box[1], gt[1])
    right, bottom = _pymin(box[2], gt[2]), _pymin(box[3], gt[3])
    inter = _pymax(0.0, right - left) * _pymax(0.0, bottom - top)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (gt[2] - gt[0]) * (gt[3] - gt[1]) - inter
    if union == 0:
        return  # the published code raises ZeroDivisionError: the Python path scores it 0
    out[1] = inter / union
    out[2] = 1.0 if found else 0.0
    fmt = hi > lo and (t[lo] == 60 or t[lo] == 62)  # "<" ">"
    for prefix in _FORMAT_PREFIXES:
        fmt = fmt or at(t, lo, hi, prefix)
    out[3] = 1.0 if fmt else 0.0
    out[0] = 0.0


@nb.njit(cache=True)
def _grounding_serial(t, offsets, g, goffsets, out):
    for k in range(out.shape[0]):
        _grounding_one(t, offsets[k], offsets[k + 1], g, goffsets[k], goffsets[k + 1], out[k])


@nb.njit(cache=True, parallel=True)
def _grounding_parallel(t, offsets, g, goffsets, out):
    for k in nb.prange(out.shape[0]):
        _grounding_one(t, offsets[k], offsets[k + 1], g, goffsets[k], goffsets[k + 1], out[k])


def grounding_batch(texts: list[str], solutions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Perception-R1's IoU, box-found flag and format for a batch: ``(values, fallback)``, where
    ``values`` is ``(B, 3)`` (iou, found, format) and ``fallback`` marks the rows left for
    `grounding_iou` / `grounding_format`. O(total length).

    Examples:
        >>> values, fallback = grounding_batch(["<|box_start|>(0,0),(10,10)<|box_end|>"],
        ...                                    ["[0, 0, 10, 20]"])
        >>> values.tolist(), fallback.tolist()
        ([[0.5, 1.0, 1.0]], [False])
    """
    t, offsets = characters(texts)
    g, goffsets = characters(solutions)
    out = np.zeros((len(texts), 4))
    if len(texts):
        launch("scan", len(texts), _grounding_serial, _grounding_parallel, t, offsets, g,
               goffsets, out)  # fmt: skip
    return out[:, 1:], out[:, 0].astype(bool)


# ----------------------------------------------------------------------------- VLM-R1 REC
_ANSWER_OPEN, _ANSWER_CLOSE = codes("<answer>"), codes("</answer>")
_THINK_OPEN, _THINK_CLOSE = codes("<think>"), codes("</think>")
_BRACKET, _CLOSE_BRACKET = codes("["), codes("]")


@nb.njit(cache=True)
def _rec_box_at(t, p, hi, box):
    r"""``\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]`` at ``p``: 1 (ints in ``box``), 0, or -1 (a
    number too long: fall back)."""
    q = p + 1
    for k in range(4):
        v, r = _digits(t, q, hi)
        if r == q:
            return 0
        if v < 0:
            return -1
        box[k] = v
        q = r
        if k < 3:
            if q >= hi or t[q] != 44:
                return 0
            q = skip_spaces(t, q + 1, hi)
    return 1 if q < hi and t[q] == 93 else 0


@nb.njit(cache=True)
def _first_rec_box(t, lo, hi, box):
    """The leftmost REC box in ``[lo, hi)``: ``(status, end)`` as `_rec_box_at`."""
    p = lo
    while True:
        p = find(t, p, hi, _BRACKET)
        if p < 0:
            return 0, -1
        status = _rec_box_at(t, p, hi, box)
        if status != 0:
            return status, find(t, p, hi, _CLOSE_BRACKET)
        p += 1


@nb.njit(cache=True)
def _rec_format(t, lo, hi, box):
    r"""Whether ``<think>.*?</think>\s*<answer>.*?\{.*\[d, d, d, d\].*\}.*?</answer>`` (DOTALL)
    occurs: each piece at its earliest possible place (every later piece only needs to come
    after the earlier ones, so the earliest choices succeed whenever any do). -1: fall back."""
    a = find(t, lo, hi, _THINK_OPEN)
    if a < 0:
        return 0
    b = a + 7
    while True:
        b = find(t, b, hi, _THINK_CLOSE)
        if b < 0:
            return 0
        c = skip_spaces(t, b + 8, hi)
        if at(t, c, hi, _ANSWER_OPEN):
            break
        b += 1
    d = find(t, c + 8, hi, _BRACE_OPEN)
    if d < 0:
        return 0
    status, f = _first_rec_box(t, d + 1, hi, box)
    if status <= 0:
        return status
    g = find(t, f + 1, hi, _BRACE_CLOSE)
    if g < 0:
        return 0
    return 1 if find(t, g + 1, hi, _ANSWER_CLOSE) >= 0 else 0


@nb.njit(cache=True)
def _rec_one(t, lo, hi, out):
    """out: fallback, box found, x1, y1, x2, y2, format."""
    out[0] = 1.0
    for p in range(lo, hi):
        if t[p] > 127:
            return
    box = np.zeros(4)
    fmt = _rec_format(t, lo, hi, box)
    if fmt < 0:
        return
    out[6] = float(fmt)
    out[1] = 0.0
    a = find(t, lo, hi, _ANSWER_OPEN)
    if a >= 0:
        e = find(t, a + 8, hi, _ANSWER_CLOSE)
        if e >= 0:
            status, _ = _first_rec_box(t, a + 8, e, box)
            if status < 0:
                return
            if status == 1:
                out[1] = 1.0
                out[2:6] = box
    out[0] = 0.0


@nb.njit(cache=True)
def _rec_serial(t, offsets, out):
    for k in range(out.shape[0]):
        _rec_one(t, offsets[k], offsets[k + 1], out[k])


@nb.njit(cache=True, parallel=True)
def _rec_parallel(t, offsets, out):
    for k in nb.prange(out.shape[0]):
        _rec_one(t, offsets[k], offsets[k + 1], out[k])


def rec_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """VLM-R1 REC's reading of a batch: ``(values, fallback)`` with ``values`` ``(B, 6)``: box
    found, the box's four ints (in the model's input frame) and the format, ``fallback``
    marking rows left for `rec_accuracy` / `rec_format`. O(total length).

    Examples:
        >>> values, fallback = rec_batch(['<think>a</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'])
        >>> values.tolist(), fallback.tolist()
        ([[1.0, 1.0, 2.0, 3.0, 4.0, 1.0]], [False])
    """
    t, offsets = characters(texts)
    out = np.zeros((len(texts), 7))
    if len(texts):
        launch("scan", len(texts), _rec_serial, _rec_parallel, t, offsets, out)
    return out[:, 1:], out[:, 0].astype(bool)
