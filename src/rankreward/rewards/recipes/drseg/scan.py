"""The batch scanner: every completion of a batch parsed in one compiled pass.

`parse_completion` and `non_repeat_problems` are the readable rules, one completion at a time.
This module computes the same results for a whole batch with one Numba kernel over the batch's
characters (one flat array, Latin-1 bytes or UTF-32 code points), in parallel threads:

* the tag scan (sections, nesting, stray and unclosed tags, the 64-tag check cap), structure,
  text outside the tags and the look blocks, with Python's ``str.isspace`` whitespace;
* the answer, when it is the canonical ``[{"bbox_2d": [4 numbers], "point_2d": [2 numbers]}, ...]``
  JSON: a grammar check, the paper's answer-items sum and the coordinates. JSON numbers are
  converted with Clinger's exact fast path (at most 15 significant digits and a power of ten
  up to 1e22: one correctly rounded multiplication or division, the value ``float()`` gives);
  anything else (other JSON, more digits, malformed items) is flagged for ``read_answer``;
* non_repeat for ASCII completions (placeholder phrases and repeated sentences); other texts
  are flagged for ``non_repeat_problems``, since Unicode lower-casing and ``\\W`` are Python's.

Problems come back as small integer records that `problems_of` turns into the same
`Problem` strings the Python parser writes. The tests check the two paths against each other
on the rule tables, on hypothesis-generated text and on the synthetic benchmark batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba as nb
import numpy as np

from ...._parallel import launch
from ...._textscan import T_ANSWER as _T_ANSWER
from ...._textscan import T_END_ANSWER as _T_END_ANSWER
from ...._textscan import T_END_THINK as _T_END_THINK
from ...._textscan import T_THINK as _T_THINK
from ...._textscan import at as _at
from ...._textscan import characters as _characters
from ...._textscan import codes as _codes
from ...._textscan import find as _find
from ...._textscan import isspace as _isspace
from ...._textscan import json_number as _number
from ...._textscan import skip_json_space as _skip_json_space
from ...._textscan import skip_spaces
from ...._textscan import structure_ok_at as _structure_ok
from .parser import DETAIL, MAX_COORDINATE, MAX_TAGS_CHECKED, Problem, make_problem
from .prompt import PLACEHOLDER_PHRASES
from .rules import EDGE, SENTENCE_END

__all__ = ["BatchScan", "problems_of", "scan_batch"]

# Problem codes of the records, in the order the Python parser can emit them.
CODES = ("too_long", "no_think", "no_answer", "nested_tag", "stray_close", "many_tags",
         "unclosed_tag", "structure", "text_outside_tags", "no_look")  # fmt: skip
(TOO_LONG, NO_THINK, NO_ANSWER, NESTED, STRAY, MANY, UNCLOSED, STRUCTURE, OUTSIDE,
 NO_LOOK) = range(len(CODES))  # fmt: skip
assert set(CODES) == set(DETAIL)
#: Record fields: code, then up to four integers (tag name, position, other name, count).
_FIELDS = 5
_MAX_RECORDS = len(CODES)
NAMES = ("think", "answer", "look")
#: Status flags: the answer needs `read_answer`; non_repeat needs `non_repeat_problems`.
NEEDS_ANSWER, NEEDS_NON_REPEAT = 1, 2
#: non_repeat outcomes.
NR_OK, NR_PLACEHOLDER, NR_REPEATED, NR_TOO_LONG = 0, 1, 2, 3
#: Columns of the per-completion integer results.
_SPAN_LO, _SPAN_HI, _CANONICAL, _KEPT, _STATUS, _NUM_RECORDS, _NR = range(7)
_INT_COLUMNS = _NR + 3  # the non_repeat outcome and two details
#: Every canonical object takes at least this many characters (``{"bbox_2d":[0,0,0,0],
#: "point_2d":[0,0]}`` takes 38), so a completion starting at character ``s`` can own the
#: coordinate rows from ``s // _MIN_OBJECT_CHARS`` on without overlapping the next one.
_MIN_OBJECT_CHARS = 32


_OPEN = (_T_THINK, _T_ANSWER, _codes("<look>"))
_CLOSE = (_T_END_THINK, _T_END_ANSWER, _codes("</look>"))
_T_LOOK, _T_END_LOOK = _OPEN[2], _CLOSE[2]
_K_BBOX, _K_POINT = _codes('bbox_2d"'), _codes('point_2d"')
# Character classes of the ASCII non_repeat rules (from rules.py), one lookup per character.
# _WORD is re's \w on ASCII (letters, digits, underscore): the placeholder's \b and separators.
_SPACE, _END, _EDGE_CHAR, _WORD = 1, 2, 4, 8
_classes = np.zeros(128, np.uint8)
for _c in range(128):
    _ch = chr(_c)
    _classes[_c] = ((_SPACE if _ch.isspace() else 0)
                    | (_END if SENTENCE_END.fullmatch(_ch) else 0)
                    | (_EDGE_CHAR if _ch in EDGE else 0)
                    | (_WORD if _ch.isalnum() or _ch == "_" else 0))  # fmt: skip


def _phrase_arrays(phrases: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Placeholder phrases as code arrays ``(P, W, L)``, word lengths ``(P, W)`` and word counts
    ``(P,)``; ``None`` if a phrase is not ASCII alphanumeric words (then the Python rule runs)."""
    words = [p.split() for p in phrases]
    if not all(ws and all(w.isascii() and w.isalnum() for w in ws) for ws in words):
        return None
    P = max(len(words), 1)
    W = max((len(ws) for ws in words), default=1)
    L = max((len(w) for ws in words for w in ws), default=1)
    codes = np.zeros((P, W, L), np.int64)
    lens = np.zeros((P, W), np.int64)
    count = np.zeros(P, np.int64)
    for i, ws in enumerate(words):
        count[i] = len(ws)
        for j, w in enumerate(ws):
            codes[i, j, : len(w)] = _codes(w.lower())
            lens[i, j] = len(w)
    return codes, lens, count


