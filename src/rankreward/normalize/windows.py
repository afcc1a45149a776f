"""The windows contract (`Windows`, `WindowSpec`) and its in-process host, `LocalWindows`.

A reward with several ranked terms keeps one window per term (and per task); components that
name one ``window`` are ranked together in one K-metric window. A sample where a term does not
apply sends that window no value, so the windows fill at different rates. Trainers that give
the reward no step signal (verl, OpenRLHF, EasyR1, TRL's async GRPO) commit by count; counting
each window's rows would then commit them at different steps. So the count is kept here, in
**samples scored**, for the whole set: every ``commit_every`` samples every window commits,
exactly one step's worth each, however many values each received.

**One protocol, several hosts.** `Windows` is what a reward talks to: `LocalWindows` (this
process), `rankreward.distributed.RayWindows` (one Ray actor for every process of a job; it
hosts a `LocalWindows` built from the same `WindowSpec`) and the reward service (which uses the
set it is given). The verbs:

- ``rank_and_stage(batch, n_samples, stage=True)``: rank each key's values (1-D for a
  one-metric window, ``(B, K)`` for a K-metric one) against the committed windows, stage
  them, count ``n_samples``; ``stage(batch, n_samples)``: stage without ranking;
- ``commit()``: append every staged value (one optimizer step); ``commits`` (steps committed)
  and ``pending`` (samples staged since);
- ``keys()``, ``sizes()`` (each window's committed and staged counts), ``owner`` and
  ``set_owner(owner)`` (the reward the windows belong to, with its layout);
- ``state_dict() / load_state_dict(state)`` and ``save(path) / load(path)`` (one ``.npz``, no
  pickle; a load that fails on any key changes nothing);
- ``note_step(step)`` (a trainer's step, for the never-committed warning) and
  ``wrap_windows(wrap)`` (share every window across ``torch.distributed`` ranks, where the
  host is in-process).

This is the one commit-by-count, ``{step}``-file and resume mechanism of the package:
`AutoCommitNormalizer` is a one-window view of it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._pickling import LockFreePickle
from .normalizer import RankNormalizer
from .state import (
    META_KEYS,
    check_owner,
    describe_owner,
    flatten_state,
    is_normalizer_state,
    load_state,
    merge_column_windows,
    normalizer_to_windows,
    save_state,
    step_path,
    unflatten_state,
)

__all__ = ["LocalWindows", "WindowSpec", "Windows", "check_commit_every", "paper_window"]

#: Staging calls without a commit after which overfull windows warn.
_CALLS_BEFORE_WARNING = 64


def paper_window() -> RankNormalizer:
    """One term's window as in the paper: 2048 values, 128 zeros, ties right, 1 decimal.

    Examples:
        >>> paper_window().num_metrics, paper_window().capacity
        (1, 2048)
    """
    return RankNormalizer.paper(num_metrics=1)


@dataclass(frozen=True)
class WindowSpec:
    """How every window of a set is built: plain data, the same in every host (a Ray actor
    builds exactly what this process would). The paper's settings by default.

    Args:
        capacity: values per window (2048).
        prefill: zeros each window starts with (128).
        ties: ``"right"`` (the paper), ``"left"`` or ``"mid"``.
        decimals: ranks rounded like Python's ``round`` (1); ``None``: not rounded.
        dtype: the windows' float type (``"float32"``, the paper's).
        metrics: window name -> the metrics ranked together in it (default 1); a reward sets
            its own layout through ``set_owner``, which takes precedence.

    Examples:
        >>> spec = WindowSpec(metrics={"accuracy": 3})
        >>> spec.build("/accuracy").num_metrics, spec.build("coco/iou").num_metrics
        (3, 1)
        >>> WindowSpec.from_dict(spec.to_dict()) == spec
        True
    """

    capacity: int = 2048
    prefill: int = 128
    ties: str = "right"
    decimals: int | None = 1
    dtype: str = "float32"
    metrics: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # checked once here (a bad setting fails where it is written, not at the first batch)
        RankNormalizer.paper(num_metrics=1, window=self.capacity, prefill=self.prefill,
                             ties=self.ties, decimals=self.decimals, dtype=self.dtype)  # fmt: skip
        for name, k in self.metrics.items():
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ValueError(f"window {name!r}: metrics must be a positive int, got {k!r}")
        object.__setattr__(self, "metrics", dict(self.metrics))

    def build(self, key: str, num_metrics: int | None = None) -> RankNormalizer:
        """A new window for ``key`` (``"task/window"``): ``num_metrics`` metrics, else
        ``metrics[window]``, else 1. O(capacity)."""
        k = num_metrics if num_metrics is not None else self.metrics.get(_window_name(key), 1)
        return RankNormalizer.paper(num_metrics=k, window=self.capacity, prefill=self.prefill,
                                    ties=self.ties, decimals=self.decimals, dtype=self.dtype)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data (a Ray actor's configuration). O(windows)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSpec:
        """The inverse of `to_dict`. O(windows)."""
        return cls(**dict(data))


def _window_name(key: str) -> str:
    return key.rpartition("/")[2]


@runtime_checkable
class Windows(Protocol):
    """The contract every host of a reward's windows keeps (see the module docs): a reward
    types its windows as this and never asks which host it has.

    Examples:
        >>> isinstance(LocalWindows(), Windows)
        True
    """

    owner: dict[str, Any] | None
    #: whether the windows live in this process (so ``torch.distributed`` ranks must share
    #: them by collectives), rather than in one host every process calls (Ray, a service)
    in_process: bool

    @property
    def commits(self) -> int: ...
    @property
    def pending(self) -> int: ...
    def rank_and_stage(
        self, batch: Mapping[str, Any], n_samples: int, stage: bool = True
    ) -> dict[str, np.ndarray]: ...
    def stage(self, batch: Mapping[str, Any], n_samples: int) -> None: ...
    def commit(self) -> int: ...
    def keys(self) -> list[str]: ...
    def sizes(self) -> dict[str, tuple[int, int]]: ...
    def set_owner(self, owner: Mapping[str, Any]) -> None: ...
    def configure_steps(
        self,
        *,
        commit_every: int | None = None,
        state_file: str | None = None,
        start_step: int | None = None,
    ) -> None: ...
    def note_step(self, step: int) -> None: ...
    def wrap_windows(self, wrap: Callable[[Any], Any]) -> bool: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any], where: str = ...) -> None: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def load(self, path: str | os.PathLike[str]) -> None: ...


def check_commit_every(commit_every: int | None, *, required: bool = False) -> None:
    """``ValueError`` unless ``commit_every`` is a positive int (or ``None`` when not
    ``required``). O(1)."""
    if commit_every is None and not required:
        return
    if not isinstance(commit_every, int) or isinstance(commit_every, bool) or commit_every < 1:
        kind = "a positive int" if required else "a positive int or None"
        raise ValueError(f"commit_every must be {kind}, got {commit_every!r}")


class LocalWindows(LockFreePickle):
    """The windows of one reward, in this process, keyed ``"task/window"``. Thread-safe.

    Args:
        make_window: builds one window (no arguments) instead of ``spec``: for one-metric
            windows only (a multi-metric window needs ``spec``).
        spec: how windows are built (`WindowSpec`, the paper's settings by default); the
            number of metrics of each window comes from the reward (``set_owner``).
        commit_every: commit every window after this many samples were scored with staging
            (rows per training step); ``None``: the trainer calls `commit` (TRL's callback).
        state_file: after every commit, save here; ``{step}`` becomes the commit count.
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

    in_process = True

    def __init__(
        self,
        make_window: Callable[[], Any] | None = None,
        *,
        spec: WindowSpec | None = None,
        commit_every: int | None = None,
        state_file: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        windows: Mapping[str, Any] | None = None,
        start_step: int = 0,
    ) -> None:
        check_commit_every(commit_every)
        if make_window is not None and spec is not None:
            raise TypeError("pass make_window or spec, not both")
        self.make_window = make_window
        self.spec = spec if spec is not None else WindowSpec()
        self.commit_every = commit_every
        self.state_file = None if state_file is None else str(state_file)
        self.commits = int(start_step)
        self.pending = 0  # samples scored with staging since the last commit
        self._windows: dict[str, Any] = dict(windows or {})
        self._wrap: Callable[[Any], Any] | None = None
        self._lock = threading.RLock()
        self._warned = False
        self._staging_calls = 0  # scoring calls since the last commit (for the warning)
        self._steps: set[int] = set()  # trainer steps that scored since the last commit
        # the reward these windows belong to (`set_owner`), and the owner a loaded state
        # named, checked once the reward is known (a set can be resumed before it is handed in)
        self.owner: dict[str, Any] | None = None
        self._loaded: tuple[Any, str] | None = None
        # a normalizer-format state (an older Dr. Seg file) waits for the reward's layout
        self._deferred: tuple[Mapping[str, Any], str] | None = None
        if resume_from is not None:
            self.load(resume_from)

    # ------------------------------------------------------------------ building
    def _metrics_of(self, key: str) -> int | None:
        if self.owner is not None and _window_name(key) in self.owner["windows"]:
            return len(self.owner["windows"][_window_name(key)])
        return None

    def _make(self, key: str, num_metrics: int | None = None) -> Any:
        k = num_metrics if num_metrics is not None else self._metrics_of(key)
        if self.make_window is not None:
            window = self.make_window()
            if k is not None and getattr(window, "num_metrics", k) != k:
                raise ValueError(
                    f"window {key!r} ranks {k} metrics together but make_window built one of "
                    f"{window.num_metrics}: pass spec=WindowSpec(...) instead of make_window"
                )
        else:
            window = self.spec.build(key, k)
        return window if self._wrap is None else self._wrap(window)

    def wrap_windows(self, wrap: Callable[[Any], Any]) -> bool:
        """Replace every window by ``wrap(window)``, now and for every window made later (a
        reward's windows shared across ``torch.distributed`` ranks). ``wrap`` must be
        picklable (a class or a module-level function). Returns True. O(windows)."""
        with self._lock:
            self._windows = {k: wrap(w) for k, w in self._windows.items()}
            inner = self._wrap
            self._wrap = wrap if inner is None else _Composed(inner, wrap)
            return True

    def configure_steps(
        self,
        *,
        commit_every: int | None = None,
        state_file: str | os.PathLike[str] | None = None,
        start_step: int | None = None,
    ) -> None:
        """Set how the set counts steps where its owner decides it (the reward service):
        commit every ``commit_every`` samples, write each step's file to ``state_file``
        (``{step}`` the commit count), number steps from ``start_step``. ``None`` leaves a
        setting as it is. O(1)."""
        check_commit_every(commit_every)
        with self._lock:
            if commit_every is not None:
                self.commit_every = commit_every
            if state_file is not None:
                self.state_file = str(state_file)
            if start_step is not None:
                self.commits = int(start_step)

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
        and ranked windows, each window's metrics its columns): saved with the state, and a
        state of another reward, loaded before or after, raises ``ValueError`` naming both.
        A state in an older layout (a Dr. Seg normalizer file, one window per column) loaded
        before is converted now. O(windows)."""
        owner = {"recipe": str(owner["recipe"]),
                 "windows": {str(k): [str(c) for c in v] for k, v in owner["windows"].items()}}  # fmt: skip
        with self._lock:
            if self.owner is not None and self.owner != owner:
                raise ValueError(
                    f"these windows belong to {describe_owner(self.owner)}; another reward "
                    f"({describe_owner(owner)}) cannot share them"
                )
            if self.owner == owner:
                return
            if self._deferred is not None:
                state, where = self._deferred
                converted = normalizer_to_windows(state, owner, where)
                self.owner = owner
                try:
                    self.load_state_dict(converted, where)
                except BaseException:
                    self.owner = None
                    raise
                self._deferred = None
                return
            keys = list(self._windows)
            merged = merge_column_windows({k: None for k in keys}, owner, "the windows")
            if self._loaded is not None:
                state_owner, where = self._loaded
                if list(merged) != keys:  # loaded one window per column: ranked together now
                    state = self.state_dict()
                    state.pop("__owner__", None)
                    fresh = merge_column_windows(state, owner, where)
                    self._windows = {}
                    self.owner = owner
                    self.load_state_dict(fresh, where)
                    return
                check_owner(owner, state_owner, keys, where)
            for key in keys:
                k = len(owner["windows"].get(_window_name(key), [None]))
                got = getattr(self._windows[key], "num_metrics", k)
                if got != k:
                    raise ValueError(
                        f"window {key!r} has {got} metrics but {describe_owner(owner)} ranks "
                        f"{k} in it"
                    )
            self.owner = owner

    # ------------------------------------------------------------------ use
    def _check_ready(self) -> None:
        if self._deferred is not None:
            raise ValueError(
                f"{self._deferred[1]} is a single-normalizer state file: hand these windows to "
                "their reward (preset(..., windows=...)) before using them, so its layout is known"
            )

    def get(self, key: str) -> Any:
        """The window of ``key`` (``"task/window"``), created on first use. O(1)."""
        with self._lock:
            if key not in self._windows:
                self._check_ready()
                self._windows[key] = self._make(key)
            return self._windows[key]

    def keys(self) -> list[str]:
        """The keys of the windows that exist so far. O(windows)."""
        with self._lock:
            return list(self._windows)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Each window's (committed values, staged rows). O(windows)."""
        with self._lock:
            return {k: (len(w), int(w.num_staged)) for k, w in self._windows.items()}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the set's lock: calls inside run as one step for every other thread (a view
        that ranks and then counts, `AutoCommitNormalizer`). Re-entrant."""
        with self._lock:
            yield

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
                self.count_samples(n_samples)
            return out

    def stage(self, batch: Mapping[str, Any], n_samples: int) -> None:
        """Stage each key's values without ranking them; counted as in `rank_and_stage`.
        O(sum B), plus O(windows x n) at a commit."""
        with self._lock:
            for key, values in batch.items():
                column = np.asarray(values, np.float64)
                self.get(key).stage(column.reshape(-1, 1) if column.ndim == 1 else column)
            self.count_samples(n_samples)

    def count_samples(self, n_samples: int) -> None:
        """Count ``n_samples`` scored with staging; with ``commit_every``, commit when a
        step's worth was counted. O(1), plus O(windows x n) at a commit."""
        with self._lock:
            self.pending += int(n_samples)
            if self.commit_every is not None:
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
        """Append every window's staged values (one step); returns how many. Every call of a
        set committed by the trainer is a step; a counted set (``commit_every``) counts one
        unless nothing was scored since the last commit. With a ``state_file``, the step's
        file is written before anything changes, so a failed write leaves the set as it was.
        O(windows x n)."""
        with self._lock:
            staged = sum(int(w.num_staged) for w in self._windows.values())
            if self.commit_every is not None and not (staged or self.pending):
                return 0
            if self.state_file is not None:
                # the file of step N + 1 is the state after this commit: written from a copy
                after = self._file_state(self._committed_state())
                save_state(after, step_path(self.state_file, self.commits + 1))
            self._staging_calls = 0
            self._steps = set()
            self._warned = False
            n = sum(int(w.commit()) for w in self._windows.values())
            self.commits += 1
            self.pending = 0
            return n

    def _file_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """What a state file holds for ``state`` (`LocalWindows.state_dict`'s form)."""
        return flatten_state(state)

    def _committed_state(self) -> dict[str, Any]:
        """`state_dict` as it will be after `commit`, computed without committing."""
        state = LocalWindows.state_dict(self)
        for key in self._windows:
            fields = dict(state[key])
            values = np.concatenate([np.asarray(fields["values"]), np.asarray(fields["staged"])])
            capacity = int(np.asarray(fields["window"]))
            fields["values"] = values[max(0, len(values) - capacity) :]
            fields["staged"] = np.asarray(fields["staged"])[:0]
            state[key] = fields
        state["__counts__"] = {"commits": self.commits + 1, "pending": 0}
        return state

    def discard_staged(self) -> int:
        """Drop every staged value (benchmarks, a retried step). O(windows)."""
        with self._lock:
            self.pending = self._staging_calls = 0
            return sum(int(w.discard_staged()) for w in self._windows.values())

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Every window's state keyed ``"task/window"``, plus ``__counts__`` and the owner."""
        with self._lock:
            state: dict[str, Any] = {k: w.state_dict() for k, w in self._windows.items()}
            state["__counts__"] = {"commits": self.commits, "pending": self.pending}
            if self.owner is not None:
                state["__owner__"] = self.owner
            return state

    def load_state_dict(self, state: Mapping[str, Any], where: str = "the state") -> None:
        """Restore what `state_dict` returned (exactly). A ``ValueError`` (naming ``where``)
        for counts that are not non-negative integers, a state of another reward (see
        `set_owner`) or a window that refuses its part; nothing is changed then. A
        single-normalizer state (an older Dr. Seg file) and one window per column (an older
        preset file) are converted to the reward's layout."""
        with self._lock:
            if is_normalizer_state(state):
                if self.owner is None:  # its layout is the reward's: wait for it
                    self._deferred = (dict(state), where)
                    self.commits = int(np.asarray(state.get("commits", self.commits)))
                    return
                state = normalizer_to_windows(state, self.owner, where)
            if self.owner is not None:
                state = merge_column_windows(state, self.owner, where)
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
            if self.owner is not None:
                check_owner(self.owner, state_owner, keys, where)
            # all or nothing: each window's previous state is kept until every key loaded
            before = dict(self._windows)
            restore: dict[str, Any] = {}
            try:
                for key in keys:
                    if key in self._windows:
                        restore[key] = self._windows[key].state_dict()
                    else:
                        fields = state[key]
                        k = self._metrics_of(key)
                        if k is None and isinstance(fields, Mapping) and "num_metrics" in fields:
                            k = int(np.asarray(fields["num_metrics"]))
                        self._windows[key] = self._make(key, k)
                    self._windows[key].load_state_dict(state[key])
            except Exception as err:
                for key, saved in restore.items():
                    self._windows[key].load_state_dict(saved)
                self._windows = before
                if isinstance(err, ValueError) and where not in str(err):
                    raise ValueError(f"{where}: {err}") from None
                raise
            if counts is not None:
                self.commits, self.pending = int(counts["commits"]), int(counts["pending"])
            self._loaded = (state_owner, where)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` to one ``.npz``, atomically, without pickle. O(windows x n)."""
        save_state(self._file_state(LocalWindows.state_dict(self)), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore what `save` wrote (or an older layout, see `load_state_dict`)."""
        raw = load_state(path)
        state = raw if is_normalizer_state(raw) else unflatten_state(raw)
        self.load_state_dict(state, where=str(path))

    def __repr__(self) -> str:
        return f"LocalWindows({self.keys()}, commit_every={self.commit_every})"


class _Composed:
    """``outer(inner(window))``, picklable (two wraps applied in turn)."""

    def __init__(self, inner: Callable[[Any], Any], outer: Callable[[Any], Any]) -> None:
        self.inner, self.outer = inner, outer

    def __call__(self, window: Any) -> Any:
        return self.outer(self.inner(window))
