"""TRL adapter: a reward's functions for ``GRPOTrainer`` (one per part, any preset; Dr. Seg by
default) and the callback that commits and checkpoints the reward's windows.

``GRPOTrainer(reward_funcs=drseg_reward_funcs(reward), callbacks=[RankNormalizerCallback(reward)])``
gives the paper's training (``preset_reward_funcs(name)`` any other recipe). A reward's
functions (Dr. Seg's four: format, look, accuracy, non_repeat) share one reward and score each
batch TRL hands them exactly once: a batch is scored when a
function is called that has already read the current breakdown (TRL calls each function once
per batch, so this is the first function of the next batch) or when the batch differs; the
others read that breakdown. So TRL logs each component while the batch is parsed, matched and
ranked once, and identical consecutive batches (a collapsed policy, greedy decoding, a tiny
dataset) are each scored and staged; under `DistributedRankNormalizer` every rank enters the
same collectives. Their sum is the Dr. Seg reward (0..8 with unit weights).

Per-step semantics: every completion of a generation batch is ranked against the windows as they
stood before the step; the callback commits the staged raw metrics at ``on_step_end``, after the
optimizer step (gradient accumulation and ``steps_per_generation`` included: a generation batch
is staged once, and commits with nothing staged are no-ops). The windows' state is saved into
every checkpoint directory and restored from the one training resumes from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._deprecation import renamed_attributes
from ..distributed import DistributedRankNormalizer
from ..normalize import LocalWindows, RankNormalizer
from ..rewards.recipes.drseg.reward import DrSegReward
from ..rewards.spec import ComponentReward
from ..text import completion_text

__all__ = [
    "MIN_TRL",
    "STATE_FILE",
    "RankNormalizerCallback",
    "RewardFunctions",
    "TRLRewards",
    "async_drseg_reward",
    "check_trl_version",
    "drseg_reward_funcs",
    "preset_reward_funcs",
    "prompt_groups",
    "trl_reward",
    "trl_rewards",
]

#: File name of the normalizer state inside each checkpoint directory.
STATE_FILE = "rankreward_normalizer.npz"


class _OncePerBatch:
    """Scores each batch TRL hands a set of reward functions exactly once (see the module
    docs); subclasses say how to score (`_score`) and what to log when they do (`_log`)."""

    def __init__(self, ground_truth_key: str) -> None:
        self.ground_truth_key = ground_truth_key
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._breakdown: dict[str, Any] | None = None
        self._read: set[str] = set()  # the functions that read the current breakdown

    def _ground_truth(self, kwargs: dict[str, Any]) -> Sequence[Any]:
        for key in (self.ground_truth_key, "ground_truth", "solution"):
            if kwargs.get(key) is not None:
                return kwargs[key]
        raise TypeError(
            f"the dataset needs a {self.ground_truth_key!r} column with the ground-truth objects "
            "(TRL passes dataset columns to reward functions as keyword arguments)"
        )

    def _score(self, texts: tuple[str, ...], gt: Sequence[Any], kwargs: dict) -> dict[str, Any]:
        raise NotImplementedError

    def _log(self, breakdown: dict[str, Any], kwargs: dict) -> None:
        pass

    def breakdown(
        self, completions: Sequence[Any], reader: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        """This batch's breakdown for the function ``reader``: scored when ``reader`` already
        read the current one (a new batch) or the batch differs, else the shared result."""
        texts = tuple(completion_text(c) for c in completions)
        gt = self._ground_truth(kwargs)
        key = (texts, tuple(map(str, gt)))
        scored = False
        with self._lock:
            if self._breakdown is None or reader in self._read or self._key != key:
                self._breakdown = self._score(texts, gt, kwargs)
                self._key, self._read, scored = key, set(), True
            self._read.add(reader)
            b = self._breakdown
        if scored:
            self._log(b, kwargs)
        return b


class RewardFunctions(_OncePerBatch):
    """The shared state behind a reward's TRL reward functions: one function per part of the
    reward (`ComponentReward.parts`: each component of a preset; the paper's format, look,
    accuracy and non_repeat for `DrSegReward`), scoring each batch once (see the module docs).
    TRL logs each function as ``rewards/<prefix>_<part>``; their sum is the reward.

    Args:
        reward: the reward (default: the paper's, with its window shared across data-parallel
            processes by `DistributedRankNormalizer`).
        prefix: the functions' name prefix and the logged metrics' folder (default: the
            reward's ``name``; ``-`` becomes ``_`` in the function names only, so
            ``preset("seg-zero")`` logs ``rewards/seg_zero_iou/mean`` and ``seg-zero/iou``).
        ground_truth_key: the dataset column holding the ground truth.

    Examples:
        >>> shared = RewardFunctions()
        >>> fmt = shared.function("format")
        >>> fmt(["<think><look>a</look></think><answer>[]</answer>"],
        ...     solution=['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'])
        [1.0]
        >>> from rankreward.rewards import preset
        >>> shared = RewardFunctions(preset("perception-r1"), prefix="pr1")
        >>> [f.__name__ for f in shared.all()]
        ['pr1_grounding', 'pr1_format']
        >>> text = "<|box_start|>(0,0),(10,10)<|box_end|>"
        >>> [f([text], solution=["[0, 0, 10, 20]"])[0] for f in shared.all()]
        [0.25, 1.0]
    """

    def __init__(
        self,
        reward: ComponentReward | None = None,
        *,
        prefix: str | None = None,
        ground_truth_key: str = "solution",
    ) -> None:
        super().__init__(ground_truth_key)
        if reward is None:
            # Under accelerate/torchrun each process scores its own completions; the wrapper
            # all-gathers raw metrics so every rank ranks against one window.
            reward = trl_reward()
        self.reward = reward
        self.prefix = reward.name.replace("-", "_") if prefix is None else prefix
        self.log_prefix = reward.name if prefix is None else prefix

    def _score(self, texts: tuple[str, ...], gt: Sequence[Any], kwargs: dict) -> dict[str, Any]:
        self.reward.on_trainer_call(kwargs)  # shared across ranks; the step for the warning
        return self.reward.score(texts, gt, self.reward.tasks_from(kwargs), context=kwargs)

    def _log(self, b: dict[str, Any], kwargs: dict) -> None:
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if log_metric is not None:
            # TRL hands reward functions each completion's prompt: its group (this process's
            # completions; TRL's own advantage gathers every process's first)
            groups = prompt_groups(kwargs.get("prompts"), len(b["reward"]))
            for name, value in self.reward.metrics(b, self.log_prefix, groups).items():
                log_metric(name, value)
        log_extra = kwargs.get("log_extra")
        if log_extra is not None:  # this call's problems, from its own result
            log_extra(f"{self.prefix}_problems", ["; ".join(p) for p in b["problems"]])

    def function(self, part: str) -> Callable[..., list[float | None]]:
        """A TRL reward function returning part ``part`` (weights applied, its rank when
        ranked) per completion, ``None`` where it does not apply."""
        if part not in self.reward.parts:
            raise ValueError(f"no part {part!r}; the reward has {self.reward.parts}")

        def reward_func(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            values = self.reward.part_values(self.breakdown(completions, part, **kwargs), part)
            return [None if np.isnan(v) else float(v) for v in values]

        reward_func.__name__ = f"{self.prefix}_{part}" if self.prefix else part
        reward_func.__qualname__ = reward_func.__name__
        return reward_func

    def all(self) -> list[Callable[..., list[float | None]]]:
        return [self.function(part) for part in self.reward.parts]


#: Former names of `RewardFunctions` (one class now serves every reward): they warn.
__getattr__ = renamed_attributes(
    __name__,
    {
        "DrSegRewardFunctions": ("RewardFunctions", lambda: RewardFunctions),
        "PresetRewardFunctions": ("RewardFunctions", lambda: RewardFunctions),
    },
)


def prompt_groups(prompts: Sequence[Any] | None, n: int) -> np.ndarray | None:
    """One group id per completion from the prompts TRL passes to reward functions (equal
    prompts, one group); ``None`` when they are missing or do not match the batch. O(n).

    Examples:
        >>> prompt_groups(["a", "a", "b", "b"], 4).tolist()
        [0, 0, 1, 1]
    """
    if prompts is None or len(prompts) != n:
        return None
    _, ids = np.unique(np.array([repr(p) for p in prompts], dtype=object), return_inverse=True)
    return ids.reshape(-1)


def distributed_window() -> DistributedRankNormalizer:
    """One component's paper window, shared by every data-parallel rank (all-gathered)."""
    return DistributedRankNormalizer(RankNormalizer.paper(num_metrics=1))