@functools.lru_cache(maxsize=64)
def _rules(phrases: tuple[str, ...]) -> tuple[tuple, bool]:
    """What the kernels take from the Python rules, passed as an argument rather than read as
    globals (Numba freezes globals into its on-disk cache and would not notice a change in
    parser.py, rules.py or prompt.py; it only watches this file), and whether the phrases can
    be matched in the kernel."""
    arrays = _phrase_arrays(phrases)
    ok = arrays is not None and len(phrases) > 0
    if not ok:
        arrays = (np.zeros((1, 1, 1), np.int64), np.zeros((1, 1), np.int64), np.zeros(1, np.int64))
    return (_classes, *arrays, MAX_COORDINATE, MAX_TAGS_CHECKED), ok


@nb.njit(cache=True)
def _tag_at(t, p, hi):
    """The tag starting at ``p``: ``(name 0..2, closing, end)``, or name -1."""
    closing = p + 1 < hi and t[p + 1] == 47  # "/"
    for name in range(3):
        pat = _CLOSE[name] if closing else _OPEN[name]
        if _at(t, p, hi, pat):
            return name, closing, p + pat.shape[0]
    return -1, False, p + 1


@nb.njit(cache=True)
def _note(rec, nrec, slot, code, a, b, c):
    """Count one occurrence of ``code``; the first one keeps its details (insertion order)."""
    k = slot[code]
    if k < 0:
        k = nrec
        slot[code] = k
        rec[k, 0] = code
        rec[k, 1] = a
        rec[k, 2] = b
        rec[k, 3] = c
        rec[k, 4] = 0
        nrec += 1
    rec[k, 4] += 1
    return nrec


