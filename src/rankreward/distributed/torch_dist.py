"""`DistributedRankNormalizer`: one shared window across torch.distributed ranks.

With data parallelism (accelerate, torchrun, DeepSpeed) each process scores its own slice of the
step's rollouts. If each kept its own window, the same raw IoU would earn different ranks on
different GPUs. Instead every call all-gathers the raw rows of all ranks (in rank order), every
rank applies the identical rank/stage/update to its own copy of the window, and each returns the
ranks of its own rows. The result equals one process ranking the concatenated batch; the windows
stay bit-identical without ever being broadcast.

Only raw float tensors cross the wire (``all_gather`` of sizes, then of padded rows); no pickle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import is_torch, to_numpy
from ..normalize.normalizer import RankNormalizer
from ..normalize.wrapper import NormalizerWrapper

__all__ = ["DistributedRankNormalizer", "all_gather_rows"]


def all_gather_rows(rows: Any, group: Any = None, *, error: str | None = None) -> tuple[Any, int]:
    """All-gather variable-length (B_r, K) blocks from every rank, concatenated in rank order.

    Returns ``(all_rows, offset)`` where ``all_rows[offset : offset + B]`` are this rank's rows.
    ``rows`` may be numpy or torch; the result has the same type (and device for torch).
    If any rank passes ``error``, every rank raises ``ValueError`` naming the ranks at fault.

    Complexity: two collectives; O(world x max_B x K) bytes moved.

    Example:
        ```python
        # inside an initialised process group
        rows, offset = all_gather_rows(np.array([[0.5, 1.0, 0.2]]))
        mine = rows[offset : offset + 1]
        ```
    """
    import torch
    import torch.distributed as dist

    world = dist.get_world_size(group)
    me = dist.get_rank(group)
    torch_in = is_torch(rows)
    t = rows if torch_in else torch.from_numpy(np.ascontiguousarray(rows))
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float64)
    comm_device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":
        comm_device = torch.device("cuda", torch.cuda.current_device())
    local = (t if t.ndim == 2 else t.reshape(len(t), -1 if t.numel() else 1)).to(comm_device)
    size = torch.tensor([-1 if error else local.shape[0]], dtype=torch.int64, device=comm_device)
    sizes_t = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes_t, size, group=group)
    sizes = [int(s.item()) for s in sizes_t]
    bad = [r for r, s in enumerate(sizes) if s < 0]
    if bad:
        raise ValueError(error or f"rank(s) {bad} passed invalid values; see their errors")
    pad = torch.zeros((max(sizes), local.shape[1]), dtype=local.dtype, device=comm_device)
    pad[: local.shape[0]] = local
    blocks = [torch.empty_like(pad) for _ in range(world)]
    dist.all_gather(blocks, pad, group=group)
    gathered = torch.cat([b[:n] for b, n in zip(blocks, sizes, strict=True)], dim=0)
    offset = sum(sizes[:me])
    if torch_in:
        return gathered.to(rows.device), offset
    return gathered.cpu().numpy().astype(
        rows.dtype if rows.dtype.kind == "f" else np.float64
    ), offset


class DistributedRankNormalizer(NormalizerWrapper):
    """A `RankNormalizer` whose every value-taking call is collective over a process group.

    Every rank must make the same sequence of calls (as data-parallel reward functions do);
    batch sizes may differ per rank. `commit` needs no communication: every rank staged the
    same gathered rows. Without an initialised process group (or with one rank) it behaves like
    the wrapped normalizer. Save the state from one rank; load it on all.

    Args:
        inner: the normalizer every rank keeps a copy of (default `RankNormalizer.paper()`).
        group: the ``torch.distributed`` process group (default: the world).

    Complexity per call: the all-gather, then the inner call on the whole gathered batch.

    Examples:
        >>> norm = DistributedRankNormalizer(RankNormalizer(num_metrics=1, window=4, prefill=1))
        >>> norm.update_and_rank([0.0, 1.0]).tolist()  # no process group: a plain normalizer
        [1.0, 1.0]
    """

    def __init__(self, inner: RankNormalizer | None = None, group: Any = None) -> None:
        super().__init__(inner)
        self.group = group

    @property
    def world_size(self) -> int:
        try:
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch without distributed
            return 1
        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.group)

    def _checked(self, values: Any) -> tuple[Any, tuple[int, ...]]:
        """``values`` as a numpy or torch array of real numbers with a valid shape, all finite."""
        native = self.inner.check_values(values)  # the normalizer's own dtype and shape rules
        shape = tuple(native.shape)
        if not np.isfinite(to_numpy(native)).all():
            raise ValueError("values contain NaN or inf")
        return native, shape

    def _collective(self, op: str, values: Any) -> Any:
        call = getattr(self.inner, op)
        if self.world_size == 1:
            return call(values)
        # Checked before any collective, so one bad rank makes every rank raise instead of
        # leaving the others waiting; the rules are the normalizer's own. The faulty rank
        # raises its own error (TypeError or ValueError), the others a ValueError naming it.
        try:
            native, shape = self._checked(values)
            problem = None
        except (TypeError, ValueError) as e:
            native, shape, problem = None, (0,), e
        k = self.num_metrics
        rows = np.zeros((0, k)) if problem else native.reshape(shape[0], k)
        try:
            gathered, offset = all_gather_rows(rows, self.group, error=problem and str(problem))
        except ValueError:
            if problem is not None:
                raise problem from None
            raise
        result = call(gathered if len(shape) == 2 else gathered.reshape(-1))
        if result is None:
            return None
        return result[offset : offset + shape[0]]

    def rank(self, values: Any) -> Any:
        """Collective `RankNormalizer.rank`: this rank's rows ranked against the shared window."""
        return self._collective("rank", values)

    def update(self, values: Any) -> None:
        """Collective `RankNormalizer.update`: every rank appends all ranks' rows in rank order."""
        self._collective("update", values)

    def update_and_rank(self, values: Any) -> Any:
        """Collective `RankNormalizer.update_and_rank`."""
        return self._collective("update_and_rank", values)

    def stage(self, values: Any) -> None:
        """Collective `RankNormalizer.stage`."""
        self._collective("stage", values)

    def rank_and_stage(self, values: Any) -> Any:
        """Collective `RankNormalizer.rank_and_stage` (what `DrSegReward` calls)."""
        return self._collective("rank_and_stage", values)
