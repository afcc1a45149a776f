"""The interface every window backend implements.

A backend stores ``num_metrics`` FIFO windows that always hold the same number of values (every
row the front class appends carries one value per metric), answers rank-count queries against
them, and appends batches. It does no validation, no locking and no rounding: `RankNormalizer`
does those once for every backend.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["WindowBackend"]


class WindowBackend(Protocol):
    """Storage and search for ``num_metrics`` rolling windows of capacity ``capacity``."""

    name: str
    num_metrics: int
    capacity: int
    dtype: np.dtype

    def __len__(self) -> int:
        """Number of values currently held per metric."""
        ...

    def step(self, values: Any, side: str | None, denom: int, append: bool) -> tuple[bool, Any]:
        """The one call the front class makes per operation.

        Checks that every value is finite (if not, returns ``(False, None)`` and changes
        nothing); then, if ``side`` is given, computes ``counts(values, side) / denom`` as
        float64; then, if ``append``, appends the rows. Returns ``(True, fractions or None)``.
        """
        ...

    def counts(self, queries: Any, side: str) -> Any:
        """Per query and metric, the number of window values ``< q`` (``side='left'``),
        ``<= q`` (``'right'``) or the sum of both (``'both'``, for mid ranks).

        ``queries`` is a native (B, K) array of the backend's dtype; returns int64 (B, K).
        """
        ...

    def append(self, values: Any) -> None:
        """Append the (B, K) rows in order, evicting the oldest values beyond ``capacity``."""
        ...

    def values(self) -> np.ndarray:
        """The windows as a host (n, K) array, oldest first."""
        ...

    def native(self, values: np.ndarray | Any) -> Any:
        """Convert a validated (B, K) array to this backend's native array type and dtype."""
        ...

    def _check(self) -> None:
        """Assert the internal invariants (sorted views agree with the FIFO order)."""
        ...


class CountThenAppend:
    """`WindowBackend.step` built from ``counts`` and ``append`` (for backends without a fused
    kernel). Subclasses provide ``_all_finite`` and ``_fractions``."""

    @staticmethod
    def _all_finite(values: Any) -> bool:
        """Whether every value of the native (B, K) array is finite."""
        raise NotImplementedError

    @staticmethod
    def _fractions(counts: Any, denom: int) -> Any:
        """``counts / denom`` as the backend's float array."""
        raise NotImplementedError

    def step(self, values: Any, side: str | None, denom: int, append: bool) -> tuple[bool, Any]:
        if not self._all_finite(values):
            return False, None
        frac = None if side is None else self._fractions(self.counts(values, side), denom)
        if append:
            self.append(values)
        return True, frac
