"""ms-swift adapter: the Dr. Seg reward as ms-swift GRPO reward functions (``orms``) plus a
callback, registered by an ``--external_plugins`` file.

ms-swift (4.6) imports every ``--external_plugins`` file before training; a plugin registers
reward classes in ``swift.rewards.orms`` and callbacks in ``swift.callbacks.callbacks_map``.
``--reward_funcs NAME ...`` then builds ``orms[NAME](args=GRPOConfig)`` once per process, and
after each generation calls it as ``func(completions, trainer_state=..., **columns)`` where
``completions`` are the decoded assistant turns and every dataset column comes batched by
name (``solution`` for the VisionReasoner-style ground truth). Each rank scores its own
completions; ms-swift gathers the rewards.

Registered here (`register`, called by ``examples/swift_drseg_plugin.py``):

- ``drseg``: the whole Dr. Seg reward, one function (the paper's setting);
- ``drseg_format``, ``drseg_look``, ``drseg_accuracy``, ``drseg_non_repeat``: its components as
  separate functions (their sum is ``drseg``), for per-component logging or
  ``--scale_rewards gdpo``. Whatever the mix, each generation batch is scored once;
- the callback ``rankreward`` (``--callbacks rankreward``): commits the window after every
  optimizer step and saves it into every checkpoint (``rankreward_normalizer.npz``), and loads
  it back when training resumes from a checkpoint (``--resume_from_checkpoint``).

Without the callback, the window still commits once per optimizer step: ms-swift passes the
``trainer_state``, and the first call of a new ``global_step`` commits what the previous step
staged. Under ``torchrun`` / DeepSpeed every rank ranks against one window
(`DistributedRankNormalizer`).

Options come from ``RANKREWARD_*`` environment variables (ms-swift passes reward classes only
its own arguments): ``COMPAT``, ``LOOK``, ``ACCURACY``, ``NON_REPEAT`` (the paper's ablation
rows, as for OpenRLHF) and ``GROUND_TRUTH_KEY`` (default ``solution``).

**Any recipe**: with ``RANKREWARD_PRESET=seg-zero`` (any name of `rankreward.rewards.PRESETS`;
``RANKREWARD_RANKED=1`` for its ranked form) the plugin registers that recipe instead: the whole
reward under the preset's name and each component as ``<preset>_<component>`` (``-`` becomes
``_``), sharing one scoring per batch; the callback then drives the preset's windows.
Dataset columns reach the components (VLM-R1 REC's ``image_grid_thw``, ``image_size``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._shared import ablation_from_env, env_bool
from .trl import RankNormalizerCallback, RewardFunctions, trl_reward

__all__ = ["CALLBACK_NAME", "REWARD_NAMES", "register", "reset", "shared_functions"]

#: The names ``--reward_funcs`` accepts once the plugin is loaded.
REWARD_NAMES = ("drseg", "drseg_format", "drseg_look", "drseg_accuracy", "drseg_non_repeat")
#: The name ``--callbacks`` accepts.
CALLBACK_NAME = "rankreward"

_lock = threading.Lock()
_functions: RewardFunctions | None = None
_last_step: int | None = None


def shared_functions(env: dict[str, str] | None = None) -> RewardFunctions:
    """The process's reward functions (Dr. Seg, or the ``RANKREWARD_PRESET`` recipe with
    ``RANKREWARD_RANKED``), built on first use from ``RANKREWARD_*`` variables (`trl_reward`:
    windows shared across data-parallel ranks); every registered reward class and the callback
    use this one object. O(1).

    Examples:
        >>> reset(); shared_functions({}).ground_truth_key
        'solution'
    """
    global _functions
    with _lock:
        if _functions is None:
            env = dict(os.environ if env is None else env)
            key = env.get("RANKREWARD_GROUND_TRUTH_KEY") or "solution"
            name = env.get("RANKREWARD_PRESET") or None
            ranked = env_bool(env, "RANKED")
            # the paper's ablation switches are DrSegReward's options; a preset takes its own
            options = ablation_from_env(env) if name is None else {}
            reward = trl_reward(name, ranked, **options)
            prefix = (name or "drseg").replace("-", "_")
            _functions = RewardFunctions(reward, prefix=prefix, ground_truth_key=key)
        return _functions


def reset() -> None:
    """Forget the process's reward (a new run in the same process, or tests). O(1).

    Examples:
        >>> first = shared_functions({}); reset(); shared_functions({}) is first
        False
    """
    global _functions, _last_step
    with _lock:
        _functions, _last_step = None, None


def _commit_on_new_step(trainer_state: Any) -> None:
    """Commit what the previous optimizer step staged when a call comes from a new step."""
    global _last_step
    step = getattr(trainer_state, "global_step", None)
    if step is None:
        return
    with _lock:
        new = _last_step is not None and step != _last_step
        _last_step = step
    if new:
        shared_functions().reward.commit()


def _reward_class(name: str, base: type, part: str | None = None) -> type:

    class RankRewardORM(base):  # type: ignore[misc, valid-type]
        """One reward function of the process's shared reward (any preset; Dr. Seg by
        default) for ms-swift's GRPO trainer: a part, or the total (see the module docs)."""

        def __init__(self, args: Any = None, **kwargs: Any) -> None:
            self.args = args
            self.functions = shared_functions()
            self._fn = self.functions.function(part) if part else None

        def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
            _commit_on_new_step(kwargs.get("trainer_state"))
            if self._fn is not None:
                return self._fn(completions, **kwargs)
            b = self.functions.breakdown(completions, "total", **kwargs)
            return [None if np.isnan(x) else float(x) for x in b["reward"]]

    RankRewardORM.__name__ = RankRewardORM.__qualname__ = f"{name}_orm"
    return RankRewardORM


def _callback_class() -> type:
    class RankRewardCallback(RankNormalizerCallback):
        """`RankNormalizerCallback` on the process's shared reward, built the way ms-swift
        builds callbacks (``callbacks_map[name](args, trainer)``): commits the window after
        every optimizer step, saves it into every checkpoint and restores it when ms-swift
        resumes from one (``--resume_from_checkpoint``)."""

        writer = f"--callbacks {CALLBACK_NAME}"

        def __init__(self, args: Any, trainer: Any) -> None:
            resume = getattr(args, "resume_from_checkpoint", None)
            super().__init__(shared_functions().reward, resume_from=resume)
            self.args, self.trainer = args, trainer

        def on_step_end(self, args, state, control, **kwargs):
            global _last_step
            control = super().on_step_end(args, state, control, **kwargs)
            with _lock:  # the step's rows are in: later calls of this step start clean
                _last_step = state.global_step
            return control

    return RankRewardCallback


def register() -> None:
    """Register the reward names in ``swift.rewards.orms`` and the callback in
    ``swift.callbacks.callbacks_map``. Needs ms-swift; idempotent.

    Example:
        ```python
        # the plugin file, ``examples/swift_drseg_plugin.py``
        from rankreward.adapters.swift import register
        register()
        ```
    """
    from swift.callbacks import callbacks_map
    from swift.rewards import ORM, orms

    functions = shared_functions()
    # the whole reward under its name, each part as <prefix>_<part> (Dr. Seg: REWARD_NAMES)
    names: dict[str, str | None] = {os.environ.get("RANKREWARD_PRESET") or "drseg": None}
    names.update({f"{functions.prefix}_{part}": part for part in functions.reward.parts})
    for name, part in names.items():
        if name not in orms or getattr(orms[name], "__name__", "") != f"{name}_orm":
            orms[name] = _reward_class(name, ORM, part)
    callbacks_map[CALLBACK_NAME] = _callback_class()
