"""The one launch policy for every parallel Numba kernel in rankreward.

Why a policy: Numba's ``parallel=True`` kernels run on a threading layer. When neither TBB nor
OpenMP is available Numba falls back to its ``workqueue`` layer, which is not thread-safe: two
Python threads launching parallel kernels at the same time abort the process ("Terminating:
Nested parallel kernel launch detected, the workqueue threading layer does not supported
concurrent access"). Trainers call rewards and metrics from threads (verl's reward workers,
OpenRLHF's remote reward, TRL with several reward functions), so every launch must be safe
from any thread, whatever layer the user's Numba picked.

The policy:

- Small inputs run the serial variant of a kernel: no thread pool, no lock, and faster than
  waking the pool. The size where parallel starts to pay is one number per kernel family,
  all kept here in `THRESHOLDS`.
- Large inputs run the parallel variant while holding `PARALLEL_LOCK`, one process-wide lock.
  A parallel launch already uses every core, so two of them never run faster together than
  one after the other: waiting costs nothing, and the workqueue layer is never entered twice.

Every parallel kernel of the package goes through `launch`; tests check it from 8 threads
under ``NUMBA_THREADING_LAYER=workqueue`` and under the default layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PARALLEL_LOCK", "THRESHOLDS", "launch"]

#: Held for the whole of every parallel kernel launch in the package.
PARALLEL_LOCK = threading.Lock()

#: Work size (in the unit each family states) from which the parallel variant runs.
THRESHOLDS: dict[str, int] = {
    "boxes": 1 << 16,  # box pairs
    "masks": 1 << 16,  # mask pairs x pixels / 64 (dense paired counts)
    "matching": 256,  # cost matrices in one batch
    "rle": 2048,  # RLE pairs
    "coco": 0,  # (category, image) groups: always parallel, COCO sets are large
    "scan": 64,  # completions
    "reward": 64,  # samples
    "rank": 1 << 18,  # values x metrics
}


def launch(
    family: str,
    size: int,
    serial: Callable[..., Any] | None,
    parallel: Callable[..., Any],
    *args: Any,
) -> Any:
    """Run ``serial(*args)`` below the family's threshold, else ``parallel(*args)`` under
    `PARALLEL_LOCK`. ``serial=None`` means the kernel has no serial variant. O(1) overhead.

    Examples:
        >>> launch("rle", 1, lambda x: ("serial", x), lambda x: ("parallel", x), 7)
        ('serial', 7)
        >>> launch("rle", 10**6, lambda x: ("serial", x), lambda x: ("parallel", x), 7)
        ('parallel', 7)
    """
    if serial is not None and size < THRESHOLDS[family]:
        return serial(*args)
    with PARALLEL_LOCK:
        return parallel(*args)
