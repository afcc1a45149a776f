"""Pickling for objects that hold a lock (normalizers, the reward): TRL's async GRPO pickles
reward functions into a spawned process. Locks cannot be pickled; a fresh one is made on load."""

from __future__ import annotations

import threading
from typing import Any


class LockFreePickle:
    """Mixin: pickle ``__dict__`` without ``_lock`` and give the copy a new ``RLock``.

    Examples:
        >>> import pickle
        >>> from rankreward.normalize import RankNormalizer
        >>> copy = pickle.loads(pickle.dumps(RankNormalizer.paper()))
        >>> len(copy), copy._lock is not None
        (128, True)
    """

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
