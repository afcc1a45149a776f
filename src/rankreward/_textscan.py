"""Text-scanning kernels shared by the recipes' batch scanners (``recipes/*/scan.py``).

A batch of texts becomes one flat array of code points (`characters`: Latin-1 bytes when they
fit, else UTF-32) with per-text offsets; the Numba functions here read that array between two
offsets with Python's own semantics: ``str.isspace``, ``str.find``, the ``<think>...</think>
<answer>...</answer>`` full match, and JSON numbers read the way ``json`` + ``float`` read them
(Clinger's exact fast path; anything else says "not ok" and the caller falls back to Python).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["MAX_EXACT_COORDINATE", "POW10", "at", "characters", "codes", "digits", "find",
           "isspace", "json_number", "pymax", "pymin", "skip_json_space", "skip_spaces",
           "structure_ok_at"]  # fmt: skip


def codes(s: str) -> np.ndarray:
    """``s`` as an int64 array of code points (a pattern for `at` / `find`)."""
    return np.array([ord(c) for c in s], np.int64)


T_THINK, T_ANSWER = codes("<think>"), codes("<answer>")
T_END_THINK, T_END_ANSWER = codes("</think>"), codes("</answer>")
POW10 = np.array([10.0**k for k in range(23)])
#: The recipe scanners send larger numbers to the Python path (their squares must stay exact
#: in float64).
MAX_EXACT_COORDINATE = 1e6


def characters(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The batch as one array of code points (uint8 when Latin-1 fits, else uint32) and the
    offsets of each text. O(total length), two C-level copies."""
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(texts)
    try:
        chars = np.frombuffer(joined.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        # surrogatepass: a lone surrogate (a tokenizer can decode one) is a code point like any
        # other here; the scanners leave non-ASCII rows to the Python path
        chars = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
    return chars, offsets


@nb.njit(cache=True, inline="always")
def isspace(c):
    """``str.isspace`` (and ``re``'s ``\\s``) for one code point."""
    if c <= 32:
        return c == 32 or 9 <= c <= 13 or 28 <= c <= 31
    if c < 0x85:
        return False
    return (c == 0x85 or c == 0xA0 or c == 0x1680 or 0x2000 <= c <= 0x200A or c == 0x2028
            or c == 0x2029 or c == 0x202F or c == 0x205F or c == 0x3000)  # fmt: skip


@nb.njit(cache=True, inline="always")
def skip_spaces(t, p, hi):
    """The first position from ``p`` (below ``hi``) that is not ``\\s``, or ``hi``."""
    while p < hi and isspace(t[p]):
        p += 1
    return p


@nb.njit(cache=True, inline="always")
def skip_json_space(t, p, hi):
    """The first position from ``p`` (below ``hi``) that is not JSON whitespace (space, tab,
    newline, carriage return), or ``hi``."""
    while p < hi and (t[p] == 32 or t[p] == 9 or t[p] == 10 or t[p] == 13):
        p += 1
    return p


@nb.njit(cache=True, inline="always")
def at(t, p, hi, pat):
    """Whether ``pat`` occurs at ``p`` and ends by ``hi``."""
    if p + pat.shape[0] > hi:
        return False
    for k in range(pat.shape[0]):
        if t[p + k] != pat[k]:
            return False
    return True


@nb.njit(cache=True)
def find(t, lo, hi, pat):
    """``str.find(pat, lo, hi)``: the first match lying wholly in ``[lo, hi)``, or -1."""
    first = pat[0]
    for p in range(lo, hi - pat.shape[0] + 1):
        if t[p] == first and at(t, p, hi, pat):
            return p
    return -1


@nb.njit(cache=True)
def structure_ok_at(t, lo, hi):
    """``parser.structure_ok``: starts with <think>, ends with </answer>, and the first
    ``</think>\\s*<answer>`` after the opening tag ends before the closing one."""
    if not (at(t, lo, hi, T_THINK) and hi - lo >= 9 and at(t, hi - 9, hi, T_END_ANSWER)):
        return False
    p = lo + 7
    while True:
        p = find(t, p, hi, T_END_THINK)
        if p < 0:
            return False
        q = skip_spaces(t, p + 8, hi)
        if at(t, q, hi, T_ANSWER):
            return q + 8 <= hi - 9
        p += 1


@nb.njit(cache=True)
def json_number(t, p, e, max_coordinate):
    """A JSON number at ``p`` as Python's ``json`` + ``float`` read it: ``(ok, value, end)``.
    ``ok`` is False where the exact fast path does not apply (the caller then falls back)."""
    neg = t[p] == 45  # "-"
    if neg:
        p += 1
    if p >= e or not 48 <= t[p] <= 57:
        return False, 0.0, p
    w = 0
    digits = 0  # significant digits in w
    if t[p] == 48:
        p += 1
    else:
        while p < e and 48 <= t[p] <= 57:
            w = w * 10 + (t[p] - 48)
            digits += 1
            p += 1
            if digits > 15:
                return False, 0.0, p
    is_float = False
    exp10 = 0
    if p < e and t[p] == 46:  # "."
        is_float = True
        p += 1
        if p >= e or not 48 <= t[p] <= 57:
            return False, 0.0, p
        while p < e and 48 <= t[p] <= 57:
            w = w * 10 + (t[p] - 48)
            if w:
                digits += 1
            exp10 -= 1
            p += 1
            if digits > 15:
                return False, 0.0, p
    if p < e and (t[p] == 101 or t[p] == 69):  # "e" "E"
        is_float = True
        p += 1
        sign = 1
        if p < e and (t[p] == 43 or t[p] == 45):
            sign = -1 if t[p] == 45 else 1
            p += 1
        if p >= e or not 48 <= t[p] <= 57:
            return False, 0.0, p
        x = 0
        while p < e and 48 <= t[p] <= 57:
            x = x * 10 + (t[p] - 48)
            p += 1
            if x > 1000:
                return False, 0.0, p
        exp10 += sign * x
    if not is_float:
        v = float(w)  # an int: -0 is 0
    elif w == 0:
        v = 0.0  # a float zero keeps its sign below
    elif exp10 >= 0:
        if exp10 > 22:
            return False, 0.0, p
        v = w * POW10[exp10]
    else:
        if exp10 < -22:
            return False, 0.0, p
        v = w / POW10[-exp10]
    if neg and (is_float or w):
        v = -v
    if abs(v) > max_coordinate:
        return False, 0.0, p
    return True, v, p


@nb.njit(cache=True, inline="always")
def pymax(a, b):
    """Python's ``max(a, b)``: ``a`` unless ``b > a`` (so the sign of an equal zero is a's)."""
    return b if b > a else a


@nb.njit(cache=True, inline="always")
def pymin(a, b):
    """Python's ``min(a, b)``: ``a`` unless ``b < a``."""
    return b if b < a else a


@nb.njit(cache=True)
def digits(t, p, e):
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