@nb.njit(cache=True)
def _tag_problems(t, lo, hi, rec, nrec, slot, max_tags):
    """The port of ``parser._sections``: one pass over the tags, problems noted in order."""
    stack_name = np.empty(max_tags, np.int64)
    stack_pos = np.empty(max_tags, np.int64)
    open_count = np.zeros(3, np.int64)
    sp = 0
    seen = 0
    p = lo
    while p < hi:
        while p < hi and t[p] != 60:  # "<"
            p += 1
        if p == hi:
            break
        name, closing, end = _tag_at(t, p, hi)
        if name < 0:
            p += 1
            continue
        pos = p - lo
        p = end
        seen += 1
        if seen > max_tags:  # past the check cap tags are only counted
            continue
        if not closing:
            if open_count[name]:
                nrec = _note(rec, nrec, slot, NESTED, name, pos, name)
            elif name != 2 and sp:
                nrec = _note(rec, nrec, slot, NESTED, name, pos, stack_name[sp - 1])
            stack_name[sp] = name
            stack_pos[sp] = pos
            sp += 1
            open_count[name] += 1
        elif sp and stack_name[sp - 1] == name:
            sp -= 1
            open_count[name] -= 1
        else:
            nrec = _note(rec, nrec, slot, STRAY, name, pos, 0)
            if open_count[name]:  # close through the unclosed inner tags
                while sp:
                    sp -= 1
                    inner = stack_name[sp]
                    open_count[inner] -= 1
                    if inner == name:
                        break
    if seen > max_tags:
        nrec = _note(rec, nrec, slot, MANY, seen, max_tags, 0)
        sp = 0  # what is still open may close after the cap: not reported
    for k in range(sp):
        nrec = _note(rec, nrec, slot, UNCLOSED, stack_name[k], stack_pos[k], 0)
    return nrec


@nb.njit(cache=True)
def _blank(t, lo, hi):
    for p in range(lo, hi):
        if not _isspace(t[p]):
            return False
    return True


@nb.njit(cache=True)
def _has_look(t, lo, hi):
    """``parser._look_counts``: the first ``<look>`` in ``[lo, hi)``, its first non-space
    character, and a ``</look>`` after that character (the released regex)."""
    s = _find(t, lo, hi, _T_LOOK)
    if s < 0:
        return False
    j = skip_spaces(t, s + 6, hi)
    return j < hi and _find(t, j + 1, hi, _T_END_LOOK) >= 0


@nb.njit(cache=True)
def _canonical_answer(t, p, e, coords, row, row_limit, max_objects, max_coordinate):
    """Read ``[{"bbox_2d": [4 numbers], "point_2d": [2 numbers]}, ...]`` (keys in either order,
    JSON whitespace anywhere) from ``[p, e)``; the first ``max_objects`` objects' coordinates go
    to ``coords[row:]`` as (x1, y1, x2, y2, px, py). Returns ``(ok, items, kept)``; not ok means
    anything else, which ``read_answer`` then handles."""
    p = _skip_json_space(t, p, e)
    if p >= e or t[p] != 91:  # "["
        return False, 0, 0
    p = _skip_json_space(t, p + 1, e)
    items = 0
    if p < e and t[p] == 93:  # "]"
        return _skip_json_space(t, p + 1, e) == e, 0, 0
    while True:
        if p >= e or t[p] != 123:  # "{"
            return False, 0, 0
        keep = items < max_objects
        if keep and row + items >= row_limit:
            return False, 0, 0
        seen_box = seen_point = False
        p = _skip_json_space(t, p + 1, e)
        while True:
            if p >= e or t[p] != 34:  # '"'
                return False, 0, 0
            if _at(t, p + 1, e, _K_BBOX):
                if seen_box:
                    return False, 0, 0  # a repeated key: json keeps the last, leave it to json
                seen_box, base, size, p = True, 0, 4, p + 1 + _K_BBOX.shape[0]
            elif _at(t, p + 1, e, _K_POINT):
                if seen_point:
                    return False, 0, 0
                seen_point, base, size, p = True, 4, 2, p + 1 + _K_POINT.shape[0]
            else:
                return False, 0, 0
            p = _skip_json_space(t, p, e)
            if p >= e or t[p] != 58:  # ":"
                return False, 0, 0
            p = _skip_json_space(t, p + 1, e)
            if p >= e or t[p] != 91:
                return False, 0, 0
            p = _skip_json_space(t, p + 1, e)
            for k in range(size):
                if p >= e:
                    return False, 0, 0
                ok, v, p = _number(t, p, e, max_coordinate)
                if not ok:
                    return False, 0, 0
                if keep:
                    coords[row + items, base + k] = v
                p = _skip_json_space(t, p, e)
                if p >= e or t[p] != (93 if k == size - 1 else 44):  # "]" or ","
                    return False, 0, 0
                p = _skip_json_space(t, p + 1, e)
            if p < e and t[p] == 44:
                p = _skip_json_space(t, p + 1, e)
                continue
            if p < e and t[p] == 125:  # "}"
                break
            return False, 0, 0
        if not (seen_box and seen_point):
            return False, 0, 0
        items += 1
        p = _skip_json_space(t, p + 1, e)
        if p < e and t[p] == 44:
            p = _skip_json_space(t, p + 1, e)
            continue
        if p < e and t[p] == 93:
            return _skip_json_space(t, p + 1, e) == e, items, min(items, max_objects)
        return False, 0, 0


