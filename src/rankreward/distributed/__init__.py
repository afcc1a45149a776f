"""One shared normalizer window across processes.

- `DistributedRankNormalizer`: torch.distributed data parallelism (accelerate, torchrun): every
  call all-gathers the raw rows and every rank applies the identical update.
- `RayRankNormalizer`: a Ray named actor that verl's reward workers or OpenRLHF's vLLM engines
  share by name.

Neither imports torch or ray until used.
"""

from .ray_actor import DEFAULT_ACTOR_NAME, RayRankNormalizer
from .torch_dist import DistributedRankNormalizer, all_gather_rows

__all__ = [
    "DEFAULT_ACTOR_NAME",
    "DistributedRankNormalizer",
    "RayRankNormalizer",
    "all_gather_rows",
]
