"""`AutoCommitNormalizer`: the paper's per-step snapshot for trainers without a step hook.

verl and OpenRLHF call a reward function one sample at a time (in threads, in several worker
processes) and give it no "optimizer step ended" signal. The paper's semantics are still
well-defined by counting: a step is ``rollout_batch_size x n_samples_per_prompt`` rollouts, all
ranked against the windows as they stood before the step, then appended together. So this
wrapper stages every ranked row and commits as soon as ``commit_every`` rows are staged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._pickling import LockFreePickle
from .normalizer import RankNormalizer
from .wrapper import NormalizerWrapper

__all__ = ["AutoCommitNormalizer"]


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
        if not isinstance(commit_every, int) or isinstance(commit_every, bool) or commit_every < 1:
            raise ValueError(f"commit_every must be a positive int, got {commit_every!r}")
        self.commit_every = commit_every
        self.commits = int(start_step)
        self.state_file = None if state_file is None else str(state_file)
        self._lock = threading.RLock()
        if resume_from is not None:
            self.load(resume_from)

    def rank_and_stage(self, values: Any) -> Any:
        """Rank against the snapshot, stage, and commit if a step's worth is staged."""
        with self._lock:
            ranks = self.inner.rank_and_stage(values)
            self._commit_if_full()
            return ranks

    def stage(self, values: Any) -> None:
        with self._lock:
            self.inner.stage(values)
            self._commit_if_full()

    def _commit_if_full(self) -> None:
        if self.inner.num_staged >= self.commit_every:
            self.commit()

    def commit(self) -> int:
        """Commit now (also called automatically); returns the rows appended."""
        with self._lock:
            n = self.inner.commit()
            if n:
                self.commits += 1
                if self.state_file is not None:
                    path = Path(self.state_file.format(step=self.commits))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self.save(path)
            return n

    def state_dict(self) -> dict[str, Any]:
        """The window's state plus ``commits`` (the step count), so a resumed run keeps
        numbering its per-step state files where the interrupted one stopped."""
        with self._lock:
            return {**self.inner.state_dict(), "commits": self.commits}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with self._lock:
            self.inner.load_state_dict(state)
            if "commits" in state:
                self.commits = int(state["commits"])

    def __repr__(self) -> str:
        return f"AutoCommitNormalizer({self.inner!r}, commit_every={self.commit_every})"
