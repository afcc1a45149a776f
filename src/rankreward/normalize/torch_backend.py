"""torch backend: windows as tensors on any device, updated without a re-sort or a host sync.

The sorted window is updated by *position arithmetic* that parallelises on a GPU:
evicted values are located with ``searchsorted`` and compacted out through a ``cumsum`` scatter,
then the sorted batch is merged in by computing every element's final index (``i`` plus the
number of elements of the other array before it). All sizes are known on the host from the batch
shapes, so no step waits on the device. Cost per step: O(n + (b + e) log n) work, O(log n) depth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._extras import require
from .backend import CountThenAppend

__all__ = ["TorchBackend"]


def _torch() -> Any:
    return require("torch", "torch", "the torch backend")


class TorchBackend(CountThenAppend):
    """Sorted (K, n) tensor plus a (K, capacity) ring buffer on ``device``.

    Examples:
        >>> import torch
        >>> b = TorchBackend(num_metrics=1, capacity=3, dtype=np.float64, device="cpu")
        >>> b.append(torch.tensor([[1.0], [2.0], [2.0], [5.0]], dtype=torch.float64))
        >>> b.values().ravel().tolist()
        [2.0, 2.0, 5.0]
        >>> b.counts(torch.tensor([[2.0]], dtype=torch.float64), "right").tolist()
        [[2]]
    """

    name = "torch"

    def __init__(
        self, num_metrics: int, capacity: int, dtype: np.dtype | type, device: Any = "cpu"
    ) -> None:
        torch = _torch()
        self.num_metrics = num_metrics
        self.capacity = capacity
        self.dtype = np.dtype(dtype)
        self.device = torch.device(device)
        self._tdtype = getattr(torch, self.dtype.name)  # float32 or float64
        self._ring = torch.empty((num_metrics, 0), dtype=self._tdtype, device=self.device)
        self._sorted = torch.empty((num_metrics, 0), dtype=self._tdtype, device=self.device)
        self._alloc = 0
        self._head = 0

    def __len__(self) -> int:
        return int(self._sorted.shape[1])

    def native(self, values: Any) -> Any:
        torch = _torch()
        if isinstance(values, torch.Tensor):
            return values.to(device=self.device, dtype=self._tdtype)
        return torch.as_tensor(np.asarray(values, dtype=self.dtype), device=self.device)

    @staticmethod
    def _all_finite(values: Any) -> bool:
        return bool(_torch().isfinite(values).all())  # one host sync per call, not per value

    @staticmethod
    def _fractions(counts: Any, denom: int) -> Any:
        return counts.to(_torch().float64) / denom

    def counts(self, queries: Any, side: str) -> Any:
        """O(B K log n), one batched ``searchsorted``."""
        torch = _torch()
        q = queries.T.contiguous()
        if side == "both":
            c = torch.searchsorted(self._sorted, q, side="left") + torch.searchsorted(
                self._sorted, q, side="right"
            )
        else:
            c = torch.searchsorted(self._sorted, q, side=side)
        return c.T

    def _grow(self, needed: int) -> None:
        torch = _torch()
        new_alloc = min(self.capacity, max(needed, 2 * self._alloc, 64))
        if new_alloc <= self._alloc:
            return
        ring = torch.empty((self.num_metrics, new_alloc), dtype=self._tdtype, device=self.device)
        n = len(self)
        ring[:, :n] = self._fifo()
        self._ring, self._head, self._alloc = ring, 0, new_alloc

    def _fifo(self) -> Any:
        torch = _torch()
        n = len(self)
        idx = (self._head + torch.arange(n, device=self.device)) % max(self._alloc, 1)
        return self._ring[:, idx]

    def append(self, values: Any) -> None:
        """O(n + (B + e) log n) device work per step, no host synchronisation."""
        torch = _torch()
        values = values[-self.capacity :]
        b = int(values.shape[0])
        if b == 0 or self.num_metrics == 0:
            return
        n = len(self)
        if self._alloc < self.capacity and n + b > self._alloc:
            self._grow(n + b)
        cap = self._alloc
        e = max(0, n + b - cap)
        dev = self.device
        cols = values.T.contiguous()  # (K, b)
        srt = self._sorted
        if e:
            ev = self._ring[:, (self._head + torch.arange(e, device=dev)) % cap]
            ev, _ = torch.sort(ev, dim=1)
            # j-th of a run of equal evicted values removes the j-th equal element of the window.
            run_start = torch.searchsorted(ev, ev, side="left")
            offset = torch.arange(e, device=dev).expand_as(ev) - run_start
            del_pos = torch.searchsorted(srt, ev, side="left") + offset
            keep = torch.ones_like(srt, dtype=torch.bool)
            keep.scatter_(1, del_pos, False)
            m = n - e
            # Survivors go to their rank among survivors; deleted ones to a dump column m.
            target = torch.where(keep, torch.cumsum(keep, dim=1) - 1, m)
            compact = torch.empty((self.num_metrics, m + 1), dtype=self._tdtype, device=dev)
            compact.scatter_(1, target, srt)
            srt = compact[:, :m].contiguous()
        m = int(srt.shape[1])
        inc, _ = torch.sort(cols, dim=1)
        pos_old = torch.arange(m, device=dev) + torch.searchsorted(inc, srt, side="left")
        pos_new = torch.arange(b, device=dev) + torch.searchsorted(srt, inc, side="right")
        merged = torch.empty((self.num_metrics, m + b), dtype=self._tdtype, device=dev)
        merged.scatter_(1, pos_old, srt)
        merged.scatter_(1, pos_new, inc)
        self._sorted = merged
        self._head = (self._head + e) % cap
        slots = (self._head + (n - e) + torch.arange(b, device=dev)) % cap
        self._ring[:, slots] = cols

    def values(self) -> np.ndarray:
        """O(n K) plus one device-to-host copy."""
        return self._fifo().T.contiguous().cpu().numpy()

    def _check(self) -> None:
        torch = _torch()
        n = len(self)
        assert 0 <= n <= self._alloc <= self.capacity
        srt = self._sorted
        assert bool((srt[:, 1:] >= srt[:, :-1]).all()), "sorted tensor out of order"
        ref, _ = torch.sort(self._fifo(), dim=1)
        assert bool((ref == srt).all()), "sorted tensor != sorted(ring)"
