"""`NormalizerWrapper`: the shared front of normalizers that add a policy around a
`RankNormalizer` (commit every N rows, all-gather across processes) without changing what a
rank means.

A wrapper has the whole `RankNormalizer` surface, so `DrSegReward` and the trainer adapters take
either. Subclasses override only the calls that take values; the rest delegates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .normalizer import RankNormalizer
from .state import load_state, save_state

__all__ = ["NormalizerLike", "NormalizerWrapper"]


@runtime_checkable
class NormalizerLike(Protocol):
    """What `DrSegReward` and the adapters need from a normalizer: `RankNormalizer`, its
    wrappers and `RayRankNormalizer` all qualify.

    Examples:
        >>> isinstance(RankNormalizer.paper(), NormalizerLike)
        True
    """

    num_metrics: int
    capacity: int

    def rank_and_stage(self, values: Any) -> Any: ...
    def commit(self) -> int: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def load(self, path: str | os.PathLike[str]) -> None: ...


class NormalizerWrapper:
    """Delegates every `RankNormalizer` call to ``inner``; subclasses add a policy.

    Examples:
        >>> wrapped = NormalizerWrapper(RankNormalizer(num_metrics=1, window=4, prefill=2))
        >>> wrapped.update_and_rank([0.0, 1.0]).tolist(), len(wrapped)
        ([1.0, 1.0], 4)
    """

    def __init__(self, inner: RankNormalizer | None = None) -> None:
        self.inner = inner if inner is not None else RankNormalizer.paper()

    # configuration, read through
    @property
    def num_metrics(self) -> int:
        return self.inner.num_metrics

    @property
    def capacity(self) -> int:
        return self.inner.capacity

    @property
    def backend(self) -> str:
        return self.inner.backend

    # value-taking calls (subclasses override these)
    def rank(self, values: Any) -> Any:
        """See `RankNormalizer.rank`."""
        return self.inner.rank(values)

    def update(self, values: Any) -> None:
        """See `RankNormalizer.update`."""
        self.inner.update(values)

    def update_and_rank(self, values: Any) -> Any:
        """See `RankNormalizer.update_and_rank`."""
        return self.inner.update_and_rank(values)

    def stage(self, values: Any) -> None:
        """See `RankNormalizer.stage`."""
        self.inner.stage(values)

    def rank_and_stage(self, values: Any) -> Any:
        """See `RankNormalizer.rank_and_stage`."""
        return self.inner.rank_and_stage(values)

    # state, delegated
    def commit(self) -> int:
        """See `RankNormalizer.commit`."""
        return self.inner.commit()

    def discard_staged(self) -> int:
        return self.inner.discard_staged()

    def __len__(self) -> int:
        return len(self.inner)

    @property
    def num_staged(self) -> int:
        return self.inner.num_staged

    @property
    def window(self) -> np.ndarray:
        return self.inner.window

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.inner.load_state_dict(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` atomically as ``.npz`` (see `RankNormalizer.save`)."""
        save_state(self.state_dict(), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        self.load_state_dict(load_state(path))

    def _check(self) -> None:
        self.inner._check()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
