"""`LocalWindows`: a keyed set of rank windows that commit together, counted in samples.

A reward with several ranked terms keeps one window per term (and per task); a sample where a
term does not apply sends that window no value, so the windows fill at different rates.
Trainers that give the reward no step signal (verl, OpenRLHF, EasyR1, TRL's async GRPO) commit
by count; counting each window's rows would then commit them at different steps. So the count
is kept here, in **samples scored**, for the whole set: every ``commit_every`` samples every
window commits, exactly one step's worth each, however many values each received.

This is the one commit-by-count, ``{step}``-file and resume mechanism of the package:
`AutoCommitNormalizer` is a one-window view of it, and the Ray host
(`rankreward.distributed.ray_actor`) serves one of these to every process of a job.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._pickling import LockFreePickle
from .normalizer import RankNormalizer
from .state import (
    META_KEYS,
    check_owner,
    describe_owner,
    flatten_state,
    load_state,
    save_state,
    step_path,
    unflatten_state,
)

__all__ = ["LocalWindows", "check_commit_every", "paper_window"]

#: Staging calls without a commit after which overfull windows warn.
_CALLS_BEFORE_WARNING = 64


def paper_window() -> RankNormalizer:
    """One term's window as in the paper: 2048 values, 128 zeros, ties right, 1 decimal.

    Examples:
        >>> paper_window().num_metrics, paper_window().capacity
        (1, 2048)
    """
    return RankNormalizer.paper(num_metrics=1)


def check_commit_every(commit_every: int | None, *, required: bool = False) -> None:
    """``ValueError`` unless ``commit_every`` is a positive int (or ``None`` when not
    ``required``). O(1)."""
    if commit_every is None and not required:
        return
    if not isinstance(commit_every, int) or isinstance(commit_every, bool) or commit_every < 1:
        kind = "a positive int" if required else "a positive int or None"
        raise ValueError(f"commit_every must be {kind}, got {commit_every!r}")


def _wrapped(wrap: Callable[[Any], Any], make: Callable[[], Any]) -> Any:
    return wrap(make())


class LocalWindows(LockFreePickle):
    """The windows of one reward, in this process, keyed ``"task/term"``. Thread-safe.

    Args:
        make_window: builds one window (no arguments; default `paper_window`).
        commit_every: commit every window after this many samples were scored with staging
            (rows per training step); ``None``: the trainer calls `commit` (TRL's callback).
        state_file: after every counted commit, save here; ``{step}`` becomes the commit count.
        resume_from: a file written by `save` to load now (its commit and sample counts too).
        windows: windows built already, by key (a reward handed a normalizer keeps it here).
        start_step: the commit count to start from when not resuming from a file.

    A key's values are 1-D (one term) or ``(B, K)`` (K terms ranked in one K-metric window).

    Examples:
        >>> windows = LocalWindows(commit_every=3)
        >>> windows.rank_and_stage({"/iou": np.array([0.5, 0.7])}, n_samples=2)["/iou"].tolist()
        [1.0, 1.0]
        >>> windows.rank_and_stage({"/iou": np.array([])}, n_samples=1)["/iou"].tolist()  # n/a
        []
        >>> windows.commits, len(windows.get("/iou"))
        (1, 130)
    """

    def __init__(
        self,
        make_window: Callable[[], Any] = paper_window,
        *,
        commit_every: int | None = None,
        state_file: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        windows: Mapping[str, Any] | None = None,
        start_step: int = 0,
    ) -> None:
        check_commit_every(commit_every)
        if commit_every is None and state_file is not None:
            raise ValueError("state_file needs commit_every (files are written per counted step)")
        self.make_window = make_window
        self.commit_every = commit_every
        self.state_file = None if state_file is None else str(state_file)
        self.commits = int(start_step)
        self.pending = 0  # samples scored with staging since the last commit
        self._windows: dict[str, Any] = dict(windows or {})
        self._lock = threading.RLock()
        self._warned = False
        self._staging_calls = 0  # scoring calls since the last commit (for the warning)
        self._steps: set[int] = set()  # trainer steps that scored since the last commit
        # the reward these windows belong to (`set_owner`), and the owner a loaded state
        # named, checked once the reward is known (a set can be resumed before it is handed in)
        self.owner: dict[str, Any] | None = None
        self._loaded: tuple[Any, str] | None = None
        if resume_from is not None:
            self.load(resume_from)

    def wrap_windows(self, wrap: Callable[[Any], Any]) -> None:
        """Replace every window by ``wrap(window)``, now and for every window made later (a
        reward's windows shared across ``torch.distributed`` ranks). ``wrap`` must be
        picklable (a class or a module-level function). O(windows)."""
        with self._lock:
            self._windows = {k: wrap(w) for k, w in self._windows.items()}
            self.make_window = functools.partial(_wrapped, wrap, self.make_window)

    def note_step(self, step: int) -> None:
        """Record that a trainer's optimizer step ``step`` scored: a set without
        ``commit_every`` that scores in a third step with no `commit` warns once, naming the
        fix (TRL passes its step to reward functions; without one, a count of values warns).
        O(1)."""
        with self._lock:
            if self.commit_every is not None or self._warned or step in self._steps:
                return
            self._steps.add(step)
            if len(self._steps) > 2 and any(w.num_staged for w in self._windows.values()):
                self._warned = True
                warnings.warn(
                    f"the reward's windows scored in {len(self._steps)} optimizer steps "
                    f"(up to step {step}) without a commit(): add RankNormalizerCallback(reward) "
                    "to the trainer's callbacks (or pass commit_every), else the windows never "
                    "move and every rank is against the prefill",
                    RuntimeWarning,
                    stacklevel=4,
                )

    def set_owner(self, owner: Mapping[str, Any]) -> None:
        """Record the reward these windows belong to (`ComponentReward` does, with its recipe
        and ranked windows): saved with the state, and a state of another reward, loaded
        before or after, raises ``ValueError`` naming both. O(windows)."""
        owner = {"recipe": str(owner["recipe"]),
                 "windows": {str(k): [str(c) for c in v] for k, v in owner["windows"].items()}}  # fmt: skip
        with self._lock:
            if self.owner is not None and self.owner != owner:
                raise ValueError(
                    f"these windows belong to {describe_owner(self.owner)}; another reward "
                    f"({describe_owner(owner)}) cannot share them"
                )
            if self._loaded is not None:
                state_owner, where = self._loaded
                check_owner(owner, state_owner, self.keys(), where)
            self.owner = owner

    def get(self, key: str) -> Any:
        """The window of ``key`` (``"task/term"``), created on first use. O(1)."""
        with self._lock:
            if key not in self._windows:
                self._windows[key] = self.make_window()
            return self._windows[key]

    def keys(self) -> list[str]:
        """The keys of the windows that exist so far. O(windows)."""
        with self._lock:
            return list(self._windows)

    def rank_and_stage(
        self, batch: Mapping[str, Any], n_samples: int, stage: bool = True
    ) -> dict[str, np.ndarray]:
        """Rank each key's values against its window; stage them unless ``stage`` is False
        (validation); count ``n_samples`` and commit every window when a step's worth of
        samples was staged. A batch crossing the boundary is ranked wholly against the old
        windows. O(sum B log n), plus O(windows x n) at a commit."""
        with self._lock:
            out = {}
            for key, values in batch.items():
                window = self.get(key)
                column = np.asarray(values, np.float64)
                rows = column.reshape(-1, 1) if column.ndim == 1 else column
                ranks = window.rank_and_stage(rows) if stage else window.rank(rows)
                out[key] = np.asarray(ranks, np.float64).reshape(column.shape)
            if stage:
                self._count(n_samples)
            return out

    def stage(self, batch: Mapping[str, Any], n_samples: int) -> None:
        """Stage each key's values without ranking them; counted as in `rank_and_stage`.
        O(sum B), plus O(windows x n) at a commit."""
        with self._lock:
            for key, values in batch.items():
                column = np.asarray(values, np.float64)
                self.get(key).stage(column.reshape(-1, 1) if column.ndim == 1 else column)
            self._count(n_samples)

    def _count(self, n_samples: int) -> None:
        if self.commit_every is not None:
            self.pending += int(n_samples)
            if self.pending >= self.commit_every:
                self.commit()
        elif not self._warned:
            self._staging_calls += 1
            self._warn_if_never_committed()

    def _warn_if_never_committed(self) -> None:
        # many scoring calls and more values than a window holds, with no commit: nobody is
        # committing (one large step's batch alone does not warn); a window that commits by
        # count itself (an `AutoCommitNormalizer` handed in) is never overfull by neglect
        if self._staging_calls < _CALLS_BEFORE_WARNING:
            return
        for key, window in self._windows.items():
            capacity = getattr(window, "capacity", None)
            if getattr(window, "commit_every", None) is not None or capacity is None:
                continue
            if window.num_staged > capacity:
                self._warned = True
                warnings.warn(
                    f"{window.num_staged} values of {key!r} staged without commit(); call "
                    "commit() once per optimizer step (RankNormalizerCallback does) or pass "
                    "commit_every, else the windows never move",
                    RuntimeWarning,
                    stacklevel=5,
                )
                return

    def commit(self) -> int:
        """Append every window's staged values; returns how many. A counted set (with
        ``commit_every``) numbers the step and writes its state file, unless nothing was
        scored since the last commit. O(windows x n)."""
        with self._lock:
            self._staging_calls = 0
            self._steps = set()
            self._warned = False
            n = sum(int(w.commit()) for w in self._windows.values())
            if self.commit_every is not None and (n or self.pending):
                self.commits += 1
                self.pending = 0
                if self.state_file is not None:
                    self.save(step_path(self.state_file, self.commits))
            return n

    def discard_staged(self) -> int:
        """Drop every staged value (benchmarks, a retried step). O(windows)."""
        with self._lock:
            self.pending = self._staging_calls = 0
            return sum(int(w.discard_staged()) for w in self._windows.values())

    def state_dict(self) -> dict[str, Any]:
        """Every window's state keyed ``"task/term"``, plus ``__counts__``."""
        with self._lock:
            state: dict[str, Any] = {k: w.state_dict() for k, w in self._windows.items()}
            state["__counts__"] = {"commits": self.commits, "pending": self.pending}
            if self.owner is not None:
                state["__owner__"] = self.owner
            return state

    def load_state_dict(self, state: Mapping[str, Any], where: str = "the state") -> None:
        """Restore what `state_dict` returned (exactly). A ``ValueError`` (naming ``where``)
        for counts that are not non-negative integers, or a state of another reward (see
        `set_owner`); nothing is changed then."""
        counts = state.get("__counts__")
        if counts is not None:
            try:
                commits, pending = counts["commits"], counts["pending"]
                ok = all(int(v) == v and v >= 0 for v in (commits, pending))
            except (KeyError, TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"{where}: counts must be non-negative integers commits and pending, "
                    f"got {counts!r}"
                )
        state_owner = state.get("__owner__")
        keys = [k for k in state if k not in META_KEYS]
        with self._lock:
            if self.owner is not None:
                check_owner(self.owner, state_owner, keys, where)
            for key in keys:
                self.get(key).load_state_dict(state[key])
            if counts is not None:
                self.commits, self.pending = int(counts["commits"]), int(counts["pending"])
            self._loaded = (state_owner, where)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` to one ``.npz``, atomically, without pickle. O(windows x n)."""
        save_state(flatten_state(self.state_dict()), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore what `save` wrote."""
        self.load_state_dict(unflatten_state(load_state(path)), where=str(path))

    def __repr__(self) -> str:
        return f"LocalWindows({self.keys()}, commit_every={self.commit_every})"