@nb.njit(cache=True, inline="always")
def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


@nb.njit(cache=True)
def _phrase_at(t, s, lo, hi, ph, classes, phrases, phrase_len, phrase_words):
    """End of placeholder phrase ``ph`` matched at ``s`` (the released ``\\bw1[\\s\\W]*w2
    ...\\b``, ASCII letters case-insensitive), or -1."""
    if s > lo and classes[t[s - 1]] & _WORD:
        return -1
    p = s
    for w in range(phrase_words[ph]):
        if w:
            while p < hi and not classes[t[p]] & _WORD:
                p += 1
        n = phrase_len[ph, w]
        if p + n > hi:
            return -1
        for k in range(n):
            if _lower(t[p + k]) != phrases[ph, w, k]:
                return -1
        p += n
    if p < hi and classes[t[p]] & _WORD:
        return -1
    return p


@nb.njit(cache=True)
def _placeholder(t, lo, hi, classes, phrases, phrase_len, phrase_words):
    """``rules.non_repeat_problems``' placeholder search on ASCII text: the first phrase (in
    order) found anywhere, at its leftmost occurrence; returns ``(phrase, start, end)``, phrase
    -1 if none. One pass over the text; a phrase can only start where ``c | 32`` equals its
    first character's (that is the character or its capital, or a non-letter the full check
    then rejects)."""
    nph = phrases.shape[0]
    best, best_s, best_e = nph, 0, 0
    for s in range(lo, hi):
        c = t[s] | 32
        for ph in range(best):
            if c == phrases[ph, 0, 0] | 32:
                e = _phrase_at(t, s, lo, hi, ph, classes, phrases, phrase_len, phrase_words)
                if e >= 0:
                    best, best_s, best_e = ph, s, e
                    break
        if best == 0:
            break
    if best == nph:
        return -1, 0, 0
    return best, best_s - lo, best_e - lo


@nb.njit(cache=True, inline="always")
def _sentence_key(norm, start, end):
    """A cheap key of a normalised sentence: its length and its first and last 8 characters
    (equal sentences have equal keys; the rare unequal ones with equal keys are told apart by
    the exact comparison)."""
    h = np.int64(end - start)
    for p in range(start, min(start + 8, end)):
        h = h * np.int64(131) + norm[p]
    for p in range(max(end - 8, start), end):
        h = h * np.int64(131) + norm[p]
    return h


@nb.njit(cache=True, inline="always")
def _same(norm, starts, i, j):
    li = starts[i + 1] - starts[i]
    if starts[j + 1] - starts[j] != li:
        return False
    for c in range(li):
        if norm[starts[i] + c] != norm[starts[j] + c]:
            return False
    return True