def trl_reward(
    preset: str | None = None,
    ranked: bool | None = None,
    *,
    distributed: bool = True,
    **options: Any,
) -> ComponentReward:
    """The reward TRL's and ms-swift's functions share, built by the one builder
    (``preset(preset or "drseg")``), its windows shared by every data-parallel rank with
    ``distributed`` (`DistributedRankNormalizer`; then ``task_key`` is not supported, since
    ranks would enter different collectives). ``options`` go to the reward. O(1).

    Examples:
        >>> type(trl_reward()).__name__, type(trl_reward("seg-zero")).__name__
        ('DrSegReward', 'ComponentReward')
    """
    from ..rewards import preset as build_preset

    if distributed:
        if options.get("task_key") is not None:
            raise ValueError("task_key needs distributed=False (per-task windows differ by rank)")
        windows = options.get("windows") or LocalWindows()
        windows.wrap_windows(DistributedRankNormalizer)
        options["windows"] = windows
    return build_preset(preset or "drseg", ranked, **options)


#: the oldest TRL the adapter is tested with (TRL 1.15 needs Python 3.11)
MIN_TRL = (1, 15)


def check_trl_version(found: str | None = None) -> None:
    """Raise a clear ``ImportError`` when the installed TRL (or ``found``) is older than
    `MIN_TRL`; nothing when TRL is absent (the functions are plain callables) or new enough.
    On Python 3.10, ``pip install "rankreward[trl]"`` installs no TRL (TRL >= 1.15 dropped
    3.10) and an older TRL fails with Qwen-VL under transformers 5 ("Image features and image
    tokens do not match"), so it is refused here instead of failing mid-step. O(1).

    Examples:
        >>> check_trl_version("1.16.0")
        >>> check_trl_version("1.14.2")
        Traceback (most recent call last):
        ...
        ImportError: rankreward's TRL adapter needs TRL >= 1.15 (which needs Python >= 3.11); found TRL 1.14.2: pip install "trl>=1.15" on Python 3.11 or newer
    """
    if found is None:
        from importlib import metadata

        try:
            found = metadata.version("trl")
        except metadata.PackageNotFoundError:
            return
    parts = []
    for piece in found.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
        parts.append(int(digits))
    if tuple(parts) < MIN_TRL:
        raise ImportError(
            f"rankreward's TRL adapter needs TRL >= {MIN_TRL[0]}.{MIN_TRL[1]} (which needs Python"
            f' >= 3.11); found TRL {found}: pip install "trl>=1.15" on Python 3.11 or newer'
        )


