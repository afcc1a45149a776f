"""A score breakdown as rows: one flat ``{score_key: total, key: value, ...}`` dict per sample,
the form verl and EasyR1 log and the service's OpenRLHF endpoint returns. One place, used by
the adapters and the service alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spec import ComponentReward

__all__ = ["breakdown_row", "score_rows"]


def score_rows(
    reward: ComponentReward,
    texts: list[str],
    ground_truths: list[Any],
    columns: dict[str, list[Any]] | None = None,
    *,
    score_key: str = "score",
    stage: bool = True,
) -> list[dict[str, float]]:
    """Score a batch and return one flat ``{score_key: total, key: value, ...}`` dict per
    sample (the keys are the reward's `logged_keys`, plus the old names of keys a release
    renamed, until `REMOVAL_RELEASE`). ``columns`` are per-sample dataset
    columns: a preset reads its ``task_key`` and context columns there. A component that does
    not apply to a sample is NaN in its row; a sample where *no* component applies raises
    ``ValueError`` (these trainers have no way to leave a sample out). O(the reward's cost).

    Examples:
        >>> from rankreward.rewards import preset
        >>> rows = score_rows(preset("perception-r1"), ["<|box_start|>(0,0),(10,10)<|box_end|>"],
        ...                   ["[0, 0, 10, 20]"])
        >>> rows[0]["score"], rows[0]["grounding"]
        (1.25, 0.25)
    """
    columns = columns or {}
    tasks = reward.tasks_from(columns)
    breakdown = reward.score(texts, ground_truths, tasks, context=columns, stage=stage)
    empty = np.flatnonzero(np.isnan(breakdown["reward"]))
    if len(empty):
        raise ValueError(
            f"no component of the reward applies to sample {int(empty[0])} (of "
            f"{len(empty)}): this trainer cannot leave a sample out of the advantage"
        )
    names = reward.logged_keys
    rows = [breakdown_row(breakdown, i, score_key, names) for i in range(len(texts))]
    # Keys a release renamed stay in the rows until REMOVAL_RELEASE: trainer configs name them
    # (verl's ``gdpo_reward_keys=[format,r1,r2,r3,non_repeat]``), and a row cannot warn.
    for old, new in reward.renamed_keys.items():
        values = breakdown[new] if isinstance(new, str) else new(breakdown)
        for row, value in zip(rows, values, strict=True):
            row[old] = float(value)
    return rows


def breakdown_row(
    breakdown: Mapping[str, Any],
    i: int,
    score_key: str = "score",
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Sample ``i`` of a ``score`` breakdown as ``{score_key: reward, name: value, ...}`` for
    the ``names`` logged (default: every per-sample number but the total; verl names the
    reward ``score``, EasyR1 ``overall``). O(names).

    Examples:
        >>> breakdown_row({"reward": np.array([2.0]), "iou": np.array([0.5])}, 0)
        {'score': 2.0, 'iou': 0.5}
    """
    if names is None:
        names = [k for k, v in breakdown.items()
                 if k != "reward" and isinstance(v, np.ndarray) and v.dtype.kind in "fiub"]  # fmt: skip
    row = {score_key: float(breakdown["reward"][i])}
    row.update({name: float(breakdown[name][i]) for name in names})
    return row
