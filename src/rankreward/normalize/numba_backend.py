"""Numba backend: a ring buffer (FIFO order) plus a sorted multiset kept without re-sorting.

Per metric the window multiset is ``main + ins - dels``: three sorted arrays. ``main`` is large;
``ins`` holds the values appended since the last compaction and ``dels`` the evicted values still
physically present in ``main``. A step that appends ``b`` values and evicts ``e``:

* merges the sorted batch into ``ins`` and the sorted evictions into ``dels``: O(T + b log b),
  where T is the buffer limit; or, when a buffer would exceed T,
* compacts in place: one forward pass over ``main`` removes the deletions, one backward pass
  merges the insertions: O(n + b log b), no extra window-sized buffer, never a re-sort.

With T = 2 sqrt(n b) the amortised cost per step is O(sqrt(n b) + b log b) instead of O(n), which
is what makes million-value windows cheap. Windows up to ``SMALL_WINDOW`` compact on every step
(a pass over a few thousand floats is cheaper than three searches per query) unless the batch is
tiny (below 1/64 of the window: then copying the whole window each step costs more than the
extra searches, and the buffers are used); and when a batch replaces at least a quarter of such a
window, the whole window is re-sorted by numpy's SIMD sort after the ring is written (one sort of
n beats two sorts of b and a merge).

A rank query counts ``c = bound(main) + bound(ins) - bound(dels)``: O(log n) per value.
Memory: ``ring`` and ``main`` (``capacity`` each, allocated as the window fills) plus buffers of
O(T + b): about twice the raw data. The tests hold every path to the `SortedBackend` reference.
"""

from __future__ import annotations

import functools
import math

import numba as nb
import numpy as np

from .._parallel import THRESHOLDS, launch

__all__ = ["NumbaBackend"]

#: Windows up to this capacity compact on every step (no insert/delete buffers)...
SMALL_WINDOW = 1 << 13
#: ...unless the batch is below 1/SMALL_BATCH_RATIO of the window.
SMALL_BATCH_RATIO = 64
#: Above this many window values (all metrics together) the metrics run in parallel threads.

#: Batches at least this large are sorted with numpy before the kernel runs.
PRESORT = 64
# A small window whose batch is at least 1/REBUILD_RATIO of it is re-sorted whole after the
# append (see `NumbaBackend._step_rebuild`).
REBUILD_RATIO = 4

_SIDE_CODES = {"left": 0, "right": 1, "both": 2}


# Branchless binary searches: on random queries a branchy search mispredicts at almost every
# level; the conditional move below makes each level a fixed few cycles (about 3x faster).
@nb.njit(cache=True, inline="always")
def _lower_bound(a, n, x):
    """Number of elements of sorted ``a[:n]`` that are ``< x``."""
    if n == 0:
        return 0
    base = 0
    while n > 1:
        half = n >> 1
        base = base + half if a[base + half] < x else base
        n -= half
    return base + (1 if a[base] < x else 0)


@nb.njit(cache=True, inline="always")
def _upper_bound(a, n, x):
    """Number of elements of sorted ``a[:n]`` that are ``<= x``."""
    if n == 0:
        return 0
    base = 0
    while n > 1:
        half = n >> 1
        base = base + half if a[base + half] <= x else base
        n -= half
    return base + (1 if a[base] <= x else 0)


# Queries are searched LOCKSTEP at a time, level by level: all searches of one window take the
# same number of levels, and interleaving independent searches lets the CPU overlap their loads
# instead of waiting on one dependent chain (3x faster on 2k windows, 5x on 1M, than one by one).
LOCKSTEP = 16


@nb.njit(cache=True)
def _add_counts(a, n, values, k, right, sign, acc):
    """acc[i] += sign * (number of a[:n] that are < values[i, k], or <= when ``right``)."""
    if n == 0:
        return
    b_total = values.shape[0]
    base = np.zeros(LOCKSTEP, dtype=np.int64)
    for g0 in range(0, b_total, LOCKSTEP):
        gn = min(LOCKSTEP, b_total - g0)
        for t in range(gn):
            base[t] = 0
        length = n
        while length > 1:
            half = length >> 1
            for t in range(gn):
                pos = base[t]
                x = values[g0 + t, k]
                v = a[pos + half]
                go = (v <= x) if right else (v < x)
                base[t] = pos + half if go else pos
            length -= half
        for t in range(gn):
            x = values[g0 + t, k]
            v = a[base[t]]
            last = (v <= x) if right else (v < x)
            acc[g0 + t] += sign * (base[t] + (1 if last else 0))


