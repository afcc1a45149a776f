"""Hardening round 4 (issue 38, first findings): a number in a completion too large to score
makes that term not applicable with a readable problem, for every recipe at once (never a
raise, never an infinite total); coordinates and image sizes are checked where they enter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import Component, ComponentReward, Terms, preset, to_pixels

SEGZERO_GT = "<box>(425,318),(537,386)</box><points>(435,328),(527,376)</points>"


def test_seg_zero_scores_a_huge_box_instead_of_raising():
    reward = preset("seg-zero", ranked=True)
    text = ('<think>look</think><answer>{"bbox": [0, 0, 1e308, 1e308], "points_1": [440, 341], '
            '"points_2": [527, 379]}</answer>')  # fmt: skip
    out = reward.score([text], [SEGZERO_GT])
    assert np.isfinite(out["reward"]).all()
    assert np.isnan(out["box_l1"][0]) and np.isnan(out["box_l1_rank"][0])
    assert any("box_l1_value overflowed to -inf" in p for p in out["problems"][0])
    assert reward.commit() >= 0  # the window never saw the infinite value


class _Overflowing:
    """A recipe whose term overflows for samples whose text says so: the framework's
    guarantee, whatever the recipe."""

    context = ()

    def terms(self, texts, ground_truths, context):
        big = {"+": np.inf, "-": -np.inf}
        values = np.array([big.get(t, float(len(t))) for t in texts])
        return Terms({"size": values, "ok": np.ones(len(texts))})


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.sampled_from(["+", "-", "ab", "abc", ""]), min_size=1, max_size=12),
       ranked=st.booleans())  # fmt: skip
def test_any_recipes_overflowing_term_is_not_applicable(texts, ranked):
    reward = ComponentReward([Component("size", ranked=ranked), Component("ok")],
                             recipe=_Overflowing())  # fmt: skip
    out = reward.score(texts, [None] * len(texts))
    for k, text in enumerate(texts):
        if text in "+-" and text:
            assert np.isnan(out["size"][k]) and out["reward"][k] == 1.0
            assert "overflowed" in out["problems"][k][0]
        else:
            assert out["size"][k] == len(text) and not out["problems"][k]
    assert np.isfinite(out["reward"]).all()
    reward.commit()
    if ranked:
        assert np.isfinite(reward.windows.state_dict()["/size"]["values"]).all()


def test_non_numeric_coordinates_are_named():
    with pytest.raises(ValueError, match="coordinates must be numbers"):
        to_pixels([["a", 1, 2, 3]], "rel1000", (100, 100))
    with pytest.raises(ValueError, match="coordinates must be numbers"):
        to_pixels(np.array([[None, 1, 2, 3]], dtype=object), "rel1000", (100, 100))


@pytest.mark.parametrize("size", [(0, -5), "64", (640, float("nan"))])
def test_vlm_r1_rec_refuses_an_impossible_image_size(size):
    reward = preset("vlm-r1-rec")
    text = '<think>x</think><answer>{"bbox_2d": [334, 240, 439, 307]}</answer>'
    with pytest.raises(ValueError, match="image_size of sample 1 must be"):
        reward.score([text, text], ["<answer>[340, 254, 452, 322]</answer>"] * 2,
                     context={"image_grid_thw": [(1, 30, 40)] * 2,
                              "image_size": [(640, 480), size]})  # fmt: skip


def test_an_empty_ovd_solution_block_is_no_ground_truth_as_published():
    reward = preset("vlm-r1-ovd")
    text = '<answer>```json[{"bbox_2d": [0, 0, 5, 5], "label": "a"}]```</answer>'
    out = reward.score([text], ["<answer>```json```</answer>"])
    assert out["accuracy"][0] == 0.0
    with pytest.raises(ValueError, match="is not a JSON list"):
        reward.score([text], ["<answer>```json not json```</answer>"])
