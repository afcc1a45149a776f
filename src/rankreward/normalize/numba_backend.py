"""Numba backend: a ring buffer (FIFO order) plus a sorted copy maintained incrementally.

Per metric we keep ``ring[k]`` (values in arrival order, starting at ``head``) and
``sorted[k][:n]``. Appending a batch of ``b`` values that evicts ``e`` old ones costs
O(b log b + e log e) to sort the two small sets, O((b + e) log n) binary searches, and one
segment-wise copy of the window into a second buffer: O(n + b log b) per step, never a full
re-sort. The plain-numpy `reference_merge` below is the oracle the tests hold the kernel to.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["NumbaBackend", "reference_merge"]

# Above this many window values (all metrics together) the metrics are merged in parallel
# threads; below it the thread start-up costs more than it saves.
PARALLEL_THRESHOLD = 1 << 18


@nb.njit(cache=True, inline="always")
def _lower_bound(a, n, x):
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, inline="always")
def _upper_bound(a, n, x):
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True)
def _counts_kernel(sorted_, n, queries, side, out):
    # side: 0 = left (<), 1 = right (<=), 2 = both (left + right, for mid ranks)
    b, k_total = queries.shape
    for k in range(k_total):
        a = sorted_[k]
        for i in range(b):
            x = queries[i, k]
            if side == 0:
                out[i, k] = _lower_bound(a, n, x)
            elif side == 1:
                out[i, k] = _upper_bound(a, n, x)
            else:
                out[i, k] = _lower_bound(a, n, x) + _upper_bound(a, n, x)


@nb.njit(cache=True, inline="always")
def _merge_one(src, dst, n, ring, head, new_vals, cap):
    """Merge one metric: dst[:n - e + b] = sorted(src[:n] - evicted + new_vals)."""
    b = new_vals.shape[0]
    e = max(0, n + b - cap)
    evicted = np.empty(e, dtype=src.dtype)
    for i in range(e):
        evicted[i] = ring[(head + i) % cap]
    evicted.sort()
    incoming = new_vals.copy()
    incoming.sort()
    # Old-array index of each deleted value: equal values are consecutive in src, so the j-th of
    # a run of equal evicted values removes the j-th element of the matching run in src.
    del_pos = np.empty(e, dtype=np.int64)
    for j in range(e):
        if j > 0 and evicted[j] == evicted[j - 1]:
            del_pos[j] = del_pos[j - 1] + 1
        else:
            del_pos[j] = _lower_bound(src, n, evicted[j])
    # Insert each incoming value before the first old element greater than it.
    ins_pos = np.empty(b, dtype=np.int64)
    for j in range(b):
        ins_pos[j] = _upper_bound(src, n, incoming[j])
    # Walk the old array once, copying untouched segments in bulk.
    out = 0
    old = 0
    di = 0
    ji = 0
    while True:
        nd = del_pos[di] if di < e else n
        ni = ins_pos[ji] if ji < b else n
        stop = min(nd, ni)
        if stop > old:
            dst[out : out + stop - old] = src[old:stop]
            out += stop - old
            old = stop
        if ji < b and ins_pos[ji] == old:
            dst[out] = incoming[ji]
            out += 1
            ji += 1
        elif di < e and del_pos[di] == old:
            old += 1
            di += 1
        else:
            break
    # FIFO: drop the e oldest, write the batch after the survivors.
    head = (head + e) % cap
    kept = n - e
    for j in range(b):
        ring[(head + kept + j) % cap] = new_vals[j]
    return out


@nb.njit(cache=True)
def _append_serial(src, dst, n, ring, head, values, cap):
    k_total = values.shape[1]
    new_n = 0
    for k in range(k_total):
        new_n = _merge_one(src[k], dst[k], n, ring[k], head, values[:, k].copy(), cap)
    return new_n


@nb.njit(cache=True, parallel=True)
def _append_parallel(src, dst, n, ring, head, values, cap):
    k_total = values.shape[1]
    sizes = np.empty(k_total, dtype=np.int64)
    for k in nb.prange(k_total):
        sizes[k] = _merge_one(src[k], dst[k], n, ring[k], head, values[:, k].copy(), cap)
    return sizes[0] if k_total else 0


def reference_merge(window_sorted: np.ndarray, evicted: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Plain-numpy oracle for one metric's merge step: remove ``evicted`` (a multiset) from the
    sorted window and insert ``new``, by full re-sort. O(n log n); used by the tests only.

    >>> reference_merge(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0]), np.array([0.5])).tolist()
    [0.5, 1.0, 2.0, 3.0]
    """
    rest = list(np.sort(window_sorted))
    for v in evicted.tolist():
        rest.remove(v)
    return np.sort(np.concatenate([np.asarray(rest, dtype=window_sorted.dtype), new]))