@nb.njit(cache=True)
def _all_finite(values):
    for x in values.ravel():
        if not np.isfinite(x):
            return False
    return True


@nb.njit(cache=True)
def _merge_into(buf, n, incoming):
    """Backward in-place merge of sorted ``incoming`` into sorted ``buf[:n]`` (buf has room).

    Branchless on the comparison (random data mispredicts half the time otherwise)."""
    w = n + incoming.shape[0] - 1
    r = n - 1
    j = incoming.shape[0] - 1
    while j >= 0:
        x = incoming[j]
        take_old = r >= 0 and buf[r] > x
        buf[w] = buf[r] if take_old else x
        r -= 1 if take_old else 0
        j -= 0 if take_old else 1
        w -= 1


@nb.njit(cache=True)
def _merged(a, na, b):
    """New sorted array of ``a[:na]`` and sorted ``b``."""
    out = np.empty(na + b.shape[0], dtype=a.dtype)
    out[:na] = a[:na]
    _merge_into(out, na, b)
    return out


@nb.njit(cache=True)
def _cancel_common(dels, ins):
    """Drop values present in both sorted multisets, pairwise (keeps dels a sub-multiset of
    main when some evicted values were still in the insert buffer)."""
    keep_d = np.ones(dels.shape[0], dtype=np.bool_)
    keep_i = np.ones(ins.shape[0], dtype=np.bool_)
    i = j = 0
    while i < dels.shape[0] and j < ins.shape[0]:
        if dels[i] < ins[j]:
            i += 1
        elif ins[j] < dels[i]:
            j += 1
        else:
            keep_d[i] = False
            keep_i[j] = False
            i += 1
            j += 1
    return dels[keep_d], ins[keep_i]


# Below one change per SPARSE elements a pass moves whole segments between the changes (tight
# copy loops); denser changes use a branch-free element loop (random data would mispredict).
SPARSE = 16


@nb.njit(cache=True)
def _deletion_positions(src, m, dels):
    """Index in sorted src[:m] of each value of the sorted sub-multiset ``dels``: the j-th of a
    run of equal deletions removes the j-th element of src's matching run."""
    nd = dels.shape[0]
    pos = np.empty(nd, dtype=np.int64)
    for j in range(nd):
        if j > 0 and dels[j] == dels[j - 1]:
            pos[j] = pos[j - 1] + 1
        else:
            pos[j] = _lower_bound(src, m, dels[j])
    return pos


@nb.njit(cache=True)
def _delete_sorted(main, m, dels):
    """In place: remove the sorted multiset ``dels`` (a sub-multiset of main[:m]); returns size."""
    nd = dels.shape[0]
    if nd == 0:
        return m
    if nd * SPARSE < m:
        pos = _deletion_positions(main, m, dels)
        w = pos[0]
        for j in range(nd):
            stop = pos[j + 1] if j + 1 < nd else m
            for r in range(pos[j] + 1, stop):
                main[w] = main[r]
                w += 1
        return w
    first = _lower_bound(main, m, dels[0])
    w = first
    j = 0
    for r in range(first, m):
        v = main[r]
        main[w] = v  # w <= r: writing before deciding is safe and branch-free
        hit = j < nd and v == dels[j]
        j += 1 if hit else 0
        w += 0 if hit else 1
    return w


