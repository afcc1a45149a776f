"""Every step's log says which component drives the advantage: the TRL functions log
``<reward>/<component>/adv_share`` and ``/zero_spread`` for each component, computed from the
terms the reward sums (weighted, ranks for ranked components) within the prompts' groups."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankreward import advantage_shares, zero_spread_fractions
from rankreward.adapters.trl import RewardFunctions, prompt_groups
from rankreward.rewards import DrSegReward, preset
from rankreward.testing.recipe_batches import segzero_batch
from rankreward.testing.synthetic import synthetic_batch


def _terms(reward, breakdown):
    out = {}
    for c in reward.components:
        used = np.asarray(breakdown[c.name + "_rank"] if c.ranked else breakdown[c.name], float)
        out[c.name] = c.weight * used
    return out


@pytest.mark.parametrize("name", ["drseg", "seg-zero"])
def test_trl_functions_log_each_components_share_of_the_advantage(name):
    rng = np.random.default_rng(3)
    if name == "drseg":
        reward = DrSegReward(weights={"non_repeat": 0.5})
        texts, gts = synthetic_batch(12, rng, max_objects=4)
    else:
        reward = preset("seg-zero", ranked=True)
        texts, gts = segzero_batch(12, rng, 0.3)
    prompts = [f"find object {i // 4}" for i in range(12)]  # 3 prompts x 4 completions
    logged: dict[str, float] = {}
    for f in RewardFunctions(reward).all():
        f(texts, solution=gts, prompts=prompts, log_metric=logged.__setitem__)
    terms = _terms(reward, reward.last_breakdown)
    groups = np.repeat(np.arange(3), 4)
    want, silent = advantage_shares(terms, groups), zero_spread_fractions(terms, groups)
    prefix = reward.name
    for c in terms:
        assert logged[f"{prefix}/{c}/adv_share"] == pytest.approx(want[c], abs=1e-12)
        assert logged[f"{prefix}/{c}/zero_spread"] == silent[c]
    total = sum(logged[f"{prefix}/{c}/adv_share"] for c in terms)
    assert math.isclose(total, 1.0) or total == 0.0


def test_without_prompts_nothing_is_guessed():
    reward = DrSegReward()
    texts, gts = synthetic_batch(4, np.random.default_rng(0))
    logged: dict[str, float] = {}
    RewardFunctions(reward).function("format")(texts, solution=gts, log_metric=logged.__setitem__)
    assert logged and not any(k.endswith("/adv_share") for k in logged)
    assert prompt_groups(None, 4) is None and prompt_groups(["a"], 4) is None
    chats = [[{"role": "user", "content": "a"}]] * 2 + [[{"role": "user", "content": "b"}]] * 2
    assert prompt_groups(chats, 4).tolist() == [0, 0, 1, 1]