class NumbaBackend:
    """Ring buffer + incrementally merged sorted array, compiled with Numba.

    Memory: three float arrays of ``capacity`` per metric (ring and a double-buffered sorted
    copy), allocated lazily up to ``capacity`` so a 10M window that only ever sees 10k values
    stays small.

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
        self._alloc = 0  # allocated length of every per-metric array (grows to capacity)
        self._ring = np.empty((num_metrics, 0), dtype=self.dtype)
        self._bufs = [np.empty((num_metrics, 0), dtype=self.dtype) for _ in range(2)]
        self._cur = 0
        self._n = 0
        self._head = 0

    def __len__(self) -> int:
        return self._n

    def native(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=self.dtype)

    def counts(self, queries: np.ndarray, side: str) -> np.ndarray:
        """O(B K log n)."""
        out = np.empty(queries.shape, dtype=np.int64)
        code = {"left": 0, "right": 1, "both": 2}[side]
        _counts_kernel(self._bufs[self._cur], self._n, queries, code, out)
        return out

    def _grow(self, needed: int) -> None:
        # Geometric growth keeps the amortised cost O(1) per value while the window fills.
        new_alloc = min(self.capacity, max(needed, 2 * self._alloc, 64))
        if new_alloc <= self._alloc:
            return
        ring = np.empty((self.num_metrics, new_alloc), dtype=self.dtype)
        # Unroll the ring into FIFO order at offset 0 so `head` can restart at 0.
        ring[:, : self._n] = self._fifo()
        self._ring = ring
        self._head = 0
        for i in range(2):
            buf = np.empty((self.num_metrics, new_alloc), dtype=self.dtype)
            buf[:, : self._n] = self._bufs[i][:, : self._n]
            self._bufs[i] = buf
        self._alloc = new_alloc

    def _fifo(self) -> np.ndarray:
        idx = (self._head + np.arange(self._n)) % max(self._alloc, 1)
        return self._ring[:, idx]

    def append(self, values: np.ndarray) -> None:
        """O(n + B log B) per metric; the metrics run in parallel for large windows."""
        values = values[-self.capacity :]
        b = values.shape[0]
        if b == 0 or self.num_metrics == 0:
            return
        if self._alloc < self.capacity and self._n + b > self._alloc:
            self._grow(self._n + b)
        # While the ring is not yet at full capacity it never wraps: nothing is evicted until
        # n + b exceeds capacity, and by then the arrays have grown to capacity.
        src, dst = self._bufs[self._cur], self._bufs[1 - self._cur]
        kernel = (
            _append_parallel
            if self.num_metrics > 1 and self._n * self.num_metrics >= PARALLEL_THRESHOLD
            else _append_serial
        )
        cap = self._alloc
        e = max(0, self._n + b - cap)
        self._n = int(kernel(src, dst, self._n, self._ring, self._head, values, cap))
        self._head = (self._head + e) % cap
        self._cur = 1 - self._cur

    def values(self) -> np.ndarray:
        """O(n K)."""
        return self._fifo().T.copy()

    def sorted_view(self) -> np.ndarray:
        """The sorted windows as a read-only (K, n) view (for tests and debugging)."""
        v = self._bufs[self._cur][:, : self._n]
        v.flags.writeable = False
        return v

    def _check(self) -> None:
        assert 0 <= self._n <= self._alloc <= self.capacity
        fifo = self._fifo()
        srt = self._bufs[self._cur][:, : self._n]
        assert np.all(srt[:, 1:] >= srt[:, :-1]), "sorted buffer out of order"
        # == (not bit equality): -0.0 and +0.0 are interchangeable in the sorted copy.
        assert np.array_equal(np.sort(fifo, axis=1), srt), "sorted buffer != sorted(ring)"
