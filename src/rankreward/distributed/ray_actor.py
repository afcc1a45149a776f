"""One Ray host for rank windows: a named actor that every process of a Ray job shares.

verl's reward-loop workers and OpenRLHF's vLLM engines are separate Ray actor processes that
each score some of a step's rollouts. A Ray *named actor* (`_WindowsHost`) holds the windows;
every process gets a handle by name and sends only its raw float rows. The actor runs one call
at a time, so the calls are serialised exactly as in one process and the results equal the
in-process windows' for the same order. Two handles talk to the one host:

- `RayWindows`: a keyed `LocalWindows` set (a recipe's ranked terms, per task), counted in
  samples; one round trip per scored batch for all terms.
- `RayRankNormalizer`: one window with a normalizer's calls (`AutoCommitNormalizer` when
  ``commit_every`` is given), e.g. the Dr. Seg reward's three-metric window.

Nothing here starts Ray or opens a port: the caller (the trainer) owns ``ray.init``. Values
travel as float64 numpy arrays through Ray's own object transport.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._arrays import is_torch, to_numpy
from .._extras import require
from ..normalize.autocommit import AutoCommitNormalizer
from ..normalize.normalizer import RankNormalizer
from ..normalize.state import (
    flatten_state,
    is_normalizer_state,
    load_state,
    save_state,
    unflatten_state,
)
from ..normalize.windows import LocalWindows, WindowSpec, check_commit_every

__all__ = ["DEFAULT_ACTOR_NAME", "RayRankNormalizer", "RayWindows"]

#: Name under which the shared normalizer actor is registered when none is given.
DEFAULT_ACTOR_NAME = "rankreward-normalizer"


def _build(config: dict[str, Any]) -> Any:
    """What a host serves, from its (plain, comparable) configuration."""
    files = {k: config[k] for k in ("state_file", "resume_from")}
    every = config["commit_every"]
    if config["kind"] == "windows":
        spec = WindowSpec.from_dict(config["spec"])
        return LocalWindows(spec=spec, commit_every=every, **files)
    kwargs = dict(config["normalizer"])
    inner = RankNormalizer.paper(**kwargs) if config["paper"] else RankNormalizer(**kwargs)
    return AutoCommitNormalizer(inner, every, **files) if every else inner


class _WindowsHost:
    """The actor body: builds the windows (a `LocalWindows` set or one normalizer) in the actor
    process and serves calls on them, one at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.target = _build(config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.target, op)(*args, **kwargs)

    def call_staged(self, op: str, *args: Any) -> tuple[Any, int]:
        """One normalizer call and the staged count after it (saves a round trip)."""
        return getattr(self.target, op)(*args), self.target.num_staged

    def get(self, attribute: str) -> Any:
        return getattr(self.target, attribute)

    def info(self) -> dict[str, Any]:
        commits = getattr(self.target, "commits", None)
        if self.config["kind"] == "windows":
            return {"commits": commits, "pending": self.target.pending}
        return {"len": len(self.target), "staged": self.target.num_staged, "commits": commits}


@functools.cache
def _host_class() -> Any:
    import ray

    # One call at a time: the actor serialises every process's calls, as one process would.
    return ray.remote(num_cpus=0, max_concurrency=1)(_WindowsHost)


def _attach(
    name: str, namespace: str | None, config: dict[str, Any], detached: bool = False
) -> Any:
    """The host named ``name``, created with ``config`` unless it exists; ``ValueError`` when
    it exists with another configuration."""
    import ray

    actor = (
        _host_class()
        .options(
            name=name,
            namespace=namespace,
            get_if_exists=True,
            lifetime="detached" if detached else None,
        )
        .remote(config)
    )
    existing = ray.get(actor.get_config.remote())
    if existing != config:
        raise ValueError(
            f"a windows actor named {name!r} already exists with configuration {existing}, "
            f"not {config}; use another name or the same settings"
        )
    return actor