@nb.njit(cache=True)
def _repeats(t, lo, hi, classes):
    """``rules.non_repeat_problems``' repeat count on ASCII text: sentences split on runs of
    ``.!?``, normalised (strip, strip edge characters, whitespace runs to one space, lower),
    empty ones dropped;
    how many repeat an earlier one. Sentences are sorted by a cheap key of their length and
    edge characters; equal keys are told apart by a hash of the whole sentence, then exactly."""
    ends = 0  # sentence-end runs: two repeats need at least three sentences
    prev = 0
    for p in range(lo, hi):
        cur = classes[t[p]] & _END
        ends += cur > prev
        prev = cur
    if ends < 2:
        return 0
    norm = np.empty(hi - lo, np.uint8)  # ASCII only
    starts = np.empty(ends + 2, np.int64)
    keys = np.empty(ends + 2, np.int64)
    n = 0
    used = 0
    a = lo
    while True:
        b = a
        while b < hi and not classes[t[b]] & _END:
            b += 1
        # the piece [a, b): strip whitespace, then the edge characters (the space among them,
        # no other whitespace), then each whitespace run becomes one space, ends included
        s, e = a, b
        while s < e and classes[t[s]] & _SPACE:
            s += 1
        while e > s and classes[t[e - 1]] & _SPACE:
            e -= 1
        while s < e and classes[t[s]] & _EDGE_CHAR:
            s += 1
        while e > s and classes[t[e - 1]] & _EDGE_CHAR:
            e -= 1
        start = used
        p = s
        while p < e:
            if classes[t[p]] & _SPACE:
                norm[used] = 32
                used += 1
                while p < e and classes[t[p]] & _SPACE:
                    p += 1
            else:
                norm[used] = _lower(t[p])
                used += 1
                p += 1
        if used > start:
            starts[n] = start
            keys[n] = _sentence_key(norm, start, used)
            n += 1
        if b == hi:
            break
        a = b
        while a < hi and classes[t[a]] & _END:
            a += 1
    starts[n] = used
    order = np.argsort(keys[:n], kind="mergesort")
    distinct = 0
    reps = np.empty(n, np.int64)
    full = np.empty(n, np.int64)
    k = 0
    while k < n:
        g = k + 1
        while g < n and keys[order[g]] == keys[order[k]]:
            g += 1
        if g - k == 1:
            distinct += 1
            k = g
            continue
        # Equal cheap keys: order the group by a hash of the whole sentence, then compare
        # exactly within equal hashes (linear even for crafted sentences that share edges).
        for q in range(k, g):
            i = order[q]
            h = np.int64(-3750763034362895579)  # FNV-1a
            for c in range(starts[i], starts[i + 1]):
                h = (h ^ norm[c]) * np.int64(1099511628211)
            full[q] = h
        sub = np.argsort(full[k:g], kind="mergesort")
        q = 0
        while q < g - k:
            r = q + 1
            while r < g - k and full[k + sub[r]] == full[k + sub[q]]:
                r += 1
            nreps = 0
            for u in range(q, r):
                i = order[k + sub[u]]
                new = True
                for v in range(nreps):
                    if _same(norm, starts, i, reps[v]):
                        new = False
                        break
                if new:
                    reps[nreps] = i
                    nreps += 1
            distinct += nreps
            q = r
        k = g
    return n - distinct


