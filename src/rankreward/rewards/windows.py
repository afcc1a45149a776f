"""The windows of a `ComponentReward`: one `RankNormalizer` per ranked component and task.

A recipe's ranked components keep separate windows, and a sample where a component does not
apply sends it no value, so component windows fill at different rates. Trainers that give the
reward no step signal (verl, OpenRLHF, EasyR1) commit by count; counting each window's rows would
then commit them at different steps. So the count is kept here, in **samples scored**, for the
whole set: every ``commit_every`` samples all windows commit together, exactly one step's worth
each, however many values each received.

- `LocalWindows`: the windows in this process.
- `RayWindows`: a `LocalWindows` in a Ray named actor, shared by every process of the job
  (verl's reward workers, OpenRLHF's engines, EasyR1's training and validation reward actors);
  one round trip per batch for all components.

Both save and load one ``.npz`` (no pickle), keyed ``"task/component"``.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._pickling import LockFreePickle
from ..normalize import RankNormalizer
from ..normalize.normalizer import load_state, save_state

__all__ = ["LocalWindows", "RayWindows", "paper_window"]

#: Staging calls without a commit after which overfull windows warn.
_CALLS_BEFORE_WARNING = 64


def paper_window() -> RankNormalizer:
    """One component's window as in the paper: 2048 values, 128 zeros, ties right, 1 decimal."""
    return RankNormalizer.paper(num_metrics=1)


def _check_every(commit_every: int | None) -> None:
    if commit_every is not None and (
        not isinstance(commit_every, int) or isinstance(commit_every, bool) or commit_every < 1
    ):
        raise ValueError(f"commit_every must be a positive int or None, got {commit_every!r}")


class LocalWindows(LockFreePickle):
    """The windows of one reward, in this process. Thread-safe.

    Args:
        make_window: builds one window (no arguments; default `paper_window`).
        commit_every: commit every window after this many samples were scored with staging
            (rows per training step); ``None``: the trainer calls `commit` (TRL's callback).
        state_file: after every counted commit, save here; ``{step}`` becomes the commit count.
        resume_from: a file written by `save` to load now (its commit and sample counts too).

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
    ) -> None:
        _check_every(commit_every)
        if commit_every is None and state_file is not None:
            raise ValueError("state_file needs commit_every (files are written per counted step)")
        self.make_window = make_window
        self.commit_every = commit_every
        self.state_file = None if state_file is None else str(state_file)
        self.commits = 0
        self.pending = 0  # samples scored with staging since the last commit
        self._windows: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._warned = False
        self._staging_calls = 0  # scoring calls since the last commit (for the warning)
        if resume_from is not None:
            self.load(resume_from)

    def get(self, key: str) -> Any:
        """The window of ``key`` (``"task/component"``), created on first use. O(1)."""
        with self._lock:
            if key not in self._windows:
                self._windows[key] = self.make_window()
            return self._windows[key]

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._windows)

    def rank_and_stage(
        self, batch: Mapping[str, np.ndarray], n_samples: int, stage: bool = True
    ) -> dict[str, np.ndarray]:
        """Rank each key's values (1-D) against its window; stage them unless ``stage`` is
        False (validation); count ``n_samples`` and commit every window when a step's worth of
        samples was staged. A batch crossing the boundary is ranked wholly against the old
        windows. O(sum B log n), plus O(windows x n) at a commit."""
        with self._lock:
            out = {}
            for key, values in batch.items():
                window = self.get(key)
                column = np.asarray(values, np.float64).reshape(-1, 1)
                ranks = window.rank_and_stage(column) if stage else window.rank(column)
                out[key] = np.asarray(ranks, np.float64).reshape(-1)
            if stage and self.commit_every is not None:
                self.pending += int(n_samples)
                if self.pending >= self.commit_every:
                    self.commit()
            elif stage and not self._warned:
                self._staging_calls += 1
                self._warn_if_never_committed()
            return out

    def _warn_if_never_committed(self) -> None:
        # many scoring calls and more values than a window holds, with no commit: nobody is
        # committing (one large step's batch alone does not warn)
        if self._staging_calls < _CALLS_BEFORE_WARNING:
            return
        for key, window in self._windows.items():
            capacity = getattr(window, "capacity", None)
            if capacity is not None and window.num_staged > capacity:
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
        """Append every window's staged values; returns how many. O(windows x n)."""
        with self._lock:
            self._staging_calls = 0
            n = sum(int(w.commit()) for w in self._windows.values())
            if self.commit_every is not None:
                self.commits += 1
                self.pending = 0
                if self.state_file is not None:
                    path = Path(self.state_file.format(step=self.commits))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self.save(path)
            return n

    def discard_staged(self) -> int:
        """Drop every staged value (benchmarks, a retried step). O(windows)."""
        with self._lock:
            self.pending = self._staging_calls = 0
            return sum(int(w.discard_staged()) for w in self._windows.values())

    def state_dict(self) -> dict[str, Any]:
        """Every window's state keyed ``"task/component"``, plus ``__counts__``."""
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