@nb.njit(cache=True)
def _insert_sorted(buf, n, incoming):
    """In place: merge sorted ``incoming`` into sorted buf[:n] (buf has room)."""
    b = incoming.shape[0]
    if b * SPARSE >= n:
        _merge_into(buf, n, incoming)
        return
    # Sparse: from the largest incoming value down, shift the segment above it in one go.
    w_end = n + b
    r_end = n
    for j in range(b - 1, -1, -1):
        x = incoming[j]
        p = _upper_bound(buf, r_end, x)
        shift = w_end - r_end
        for t in range(r_end - 1, p - 1, -1):
            buf[t + shift] = buf[t]
        w_end -= r_end - p + 1
        buf[w_end] = x
        r_end = p


@nb.njit(cache=True)
def _compact(main, m, dels, ins):
    """In place: main[:m] - dels + ins (dels must be a sub-multiset of main[:m]). Returns size."""
    w = _delete_sorted(main, m, dels)
    _insert_sorted(main, w, ins)
    return w + ins.shape[0]


@nb.njit(cache=True)
def _merge_out(src, m, dels, ins, dst):
    """Out of place: dst[:m - nd + ni] = src[:m] - dels + ins, in one pass over src.

    Used for small windows, where a spare buffer is cheap and copies between two distinct
    arrays vectorise (in-place shifts cannot).
    """
    nd = dels.shape[0]
    ni = ins.shape[0]
    if (nd + ni) * SPARSE < m:
        # Sparse: copy the untouched segments between changes in tight loops.
        del_pos = _deletion_positions(src, m, dels)
        w = 0
        old = 0
        d = 0
        j = 0
        while True:
            nxt_d = del_pos[d] if d < nd else m
            nxt_i = _upper_bound(src, m, ins[j]) if j < ni else m
            stop = min(nxt_d, nxt_i)
            length = stop - old
            if length >= 32:
                # A slice copy is a memcpy; an index loop pays Numba's negative-index check on
                # every element and does not vectorise.
                dst[w : w + length] = src[old:stop]
            else:
                for t in range(length):
                    dst[w + t] = src[old + t]
            w += length
            old = stop
            if j < ni and nxt_i == old:
                dst[w] = ins[j]
                w += 1
                j += 1
            elif d < nd and nxt_d == old:
                old += 1
                d += 1
            else:
                return w
    # Dense: two branch-free passes (a three-way walk mispredicts on every other element of
    # random data): copy src to dst skipping the deletions, then merge the insertions in place.
    w = 0
    d = 0
    for r in range(m):
        v = src[r]
        dst[w] = v  # write first, then decide whether to keep it: no branch
        hit = d < nd and v == dels[d]
        d += 1 if hit else 0
        w += 0 if hit else 1
    _merge_into(dst, w, ins)
    return w + ni


@nb.njit(cache=True)
def _step_one(k, ring, main, spare, ins, dels, m, ni, nd, head, cap, values, compact, inc_s,
              ev_s):  # fmt: skip
    """Append values[:, k] to metric k (evicting the oldest beyond cap).

    ``inc_s`` / ``ev_s`` are the batch and the evicted values already sorted per metric (numpy's
    SIMD sort is several times faster than Numba's for large batches), or empty to sort here.
    """
    b = values.shape[0]
    n = m + ni - nd
    e = max(0, n + b - cap)
    if inc_s.shape[1] == b and b > 0:
        incoming = inc_s[k]
        evicted = ev_s[k]
    else:
        evicted = np.empty(e, dtype=main.dtype)
        # Indices stay below 2 * cap, so a compare-and-subtract replaces the (slow) modulo.
        for i in range(e):
            pos = head + i
            evicted[i] = ring[k, pos - cap if pos >= cap else pos]
        evicted.sort()
        incoming = values[:, k].copy()
        incoming.sort()
    if compact and ni == 0 and nd == 0 and spare.shape[1]:
        _merge_out(main[k], m, evicted, incoming, spare[k])
    elif compact and ni == 0 and nd == 0:
        # The window is exactly main, so the evicted values are all in it.
        _compact(main[k], m, evicted, incoming)
    elif compact:
        all_del = _merged(dels[k], nd, evicted)
        all_ins = _merged(ins[k], ni, incoming)
        all_del, all_ins = _cancel_common(all_del, all_ins)
        _compact(main[k], m, all_del, all_ins)
    else:
        _merge_into(dels[k], nd, evicted)
        _merge_into(ins[k], ni, incoming)
    start = (head + e) % cap + n - e
    for j in range(b):
        pos = start + j
        ring[k, pos - cap if pos >= cap else pos] = values[j, k]