def preset_reward_funcs(
    name: str,
    ranked: bool | None = None,
    *,
    distributed: bool = True,
    ground_truth_key: str = "solution",
    **options: Any,
) -> tuple[list, ComponentReward]:
    """A recipe preset as TRL reward functions, one per component (TRL logs each as
    ``rewards/<preset>_<component>``; their sum is the preset's reward), and the reward
    itself (pass it to `RankNormalizerCallback`). With ``distributed`` every data-parallel rank
    ranks against the same windows (see `trl_reward`). ``options`` go to `preset`.

    Examples:
        >>> funcs, reward = preset_reward_funcs("seg-zero", ranked=True)
        >>> [f.__name__ for f in funcs][:3]
        ['seg_zero_iou', 'seg_zero_thinking_format', 'seg_zero_segmentation_format']
    """
    check_trl_version()
    reward = trl_reward(name, ranked, distributed=distributed, **options)
    functions = RewardFunctions(reward, ground_truth_key=ground_truth_key)
    return functions.all(), reward


def drseg_reward_funcs(
    reward: DrSegReward | None = None, *, ground_truth_key: str = "solution"
) -> list:
    """The four Dr. Seg reward functions (format, look, accuracy, non_repeat) for
    ``GRPOTrainer(reward_funcs=...)``, sharing ``reward`` (default: the paper's, with its window
    shared across data-parallel processes by `DistributedRankNormalizer`).

    Examples:
        >>> funcs = drseg_reward_funcs()
        >>> [f.__name__ for f in funcs]
        ['drseg_format', 'drseg_look', 'drseg_accuracy', 'drseg_non_repeat']
        >>> gt = ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']
        >>> # an empty answer: x = (0, 0, 0) ranks 1.0 each against the 128 prefilled zeros
        >>> [f(["<think><look>a</look></think><answer>[]</answer>"], solution=gt)[0] for f in funcs]
        [1.0, 1.0, 3.0, 1.0]
    """
    check_trl_version()
    return RewardFunctions(reward, ground_truth_key=ground_truth_key).all()


