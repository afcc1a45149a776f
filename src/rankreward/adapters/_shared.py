"""The one `DrSegReward` per configuration that per-sample trainer hooks (verl, OpenRLHF) share.

Those trainers call a module-level function once per rollout, from threads and from several
Ray worker processes, and pass no state. So the reward object is built on first use, cached per
configuration in the process, and its normalizer is either a Ray named actor (one window for
every process of the job) or a local `AutoCommitNormalizer` (one process). Either way rows are
committed every ``commit_every`` samples: the paper's per-step snapshot, counted.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from ..drseg.reward import DrSegReward
from ..normalize import AutoCommitNormalizer, RankNormalizer

__all__ = [
    "SHARE_MODES",
    "ablation_from_env",
    "breakdown_row",
    "reset_shared_rewards",
    "shared_reward",
]

SHARE_MODES = ("auto", "ray", "local")

#: Per-sample numbers returned next to the score (all floats, so trainers can average them).
LOGGED = ("format", "look", "non_repeat", "x1", "x2", "x3", "r1", "r2", "r3", "num_pred",
          "num_problems")  # fmt: skip

_cache: dict[str, DrSegReward] = {}
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
    **thresholds: Any,
) -> DrSegReward:
    """The process's `DrSegReward` for this configuration, built on first use. Thread-safe.

    ``share="auto"`` uses a Ray named actor when Ray is running in this process (inside verl
    and OpenRLHF workers it is) and a local window otherwise. O(1) after the first call.
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
                  weights=weights, thresholds=thresholds)  # fmt: skip
    key = json.dumps(config, sort_keys=True, default=str)
    with _cache_lock:
        reward = _cache.get(key)
        if reward is None:
            files = {"state_file": state_file, "resume_from": resume_from}
            if share == "ray" or (share == "auto" and _ray_running()):
                from ..distributed import DEFAULT_ACTOR_NAME, RayRankNormalizer

                name = actor_name or DEFAULT_ACTOR_NAME
                normalizer: Any = RayRankNormalizer(name, commit_every=commit_every, **files)
            else:
                normalizer = AutoCommitNormalizer(RankNormalizer.paper(), commit_every, **files)
            reward = DrSegReward(normalizer, weights, strict=strict, **thresholds)
            _cache[key] = reward
        return reward


def ablation_from_env(env: dict[str, str]) -> dict[str, Any]:
    """The paper's ablation rows from ``RANKREWARD_*`` variables, as `DrSegReward` keywords:
    ``COMPAT``, ``ACCURACY``, ``NON_REPEAT`` (their values) and ``LOOK`` (``0``/``false``/``no``
    drop the look part). O(1).

    Examples:
        >>> ablation_from_env({"RANKREWARD_LOOK": "0", "RANKREWARD_ACCURACY": "raw"})
        {'accuracy': 'raw', 'look': False}
    """
    options: dict[str, Any] = {}
    for name, key in (("COMPAT", "compat"), ("ACCURACY", "accuracy"), ("NON_REPEAT", "non_repeat")):
        if env.get(f"RANKREWARD_{name}"):
            options[key] = env[f"RANKREWARD_{name}"]
    look = env.get("RANKREWARD_LOOK") or None
    if look is not None:
        options["look"] = look not in ("0", "false", "no")
    return options


def reset_shared_rewards() -> None:
    """Forget the cached reward objects (a notebook starting a new run, or tests). A Ray
    actor's window is not touched: `RayRankNormalizer.kill` removes that."""
    with _cache_lock:
        _cache.clear()


def breakdown_row(
    breakdown: dict[str, np.ndarray], i: int, score_key: str = "score"
) -> dict[str, float]:
    """Sample ``i`` of a `DrSegReward.score` breakdown as ``{score_key: reward, component:
    ...}`` (verl names the reward ``score``, EasyR1 ``overall``)."""
    row = {score_key: float(breakdown["reward"][i])}
    row.update({name: float(breakdown[name][i]) for name in LOGGED})
    return row