@nb.njit(cache=True)
def _rank_one(k, main, ins, dels, m, ni, nd, values, side, denom, out):
    acc = np.zeros(values.shape[0], dtype=np.int64)
    for arr, size, sign in ((main[k], m, 1), (ins[k], ni, 1), (dels[k], nd, -1)):
        if side != 1:
            _add_counts(arr, size, values, k, False, sign, acc)
        if side != 0:
            _add_counts(arr, size, values, k, True, sign, acc)
    for i in range(values.shape[0]):
        out[i, k] = acc[i] / denom


@nb.njit(cache=True)
def _step_serial(ring, main, spare, ins, dels, values, out, st, denom, inc_s, ev_s):
    # st packs the scalars (one array argument dispatches faster than nine scalars):
    m, ni, nd, head, cap, side, do_rank, do_append, compact = st
    if not _all_finite(values):
        return False
    for k in range(values.shape[1]):
        if do_rank:
            _rank_one(k, main, ins, dels, m, ni, nd, values, side, denom, out)
        if do_append:
            _step_one(k, ring, main, spare, ins, dels, m, ni, nd, head, cap, values, compact, inc_s,
                          ev_s)  # fmt: skip
    return True


@nb.njit(cache=True, parallel=True)
def _step_parallel(ring, main, spare, ins, dels, values, out, st, denom, inc_s, ev_s):
    m, ni, nd, head, cap, side, do_rank, do_append, compact = st
    if not _all_finite(values):
        return False
    for k in nb.prange(values.shape[1]):
        if do_rank:
            _rank_one(k, main, ins, dels, m, ni, nd, values, side, denom, out)
        if do_append:
            _step_one(k, ring, main, spare, ins, dels, m, ni, nd, head, cap, values, compact, inc_s,
                          ev_s)  # fmt: skip
    return True