@nb.njit(cache=True)
def _scan_one(t, lo, hi, ascii_only, max_chars, max_objects, rules, coords, row, out_f, out_i,
              rec):  # fmt: skip
    """One completion ``t[lo:hi]``; results go to its rows of the output arrays."""
    classes, phrases, phrase_len, phrase_words, max_coordinate, max_tags = rules
    slot = np.full(len(CODES), -1, np.int64)
    nrec = 0
    if hi - lo > max_chars:
        out_i[_NUM_RECORDS] = _note(rec, 0, slot, TOO_LONG, hi - lo, max_chars, 0)
        out_i[_NR] = NR_TOO_LONG
        return
    think_s = _find(t, lo, hi, _T_THINK)
    think_e = _find(t, think_s + 7, hi, _T_END_THINK) if think_s >= 0 else -1
    if think_s < 0:
        nrec = _note(rec, nrec, slot, NO_THINK, 0, 0, 0)
    ans_s = _find(t, lo, hi, _T_ANSWER)
    ans_e = _find(t, ans_s + 8, hi, _T_END_ANSWER) if ans_s >= 0 else -1
    if ans_s < 0:
        nrec = _note(rec, nrec, slot, NO_ANSWER, 0, 0, 0)
    nrec = _tag_problems(t, lo, hi, rec, nrec, slot, max_tags)
    structure = _structure_ok(t, lo, hi)
    if not structure:
        nrec = _note(rec, nrec, slot, STRUCTURE, 0, 0, 0)
        if think_e >= 0 and ans_e >= 0:
            if not (_blank(t, lo, think_s) and _blank(t, ans_e + 9, hi)):
                nrec = _note(rec, nrec, slot, OUTSIDE, 0, 0, 0)
    look = (think_e >= 0 and _has_look(t, think_s + 7, think_e)) or (
        ans_e >= 0 and _has_look(t, ans_s + 8, ans_e)
    )
    if not look:
        nrec = _note(rec, nrec, slot, NO_LOOK, 0, 0, 0)
    out_f[0] = 1.0 if structure else 0.0
    out_f[2] = 1.0 if look else 0.0
    status = 0
    if ans_e >= 0:
        s, e = ans_s + 8, ans_e
        while s < e and _isspace(t[s]):
            s += 1
        while e > s and _isspace(t[e - 1]):
            e -= 1
        out_i[_SPAN_LO] = s - lo
        out_i[_SPAN_HI] = e - lo
        ok, items, kept = _canonical_answer(
            t, s, e, coords, row, coords.shape[0], max_objects, max_coordinate
        )
        if ok:
            total = 0.0
            for _ in range(items):
                total += 2.0 / items  # the paper's per-item sum, in its order
            out_f[1] = total
            out_i[_CANONICAL] = 1
            out_i[_KEPT] = kept
        else:
            status |= NEEDS_ANSWER
    if ascii_only:
        ph, a, b = _placeholder(t, lo, hi, classes, phrases, phrase_len, phrase_words)
        if ph >= 0:
            out_i[_NR], out_i[_NR + 1], out_i[_NR + 2] = NR_PLACEHOLDER, a, b
        else:
            r = _repeats(t, lo, hi, classes)
            if r >= 2:
                out_i[_NR], out_i[_NR + 1] = NR_REPEATED, r
    else:
        status |= NEEDS_NON_REPEAT
    out_i[_STATUS] = status
    out_i[_NUM_RECORDS] = nrec


@nb.njit(cache=True)
def _scan_serial(t, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i, rec):
    for k in range(offsets.shape[0] - 1):
        _scan_at(
            t, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i, rec, k
        )


@nb.njit(cache=True, parallel=True)
def _scan_parallel(t, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i,
                   rec):  # fmt: skip
    for k in nb.prange(offsets.shape[0] - 1):
        _scan_at(
            t, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i, rec, k
        )


