"""One shared normalizer window across processes.

- `DistributedRankNormalizer`: torch.distributed data parallelism (accelerate, torchrun): every
  call all-gathers the raw rows and every rank applies the identical update.
- `RayRankNormalizer` / `RayWindows`: one Ray named-actor host of windows (one window, or a
  recipe's keyed set) that verl's reward workers or OpenRLHF's vLLM engines share by name.

Neither imports torch or ray until used.
"""

from .ray_actor import DEFAULT_ACTOR_NAME, RayRankNormalizer, RayWindows
from .torch_dist import DistributedRankNormalizer, all_gather_rows

__all__ = [
    "DEFAULT_ACTOR_NAME",
    "DistributedRankNormalizer",
    "RayRankNormalizer",
    "RayWindows",
    "all_gather_rows",
]