def async_drseg_reward(
    commit_every: int,
    *,
    state_file: str | Path | None = None,
    resume_from: str | Path | None = None,
    **options: Any,
) -> ComponentReward:
    """The Dr. Seg reward for TRL's experimental async GRPO (``trl.experimental.async_grpo``).

    That trainer pickles ``reward_funcs`` into a spawned rollout process, scores one group
    (``num_generations`` completions of a prompt) per call, several groups at once in threads,
    and has no step callback there. So this is one picklable callable (the whole reward; four
    functions sharing one scoring per batch would see interleaved groups) whose window commits
    by count: `LocalWindows` with ``commit_every`` = the completions per optimizer step
    (``per_device_train_batch_size x gradient_accumulation_steps x processes``; a multiple of
    ``num_generations``, so a group never straddles a step). ``state_file`` (``{step}`` for one
    file per step) saves the window after every commit in the rollout process;
    ``resume_from`` loads one (an older single-normalizer file too). ``options`` go to
    `DrSegReward` (``look``, ``accuracy``, ...).

    Complexity: as `DrSegReward.score` per group.

    Examples:
        >>> import pickle
        >>> reward = pickle.loads(pickle.dumps(async_drseg_reward(16)))
        >>> gt = ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']
        >>> reward(completions=["<think><look>a</look></think><answer>[]</answer>"], solution=gt)
        [6.0]
    """
    from ..rewards import preset

    windows = LocalWindows(commit_every=commit_every, state_file=state_file,
                           resume_from=resume_from)  # fmt: skip
    return preset("drseg", windows=windows, **options)


def _callback_base() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError:  # pragma: no cover - the trl extra brings transformers
        return object
    return TrainerCallback


class RankNormalizerCallback(_callback_base()):  # type: ignore[misc]
    """Commits the reward's normalizer once per optimizer step and checkpoints its state.

    Args:
        reward: the reward to drive (a `rankreward.rewards.ComponentReward`: `DrSegReward` or
            a preset; anything with ``commit``, ``save`` and ``load``).
        resume_from: a checkpoint directory to restore the normalizer from at train start;
            by default the trainer's ``resume_from_checkpoint`` argument is not visible to
            callbacks, so pass the same path here (``examples/trl_drseg.py`` does).

    Example:
        ```python
        reward = DrSegReward()
        trainer = GRPOTrainer(model, reward_funcs=drseg_reward_funcs(reward),
                              callbacks=[RankNormalizerCallback(reward, resume_from=checkpoint)], ...)
        ```
    """

    #: what the error for a checkpoint without a state file says should have written one
    writer = "RankNormalizerCallback"

    def __init__(
        self, reward: Any, resume_from: str | Path | None = None, *, check_column: str | None = None
    ) -> None:
        self.reward = reward
        self.resume_from = Path(resume_from) if resume_from else None
        self.check_column = check_column
        self.commits = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if self.check_column is not None:
            dataset = getattr(kwargs.get("train_dataloader"), "dataset", None)
            check_dataset(self.reward, dataset, self.check_column)
        if self.resume_from is not None:
            path = self.resume_from / STATE_FILE
            if not path.exists():
                raise FileNotFoundError(
                    f"{path} is missing: this checkpoint was not written with {self.writer}"
                )
            self.reward.load(path)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        if self.reward.commit():
            self.commits += 1
        return control

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        folder.mkdir(parents=True, exist_ok=True)
        if getattr(state, "is_world_process_zero", True):
            self.reward.save(folder / STATE_FILE)
        return control


def _readers_of(truth: Any, skip: str) -> list[str]:
    """The presets (besides ``skip`` and the mask presets) whose ground-truth reader takes
    ``truth``: what to suggest when the chosen one cannot. O(presets)."""
    from ..rewards import MASK_PRESETS, PRESETS
    from ..rewards import preset as build

    found = []
    for name in sorted(PRESETS):
        if name in (skip, *MASK_PRESETS) or name == "visual-rft":
            continue
        try:
            build(name).score([""], [truth], stage=False)
        except (ValueError, TypeError):
            continue
        found.append(name)
    return found


