"""verl adapter: the Dr. Seg reward as a verl custom reward function.

verl (0.9) loads ``reward.custom_reward_function.path`` / ``.name`` and calls the function once
per rollout, by keyword, from its reward-loop workers (several Ray actors, each scoring in
threads)::

    compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...,
                  **reward.custom_reward_function.reward_kwargs)

``ground_truth`` is the sample's ``reward_model.ground_truth`` (the VisionReasoner solution
JSON). The function returns a dict: ``score`` (the Dr. Seg reward, 0..8) plus every component,
which verl logs. The batch reward manager's form (lists in, a list of dicts out) is
`compute_score_batch`.

Configure through ``reward_kwargs`` (see ``examples/verl_drseg.sh``): ``commit_every`` (required:
``data.train_batch_size * actor_rollout_ref.rollout.n``), ``share`` (``auto``: one window in a
Ray named actor when Ray runs, which it does in verl), ``actor_name``, ``state_file`` and
``resume_from`` (see `AutoCommitNormalizer`), ``strict``, ``weights`` and the thresholds of
`AccuracyConfig`.

**Any recipe**: ``reward_kwargs.preset`` (``"seg-zero"``, ``"vlm-r1-ovd"``, ...; see
`rankreward.rewards.preset`) scores with that recipe instead, ``ranked`` choosing raw or ranked,
other keys its options. Each component comes back under its own key (``iou``, ``iou_rank``,
...; NaN where it does not apply). ``task_key="data_source"`` keeps one window per data source;
the sample's ``extra_info`` dict supplies the other per-sample columns a preset reads (VLM-R1
REC's ``image_grid_thw`` and ``image_size``).

verl pads a step's batch to a multiple of ``reward.num_workers`` and scores the padding too, so
choose batch sizes divisible by the worker count (the usual setting) to keep steps aligned.

**verl 0.9's V1 trainer** (``trainer.use_v1``, the default there) scores through its reward
loop: ``reward.num_workers`` ``RewardLoopWorker`` actors, each scoring its share of a batch in
concurrent tasks, with the ``naive`` manager (threads) or the ``remote`` one (separate Ray
processes). Every one of those processes attaches to the same Ray named actor, so there is one
window, committed every ``commit_every`` samples counted over all of them. In the synchronous
mode a step's samples are all scored before the next step's start, so a step is exactly one
training batch and the order of the samples within it does not matter. In the asynchronous
modes (one-step-off, fully async) the next step's rollouts can be scored while the last of a
step are still in flight: a step is then ``commit_every`` samples in arrival order (each sample
staged once, none lost). A sample whose reward verl times out (the ``limited`` manager) scores
0 there but, if its computation finishes, stays staged; verl does not retry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..rewards.rows import score_rows
from ._shared import shared_reward

__all__ = ["compute_score", "compute_score_batch"]


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """Score one rollout the way verl's naive reward manager asks; thread-safe.

    Args:
        data_source: the sample's source (a preset's task with ``task_key="data_source"``).
        solution_str: the decoded response (verl strips special tokens).
        ground_truth: the solution JSON string or a list of ``{"bbox_2d", "point_2d"}``.
        extra_info: the sample's extra columns (read by presets that need them).
        **reward_kwargs: ``commit_every`` (required) and the options of `shared_reward`.

    Returns ``{"score": reward, "format": ..., "x1": ..., "x1_rank": ..., ...}`` (floats).
    Complexity: parsing O(len(solution_str)) plus matching O(M N min(M, N)).

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'
        >>> text = ('<think><look>cup</look></think><answer>[{"bbox_2d": [0, 0, 99, 99], '
        ...         '"point_2d": [50, 50]}]</answer>')
        >>> out = compute_score("refcoco", text, gt, None, commit_every=8, share="local")
        >>> out["score"], out["x1"], out["x1_rank"]
        (8.0, 1.0, 1.0)
    """
    reward = shared_reward(**_options(reward_kwargs))
    columns = _columns([data_source], [extra_info])
    return score_rows(reward, [solution_str], [ground_truth], columns)[0]


#: Keywords verl's reward loop adds to a custom reward function's call when a reward model
#: router runs beside it; they are verl's, not the reward's options.
VERL_KEYWORDS = ("reward_router_address", "reward_model_tokenizer")


def _options(reward_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reward_kwargs.items() if k not in VERL_KEYWORDS}


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    **reward_kwargs: Any,
) -> list[dict[str, float]]:
    """Score a batch the way verl's batch reward manager asks (one vectorised pass).

    Same options and per-sample dicts as `compute_score`.

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'
        >>> out = compute_score_batch(["refcoco"], ["no tags"], [gt], None, commit_every=4, share="local")
        >>> out[0]["score"], out[0]["format"]  # no format, but x = 0 ranks 1.0 against 128 zeros
        (4.0, 0.0)
    """
    reward = shared_reward(**_options(reward_kwargs))
    columns = _columns(list(data_sources), extra_infos)
    return score_rows(reward, list(solution_strs), list(ground_truths), columns)


def _columns(data_sources: list[Any], extra_infos: Sequence[Any] | None) -> dict[str, list[Any]]:
    """Per-sample columns for a preset: ``data_source`` and every key of the samples'
    ``extra_info`` dicts (None where a sample lacks it)."""
    columns: dict[str, list[Any]] = {"data_source": data_sources}
    if extra_infos is None:  # verl hands a numpy object array, so no truth test
        extra_infos = [None] * len(data_sources)
    infos = [e if isinstance(e, dict) else {} for e in extra_infos]
    for key in dict.fromkeys(k for info in infos for k in info):
        columns.setdefault(key, [info.get(key) for info in infos])
    return columns