@nb.njit(cache=True, inline="always")
def _scan_at(t, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i, rec, k):
    lo, hi = offsets[k], offsets[k + 1]
    _scan_one(t, lo, hi, ascii_only[k], max_chars, max_objects, rules, coords,
              lo // _MIN_OBJECT_CHARS, out_f[k], out_i[k], rec[k])  # fmt: skip


@dataclass
class BatchScan:
    """What `scan_batch` found, one row per completion.

    ``structure``, ``answer_items``, ``look``: the format parts (answer items only where
    ``objects_ok``-canonical, else filled in by the caller from `read_answer`);
    ``answer_span``: the stripped answer content (-1 without an answer); ``canonical``: the
    answer was read here; ``num_kept`` objects at ``coords[row:row + num_kept]``;
    ``status``: `NEEDS_ANSWER` / `NEEDS_NON_REPEAT` flags; ``records``/``num_records``: tag
    problems; ``non_repeat``: (`NR_*` outcome, two details).
    """

    structure: np.ndarray
    answer_items: np.ndarray
    look: np.ndarray
    answer_span: np.ndarray
    canonical: np.ndarray
    num_kept: np.ndarray
    row: np.ndarray
    status: np.ndarray
    num_records: np.ndarray
    records: np.ndarray
    non_repeat: np.ndarray
    coords: np.ndarray


def scan_batch(
    texts: list[str],
    *,
    max_chars: int,
    max_objects: int,
    phrases: tuple[str, ...] = PLACEHOLDER_PHRASES,
) -> BatchScan:
    """Scan every completion of ``texts`` at once (see the module docstring). O(total length)
    plus, per completion, a sort of its sentence hashes.

    Examples:
        >>> s = scan_batch(['<think><look>a</look></think><answer>[]</answer>', 'x'],
        ...                max_chars=1000, max_objects=120)
        >>> s.structure.tolist(), s.look.tolist(), s.canonical.tolist(), s.num_records.tolist()
        ([1.0, 0.0], [1.0, 0.0], [True, False], [0, 4])
    """
    chars, offsets = _characters(texts)
    n = len(texts)
    coords = np.empty((len(chars) // _MIN_OBJECT_CHARS + 1, 6))
    out_f = np.zeros((n, 3))
    out_i = np.zeros((n, _INT_COLUMNS), np.int64)
    out_i[:, _SPAN_LO : _SPAN_HI + 1] = -1
    rec = np.zeros((n, _MAX_RECORDS, _FIELDS), np.int64)
    rules, kernel_phrases = _rules(tuple(phrases))
    # non_repeat runs here for ASCII texts (and phrases the kernel can match), else in Python
    ascii_only = np.fromiter((kernel_phrases and t.isascii() for t in texts), np.bool_, n)
    args = (chars, offsets, ascii_only, max_chars, max_objects, rules, coords, out_f, out_i, rec)
    if n:
        launch("scan", n, _scan_serial, _scan_parallel, *args)
    return BatchScan(
        structure=out_f[:, 0],
        answer_items=out_f[:, 1],
        look=out_f[:, 2],
        answer_span=out_i[:, _SPAN_LO : _SPAN_HI + 1],
        canonical=out_i[:, _CANONICAL].astype(bool),
        num_kept=out_i[:, _KEPT],
        row=offsets[:-1] // _MIN_OBJECT_CHARS,
        status=out_i[:, _STATUS],
        num_records=out_i[:, _NUM_RECORDS],
        records=rec,
        non_repeat=out_i[:, _NR : _NR + 3],
        coords=coords,
    )


def problems_of(scan: BatchScan, k: int) -> list[Problem]:
    """The tag-scan problems of completion ``k`` as `Problem` objects, exactly as
    `parse_completion` lists them (its answer problems come after these).

    Examples:
        >>> s = scan_batch(['<think><look>a</look>'], max_chars=1000, max_objects=120)
        >>> [str(p) for p in problems_of(s, 0)][:2]
        ['no_answer: no <answer> section', 'unclosed_tag: <think> at 0 is never closed']
    """
    out = []
    for code, a, b, c, count in scan.records[k, : scan.num_records[k]].tolist():
        name = CODES[code]
        more = count - 1
        if code == NESTED:
            out.append(make_problem(name, NAMES[a], b, NAMES[c], more=more))
        elif code in (STRAY, UNCLOSED):
            out.append(make_problem(name, NAMES[a], b, more=more))
        elif code in (MANY, TOO_LONG):
            out.append(make_problem(name, a, b, more=more))
        else:
            out.append(make_problem(name))
    return out
