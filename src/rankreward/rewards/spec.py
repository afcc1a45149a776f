"""The one reward framework: a recipe computes a batch's terms, components pick, rank and weigh them.

A reward is a **recipe** and its **components**. Scoring a batch reads one way for every recipe
(Dr. Seg, VisionReasoner, Seg-Zero, VLM-R1, Visual-RFT, Perception-R1 and your own):

    completions -> plain texts (rankreward.text.completion_text)
      -> recipe.terms(texts, ground_truths, context): every term of the batch in one pass,
         one float per sample per column (NaN: not applicable) and readable problems
      -> components pick their columns; the ranked ones go to their windows (one call)
      -> weighted sum, with every component's values and ranks kept for logging.

- **Not applicable is not zero.** A term that does not apply to a sample is NaN (a detection
  sample has no count term, a counting sample no IoU): it stays out of its window and out of
  the sample's sum. A sample with no applicable component scores ``None`` (TRL then leaves it
  out of the advantage), never 0.
- **One window per ranked component, per task** (or one window for several components:
  ``Component(window=...)``). With ``task_key`` every task keeps its own windows: a mixed
  detection + counting dataset never ranks IoUs against counts.
- **Per-step snapshot.** Values are ranked against the windows as committed and staged;
  `commit` (once per optimizer step, as the trainer adapters do) appends them.

A custom reward can skip the recipe: components given as functions (``Component(name, fn)``)
make one (`FunctionTerms`).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._deprecation import REMOVAL_RELEASE
from .._pickling import LockFreePickle
from ..frames import sizes_of_images
from ..normalize.advantages import advantage_shares, zero_spread_fractions
from ..normalize.windows import LocalWindows, Windows, WindowSpec
from ..text import completion_text

__all__ = [
    "Breakdown",
    "Component",
    "ComponentReward",
    "FunctionTerms",
    "Recipe",
    "Terms",
    "required_columns",
]


class Breakdown(dict):
    """What `ComponentReward.score` returns: a plain ``dict`` of per-sample arrays, where a
    key a release renamed still reads (with a ``FutureWarning`` naming the new key) until
    `REMOVAL_RELEASE`.

    Examples:
        >>> b = Breakdown({"x1_rank": [0.5]}, renamed={"r1": "x1_rank"})
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     b["r1"], seen[0].category.__name__
        ([0.5], 'FutureWarning')
    """

    def __init__(self, *args: Any, renamed: Mapping[str, Any] | None = None) -> None:
        super().__init__(*args)
        self.renamed = dict(renamed or {})

    def __missing__(self, key: str) -> Any:
        if key not in self.renamed:
            raise KeyError(key)
        new = self.renamed[key]
        label = new if isinstance(new, str) else "the component it stood for"
        warnings.warn(
            f"breakdown key {key!r} is now {label!r}; the old key goes in rankreward "
            f"{REMOVAL_RELEASE}",
            FutureWarning,
            stacklevel=2,
        )
        return self[new] if isinstance(new, str) else new(self)


@dataclass
class Terms:
    """What a recipe computes for a batch.

    Args:
        columns: ``{column: per-sample float64 array}``; NaN where a term does not apply.
        problems: per sample, readable reasons its terms are what they are (``[]`` for none);
            ``None`` when the recipe reports none.

    Examples:
        >>> Terms({"iou": np.array([0.5, np.nan])}).columns["iou"].tolist()
        [0.5, nan]
    """

    columns: dict[str, np.ndarray]
    problems: list[list[str]] | None = field(default=None)

    def __post_init__(self) -> None:
        # a recipe may give plain lists (None: not applicable); arrays pass through untouched
        self.columns = {
            k: v if isinstance(v, np.ndarray) else _float_values(v) for k, v in self.columns.items()
        }


@runtime_checkable
class Recipe(Protocol):
    """The contract of a recipe: ``terms(texts, ground_truths, context) -> Terms`` computes
    every term of a batch in one call; ``context`` names the per-sample dataset columns it
    reads (a name ending in ``?`` is optional), which arrive in ``context``.

    Examples:
        >>> class Length:
        ...     context = ()
        ...     def terms(self, texts, ground_truths, context):
        ...         return Terms({"length": np.array([len(t) for t in texts], float)})
        >>> isinstance(Length(), Recipe)
        True
    """

    context: tuple[str, ...]

    def terms(
        self, texts: list[str], ground_truths: list[Any], context: Mapping[str, Sequence[Any]]
    ) -> Terms: ...


def required_columns(context: Sequence[str]) -> list[str]:
    """The required names of a ``context`` declaration (those without a trailing ``?``).

    Examples:
        >>> required_columns(("image_grid_thw", "image_size?"))
        ['image_grid_thw']
    """
    return [k for k in context if not k.endswith("?")]


@dataclass(frozen=True)
class Component:
    """One named term of a reward.

    Args:
        name: the key it is logged under.
        fn: for a reward without a recipe: ``fn(answers, ground_truths) -> values``, one float
            (or ``None`` / NaN when the term does not apply) per sample; ``answers`` are the
            reader's outputs. ``None`` (a recipe's component): the values are the recipe's
            ``column``.
        weight: its factor in the sum.
        ranked: rank it against its window (its empirical quantile) instead of using it raw.
        context: the per-sample columns ``fn`` also needs (image sizes, ...); it is then called
            ``fn(answers, ground_truths, {column: values})`` and the reward raises a
            ``TypeError`` naming a missing column. A name ending in ``?`` is optional (passed
            when present, under the name without ``?``).
        column: the recipe column it reads (default: ``name``).
        window: the window it is ranked in (default: its own, ``name``); ranked components
            naming the same window are ranked together in one multi-metric window, each row
            entering where all of them apply (the Dr. Seg reward's three accuracy metrics).
        part: the part of the reward it belongs to, where a trainer shows parts as separate
            reward functions (default: its own, ``name``): the Dr. Seg reward's
            ``structure`` and ``answer_items`` are its ``format`` part.

    Examples:
        >>> hit = Component("hit", lambda answers, gts: [float(a == g) for a, g in zip(answers, gts)])
        >>> hit.fn(["a", "b"], ["a", "a"]), hit.ranked
        ([1.0, 0.0], False)
        >>> Component("x1", column="iou", ranked=True, window="accuracy").window
        'accuracy'
    """

    name: str
    fn: Callable[..., Any] | None = None
    weight: float = 1.0
    ranked: bool = False
    context: tuple[str, ...] = ()
    column: str | None = None
    window: str | None = None
    part: str | None = None

    @property
    def source(self) -> str:
        """The recipe column this component reads."""
        return self.column or self.name

    @property
    def window_name(self) -> str:
        """The window this component is ranked in."""
        return self.window or self.name

    @property
    def part_name(self) -> str:
        """The part of the reward this component belongs to."""
        return self.part or self.name


def _float_values(raw: Any) -> np.ndarray:
    """Per-sample values as float64, ``None`` -> NaN (a float array is not copied)."""
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f":
        return raw.astype(np.float64, copy=False)
    return np.array([np.nan if v is None else v for v in raw], dtype=np.float64)


def _as_column(raw: Any, n: int, what: str, finite: bool = True) -> np.ndarray:
    """One term's per-sample values as float64 (``None`` -> NaN), checked: ``n`` long, no inf."""
    try:
        if isinstance(raw, np.ndarray) and raw.dtype.kind in "USO":
            raw = raw.tolist()
        if not isinstance(raw, np.ndarray) and any(isinstance(v, (str, bytes)) for v in raw):
            raise TypeError  # numpy would read "3" as 3.0: a component returns numbers
        values = _float_values(raw)
    except (TypeError, ValueError):
        bad = next(
            (k for k, v in enumerate(raw)
             if v is not None and (isinstance(v, (str, bytes)) or not isinstance(v, (int, float)))),
            None,
        ) if isinstance(raw, Sequence) else None  # fmt: skip
        where = (
            f" ({type(raw[bad]).__name__} {raw[bad]!r:.60} for sample {bad})"
            if bad is not None
            else ""
        )
        raise TypeError(
            f"{what} must return one float or None per sample{where}, got {type(raw).__name__}"
        ) from None
    if values.shape != (n,):
        raise ValueError(f"{what} returned {values.shape}, not ({n},)")
    if finite and np.isinf(values).any():
        k = int(np.flatnonzero(np.isinf(values))[0])
        raise ValueError(f"{what} returned {values[k]} for sample {k}")
    return values


class FunctionTerms:
    """The recipe of a reward built from component functions: each completion read once by
    ``reader``, then every `Component`'s ``fn`` asked for its column. O(the functions' cost).

    Examples:
        >>> recipe = FunctionTerms([Component("n", lambda a, g: [len(x) for x in a])])
        >>> recipe.terms(["ab", "c"], [None, None], {}).columns["n"].tolist()
        [2.0, 1.0]
    """

    def __init__(
        self, components: Sequence[Component], reader: Callable[[str], Any] | None = None
    ) -> None:
        self.name = "custom"
        self.components = [c for c in components if c.fn is not None]
        self.reader = reader
        # a reader with a coordinate frame (AnswerReader) maps each answer to its image's
        # pixels: a frame other than "absolute" cannot score without the image's size
        self.frame: str | None = getattr(reader, "frame", None) if hasattr(reader, "read") else None
        self.context: tuple[str, ...] = ("image_size?", "seen_size?") if self.frame else ()

    def _read(self, texts: list[str], context: Mapping[str, Sequence[Any]]) -> list[Any]:
        """Each text read once; with a framed reader, answers in the original image's pixels
        (``read(text, image_size, seen_size)`` with each sample's sizes)."""
        if self.reader is None:
            return texts
        sizes, seen = context.get("image_size"), context.get("seen_size")
        if self.frame is None or (self.frame == "absolute" and sizes is None and seen is None):
            return [self.reader(t) for t in texts]
        if sizes is None and self.frame != "absolute":
            raise TypeError(
                f"the reader's frame={self.frame!r} maps answers to the pixels of each sample's "
                "image: pass an 'image_size' column, (width, height) per sample"
            )
        if sizes is None:
            raise TypeError("a 'seen_size' column needs the 'image_size' column too")
        for name, column in (("image_size", sizes), ("seen_size", seen)):
            if column is not None and len(column) != len(texts):
                raise ValueError(f"{len(texts)} completions but {len(column)} {name} values")
        answers = []
        for k, text in enumerate(texts):
            try:
                answers.append(
                    self.reader.read(text, sizes[k], None if seen is None else seen[k])  # type: ignore[union-attr]
                )
            except ValueError as err:  # the sizes are the user's columns, the text never raises
                raise ValueError(f"sample {k}: {err}") from None
        return answers

    def terms(
        self, texts: list[str], ground_truths: list[Any], context: Mapping[str, Sequence[Any]]
    ) -> Terms:
        answers = self._read(texts, context)
        columns = {}
        for c in self.components:
            if c.context:
                missing = [k for k in required_columns(c.context) if context.get(k) is None]
                if missing:
                    raise TypeError(f"component {c.name!r} needs the columns {missing}")
                names = [k.rstrip("?") for k in c.context]
                given = {k: context[k] for k in names if context.get(k) is not None}
                raw = c.fn(answers, ground_truths, given)  # type: ignore[misc]
            else:
                raw = c.fn(answers, ground_truths)  # type: ignore[misc]
            columns[c.name] = _as_column(raw, len(texts), f"component {c.name!r}")
        return Terms(columns)


def _shared_across_ranks(window: Any) -> Any:
    """``window`` shared by every ``torch.distributed`` rank (`LocalWindows.wrap_windows`)."""
    from ..distributed.torch_dist import DistributedRankNormalizer

    if isinstance(window, DistributedRankNormalizer):
        return window  # built shared (trl_reward, RewardFunctions())
    if getattr(window, "commit_every", None) is not None:
        raise ValueError(
            "a window that commits by count (AutoCommitNormalizer) cannot be shared "
            "across torch.distributed ranks: use RankNormalizerCallback to commit"
        )
    return DistributedRankNormalizer(window)


class ComponentReward(LockFreePickle):
    """The reward: a TRL-shaped callable ``(completions, ground_truth=..., **kwargs) ->
    list[float | None]`` built from a `Recipe` and its `Component` s (see the module docs).

    Args:
        components: the terms, summed in this order.
        recipe: computes the batch's columns (`Recipe`); ``None``: the components' own
            functions (`FunctionTerms`).
        reader: for a reward without a recipe: ``reader(text) -> answer`` applied once per
            completion before the component functions (default: the text).
        task_key: the keyword (a dataset column) holding each sample's task; every task keeps
            its own windows. ``None``: one set of windows.
        make_window: builds one one-metric window (default: ``spec``'s).
        spec: how windows are built (`WindowSpec`; default the paper's: window 2048, 128
            zeros, ties right, 1 decimal); a window several components share ranks as many
            metrics together.
        windows: where the windows live instead (any `Windows` host: `LocalWindows` committed
            by sample count, `RayWindows` shared by a Ray job; the trainer adapters build
            these).
        ground_truth_key: the column read when ``ground_truth`` is not passed.
        max_reward: the largest total (0..max scaling for trainers that filter on it), when
            every component is bounded; ``None`` otherwise.
        name: what the reward is called in logs (``<name>/<key>``) and by TRL (its
            ``__name__`` is ``<name>_reward``); default the recipe's name (``custom`` for a
            reward of component functions).
        log_columns: per-sample columns added to every `score` breakdown and logged beside
            the components: ``{key: recipe column}`` copies a column of the recipe's terms,
            ``{key: (component, ...)}`` is what those components add to the total (weights
            applied, ranks for ranked ones; NaN where none applies). ``num_problems`` (the
            count of each sample's problems) is always there.
        renamed_keys: breakdown keys a release renamed, ``{old: new}``: still readable, with
            a ``FutureWarning`` (`Breakdown`).

    Thread-safe: scoring and committing are serialised.

    Complexity: the recipe's cost, plus O(B log n) ranking per ranked window.

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
        recipe: Recipe | None = None,
        reader: Callable[[str], Any] | None = None,
        task_key: str | None = None,
        make_window: Callable[[], Any] | None = None,
        spec: WindowSpec | None = None,
        windows: Windows | None = None,
        ground_truth_key: str = "solution",
        max_reward: float | None = None,
        name: str | None = None,
        log_columns: Mapping[str, str | tuple[str, ...]] | None = None,
        renamed_keys: Mapping[str, Any] | None = None,
    ) -> None:
        components = list(components)
        if not components:
            raise ValueError("a reward needs at least one component")
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique, got {names}")
        for c in components:
            if not isinstance(c, Component):
                raise TypeError(f"components must be Component(name, fn, ...), got {c!r}")
            if recipe is None and not callable(c.fn):
                raise TypeError(f"components must be Component(name, fn, ...), got {c!r}")
            if recipe is not None and c.fn is not None:
                raise TypeError(
                    f"component {c.name!r} has a function but the reward has a recipe: a "
                    "recipe's components name its columns"
                )
            if not np.isfinite(c.weight):
                raise ValueError(f"component {c.name!r} has a non-finite weight {c.weight!r}")
        if reader is not None and recipe is not None:
            raise TypeError("reader applies to component functions; a recipe reads its own texts")
        self.components = components
        self.recipe: Recipe = FunctionTerms(components, reader) if recipe is None else recipe
        self.reader = reader
        self.task_key = task_key
        self._ranked: dict[str, list[Component]] = {}
        self.log_columns = dict(log_columns or {})
        for key, source in self.log_columns.items():
            if isinstance(source, tuple):
                unknown = [n for n in source if n not in names]
                if unknown:
                    raise ValueError(f"log column {key!r} sums components {unknown}, which "
                                     f"the reward does not have ({names})")  # fmt: skip
            elif not isinstance(source, str):
                raise TypeError(f"log column {key!r} must name a recipe column or a tuple of "
                                f"components, got {source!r}")  # fmt: skip
        clash = sorted(set(self.log_columns) & set(names))
        if clash:
            raise ValueError(f"log columns {clash} have the names of components")
        self.renamed_keys = dict(renamed_keys or {})
        self.name = name or getattr(recipe, "name", None) or "custom"
        self.__name__ = f"{self.name.replace('-', '_')}_reward"  # TRL names reward functions so
        self.last_breakdown: dict[str, Any] = {}
        if windows is None:
            windows = LocalWindows(make_window) if make_window is not None else \
                LocalWindows(spec=spec)  # fmt: skip
        self.windows = windows
        self.ground_truth_key = ground_truth_key
        self.max_reward = max_reward
        self._lock = threading.RLock()
        self._rank_checked = False  # windows checked against torch.distributed (on_trainer_call)
        # ranked components by window, in first-seen order (one rank_and_stage key each)
        for c in components:
            if c.ranked:
                self._ranked.setdefault(c.window_name, []).append(c)
        self._windows.set_owner(self.owner)

    @property
    def owner(self) -> dict[str, Any]:
        """What the windows belong to: the recipe (its ``name``, else its class) and each
        ranked window's columns. Saved with every state file; loading a state of another
        reward raises ``ValueError`` naming both. O(components)."""
        recipe = getattr(self.recipe, "name", None) or type(self.recipe).__name__
        windows = {w: [c.source for c in group] for w, group in self._ranked.items()}
        return {"recipe": recipe, "windows": windows}

    @property
    def windows(self) -> Windows:
        """The windows (any `Windows` host); assigning a set records this reward as its
        owner, so a set resumed from another reward's state raises there."""
        return self._windows

    @windows.setter
    def windows(self, windows: Windows) -> None:
        self._windows = windows
        if hasattr(self, "_lock"):  # after __init__ (which records the owner itself)
            windows.set_owner(self.owner)

    def __repr__(self) -> str:
        names = [c.name for c in self.components]
        ranked = [c.name for c in self.components if c.ranked]
        task = f", task_key={self.task_key!r}" if self.task_key else ""
        return (f"{type(self).__name__}(name={self.name!r}, recipe={self.owner['recipe']!r}, components={names}, "
                f"ranked={ranked}{task}, windows={self._windows!r})")  # fmt: skip

    def window(self, name: str, task: Any = "") -> Any:
        """The window ``name`` (a ranked component's, or the ``window`` several share) for
        ``task`` (created on first use). O(1)."""
        return self.windows.get(f"{task}/{name}")

    def terms(
        self,
        texts: list[str],
        ground_truth: Sequence[Any],
        context: Mapping[str, Sequence[Any]] | None = None,
    ) -> Terms:
        """The recipe's `Terms` of a batch of plain texts, checked: every column the
        components read is there, one finite-or-NaN float per sample; a ``TypeError`` names a
        missing context column. A recipe that reads ``image_size`` gets it from the trainer's
        ``image`` / ``images`` column when no ``image_size`` column is passed. O(the recipe's
        cost)."""
        context = context or {}
        declared = getattr(self.recipe, "context", ())
        if context.get("image_size") is None and (
            "image_size?" in declared or "image_size" in declared
        ):
            images = (
                context.get("image") if context.get("image") is not None else context.get("images")
            )
            if (
                images is not None
            ):  # the trainer's own image column (TRL passes it): no extra column
                context = {**context, "image_size": sizes_of_images(images)}
        missing = [k for k in required_columns(self.recipe.context) if context.get(k) is None]
        if missing:
            raise TypeError(f"the reward needs the columns {missing}")
        if isinstance(ground_truth, (str, bytes, Mapping)):
            raise TypeError("ground_truth must be a sequence with one entry per completion")
        gts = list(ground_truth)
        if len(gts) != len(texts):
            raise ValueError(f"{len(texts)} completions but {len(gts)} ground truths")
        terms = self.recipe.terms(texts, gts, context)
        if not isinstance(terms, Terms):
            raise TypeError(f"a recipe's terms() returns Terms, got {type(terms).__name__}")
        for c in self.components:
            if c.source not in terms.columns:
                raise ValueError(
                    f"component {c.name!r} reads column {c.source!r}, which the recipe does not "
                    f"compute (it computes {sorted(terms.columns)})"
                )
            column = _as_column(terms.columns[c.source], len(texts), f"column {c.source!r}",
                                finite=False)  # fmt: skip
            overflowed = np.flatnonzero(np.isinf(column))
            if len(overflowed):
                # a number in the answer too large to score (1e308 squared, 1e400): the term
                # does not apply to that sample, for every recipe alike; never a raise
                if terms.problems is None:
                    terms.problems = [[] for _ in texts]
                for k in overflowed:
                    terms.problems[k].append(f"{c.source} overflowed to {column[k]} (a number "
                                             "in the answer too large to score): not applicable")  # fmt: skip
                column = column.copy()
                column[overflowed] = np.nan
            terms.columns[c.source] = column
        return terms

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
        ranks without staging: validation). ``context`` holds the per-sample columns the
        recipe (or a component function) reads.

        Returns a `Breakdown` (a dict): ``{name: values}`` for every component (NaN where it
        does not apply), ``{name + "_rank": ranks}`` for the ranked ones, every
        ``log_columns`` key and ``num_problems``, ``reward`` (NaN for a sample with no
        applicable component), ``terms`` (every column the recipe computed) and
        ``problems`` (per sample, the recipe's readable reasons; empty lists when it gives
        none). The same keys on every path: local, served (``/score``) and remote.
        O(the recipe's cost + B log n per ranked window).
        """
        texts = [c if type(c) is str else completion_text(c) for c in completions]
        terms = self.terms(texts, ground_truth, context)
        n = len(texts)
        task_list = None if tasks is None else [str(t) for t in tasks]
        if task_list is not None and len(task_list) != n:
            raise ValueError(f"{n} completions but {len(task_list)} task keys")
        if task_list is not None:
            for k, task in enumerate(task_list):
                if "\x00" in task:  # numpy and the state file's key list drop trailing NULs
                    raise ValueError(f"task key of sample {k} holds a NUL character: {task!r}")
        out: dict[str, Any] = {c.name: terms.columns[c.source] for c in self.components}
        # each task's rows, in first-seen order (deterministic staging order)
        if task_list is None:
            by_task: dict[str, Any] = {"": np.ones(n, bool)}
        else:
            index = {task: i for i, task in enumerate(dict.fromkeys(task_list))}
            codes = np.fromiter((index[t] for t in task_list), np.int64, count=n)
            by_task = {task: codes == i for task, i in index.items()}
        with self._lock:
            batch: dict[str, np.ndarray] = {}
            rows_of: dict[str, np.ndarray] = {}
            for window, group in self._ranked.items():
                values = np.stack([out[c.name] for c in group], axis=1)
                usable = np.isfinite(values).all(axis=1)
                for task, in_task in by_task.items():
                    # every ranked window is sent, even with no applicable row, so windows
                    # shared by collectives see the same calls on every rank
                    key = f"{task}/{window}"
                    rows_of[key] = np.flatnonzero(in_task & usable)
                    chosen = values[rows_of[key]]
                    batch[key] = chosen[:, 0] if len(group) == 1 else chosen
            ranks = self.windows.rank_and_stage(batch, n, stage=stage)
        for window, group in self._ranked.items():
            for j, c in enumerate(group):
                rank = np.full(n, np.nan)
                for task in by_task:
                    key = f"{task}/{window}"
                    got = np.asarray(ranks[key], np.float64)
                    rank[rows_of[key]] = got if got.ndim == 1 else got[:, j]
                out[c.name + "_rank"] = rank
        total = np.zeros(n)
        applies = np.zeros(n, bool)
        for c in self.components:
            used = out[c.name + "_rank"] if c.ranked else out[c.name]
            ok = np.isfinite(used)
            total[ok] = total[ok] + c.weight * used[ok]
            applies |= ok
        for key, source in self.log_columns.items():
            if isinstance(source, str):
                out[key] = np.asarray(terms.columns[source], np.float64)
            else:
                out[key] = self._sum_of(out, [c for c in self.components if c.name in source])
        problems = terms.problems if terms.problems is not None else [[] for _ in texts]
        out["num_problems"] = np.fromiter(map(len, problems), np.float64, len(problems))
        out["reward"] = np.where(applies, total, np.nan)
        out["terms"] = terms.columns
        out["problems"] = problems
        breakdown = Breakdown(out, renamed=self.renamed_keys)
        self.last_breakdown = breakdown  # a convenience for one thread: use the return value
        return breakdown

    @property
    def last_problems(self) -> list[list[str]]:
        """The latest `score` call's problems (single-threaded convenience). O(1)."""
        return self.last_breakdown.get("problems", [])

    @staticmethod
    def _sum_of(breakdown: Mapping[str, Any], components: Sequence[Component]) -> np.ndarray:
        """What ``components`` add to each sample's total (weights applied, ranks for the
        ranked ones), NaN where none of them applies. O(B x components)."""
        n = len(breakdown["reward"]) if "reward" in breakdown else \
            len(breakdown[components[0].name])  # fmt: skip
        total, applies = np.zeros(n), np.zeros(n, bool)
        for c in components:
            used = np.asarray(breakdown[c.name + "_rank"] if c.ranked else breakdown[c.name],
                              np.float64)  # fmt: skip
            ok = np.isfinite(used)
            total[ok] = total[ok] + c.weight * used[ok]
            applies |= ok
        return np.where(applies, total, np.nan)

    def on_trainer_call(self, kwargs: Mapping[str, Any]) -> None:
        """What a trainer-facing call (`__call__`, the TRL and ms-swift adapters) does first,
        with the trainer's keyword arguments. O(1) after the first call.

        - Under ``torch.distributed`` with more than one rank, local windows become shared
          (every window wrapped in `DistributedRankNormalizer`, whatever the recipe), so
          every rank ranks against one window however the reward was built; a reward that
          cannot share (per-task windows: ranks would enter different collectives) raises.
        - TRL's ``trainer_state`` is noted, so windows nobody commits warn after two steps.
        """
        if not self._ranked:
            return
        if not self._rank_checked:
            self._share_across_ranks()
        step = getattr(kwargs.get("trainer_state"), "global_step", None)
        if isinstance(step, int):
            self._windows.note_step(step)

    def _share_across_ranks(self) -> None:
        dist = sys.modules.get("torch.distributed")  # torch imported by the trainer, if at all
        if dist is None or not dist.is_available() or not dist.is_initialized():
            return  # checked again next call: the process group may come later
        self._rank_checked = True
        if dist.get_world_size() < 2 or not getattr(self._windows, "in_process", False):
            return  # one rank, or windows one host serves every rank from (Ray, a service)
        if self.task_key is not None:
            raise ValueError(
                f"torch.distributed runs {dist.get_world_size()} ranks but the reward has "
                f"task_key={self.task_key!r}: per-task windows cannot be shared by collectives "
                "(ranks see different tasks); use RayWindows(...) or drop task_key"
            )
        self._windows.wrap_windows(_shared_across_ranks)

    def __call__(
        self, completions: Sequence[Any], ground_truth: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        """TRL's reward-function form: one float per completion (``None`` when no component
        applies). ``ground_truth`` may come as the ``ground_truth_key`` column. With TRL's
        ``log_metric`` keyword, the batch means of `metrics` are logged
        (``<name>/<component>``, ``<name>/<component>_rank``, ...)."""
        if ground_truth is None:
            ground_truth = kwargs.get(self.ground_truth_key)
        if ground_truth is None:
            raise TypeError(f"pass ground_truth=... (or a {self.ground_truth_key!r} column)")
        self.on_trainer_call(kwargs)
        out = self.score(completions, ground_truth, self.tasks_from(kwargs), context=kwargs)
        log_metric = kwargs.get("log_metric")  # TRL's per-step logger, when it passes one
        if log_metric is not None:
            for key, value in self.metrics(out).items():
                log_metric(key, value)
        rewards = out["reward"].tolist()
        if np.isnan(out["reward"]).any():
            rewards = [None if r != r else r for r in rewards]  # NaN: no component applies
        return rewards

    def commit(self) -> int:
        """Append every window's staged values (once per optimizer step); returns the number
        of values appended. O(windows x n)."""
        return int(self.windows.commit())

    @property
    def parts(self) -> list[str]:
        """The parts a trainer shows as separate reward functions (TRL, ms-swift), in sum
        order: each component's ``part`` (default its own name); their sum is the reward.
        O(components)."""
        return list(dict.fromkeys(c.part_name for c in self.components))

    def part_values(self, breakdown: Mapping[str, Any], part: str) -> np.ndarray:
        """Part ``part`` of a `score` breakdown: what its components add to the total
        (weights applied, ranks for the ranked ones), NaN where none applies. O(B)."""
        members = [c for c in self.components if c.part_name == part]
        if not members:
            raise ValueError(f"no part {part!r}; the reward has {self.parts}")
        return self._sum_of(breakdown, members)

    def metrics(
        self, breakdown: Mapping[str, Any], prefix: str | None = None, groups: Any = None
    ) -> dict[str, float]:
        """The batch means a trainer logs, one scheme for every reward and adapter:
        ``<prefix>/<key>`` for each of `logged_keys` (each component, ``<component>_rank``
        for the ranked ones, the log columns, ``num_problems``), over the samples where it
        applies (a key that applies to none is left out). ``prefix`` defaults to the
        reward's ``name``.

        With ``groups`` (one id per sample: the prompt each completion answers), also each
        component's ``<prefix>/<component>/adv_share`` (its share of the GRPO advantage
        magnitude, `rankreward.advantage_shares` of the terms the reward sums: weighted, ranks
        for the ranked components) and ``<prefix>/<component>/zero_spread`` (the fraction of
        groups where it carries no signal). O(B x keys).

        Examples:
            >>> reward = ComponentReward([Component("n", lambda a, g: [len(x) for x in a])],
            ...                          name="length")
            >>> reward.metrics(reward.score(["ab", "c"], [None, None]))
            {'length/n': 1.5, 'length/num_problems': 0.0}
            >>> reward.metrics(reward.score(["ab", "c"], [None, None]), groups=[0, 0])
            {'length/n': 1.5, 'length/num_problems': 0.0, 'length/n/adv_share': 1.0, 'length/n/zero_spread': 0.0}
        """
        prefix = self.name if prefix is None else prefix
        out = {}
        for key in self.logged_keys:
            values = np.asarray(breakdown[key], np.float64)
            values = values[np.isfinite(values)]
            if len(values):
                out[f"{prefix}/{key}"] = float(values.mean())
        if groups is not None:
            terms = {c.name: self._sum_of(breakdown, [c]) for c in self.components}
            shares = advantage_shares(terms, groups)
            silent = zero_spread_fractions(terms, groups)
            for name in terms:
                out[f"{prefix}/{name}/adv_share"] = shares[name]
                out[f"{prefix}/{name}/zero_spread"] = silent[name]
        return out

    def means(self, breakdown: Mapping[str, Any] | None = None) -> dict[str, float]:
        """The mean of every per-sample array of ``breakdown`` (default: the last call's)
        over the samples where it applies, by key. O(B x keys)."""
        out = {}
        for k, v in (self.last_breakdown if breakdown is None else breakdown).items():
            if isinstance(v, np.ndarray) and len(v):
                finite = v[np.isfinite(v)]
                if len(finite):
                    out[k] = float(np.mean(finite))
        return out

    @property
    def logged_keys(self) -> list[str]:
        """The per-sample keys of `score` a trainer logs: each component (and its rank),
        the log columns and ``num_problems``. O(components)."""
        keys = []
        for c in self.components:
            keys += [c.name, c.name + "_rank"] if c.ranked else [c.name]
        return keys + [k for k in self.log_columns] + ["num_problems"]

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
