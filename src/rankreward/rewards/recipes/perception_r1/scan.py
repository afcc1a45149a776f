"""Perception-R1's batch scanner: `grounding_batch`.

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
    POW10,
    at,
    characters,
    codes,
    find,
    pymax,
    pymin,
    skip_spaces,
)

__all__ = ["grounding_batch"]

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
    if v > MAX_EXACT_COORDINATE:
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
    left, top = pymax(box[0], gt[0]), pymax(box[1], gt[1])
    right, bottom = pymin(box[2], gt[2]), pymin(box[3], gt[3])
    inter = pymax(0.0, right - left) * pymax(0.0, bottom - top)
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
