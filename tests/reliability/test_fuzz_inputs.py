"""Hostile completions and ground truths: bounded time and memory, every reward finite and in
range, and a logged reason for every zero format score."""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankreward.rewards.recipes.drseg import DrSegReward, parse_completion
from rankreward.rewards.recipes.drseg.inputs import parse_ground_truth

GT = '[{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}]'
WRAP = "<think>scan<look>the object</look></think><answer>{}</answer>"


def check_batch(reward: DrSegReward, texts: list[str], gts: list | None = None) -> float:
    """Score, check every invariant, return the worst seconds per completion."""
    gts = gts or [GT] * len(texts)
    start = time.perf_counter()
    scores = reward(texts, ground_truth=gts)
    per = (time.perf_counter() - start) / max(len(texts), 1)
    b = reward.last_breakdown
    assert np.isfinite(scores).all()
    assert all(0.0 <= s <= reward.max_reward for s in scores)
    for k in range(len(texts)):
        if b["format"][k] == 0.0:
            assert reward.last_problems[k], f"zero format score without a reason: {texts[k][:80]!r}"
        for name in ("x1", "x2", "x3", *(f"x{i}_rank" for i in (1, 2, 3) if f"x{i}_rank" in b)):
            assert 0.0 <= b[name][k] <= 1.0
    reward.commit()
    return per


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400))
def test_arbitrary_unicode(text):
    p = parse_completion(text)
    assert 0.0 <= p.format_score <= 4.0
    check_batch(DrSegReward(), [text, WRAP.format(text)])


@settings(max_examples=200, deadline=None)
@given(value=json_values, strict=st.booleans())
def test_arbitrary_json_answers(value, strict):
    try:
        answer = json.dumps(value, allow_nan=True)
    except (ValueError, OverflowError):
        return
    check_batch(DrSegReward(compat="strict" if strict else "lenient"), [WRAP.format(answer)])


@settings(max_examples=100, deadline=None)
@given(coords=st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30),
                       min_size=6, max_size=6))  # fmt: skip
def test_nan_inf_huge_coordinates_in_answers(coords):
    obj = {"bbox_2d": coords[:4], "point_2d": coords[4:]}
    check_batch(DrSegReward(), [WRAP.format(json.dumps([obj], allow_nan=True))])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e300, -1e300])
def test_bad_ground_truth_is_a_typed_error(bad):
    gt = json.dumps([{"bbox_2d": [0, 0, bad, 5], "point_2d": [1, 1]}], allow_nan=True)
    with pytest.raises(ValueError, match=r"ground_truth\[0\]"):
        DrSegReward()([WRAP.format("[]")], ground_truth=[gt])
    with pytest.raises(ValueError):
        parse_ground_truth(gt)


def hostile() -> dict[str, str]:
    obj = '{"bbox_2d": [1, 2, 3, 4], "point_2d": [2, 3]}'
    return {
        "1 MB of unclosed tags": "<think><look>" * 80_000,
        "1 MB of text": "a" * 1_000_000,
        "1 MB answer": WRAP.format("[" + ",".join([obj] * 22_000) + "]"),
        "10^6 objects": WRAP.format("[" + ",".join([obj] * 1_000_000) + "]"),
        "nested lists (depth 90,000)": WRAP.format("[" * 90_000 + "]" * 90_000),
        "nested dicts (depth 30,000)": WRAP.format('{"a":' * 30_000 + "1" + "}" * 30_000),
        "many looks": "<think>" + "<look>x</look>" * 10_000 + "</think><answer>[]</answer>",
        "repeated sentences": "<think>"
        + "The cup is red. " * 10_000
        + "</think><answer>[]</answer>",
        "2,000 objects (under the cap)": WRAP.format("[" + ",".join([obj] * 2_000) + "]"),
    }


@pytest.mark.parametrize("strict", [True, False])
def test_hostile_completions_bounded_time_and_memory(strict):
    reward = DrSegReward(compat="strict" if strict else "lenient")
    worst = 0.0
    for name, text in hostile().items():
        tracemalloc.start()
        per = check_batch(reward, [text])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        worst = max(worst, per)
        assert per < 2.0, f"{name}: {per:.2f} s"
        # parsing never holds more than a small multiple of the input
        assert peak < 20 * len(text) + 50_000_000, f"{name}: peak {peak / 1e6:.0f} MB"
    assert worst < 2.0


@pytest.mark.slow
def test_a_million_objects_with_the_size_cap_lifted():
    """Past the default 200,000-character cap (which rejects it in microseconds), a 46 MB answer
    of 10^6 objects still parses in bounded time and keeps the first 120 objects."""
    reward = DrSegReward(max_chars=100_000_000)
    text = hostile()["10^6 objects"]
    start = time.perf_counter()
    scores = reward([text], ground_truth=[GT])
    assert time.perf_counter() - start < 30.0
    assert np.isfinite(scores).all() and reward.last_breakdown["num_pred"][0] == 120
