"""A reward as named components, some ranked: the Dr. Seg idea for any perception recipe.

A `ComponentReward` reads each completion once (its ``reader``), asks every `Component` for its
per-sample values, ranks the components marked ``ranked`` against their own rolling windows,
and sums ``weight x value`` over the components that apply to each sample.

- **Not applicable is not zero.** A component returns ``None`` (or NaN) for a sample it does
  not apply to (a detection sample has no count term, a counting sample no IoU): that value
  stays out of its window and out of the sample's sum. A sample with no applicable component
  scores ``None`` (TRL then leaves it out of the advantage), never 0.
- **One window per component, per task.** Ranked components keep separate windows (a value of
  one never ranks against another), and with ``task_key`` every task keeps its own: a mixed
  detection + counting dataset never ranks IoUs against counts.
- **Per-step snapshot.** Values are ranked against the window as committed and staged;
  `commit` (once per optimizer step, as the trainer adapters do) appends them.

Every sample's values, ranks and the total come back from `score` for logging.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._pickling import LockFreePickle
from ..distributed.ray_actor import RayWindows
from ..normalize.windows import LocalWindows, paper_window
from ..text import completion_text

__all__ = ["Component", "ComponentReward"]


@dataclass(frozen=True)
class Component:
    """One named term of a reward.

    Args:
        name: the key it is logged under.
        fn: ``fn(answers, ground_truths) -> values``: one float (or ``None`` / NaN when the
            term does not apply) per sample; ``answers`` are the reader's outputs.
        weight: its factor in the sum.
        ranked: rank it against its window (its empirical quantile) instead of using it raw.
        context: the per-sample columns it also needs (image sizes, ...); it is then called
            ``fn(answers, ground_truths, {column: values})`` and the reward raises a
            ``TypeError`` naming a missing column. A name ending in ``?`` is optional (passed
            when present, under the name without ``?``).

    Examples:
        >>> hit = Component("hit", lambda answers, gts: [float(a == g) for a, g in zip(answers, gts)])
        >>> hit.fn(["a", "b"], ["a", "a"]), hit.ranked
        ([1.0, 0.0], False)
    """

    name: str
    fn: Callable[[list[Any], list[Any]], Any]
    weight: float = 1.0
    ranked: bool = False
    context: tuple[str, ...] = ()


class ComponentReward(LockFreePickle):
    """A TRL-shaped reward ``(completions, ground_truth=..., **kwargs) -> list[float | None]``
    built from `Component` s (see the module docs).

    Args:
        components: the terms, summed in this order.
        reader: ``reader(text) -> answer`` applied once per completion (default: the text).
        task_key: the keyword (a dataset column) holding each sample's task; every task keeps
            its own windows. ``None``: one set of windows.
        make_window: builds one component's window (default: the paper's normalizer, one
            metric: window 2048, 128 zeros, ties right, 1 decimal).
        windows: where the windows live instead (`LocalWindows` committed by sample count,
            `RayWindows` shared by a Ray job; the trainer adapters build these).
        ground_truth_key: the column read when ``ground_truth`` is not passed.
        max_reward: the largest total (0..max scaling for trainers that filter on it), when
            every component is bounded; ``None`` otherwise.

    Thread-safe: scoring and committing are serialised.

    Complexity: the reader and components' own costs, plus O(B log n) ranking per ranked
    component.

    Examples:
        >>> iou = Component("iou", lambda a, g: [None if x is None else x for x in a], ranked=True)
        >>> fmt = Component("format", lambda a, g: [0.0 if x is None else 1.0 for x in a])
        >>> reward = ComponentReward([fmt, iou], reader=lambda t: None if t == "?" else float(t))
        >>> reward(["0.5", "?"], ground_truth=[None, None])
        [2.0, 0.0]
        >>> reward.commit(), len(reward.window("iou"))   # the "?" never entered the window
        (1, 129)
    """

    def __init__(
        self,
        components: Sequence[Component],
        *,
        reader: Callable[[str], Any] | None = None,
        task_key: str | None = None,
        make_window: Callable[[], Any] = paper_window,
        windows: LocalWindows | RayWindows | None = None,
        ground_truth_key: str = "solution",
        max_reward: float | None = None,
    ) -> None:
        components = list(components)
        if not components:
            raise ValueError("a reward needs at least one component")
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique, got {names}")
        for c in components:
            if not isinstance(c, Component) or not callable(c.fn):
                raise TypeError(f"components must be Component(name, fn, ...), got {c!r}")
            if not np.isfinite(c.weight):
                raise ValueError(f"component {c.name!r} has a non-finite weight {c.weight!r}")
        self.components = components
        self.reader = reader
        self.task_key = task_key
        self.windows = LocalWindows(make_window) if windows is None else windows
        self.ground_truth_key = ground_truth_key
        self.max_reward = max_reward
        self._lock = threading.RLock()

    def window(self, name: str, task: Any = "") -> Any:
        """The normalizer of component ``name`` for ``task`` (created on first use). O(1)."""
        return self.windows.get(f"{task}/{name}")

    def _values(self, c: Component, answers: list, gts: list, context: Mapping) -> np.ndarray:
        if c.context:
            required = [k for k in c.context if not k.endswith("?")]
            missing = [k for k in required if context.get(k) is None]
            if missing:
                raise TypeError(f"component {c.name!r} needs the columns {missing}")
            names = [k.rstrip("?") for k in c.context]
            raw = c.fn(answers, gts, {k: context[k] for k in names if context.get(k) is not None})
        else:
            raw = c.fn(answers, gts)
        if isinstance(raw, np.ndarray) and raw.dtype.kind == "f":
            values = raw.astype(np.float64, copy=False)
        else:
            values = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
        if values.shape != (len(answers),):
            raise ValueError(f"component {c.name!r} returned {values.shape}, not ({len(answers)},)")
        if np.isinf(values).any():
            k = int(np.flatnonzero(np.isinf(values))[0])
            raise ValueError(f"component {c.name!r} returned {values[k]} for sample {k}")
        return values

    def tasks_from(self, columns: Mapping[str, Any]) -> Sequence[Any] | None:
        """Each sample's task from the ``task_key`` column of ``columns`` (``None`` without a
        ``task_key``); a ``TypeError`` names the missing column. O(1).

        Examples:
            >>> ComponentReward([Component("x", lambda a, g: a)], task_key="task").tasks_from(
            ...     {"task": ["coco", "refcoco"]})
            ['coco', 'refcoco']
        """
        if self.task_key is None:
            return None
        if columns.get(self.task_key) is None:
            raise TypeError(
                f"task_key={self.task_key!r} but no such column was passed (got {sorted(columns)})"
            )
        return columns[self.task_key]

    def score(
        self,
        completions: Sequence[Any],
        ground_truth: Sequence[Any],
        tasks: Sequence[Any] | None = None,
        context: Mapping[str, Sequence[Any]] | None = None,
        *,
        stage: bool = True,
    ) -> dict[str, Any]:
        """Values, ranks and totals of a batch; stages the ranked values (``stage=False``
        ranks without staging: validation). ``context`` holds the per-sample columns that
        components with ``context`` read.

        Returns ``{name: values}`` for every component (NaN where it does not apply),
        ``{name + "_rank": ranks}`` for the ranked ones and ``reward`` (NaN for a sample with
        no applicable component).
        """
        texts = [completion_text(c) for c in completions]
        gts = list(ground_truth)
        if len(gts) != len(texts):
            raise ValueError(f"{len(texts)} completions but {len(gts)} ground truths")
        task_list = [""] * len(texts) if tasks is None else [str(t) for t in tasks]
        if len(task_list) != len(texts):
            raise ValueError(f"{len(texts)} completions but {len(task_list)} task keys")
        answers = [self.reader(t) for t in texts] if self.reader else texts
        out: dict[str, Any] = {}
        task_array = np.asarray(task_list)
        # each task's rows, in first-seen order (deterministic staging order)
        by_task = {task: task_array == task for task in dict.fromkeys(task_list)}
        with self._lock:
            batch: dict[str, np.ndarray] = {}
            rows_of: dict[str, np.ndarray] = {}
            for c in self.components:
                values = self._values(c, answers, gts, context or {})
                out[c.name] = values
                if c.ranked:
                    for task, in_task in by_task.items():
                        # every ranked component is sent, even with no applicable row, so
                        # windows shared by collectives see the same calls on every rank
                        key = f"{task}/{c.name}"
                        rows_of[key] = np.flatnonzero(in_task & np.isfinite(values))
                        batch[key] = values[rows_of[key]]
            ranks = self.windows.rank_and_stage(batch, len(texts), stage=stage)
        total = np.zeros(len(texts))
        applies = np.zeros(len(texts), bool)
        for c in self.components:
            used = out[c.name]
            if c.ranked:
                used = np.full(len(texts), np.nan)
                for task in by_task:
                    key = f"{task}/{c.name}"
                    used[rows_of[key]] = ranks[key]
                out[c.name + "_rank"] = used
            ok = np.isfinite(used)
            total[ok] = total[ok] + c.weight * used[ok]
            applies |= ok
        out["reward"] = np.where(applies, total, np.nan)
        return out

    def __call__(
        self, completions: Sequence[Any], ground_truth: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        """TRL's reward-function form: one float per completion (``None`` when no component
        applies). ``ground_truth`` may come as the ``ground_truth_key`` column. With TRL's
        ``log_metric`` keyword, each component's mean over the samples it applies to (and its
        rank's) is logged as ``rewards/<name>``."""
        if ground_truth is None:
            ground_truth = kwargs.get(self.ground_truth_key)
        if ground_truth is None:
            raise TypeError(f"pass ground_truth=... (or a {self.ground_truth_key!r} column)")
        out = self.score(completions, ground_truth, self.tasks_from(kwargs), context=kwargs)
        log_metric = kwargs.get("log_metric")  # TRL's per-step logger, when it passes one
        if log_metric is not None:
            for c in self.components:
                for key in (c.name, c.name + "_rank") if c.ranked else (c.name,):
                    values = out[key][np.isfinite(out[key])]
                    if len(values):  # a component that applied to no sample logs nothing
                        log_metric(f"rewards/{key}", float(values.mean()))
        rewards = out["reward"].tolist()
        if np.isnan(out["reward"]).any():
            rewards = [None if r != r else r for r in rewards]  # NaN: no component applies
        return rewards

    def commit(self) -> int:
        """Append every window's staged values (once per optimizer step); returns the number
        of values appended. O(windows x n)."""
        return int(self.windows.commit())

    @property
    def logged_keys(self) -> list[str]:
        """The per-sample keys of `score` a trainer logs: each component, and its rank."""
        keys = []
        for c in self.components:
            keys += [c.name, c.name + "_rank"] if c.ranked else [c.name]
        return keys

    def state_dict(self) -> dict[str, Any]:
        """Every window's state, keyed ``"task/component"`` (see `LocalWindows`)."""
        return self.windows.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the windows saved by `state_dict` (exactly)."""
        self.windows.load_state_dict(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every window's state to one ``.npz``, atomically, without pickle (the
        trainer adapters' checkpoint file). O(windows x n)."""
        self.windows.save(path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore what `save` wrote (exactly)."""
        self.windows.load(path)
