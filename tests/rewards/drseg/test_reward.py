from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward import RankNormalizer
from rankreward.rewards.recipes.drseg import (
    DrSegReward,
    accuracy_metrics,
    format_reward,
    non_repeat_reward,
)
from rankreward.testing.reference import ReferenceDrSeg
from rankreward.testing.reference import accuracy as reference_accuracy
from rankreward.testing.synthetic import synthetic_batch


def test_equals_the_reference_over_many_steps():
    rng = np.random.default_rng(0)
    ours, ref = DrSegReward(), ReferenceDrSeg()
    for _ in range(12):
        completions, gts = synthetic_batch(64, rng)
        assert ours(completions, gts) == ref(completions, gts)
        ours.commit()
        ref.commit()
    assert len(ours.normalizer) == 128 + 12 * 64


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(1)
    completions, gts = synthetic_batch(48, rng)
    batch = DrSegReward()
    together = batch.score(completions, gts)
    single = DrSegReward()
    for k, (c, g) in enumerate(zip(completions, gts, strict=True)):
        row = single.score([c], [g])
        for name, values in together.items():
            if name != "terms":  # the recipe's columns, checked through the components
                assert row[name][0] == values[k], name
        assert accuracy_metrics(c, g) == tuple(together[n][k] for n in ("x1", "x2", "x3"))
        assert format_reward(c) == together["format"][k]
        assert non_repeat_reward(c) == together["non_repeat"][k]


@given(
    text=st.text(max_size=400),
    junk=st.sampled_from(
        [
            "<think>",
            "</think>",
            "<answer>",
            "</answer>",
            "<look>",
            "</look>",
            "[",
            "{",
            '"bbox_2d"',
            "NaN",
        ]
    ),
)
def test_arbitrary_text_never_raises_and_stays_in_range(text, junk):
    reward = DrSegReward()
    gt = ['[{"bbox_2d": [0, 0, 10, 10], "point_2d": [5, 5]}]']
    for t in (
        text,
        junk + text,
        text + junk + text,
        f"<think>{text}</think><answer>{text}</answer>",
    ):
        (value,) = reward([t], gt)
        b = reward.last_breakdown
        assert 0.0 <= value <= 8.0
        assert 0.0 <= b["format"][0] <= 4.0
        ranks = tuple(f"x{i}_rank" for i in (1, 2, 3) if f"x{i}_rank" in b)
        for name in ("x1", "x2", "x3", *ranks, "non_repeat", "look", "structure"):
            assert 0.0 <= b[name][0] <= 1.0, name
        if b["format"][0] == 0.0:
            assert reward.last_problems[0], "a zero format score always has a logged reason"


def test_breakdown_chat_messages_and_trl_keywords():
    reward = DrSegReward()
    msg = [
        {
            "role": "assistant",
            "content": '<think><look>a</look></think><answer>[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]</answer>',
        }
    ]
    out = reward([msg, msg[0]["content"]], solution=['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'] * 2,
                 trainer_state=None, log_metric=None, prompts=["p", "p"])  # fmt: skip
    assert out[0] == out[1]
    b = reward.last_breakdown
    assert set(reward.logged_keys) <= set(b) and {
        "x1",
        "x2",
        "x3",
        "num_pred",
        "num_gt",
        "reward",
    } <= set(b)
    assert b["num_pred"].tolist() == [1, 1] and b["x1"].tolist() == [1.0, 1.0]
    assert reward.means()["reward"] == out[0]
    assert reward.normalizer.num_staged == 2


def test_weights_and_thresholds():
    gt = ['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]']
    text = '<think><look>x</look></think><answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>'
    weighted = DrSegReward(weights={"x1": 2.0, "non_repeat": 0.0})
    assert weighted([text], gt) == [4.0 + 2 * 1 + 1 + 1]
    with pytest.raises(ValueError, match="unknown weight keys"):
        DrSegReward(weights={"iou": 1})
    strict_l1 = DrSegReward(l1_threshold=0.5, point_threshold=10, point_outer=20)
    assert strict_l1.config.l1_threshold == 0.5 and strict_l1.config.point_outer == 20
    with pytest.raises(ValueError, match="point_outer"):
        DrSegReward(point_threshold=30, point_outer=10)
    box = DrSegReward(pixel_inclusive=False)
    pred = '<answer>[{"bbox_2d": [0, 0, 0, 0], "point_2d": [0, 0]}]</answer>'
    assert box.score([pred], ['[{"bbox_2d": [0, 0, 0, 0], "point_2d": [0, 0]}]'])["x1"][0] == 0.0
    assert (
        DrSegReward().score([pred], ['[{"bbox_2d": [0, 0, 0, 0], "point_2d": [0, 0]}]'])["x1"][0]
        == 1.0
    )


def test_bad_ground_truth_raises_naming_the_sample():
    reward = DrSegReward()
    with pytest.raises(ValueError, match=r"ground_truth\[1\].*missing_key"):
        reward(
            ["a", "b"],
            ['[{"bbox_2d": [0, 0, 1, 1], "point_2d": [0, 0]}]', '[{"bbox_2d": [0, 0, 1, 1]}]'],
        )
    with pytest.raises(ValueError, match="2 completions but 1"):
        reward(["a", "b"], ["[]"])
    with pytest.raises(TypeError, match="ground_truth"):
        reward(["a"])
    with pytest.raises(ValueError, match="3 metrics"):
        DrSegReward(normalizer=RankNormalizer(num_metrics=2))


def test_per_step_semantics_and_missing_commit_warning():
    reward = DrSegReward(normalizer=RankNormalizer.paper(window=64, prefill=0))
    gt = ['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]']
    good = '<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>'
    reward([good], gt)
    assert reward.last_breakdown["x1_rank"][0] == 0.5  # empty window: the documented neutral rank
    reward([good], gt)  # same step: ranked against the same (empty) window
    assert reward.last_breakdown["x1_rank"][0] == 0.5
    assert reward.commit() == 2
    reward([good], gt)
    assert reward.last_breakdown["x1_rank"][0] == 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(70):
            reward([good], gt)
    assert any("without commit" in str(w.message) for w in caught)


def test_state_round_trip():
    rng = np.random.default_rng(3)
    a = DrSegReward()
    completions, gts = synthetic_batch(32, rng)
    a(completions, gts)
    a.commit()
    b = DrSegReward()
    b.load_state_dict(a.state_dict())
    more, more_gt = synthetic_batch(32, rng)
    assert a(more, more_gt) == b(more, more_gt)


def test_reference_accuracy_agrees_on_synthetic_answers():
    rng = np.random.default_rng(5)
    completions, gts = synthetic_batch(200, rng)
    for c, g in zip(completions, gts, strict=True):
        assert accuracy_metrics(c, g) == reference_accuracy(c, g)
    assert json.loads(gts[0])


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=700),
)
def test_matched_means_sum_in_numpys_order(values):
    from rankreward.rewards.recipes.drseg.accuracy import _numpy_mean

    a = np.array(values)
    assert _numpy_mean(a, len(a)) == np.mean(a)  # bit for bit, also past numpy's 128 block


def test_batch_accuracy_validates_shapes():
    from rankreward.rewards.recipes.drseg import batch_accuracy

    box, pt = np.zeros((2, 4)), np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"pred\[0\].*\(2, 4\) and \(3, 2\)"):
        batch_accuracy([(box, np.zeros((3, 2)))], [(box, pt)])
    with pytest.raises(ValueError, match=r"gt\[0\].*\(2, 3\)"):
        batch_accuracy([(box, pt)], [(np.zeros((2, 3)), pt)])
