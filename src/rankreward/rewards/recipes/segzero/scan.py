"""Seg-Zero's batch scanner: `segzero_batch_terms`.

The batch's characters are one flat array (`rankreward._textscan.characters`) and one compiled
kernel computes the published numbers for every completion whose text takes the *common form*
(ASCII, the answer in the grammar the model is asked for, numbers of at most 15 significant
digits, read exactly as ``float`` reads them, and at most `MAX_EXACT_COORDINATE`). Every other
completion is flagged and scored by the readable restatement, so the result never depends on
which path ran; the tests compare both paths with the published code on generated text. The
published patterns are anchored by literal tags or are digit runs between literal separators,
so a forward scan finds the leftmost match without backtracking.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...._parallel import launch
from ...._textscan import (
    MAX_EXACT_COORDINATE,
    at,
    characters,
    codes,
    digits,
    find,
    json_number,
    pymax,
    pymin,
    skip_json_space,
    structure_ok_at,
)

__all__ = ["SEGZERO_COLUMNS", "segzero_batch_terms"]

#: Keys / numbers of one answer object the fast path holds; more go to the Python path.
_MAX_KEYS, _MAX_VALUES = 16, 64

_BOX_OPEN, _BOX_CLOSE = codes("<box>("), codes(")</box>")
_POINTS_OPEN, _POINTS_CLOSE = codes("<points>("), codes(")</points>")
_PAIR_SEP = codes("),(")
_BBOX, _POINT, _POINTS = codes("bbox"), codes("point"), codes("points")
_BRACE_OPEN, _BRACE_CLOSE = codes("{"), codes("}")
_COMMA = codes(",")


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
            v, r = digits(t, q, hi)
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
                ok, v, i = json_number(t, i, q, MAX_EXACT_COORDINATE)
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
        x1, y1 = pymax(b[0], gt_box[0]), pymax(b[1], gt_box[1])
        x2, y2 = pymin(b[2], gt_box[2]), pymin(b[3], gt_box[3])
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
            dist = pymin(straight, crossed) / 2
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
