"""VLM-R1 REC's batch scanner: `scan_rec_batch`.

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
    at,
    characters,
    codes,
    digits,
    find,
    skip_spaces,
)

__all__ = ["scan_rec_batch"]

_BRACE_OPEN, _BRACE_CLOSE = codes("{"), codes("}")
_ANSWER_OPEN, _ANSWER_CLOSE = codes("<answer>"), codes("</answer>")
_THINK_OPEN, _THINK_CLOSE = codes("<think>"), codes("</think>")
_BRACKET, _CLOSE_BRACKET = codes("["), codes("]")


@nb.njit(cache=True)
def _rec_box_at(t, p, hi, box):
    r"""``\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]`` at ``p``: 1 (ints in ``box``), 0, or -1 (a
    number too long: fall back)."""
    q = p + 1
    for k in range(4):
        v, r = digits(t, q, hi)
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


def scan_rec_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """VLM-R1 REC's reading of a batch: ``(values, fallback)`` with ``values`` ``(B, 6)``: box
    found, the box's four ints (in the model's input frame) and the format, ``fallback``
    marking rows left for `rec_accuracy` / `rec_format`. O(total length).

    Examples:
        >>> values, fallback = scan_rec_batch(['<think>a</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'])
        >>> values.tolist(), fallback.tolist()
        ([[1.0, 1.0, 2.0, 3.0, 4.0, 1.0]], [False])
    """
    t, offsets = characters(texts)
    out = np.zeros((len(texts), 7))
    if len(texts):
        launch("scan", len(texts), _rec_serial, _rec_parallel, t, offsets, out)
    return out[:, 1:], out[:, 0].astype(bool)
