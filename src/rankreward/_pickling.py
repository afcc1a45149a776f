"""Pickling for objects that hold a lock (normalizers, the reward): TRL's async GRPO pickles
reward functions into a spawned process. Locks cannot be pickled; a fresh one is made on load."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

_NO_LOCK = contextlib.nullcontext()


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
        # taken under the object's own lock, with its dicts, lists and sets copied: the pickler
        # walks the state after this returns, while other threads may be scoring (a window
        # created for a new task would otherwise change a dict during iteration)
        lock = self.__dict__.get("_lock")
        with lock if lock is not None else _NO_LOCK:
            state = {k: type(v)(v) if type(v) in (dict, list, set) else v
                     for k, v in self.__dict__.items()}  # fmt: skip
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
