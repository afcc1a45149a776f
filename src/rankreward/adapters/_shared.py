"""The one reward per configuration that trainer hooks without state (verl, OpenRLHF, EasyR1)
share: the Dr. Seg reward by default, or any recipe preset (``preset="seg-zero"``, ...).

Those trainers call a module-level function once per rollout or batch, from threads and from
several Ray worker processes, and pass no state. So the reward object is built on first use,
cached per configuration in the process, and its windows live either in a Ray named actor (one
set for every process of the job) or in this process. Either way they are committed every
``commit_every`` samples: the paper's per-step snapshot, counted (for a preset, counted in
samples for all its windows at once, so components that do not apply to some samples still
commit together).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from ..normalize import LocalWindows
from ..rewards.rows import breakdown_row, score_rows
from ..rewards.spec import ComponentReward

__all__ = [
    "SHARE_MODES",
    "ablation_from_env",
    "breakdown_row",
    "reset_shared_rewards",
    "score_rows",
    "shared_reward",
]

SHARE_MODES = ("auto", "ray", "local")

_cache: dict[str, ComponentReward] = {}
_cache_lock = threading.Lock()


def _ray_running() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()


def shared_reward(
    *,
    commit_every: int | None = None,
    share: str = "auto",
    actor_name: str | None = None,
    state_file: str | None = None,
    resume_from: str | None = None,
    strict: bool | None = None,
    weights: dict[str, float] | None = None,
    preset: str | None = None,
    ranked: bool | None = None,
    task_key: str | None = None,
    **thresholds: Any,
) -> ComponentReward:
    """The process's reward for this configuration, built on first use. Thread-safe.

    ``preset`` names the recipe (`rankreward.rewards.PRESETS`; default ``"drseg"``, the
    paper's reward), ``ranked`` as `preset`, ``task_key`` naming the column that holds each
    sample's task, and ``strict``, ``weights`` and ``**thresholds`` the recipe's own options.

    ``share="auto"`` uses a Ray named actor when Ray is running in this process (inside verl
    and OpenRLHF workers it is) and local windows otherwise. O(1) after the first call.
    """
    if commit_every is None:
        raise ValueError(
            "commit_every is required: the number of rollouts per training step (verl: "
            "data.train_batch_size * actor_rollout_ref.rollout.n; OpenRLHF: rollout.batch_size "
            "* rollout.n_samples_per_prompt). Without it the window would never advance."
        )
    if share not in SHARE_MODES:
        raise ValueError(f"share must be one of {SHARE_MODES}, got {share!r}")
    config = dict(commit_every=commit_every, share=share, actor_name=actor_name,
                  state_file=state_file, resume_from=resume_from, strict=strict,
                  weights=weights, preset=preset, ranked=ranked, task_key=task_key,
                  thresholds=thresholds)  # fmt: skip
    key = json.dumps(config, sort_keys=True, default=str)
    with _cache_lock:
        reward = _cache.get(key)
        if reward is None:
            files = {"state_file": state_file, "resume_from": resume_from}
            use_ray = share == "ray" or (share == "auto" and _ray_running())
            options = dict(thresholds)
            if strict is not None:
                options["strict"] = strict
            if weights is not None:
                options["weights"] = weights
            # the default actor name carries the configuration: every worker with the same
            # settings shares one actor, a reward configured otherwise never does
            actor = actor_name
            if use_ray and actor is None:
                name = preset or "drseg"
                actor = f"rankreward-{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
            reward = _build(preset, ranked, task_key, commit_every, use_ray, actor, files, options)
            _cache[key] = reward
        return reward


def _build(
    name: str | None,
    ranked: bool | None,
    task_key: str | None,
    commit_every: int,
    use_ray: bool,
    actor_name: str | None,
    files: dict[str, Any],
    options: dict[str, Any],
) -> ComponentReward:
    """The reward of a configuration through the one builder (``preset(name or "drseg")``),
    its windows counted in samples (`LocalWindows`, or the Ray host of them)."""
    from ..distributed.ray_actor import RayWindows
    from ..rewards import preset

    if use_ray:
        windows: Any = RayWindows(str(actor_name), commit_every=commit_every, **files)
    else:
        windows = LocalWindows(commit_every=commit_every, **files)
    return preset(name or "drseg", ranked, task_key=task_key, windows=windows, **options)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_bool(env: Mapping[str, str], name: str) -> bool | None:
    """``RANKREWARD_<name>`` as a switch: ``1/true/yes/on`` or ``0/false/no/off`` (any case),
    ``None`` when unset or empty; anything else raises ``ValueError`` naming the variable (a
    typo must not silently mean "off"). O(1).

    Examples:
        >>> env_bool({"RANKREWARD_RANKED": "True"}, "RANKED"), env_bool({}, "RANKED")
        (True, None)
        >>> env_bool({"RANKREWARD_LOOK": "of"}, "LOOK")
        Traceback (most recent call last):
        ...
        ValueError: RANKREWARD_LOOK='of': expected one of 1/true/yes/on or 0/false/no/off
    """
    raw = env.get(f"RANKREWARD_{name}")
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError(
        f"RANKREWARD_{name}={raw!r}: expected one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}"
    )


def env_int(env: Mapping[str, str], name: str) -> int | None:
    """``RANKREWARD_<name>`` as a positive integer (``None`` when unset or empty); anything
    else raises ``ValueError`` naming the variable. O(1).

    Examples:
        >>> env_int({"RANKREWARD_COMMIT_EVERY": "1024"}, "COMMIT_EVERY")
        1024
    """
    raw = env.get(f"RANKREWARD_{name}")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"RANKREWARD_{name}={raw!r}: expected a positive integer")
    return value


def ablation_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The paper's ablation rows from ``RANKREWARD_*`` variables, as `DrSegReward` keywords:
    ``COMPAT``, ``ACCURACY``, ``NON_REPEAT`` (their values) and ``LOOK`` (a switch, `env_bool`:
    off drops the look part). O(1).

    Examples:
        >>> ablation_from_env({"RANKREWARD_LOOK": "0", "RANKREWARD_ACCURACY": "raw"})
        {'accuracy': 'raw', 'look': False}
    """
    options: dict[str, Any] = {}
    for name, key in (("COMPAT", "compat"), ("ACCURACY", "accuracy"), ("NON_REPEAT", "non_repeat")):
        if env.get(f"RANKREWARD_{name}"):
            options[key] = env[f"RANKREWARD_{name}"]
    look = env_bool(env, "LOOK")
    if look is not None:
        options["look"] = look
    return options


def reset_shared_rewards() -> None:
    """Forget the cached reward objects (a notebook starting a new run, or tests). A Ray
    actor's window is not touched: `RayRankNormalizer.kill` removes that."""
    with _cache_lock:
        _cache.clear()
