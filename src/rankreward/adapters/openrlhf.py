"""OpenRLHF adapter: the Dr. Seg reward as a local reward-function file.

OpenRLHF (0.11) accepts ``--reward.remote_url path/to/file.py``. Each vLLM engine actor loads
that file and, after every generation, calls ``reward_func(queries, prompts, labels)`` with one
sample (``asyncio.to_thread``, so calls from one engine overlap in threads), where ``queries``
holds the decoded prompt + response *with* special tokens, ``prompts`` the prompt text and
``labels`` the ``--data.label_key`` column (the solution JSON). It wants a dict of
``rewards`` (for advantages), ``scores`` (0..1, for dynamic filtering) and ``extra_logs``.
Exceptions there are logged and swallowed, so this adapter raises only on configuration errors
and reports unparsable completions as zero format scores with reasons, like everywhere else.

``examples/openrlhf_reward.py`` is the file to pass; it builds an `OpenRLHFReward` configured
from environment variables (``RANKREWARD_COMMIT_EVERY`` = ``rollout.batch_size x
rollout.n_samples_per_prompt``, required). Inside OpenRLHF, Ray runs, so every engine shares
one window through a Ray named actor and commits it every ``commit_every`` samples.

Any recipe preset works the same way (``preset="seg-zero"``, ``RANKREWARD_PRESET``): its
components are logged as ``<preset>_<component>`` (NaN where one does not apply) and ``scores``
divide by the preset's maximum. OpenRLHF passes no per-sample columns besides the label, so
presets that read other columns (``task_key``, VLM-R1 REC's image sizes) are not available here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..rewards.rows import score_rows
from ..text import ASSISTANT_MARKER, split_response
from ._shared import ablation_from_env, env_bool, env_int, shared_reward

__all__ = ["ASSISTANT_MARKER", "OpenRLHFReward", "reward_func_from_env", "split_response"]


class OpenRLHFReward:
    """``reward_func(queries, prompts, labels)`` for OpenRLHF; thread-safe.

    Args:
        commit_every: rollouts per step (``rollout.batch_size * rollout.n_samples_per_prompt``).
        **options: ``share``, ``actor_name``, ``state_file``, ``resume_from``, ``strict``,
            ``weights`` and thresholds, as for `shared_reward` (``share="auto"``: a Ray named
            actor when Ray runs, as it does in OpenRLHF's engines).
        marker: the assistant-turn marker of the chat template (`split_response`).

    Returns ``{"rewards": tensor(B), "scores": tensor(B), "extra_logs": {name: tensor(B)}}``
    as OpenRLHF's own example reward function does; ``scores`` is the reward divided by its
    maximum (`DrSegReward.max_reward`, 8 by default). The reward object is built on first call.

    Examples:
        >>> fn = OpenRLHFReward(commit_every=16, share="local")
        >>> q = '<|im_start|>assistant\\n<think><look>a</look></think><answer>[]</answer><|im_end|>'
        >>> out = fn([q], ["<|im_start|>assistant\\n"], ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'])
        >>> out["rewards"].tolist(), sorted(out["extra_logs"])[:3]
        ([6.0], ['drseg_accuracy', 'drseg_answer_items', 'drseg_format'])
    """

    def __init__(
        self,
        commit_every: int | None,
        *,
        marker: str = ASSISTANT_MARKER,
        **options: Any,
    ) -> None:
        self.commit_every = commit_every
        self.marker = marker
        self.options = options
        self.__name__ = "reward_func"

    @property
    def reward(self):
        """The shared `DrSegReward` (built on first use)."""
        return shared_reward(commit_every=self.commit_every, **self.options)

    def __call__(
        self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]
    ) -> dict[str, Any]:
        import torch

        if not (len(queries) == len(prompts) == len(labels)):
            raise ValueError(
                f"{len(queries)} queries, {len(prompts)} prompts and {len(labels)} labels"
            )
        reward = self.reward
        texts = [split_response(q, p, self.marker) for q, p in zip(queries, prompts, strict=True)]
        rows = score_rows(reward, texts, list(labels))
        rewards = torch.tensor([row.pop("score") for row in rows], dtype=torch.float32)
        top = reward.max_reward or 1.0
        prefix = (self.options.get("preset") or "drseg").replace("-", "_")
        names = list(rows[0]) if rows else []
        logs = {f"{prefix}_{name}": torch.tensor([row[name] for row in rows], dtype=torch.float32)
                for name in names}  # fmt: skip
        return {"rewards": rewards, "scores": rewards / top, "extra_logs": logs}


def reward_func_from_env(env: dict[str, str] | None = None) -> OpenRLHFReward:
    """An `OpenRLHFReward` configured from ``RANKREWARD_*`` environment variables:
    ``COMMIT_EVERY`` (required), ``SHARE`` (auto|ray|local), ``ACTOR_NAME``, ``STATE_FILE``,
    ``RESUME_FROM``, ``LENIENT`` (1 for the lenient parser), ``PRESET`` (a recipe preset
    instead of Dr. Seg) with ``RANKED`` (1/0: its ranked or raw form), and the paper's ablation rows:
    ``COMPAT`` (released|strict|lenient), ``LOOK`` (0 drops the look part), ``ACCURACY``
    (ranked|raw|visionreasoner), ``NON_REPEAT`` (drseg|visionreasoner).

    Examples:
        >>> reward_func_from_env({"RANKREWARD_COMMIT_EVERY": "1024"}).commit_every
        1024
    """
    env = dict(os.environ if env is None else env)

    def get(name: str) -> str | None:
        return env.get(f"RANKREWARD_{name}") or None

    ablation = ablation_from_env(env)
    if get("PRESET"):
        ablation["preset"] = get("PRESET")
    if env_bool(env, "RANKED") is not None:
        ablation["ranked"] = env_bool(env, "RANKED")
    return OpenRLHFReward(
        env_int(env, "COMMIT_EVERY"),
        share=get("SHARE") or "auto",
        actor_name=get("ACTOR_NAME"),
        state_file=get("STATE_FILE"),
        resume_from=get("RESUME_FROM"),
        strict=False if env_bool(env, "LENIENT") else None,
        **ablation,
    )