def check_dataset(reward: ComponentReward, dataset: Any, column: str) -> None:
    """At trainer start, before any generation: the training set has the ground-truth
    ``column`` and the reward reads its first row; a ``ValueError`` names the column, the
    reward and the presets that can read that ground truth. A dataset without rows or
    column names (streamed) is not checked. O(presets) once.

    Examples:
        >>> from rankreward.rewards import preset
        >>> rows = [{"solution": "<box>(1,2),(3,4)</box><points>(1,2),(2,3)</points>"}]
        >>> check_dataset(preset("drseg"), rows, "solution")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: the drseg reward cannot read row 0 of the 'solution' column (...); presets that can: ['seg-zero', 'vlm-r1-ovd']
    """
    try:
        row = dataset[0]
    except (TypeError, IndexError, KeyError):
        return
    if not isinstance(row, dict):
        return
    if column not in row:
        raise ValueError(f"the training set has no {column!r} column (the {reward.name} reward's "
                         f"ground truth); its columns: {sorted(row)}")  # fmt: skip
    from ..rewards import MASK_PRESETS

    if reward.name in MASK_PRESETS:
        return  # scoring a probe would run the segmenter; the column is there
    context = {k: [v] for k, v in row.items() if k not in ("prompt", "completion", column)}
    try:
        reward.score([""], [row[column]], reward.tasks_from(context), context=context, stage=False)
    except ValueError as err:
        others = _readers_of(row[column], reward.name)
        hint = f"; presets that can: {others}" if others else ""
        raise ValueError(f"the {reward.name} reward cannot read row 0 of the {column!r} column "
                         f"({err}){hint}") from None  # fmt: skip


class TRLRewards:
    """What `trl_rewards` returns: the reward, its TRL reward functions (one per part) and the
    callbacks that commit, checkpoint and check them, for one ``GRPOTrainer``.

    ``GRPOTrainer(..., **rewards.trainer_kwargs())`` passes ``reward_funcs`` and ``callbacks``
    together, so the callback cannot be forgotten. O(1).

    Examples:
        >>> rewards = trl_rewards("perception-r1")
        >>> rewards
        TRLRewards(reward='perception-r1', reward_funcs=['perception_r1_grounding', 'perception_r1_format'], callbacks=1)
    """

    def __init__(self, reward: ComponentReward, funcs: list, callbacks: list) -> None:
        self.reward, self.reward_funcs, self.callbacks = reward, funcs, callbacks

    def trainer_kwargs(self, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
        """``{"reward_funcs": ..., "callbacks": [...]}`` for ``GRPOTrainer`` (your own
        ``callbacks`` appended). O(1)."""
        return {"reward_funcs": list(self.reward_funcs), "callbacks": [*self.callbacks, *callbacks]}

    def __repr__(self) -> str:
        names = [f.__name__ for f in self.reward_funcs]
        return f"TRLRewards(reward={self.reward.name!r}, reward_funcs={names}, callbacks={len(self.callbacks)})"


def trl_rewards(
    reward: str | ComponentReward = "drseg",
    ranked: bool | None = None,
    *,
    distributed: bool = True,
    ground_truth_key: str | None = None,
    resume_from: str | Path | None = None,
    check: bool = True,
    **options: Any,
) -> TRLRewards:
    """The one TRL entry point, for every reward: a preset's name (``"drseg"`` default, any of
    `rankreward.rewards.PRESETS`, with its ``options``) or a reward you built
    (`DrSegReward`, ``preset(...)``, your own `ComponentReward`). Returns `TRLRewards`:
    the functions (one per part, scoring each batch once) and the callbacks (commit at every
    optimizer step, checkpoint, restore from ``resume_from``; with ``check``, the ground-truth
    column checked against the reward at trainer start, before any generation).

    ``ground_truth_key``: the dataset column of the ground truth (default: the reward's,
    ``solution`` for the box recipes). ``distributed`` shares a built preset's windows across
    data-parallel ranks (a reward you built keeps its windows). O(1).

    Examples:
        >>> rewards = trl_rewards("seg-zero", ranked=True)
        >>> [f.__name__ for f in rewards.reward_funcs][:2], sorted(rewards.trainer_kwargs())
        (['seg_zero_iou', 'seg_zero_thinking_format'], ['callbacks', 'reward_funcs'])
    """
    check_trl_version()
    if isinstance(reward, str):
        built = trl_reward(reward, ranked, distributed=distributed, **options)
    else:
        if ranked is not None or options:
            raise TypeError(
                "ranked and options build a preset: pass them to preset(...) for a built reward"
            )
        if not isinstance(reward, ComponentReward):
            raise TypeError(
                f"reward must be a preset name or a ComponentReward, got {type(reward).__name__}"
            )
        built = reward
    key = ground_truth_key or built.ground_truth_key
    funcs = RewardFunctions(built, ground_truth_key=key).all()
    callback = RankNormalizerCallback(
        built, resume_from=resume_from, check_column=key if check else None
    )
    return TRLRewards(built, funcs, [callback])