def flatten_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """`LocalWindows.state_dict` as flat npz arrays (``windows`` names ``w0.``, ``w1.``, ...)."""
    windows = {k: v for k, v in state.items() if k != "__counts__"}
    flat: dict[str, Any] = {"windows": np.array(list(windows), dtype=str)}
    for i, window_state in enumerate(windows.values()):
        flat.update({f"w{i}.{field}": value for field, value in window_state.items()})
    if "__counts__" in state:
        counts = state["__counts__"]
        flat["counts"] = np.array([counts["commits"], counts["pending"]], np.int64)
    return flat


def unflatten_state(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten_state`."""
    flat = dict(flat)
    keys = [str(k) for k in np.atleast_1d(flat.pop("windows"))] if "windows" in flat else []
    state: dict[str, Any] = {}
    for i, key in enumerate(keys):
        prefix = f"w{i}."
        fields = {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
        for text in ("ties", "dtype"):
            if text in fields:
                fields[text] = str(fields[text])
        state[key] = fields
    if "counts" in flat:
        commits, pending = (int(v) for v in flat["counts"])
        state["__counts__"] = {"commits": commits, "pending": pending}
    return state


class _WindowsHost:
    """The Ray actor body: a `LocalWindows` of paper windows, one call at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.windows = LocalWindows(
            commit_every=config["commit_every"],
            state_file=config["state_file"],
            resume_from=config["resume_from"],
        )

    def get_config(self) -> dict[str, Any]:
        return self.config

    def call(self, op: str, *args: Any) -> Any:
        return getattr(self.windows, op)(*args)

    def counts(self) -> tuple[int, int]:
        return self.windows.commits, self.windows.pending


@functools.cache
def _host_class() -> Any:
    import ray

    return ray.remote(num_cpus=0, max_concurrency=1)(_WindowsHost)


class RayWindows:
    """`LocalWindows` (paper windows) living in a Ray named actor: every process that uses the
    same ``name`` ranks against, stages into and commits the same windows, counted in samples
    over all of them. One actor round trip per scored batch. Same methods as `LocalWindows`.

    Args:
        name: the actor's name (one per reward configuration).
        commit_every: samples per training step, summed over every process.
        state_file: as `LocalWindows`, a path as the actor's node sees it.
        resume_from: likewise.
        namespace: Ray namespace (default: the job's).

    ``ray.init`` must have run (it has, inside verl, OpenRLHF and EasyR1 workers). Attaching to
    an actor of the same name with another configuration raises ``ValueError``.

    Example (needs a running Ray; the trainer adapters build this for you)::

        ray.init()
        reward = preset("seg-zero", ranked=True,
                        windows=RayWindows("seg-zero-windows", commit_every=1024))
    """

    def __init__(
        self,
        name: str,
        *,
        commit_every: int | None = None,
        state_file: str | None = None,
        resume_from: str | None = None,
        namespace: str | None = None,
    ) -> None:
        import ray

        if not ray.is_initialized():
            raise RuntimeError("RayWindows needs a running Ray: call ray.init() first")
        _check_every(commit_every)
        if commit_every is None and state_file is not None:
            raise ValueError("state_file needs commit_every (files are written per counted step)")
        config = {
            "commit_every": commit_every,
            "state_file": None if state_file is None else str(state_file),
            "resume_from": None if resume_from is None else str(resume_from),
        }
        self.name, self.commit_every = name, commit_every
        self._ray = ray
        self._actor = (
            _host_class().options(name=name, namespace=namespace, get_if_exists=True).remote(config)
        )
        existing = ray.get(self._actor.get_config.remote())
        if existing != config:
            raise ValueError(
                f"a windows actor named {name!r} already exists with configuration {existing}, "
                f"not {config}; use another name or the same settings"
            )

    def _call(self, op: str, *args: Any) -> Any:
        return self._ray.get(self._actor.call.remote(op, *args))

    def rank_and_stage(
        self, batch: Mapping[str, np.ndarray], n_samples: int, stage: bool = True
    ) -> dict[str, np.ndarray]:
        arrays = {k: np.asarray(v, np.float64).reshape(-1) for k, v in batch.items()}
        out = self._call("rank_and_stage", arrays, int(n_samples), bool(stage))
        return {k: np.array(v) for k, v in out.items()}  # Ray hands back read-only arrays

    def get(self, key: str) -> Any:
        raise TypeError(
            f"the windows of {self.name!r} live in a Ray actor: read them with state_dict()"
        )

    def keys(self) -> list[str]:
        return self._call("keys")

    @property
    def commits(self) -> int:
        return self._ray.get(self._actor.counts.remote())[0]

    @property
    def pending(self) -> int:
        return self._ray.get(self._actor.counts.remote())[1]

    def commit(self) -> int:
        return self._call("commit")

    def discard_staged(self) -> int:
        return self._call("discard_staged")

    def state_dict(self) -> dict[str, Any]:
        return self._call("state_dict")

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._call("load_state_dict", dict(state))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the actor's state to ``path`` (atomic ``.npz``) from this process."""
        save_state(flatten_state(self.state_dict()), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        self.load_state_dict(unflatten_state(load_state(path)))

    def kill(self) -> None:
        """Remove the actor."""
        self._ray.kill(self._actor)

    def __repr__(self) -> str:
        return f"RayWindows(name={self.name!r}, commit_every={self.commit_every})"
