"""`AutoCommitNormalizer`: the paper's per-step snapshot for trainers without a step hook.

verl and OpenRLHF call a reward function one sample at a time (in threads, in several worker
processes) and give it no "optimizer step ended" signal. The paper's semantics are still
well-defined by counting: a step is ``rollout_batch_size x n_samples_per_prompt`` rollouts, all
ranked against the windows as they stood before the step, then appended together.

This is a one-window view of `LocalWindows` (the package's one commit-by-count mechanism, with
its ``{step}`` files and resume), with a normalizer's calls and a normalizer's state format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .._pickling import LockFreePickle
from .normalizer import RankNormalizer
from .state import load_state
from .windows import LocalWindows, check_commit_every
from .wrapper import NormalizerWrapper

__all__ = ["AutoCommitNormalizer"]

_KEY = "/"  # the view's one window


class _OneWindow(LocalWindows):
    """A `LocalWindows` of one window whose state (and state files) are that window's, plus
    the commit count: what a plain normalizer writes, so either reads the other's file."""

    def state_dict(self) -> dict[str, Any]:
        with self._lock:
            return {**self.get(_KEY).state_dict(), "commits": self.commits}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with self._lock:
            window = self.get(_KEY)
            window.load_state_dict(state)
            if "commits" in state:
                self.commits = int(state["commits"])
            self.pending = window.num_staged  # one sample per staged row

    def _file_state(self, state: dict[str, Any]) -> dict[str, Any]:
        return {**state[_KEY], "commits": state["__counts__"]["commits"]}

    def load(self, path: str | os.PathLike[str]) -> None:
        self.load_state_dict(load_state(path))


class AutoCommitNormalizer(LockFreePickle, NormalizerWrapper):
    """Stage ranked rows and commit every ``commit_every`` rows. Thread-safe.

    Args:
        inner: the `RankNormalizer` to drive (default `RankNormalizer.paper()`).
        commit_every: rows per step, e.g. ``train_batch_size * rollout_n`` (verl) or
            ``rollout_batch_size * n_samples_per_prompt`` (OpenRLHF).
        state_file: after every commit, save the state here (atomically). ``{step}`` in the
            name is replaced by the commit count, keeping one file per step, so a run resumed
            from the trainer's step-N checkpoint can load the window as it was at step N.
        resume_from: a state file to load now (e.g. the ``state_file`` of the step resumed);
            the step count comes back with it.
        start_step: the step count to start from when not resuming from a file.

    `rank_and_stage` ranks against the snapshot, stages, and commits when the staged count
    reaches ``commit_every``. A call that crosses the boundary is ranked wholly against the old
    snapshot and its rows are all committed (one sample per call never crosses). The staged
    rows are part of `state_dict`, so a resumed run continues mid-step exactly.

    Complexity: `rank_and_stage` is O(B K log n); the commit that ends a step is O(K n).

    Examples:
        >>> norm = AutoCommitNormalizer(RankNormalizer(num_metrics=1, window=8, prefill=1), 2)
        >>> [norm.rank_and_stage([x]).item() for x in (1.0, 2.0, 1.5)]
        [1.0, 1.0, 0.6666666666666666]
        >>> norm.commits, len(norm), norm.num_staged
        (1, 3, 1)
    """

    def __init__(
        self,
        inner: RankNormalizer | None = None,
        commit_every: int = 1,
        *,
        state_file: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        start_step: int = 0,
    ) -> None:
        super().__init__(inner)
        check_commit_every(commit_every, required=True)
        self.commit_every = commit_every
        self._windows = _OneWindow(
            windows={_KEY: self.inner},
            commit_every=commit_every,
            state_file=state_file,
            resume_from=resume_from,
            start_step=start_step,
        )

    @property
    def commits(self) -> int:
        """Steps committed so far (the ``{step}`` of the state files)."""
        return self._windows.commits

    @property
    def state_file(self) -> str | None:
        return self._windows.state_file

    def rank_and_stage(self, values: Any) -> Any:
        """Rank against the snapshot, stage, and commit if a step's worth is staged."""
        with self._windows.locked():
            ranks = self.inner.rank_and_stage(values)
            self._windows.count_samples(len(ranks))
            return ranks

    def stage(self, values: Any) -> None:
        with self._windows.locked():
            before = self.inner.num_staged
            self.inner.stage(values)
            self._windows.count_samples(self.inner.num_staged - before)

    def commit(self) -> int:
        """Commit now (also called automatically); returns the rows appended."""
        return self._windows.commit()

    def discard_staged(self) -> int:
        return self._windows.discard_staged()

    def state_dict(self) -> dict[str, Any]:
        """The window's state plus ``commits`` (the step count), so a resumed run keeps
        numbering its per-step state files where the interrupted one stopped."""
        return self._windows.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._windows.load_state_dict(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        self._windows.save(path)

    def load(self, path: str | os.PathLike[str]) -> None:
        self._windows.load(path)

    def __repr__(self) -> str:
        return f"AutoCommitNormalizer({self.inner!r}, commit_every={self.commit_every})"