class NumbaBackend:
    """Ring buffer + sorted main array with insert/delete buffers, compiled with Numba.

    Examples:
        >>> b = NumbaBackend(num_metrics=1, capacity=3, dtype=np.float64)
        >>> b.append(np.array([[1.0], [2.0], [2.0], [5.0]]))
        >>> b.values().ravel().tolist()
        [2.0, 2.0, 5.0]
        >>> b.counts(np.array([[2.0]]), "right").tolist()
        [[2]]
    """

    name = "numba"

    def __init__(self, num_metrics: int, capacity: int, dtype: np.dtype | type) -> None:
        self.num_metrics = num_metrics
        self.capacity = capacity
        self.dtype = np.dtype(dtype)
        k = num_metrics
        self._alloc = 0  # allocated length of ring and main (grows to capacity)
        self._ring = np.empty((k, 0), dtype=self.dtype)
        self._main = np.empty((k, 0), dtype=self.dtype)
        self._spare = np.empty((k, 0), dtype=self.dtype)  # small windows: out-of-place merges
        self._ins = np.empty((k, 0), dtype=self.dtype)
        self._dels = np.empty((k, 0), dtype=self.dtype)
        self._m = self._ni = self._nd = 0
        self._head = 0
        self._no_out = np.empty((0, k), dtype=np.float64)
        self._st = np.zeros(9, dtype=np.int64)  # the kernel's packed scalars
        self._no_sorted = np.empty((k, 0), dtype=self.dtype)

    def __len__(self) -> int:
        return self._m + self._ni - self._nd

    def native(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=self.dtype)

    # -------------------------------------------------------------- the fused step
    def step(self, values: np.ndarray, side: str | None, denom: int, append: bool):
        """Check finiteness, then optionally rank (count / denom) and append, in one call.

        Returns ``(finite, fractions)``; when ``finite`` is False nothing was changed.
        Complexity: O(B K log n) to rank; amortised O(K (sqrt(n B) + B log B)) to append.
        """
        if append and values.shape[0] > self.capacity:
            # Rank (or check) the whole batch; only its last `capacity` rows can stay.
            ok, out = self._step(values, side, denom, append=False)
            if ok:
                self._step(values[-self.capacity :], None, denom, append=True)
            return ok, out
        return self._step(values, side, denom, append)

    def _step(self, values: np.ndarray, side: str | None, denom: int, append: bool):
        b = values.shape[0]
        do_rank = side is not None
        out = np.empty(values.shape, dtype=np.float64) if do_rank else self._no_out
        n = len(self)
        append = append and b > 0
        compact = True
        if append:
            if self._alloc < self.capacity and n + b > self._alloc:
                self._grow(n + b)
            compact = self._plan(b)
        cap = max(self._alloc, 1)
        kernel = (
            functools.partial(launch, "rank", 0, None, _step_parallel)  # under the launch lock
            if self.num_metrics > 1 and n * self.num_metrics >= THRESHOLDS["rank"]
            else _step_serial
        )
        rebuild = self.capacity <= SMALL_WINDOW and b * REBUILD_RATIO >= cap
        if append and compact and rebuild and self._ni == 0 and self._nd == 0:
            return self._step_rebuild(kernel, values, out, side, denom, do_rank, n, b, cap)
        st = self._pack(cap, side, do_rank, append, compact)
        inc_s = ev_s = self._no_sorted
        if append and b >= PRESORT:
            if not _all_finite(values):
                return False, None
            e = max(0, n + b - cap)
            inc_s = np.sort(values.T, axis=1)
            ev_s = np.sort(self._evicted(e, cap), axis=1)
        # The kernel merges out of place (into spare) only from a buffer-free window.
        out_of_place = self._spare.shape[1] > 0 and self._ni == 0 and self._nd == 0
        ok = kernel(self._ring, self._main, self._spare, self._ins, self._dels, values, out, st,
                    float(denom), inc_s, ev_s)  # fmt: skip
        if not ok:
            return False, None
        if append:
            e = max(0, n + b - cap)
            if compact:
                self._m, self._ni, self._nd = n + b - e, 0, 0
                if out_of_place:  # the merge went into spare: swap buffers
                    self._main, self._spare = self._spare, self._main
            else:
                self._ni += b
                self._nd += e
            self._head = (self._head + e) % cap
        return True, (out if do_rank else None)

    def _evicted(self, e: int, cap: int) -> np.ndarray:
        """The ``e`` oldest ring columns: one slice, or two when they wrap (no fancy index)."""
        h = self._head
        if h + e <= cap:
            return self._ring[:, h : h + e]
        return np.concatenate([self._ring[:, h:cap], self._ring[:, : h + e - cap]], axis=1)

    def _pack(self, cap: int, side: str | None, do_rank: bool, append: bool, compact: bool):
        """The kernel's scalars in one int64 array, filled in place (cheaper than a new array
        per call; calls hold the normalizer's lock)."""
        st = self._st
        st[0], st[1], st[2], st[3], st[4] = self._m, self._ni, self._nd, self._head, cap
        st[5], st[6], st[7], st[8] = _SIDE_CODES.get(side, 0), do_rank, append, compact
        return st

    def _step_rebuild(self, kernel, values, out, side, denom, do_rank, n, b, cap):
        """A batch that replaces a large part of a small window: rank in the kernel, then
        write the ring and re-sort the whole window with numpy's SIMD sort. One sort of n
        values beats sorting the batch and the evicted values separately and merging."""
        st = self._pack(cap, side, do_rank, append=False, compact=True)
        ok = kernel(self._ring, self._main, self._spare, self._ins, self._dels, values, out, st,
                    float(denom), self._no_sorted, self._no_sorted)  # fmt: skip
        if not ok:
            return False, None
        e = max(0, n + b - cap)
        start = (self._head + n) % cap  # first free slot; wraps onto the evicted (oldest) ones
        first = min(b, cap - start)
        self._ring[:, start : start + first] = values[:first].T
        self._ring[:, : b - first] = values[first:].T
        self._head = (self._head + e) % cap
        m = n + b - e
        h = self._head
        if m == cap:
            self._main[:, :cap] = self._ring
        else:
            tail = min(m, cap - h)
            self._main[:, :tail] = self._ring[:, h : h + tail]
            self._main[:, tail:m] = self._ring[:, : m - tail]
        self._main[:, :m].sort(axis=1)
        self._m, self._ni, self._nd = m, 0, 0
        return True, (out if do_rank else None)

    def _plan(self, b: int) -> bool:
        """Decide whether this append compacts, and make the buffers big enough if not."""
        if self.capacity <= SMALL_WINDOW and b * SMALL_BATCH_RATIO >= self.capacity:
            return True
        n = len(self)
        e = max(0, n + b - self._alloc)
        limit = min(2 * math.isqrt(self.capacity * b), self.capacity // 4)
        evicted_in_main = e <= self._m - self._nd  # evictions never reach the newest values
        if not evicted_in_main or self._ni + b > limit or self._nd + e > limit:
            return True
        need = max(self._ni + b, self._nd + e)
        if need > self._ins.shape[1]:
            size = max(need, min(2 * self._ins.shape[1], limit), 64)
            for name in ("_ins", "_dels"):
                old = getattr(self, name)
                new = np.empty((self.num_metrics, size), dtype=self.dtype)
                new[:, : old.shape[1]] = old
                setattr(self, name, new)
        return False

    # -------------------------------------------------------------- backend interface
    def counts(self, queries: np.ndarray, side: str) -> np.ndarray:
        """O(B K log n) (returns integer counts; `step` returns fractions directly)."""
        _, frac = self.step(queries, side, 1, append=False)
        return np.rint(frac).astype(np.int64)

    def append(self, values: np.ndarray) -> None:
        """Amortised O(K (sqrt(n B) + B log B)); compaction passes are O(K n)."""
        ok, _ = self.step(values, None, 1, append=True)
        if not ok:
            raise ValueError("values must be finite")

    def _grow(self, needed: int) -> None:
        # Geometric growth keeps the amortised cost O(1) per value while the window fills.
        new_alloc = min(self.capacity, max(needed, 2 * self._alloc, 64))
        if new_alloc <= self._alloc:
            return
        n = len(self)
        ring = np.empty((self.num_metrics, new_alloc), dtype=self.dtype)
        ring[:, :n] = self._fifo()  # unroll into FIFO order so head restarts at 0
        main = np.empty((self.num_metrics, new_alloc), dtype=self.dtype)
        main[:, : self._m] = self._main[:, : self._m]
        self._ring, self._main, self._head, self._alloc = ring, main, 0, new_alloc
        if self.capacity <= SMALL_WINDOW:
            self._spare = np.empty_like(main)

    def _fifo(self) -> np.ndarray:
        idx = (self._head + np.arange(len(self))) % max(self._alloc, 1)
        return self._ring[:, idx]

    def values(self) -> np.ndarray:
        """O(n K)."""
        return self._fifo().T.copy()

    def sorted_windows(self) -> np.ndarray:
        """The sorted windows as a new (K, n) array (materialises main + ins - dels)."""
        out = np.empty((self.num_metrics, len(self)), dtype=self.dtype)
        for k in range(self.num_metrics):
            dels, ins = _cancel_common(self._dels[k, : self._nd], self._ins[k, : self._ni])
            buf = np.concatenate([self._main[k, : self._m], np.empty(len(ins), self.dtype)])
            size = _compact(buf, self._m, dels, ins)
            out[k] = buf[:size]
        return out

    def _check(self) -> None:
        assert 0 <= len(self) <= self._alloc <= self.capacity
        assert self._nd <= self._m
        for name, size in (("_main", self._m), ("_ins", self._ni), ("_dels", self._nd)):
            arr = getattr(self, name)[:, :size]
            assert np.all(arr[:, 1:] >= arr[:, :-1]), f"{name} out of order"
        # == (not bit equality): -0.0 and +0.0 are interchangeable in the sorted copy.
        assert np.array_equal(np.sort(self._fifo(), axis=1), self.sorted_windows()), (
            "sorted multiset != sorted(ring)"
        )
