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

import os
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._pickling import LockFreePickle
from .normalizer import RankNormalizer
from .state import flatten_state, load_state, save_state, step_path, unflatten_state

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
        if resume_from is not None:
            self.load(resume_from)

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
            return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned (exactly)."""
        with self._lock:
            for key, value in state.items():
                if key == "__counts__":
                    self.commits, self.pending = int(value["commits"]), int(value["pending"])
                else:
                    self.get(key).load_state_dict(value)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` to one ``.npz``, atomically, without pickle. O(windows x n)."""
        save_state(flatten_state(self.state_dict()), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore what `save` wrote."""
        self.load_state_dict(unflatten_state(load_state(path)))

    def __repr__(self) -> str:
        return f"LocalWindows({self.keys()}, commit_every={self.commit_every})"
