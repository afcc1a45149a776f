"""Reference backend: one ``SortedList`` plus one FIFO ``deque`` per metric.

Pure Python, easy to audit, O(log n) per value. It is the readable specification the faster
backends are tested against, and the fallback when Numba is unavailable.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from sortedcontainers import SortedList

from .backend import CountThenAppend

__all__ = ["SortedBackend"]


class SortedBackend(CountThenAppend):
    """Windows kept as ``SortedList`` (for search) and ``deque`` (for FIFO eviction).

    Examples:
        >>> b = SortedBackend(num_metrics=1, capacity=3, dtype=np.float64)
        >>> b.append(np.array([[1.0], [2.0], [2.0], [5.0]]))
        >>> b.values().ravel().tolist()
        [2.0, 2.0, 5.0]
        >>> b.counts(np.array([[2.0]]), "right").tolist()
        [[2]]
    """

    name = "sorted"

    def __init__(self, num_metrics: int, capacity: int, dtype: np.dtype | type) -> None:
        self.num_metrics = num_metrics
        self.capacity = capacity
        self.dtype = np.dtype(dtype)
        self._sorted = [SortedList() for _ in range(num_metrics)]
        self._fifo: list[deque[float]] = [deque() for _ in range(num_metrics)]

    def __len__(self) -> int:
        return len(self._fifo[0]) if self._fifo else 0

    def native(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=self.dtype)

    @staticmethod
    def _all_finite(values: np.ndarray) -> bool:
        return bool(np.isfinite(values).all())

    @staticmethod
    def _fractions(counts: np.ndarray, denom: int) -> np.ndarray:
        return counts / float(denom)

    def counts(self, queries: np.ndarray, side: str) -> np.ndarray:
        """O(B K log n)."""
        out = np.empty(queries.shape, dtype=np.int64)
        for k, sl in enumerate(self._sorted):
            # Python floats compare exactly like the stored dtype values they came from.
            col = queries[:, k].tolist()
            if side == "left":
                out[:, k] = [sl.bisect_left(q) for q in col]
            elif side == "right":
                out[:, k] = [sl.bisect_right(q) for q in col]
            else:
                out[:, k] = [sl.bisect_left(q) + sl.bisect_right(q) for q in col]
        return out

    def append(self, values: np.ndarray) -> None:
        """O(B K log n) amortised."""
        values = values[-self.capacity :]
        for k in range(self.num_metrics):
            sl, fifo = self._sorted[k], self._fifo[k]
            for v in values[:, k].tolist():
                if len(fifo) == self.capacity:
                    sl.remove(fifo.popleft())
                fifo.append(v)
                sl.add(v)

    def values(self) -> np.ndarray:
        """O(n K)."""
        if self.num_metrics == 0:
            return np.empty((0, 0), dtype=self.dtype)
        return (
            np.array([list(f) for f in self._fifo], dtype=self.dtype)
            .reshape(self.num_metrics, -1)
            .T.copy()
        )

    def _check(self) -> None:
        n = len(self)
        for sl, fifo in zip(self._sorted, self._fifo, strict=True):
            sl._check()
            assert len(fifo) == n == len(sl) <= self.capacity
            assert list(sl) == sorted(fifo)