class RayRankNormalizer:
    """A handle on a normalizer living in a Ray named actor; same calls as `RankNormalizer`.

    Args:
        name: the actor's name; every process using the same name (and namespace) shares it.
        namespace: Ray namespace (default: the job's).
        commit_every: wrap the window in `AutoCommitNormalizer` (rows per step); ``None``
            leaves committing to you.
        state_file: see `AutoCommitNormalizer` (a path as the actor's node sees it; needs
            ``commit_every``).
        resume_from: likewise.
        paper: start from `RankNormalizer.paper` (default) or the plain constructor.
        detached: keep the actor alive after the process that created it exits (then `kill`
            it yourself); by default it lives as long as its creator.
        **normalizer_kwargs: passed to that constructor (``window=``, ``decimals=``, ...).

    The first process to ask creates the actor (``get_if_exists``); later ones attach to it.
    Attaching with a different configuration raises ``ValueError`` instead of silently using
    the other one. ``ray.init`` must have been called (it is, inside verl and OpenRLHF workers).

    Complexity: one actor round trip per call plus the normalizer's own cost.

    Example:
        ```python
        # needs a running Ray
        ray.init()
        norm = RayRankNormalizer("drseg", commit_every=1024)
        ranks = norm.rank_and_stage(np.array([[0.7, 0.5, 0.9]]))
        ```
    """

    def __init__(
        self,
        name: str = DEFAULT_ACTOR_NAME,
        *,
        namespace: str | None = None,
        commit_every: int | None = None,
        state_file: str | None = None,
        resume_from: str | None = None,
        paper: bool = True,
        detached: bool = False,
        **normalizer_kwargs: Any,
    ) -> None:
        ray = require("ray", "ray", "RayRankNormalizer")

        if not ray.is_initialized():
            raise RuntimeError("RayRankNormalizer needs a running Ray: call ray.init() first")
        config = {
            "kind": "normalizer",
            "paper": bool(paper),
            "commit_every": commit_every,
            "state_file": None if state_file is None else str(state_file),
            "resume_from": None if resume_from is None else str(resume_from),
            "normalizer": dict(normalizer_kwargs),
        }
        if commit_every is None and (state_file or resume_from):
            raise ValueError("state_file and resume_from need commit_every")
        # Validate here, in the caller's process, so a bad argument fails with its own error.
        probe = RankNormalizer.paper(**normalizer_kwargs) if paper else None
        probe = probe or RankNormalizer(**normalizer_kwargs)
        if commit_every is not None:
            AutoCommitNormalizer(probe, commit_every)
        self.num_metrics = probe.num_metrics
        self.capacity = probe.capacity
        self.commit_every = commit_every
        self.name = name
        self._actor = _attach(name, namespace, config, detached)
        self._ray = ray
        self._staged = 0

    def _call(self, op: str, values: Any = None) -> Any:
        arr = None
        if values is not None:
            arr = np.asarray(to_numpy(values), dtype=np.float64)
        args = () if arr is None else (arr,)
        out, self._staged = self._ray.get(self._actor.call_staged.remote(op, *args))
        if out is None or values is None or not is_torch(values):
            return out
        import torch

        dtype = values.dtype if values.is_floating_point() else torch.float64
        # Ray hands back read-only arrays; copy so the tensor owns writable memory.
        return torch.from_numpy(np.array(out)).to(device=values.device, dtype=dtype)

    def rank(self, values: Any) -> Any:
        """`RankNormalizer.rank` in the actor."""
        return self._call("rank", values)

    def update(self, values: Any) -> None:
        self._call("update", values)

    def update_and_rank(self, values: Any) -> Any:
        return self._call("update_and_rank", values)

    def stage(self, values: Any) -> None:
        self._call("stage", values)

    def rank_and_stage(self, values: Any) -> Any:
        """Rank against the shared snapshot and stage (auto-committing with ``commit_every``)."""
        return self._call("rank_and_stage", values)

    def commit(self) -> int:
        return self._call("commit")

    def discard_staged(self) -> int:
        return self._call("discard_staged")

    @property
    def num_staged(self) -> int:
        """Rows staged in the actor (as of this handle's last call; `info` asks afresh)."""
        return self._staged

    def info(self) -> dict[str, Any]:
        """Window length, staged rows and commits, read from the actor now."""
        return self._ray.get(self._actor.info.remote())

    def __len__(self) -> int:
        return int(self.info()["len"])

    @property
    def window(self) -> np.ndarray:
        return self._ray.get(self._actor.get.remote("window"))

    def state_dict(self) -> dict[str, Any]:
        return self._ray.get(self._actor.call.remote("state_dict"))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._ray.get(self._actor.call.remote("load_state_dict", dict(state)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the actor's state to ``path`` (atomic ``.npz``) from this process."""
        save_state(self.state_dict(), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        self.load_state_dict(load_state(path))

    def kill(self) -> None:
        """Remove the actor (it is detached, so it otherwise outlives the job's driver)."""
        self._ray.kill(self._actor)

    def __repr__(self) -> str:
        return f"RayRankNormalizer(name={self.name!r}, commit_every={self.commit_every})"


class RayWindows:
    """A `LocalWindows` set living in a Ray named actor: every process that uses the same
    ``name`` ranks against, stages into and commits the same windows, counted in samples over
    all of them. One actor round trip per scored batch. It keeps the `Windows` protocol, and
    the actor builds exactly what a `LocalWindows` of the same ``spec`` would (multi-metric
    windows included: values travel in their own shape).

    Args:
        name: the actor's name (one per reward configuration).
        spec: how the windows are built (`WindowSpec`, the paper's settings by default).
        commit_every: samples per training step, summed over every process.
        state_file: as `LocalWindows`, a path as the actor's node sees it.
        resume_from: likewise.
        namespace: Ray namespace (default: the job's).

    ``ray.init`` must have run (it has, inside verl, OpenRLHF and EasyR1 workers). Attaching to
    an actor of the same name with another configuration raises ``ValueError``.

    Example:
        ```python
        # needs a running Ray; the trainer adapters build this for you
        ray.init()
        reward = preset("seg-zero", ranked=True,
                        windows=RayWindows("seg-zero-windows", commit_every=1024))
        ```
    """

    in_process = False

    def __init__(
        self,
        name: str,
        *,
        commit_every: int | None = None,
        state_file: str | None = None,
        resume_from: str | None = None,
        namespace: str | None = None,
        spec: WindowSpec | None = None,
    ) -> None:
        ray = require("ray", "ray", "RayWindows")

        if not ray.is_initialized():
            raise RuntimeError("RayWindows needs a running Ray: call ray.init() first")
        check_commit_every(commit_every)
        config = {
            "kind": "windows",
            "spec": (spec or WindowSpec()).to_dict(),
            "commit_every": commit_every,
            "state_file": None if state_file is None else str(state_file),
            "resume_from": None if resume_from is None else str(resume_from),
        }
        self.name, self.commit_every = name, commit_every
        self._ray = ray
        self._actor = _attach(name, namespace, config)
        self.owner: dict[str, Any] | None = None

    def _call(self, op: str, *args: Any) -> Any:
        return self._ray.get(self._actor.call.remote(op, *args))

    def rank_and_stage(
        self, batch: Mapping[str, np.ndarray], n_samples: int, stage: bool = True
    ) -> dict[str, np.ndarray]:
        """`LocalWindows.rank_and_stage` in the actor: each key's values in their own shape
        (1-D, or ``(B, K)`` for a K-metric window). One round trip."""
        arrays = {k: np.asarray(v, np.float64) for k, v in batch.items()}
        out = self._call("rank_and_stage", arrays, int(n_samples), bool(stage))
        return {k: np.array(v) for k, v in out.items()}  # Ray hands back read-only arrays

    def stage(self, batch: Mapping[str, np.ndarray], n_samples: int) -> None:
        """`LocalWindows.stage` in the actor. One round trip."""
        arrays = {k: np.asarray(v, np.float64) for k, v in batch.items()}
        self._call("stage", arrays, int(n_samples))

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Each window's (committed values, staged rows), read from the actor now."""
        return {k: (int(a), int(b)) for k, (a, b) in self._call("sizes").items()}

    def configure_steps(
        self,
        *,
        commit_every: int | None = None,
        state_file: str | None = None,
        start_step: int | None = None,
    ) -> None:
        """`LocalWindows.configure_steps` in the actor."""
        self._ray.get(
            self._actor.call.remote(
                "configure_steps",
                commit_every=commit_every,
                state_file=state_file,
                start_step=start_step,
            )
        )

    def note_step(self, step: int) -> None:
        """Nothing: the counted actor windows commit themselves."""

    def wrap_windows(self, wrap: Any) -> bool:
        """Nothing to wrap: one actor serves every rank already. Returns False."""
        return False

    def get(self, key: str) -> Any:
        raise TypeError(
            f"the windows of {self.name!r} live in a Ray actor: read them with state_dict()"
        )

    def keys(self) -> list[str]:
        return self._call("keys")

    @property
    def commits(self) -> int:
        return self._ray.get(self._actor.info.remote())["commits"]

    @property
    def pending(self) -> int:
        return self._ray.get(self._actor.info.remote())["pending"]

    def commit(self) -> int:
        return self._call("commit")

    def discard_staged(self) -> int:
        return self._call("discard_staged")

    def state_dict(self) -> dict[str, Any]:
        return self._call("state_dict")

    def load_state_dict(self, state: Mapping[str, Any], where: str = "the state") -> None:
        self._call("load_state_dict", dict(state), where)

    def set_owner(self, owner: Mapping[str, Any]) -> None:
        """As `LocalWindows.set_owner`, in the actor: every process's reward must be the same."""
        self._call("set_owner", dict(owner))
        self.owner = self._ray.get(self._actor.get.remote("owner"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the actor's state to ``path`` (atomic ``.npz``) from this process."""
        save_state(flatten_state(self.state_dict()), path)

    def load(self, path: str | os.PathLike[str]) -> None:
        raw = load_state(path)
        state = raw if is_normalizer_state(raw) else unflatten_state(raw)
        self.load_state_dict(state, str(path))

    def kill(self) -> None:
        """Remove the actor."""
        self._ray.kill(self._actor)

    def __repr__(self) -> str:
        return f"RayWindows(name={self.name!r}, commit_every={self.commit_every})"
