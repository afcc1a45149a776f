"""The linear tag helpers equal Python's regexes on text built from the tags' own pieces."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.text import all_between, between, fenced_blocks

PIECES = ["<answer>", "</answer>", "<a", "nswer>", "</", "\n", "x", " ", "```json", "```", "json"]
texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
TAGS = [("<answer>", "</answer>"), ("```json", "```"), ("```", "```")]


@settings(max_examples=600, deadline=None)
@given(texts, st.sampled_from(TAGS), st.booleans())
def test_between_equals_re_search(text, tags, newlines):
    open_tag, close_tag = tags
    pattern = re.escape(open_tag) + "(.*?)" + re.escape(close_tag)
    m = re.search(pattern, text, re.DOTALL if newlines else 0)
    assert between(text, open_tag, close_tag, newlines=newlines) == (m.span(1) if m else None)


@settings(max_examples=600, deadline=None)
@given(texts, st.sampled_from(TAGS))
def test_all_between_equals_re_findall(text, tags):
    open_tag, close_tag = tags
    pattern = re.escape(open_tag) + "(.*?)" + re.escape(close_tag)
    assert all_between(text, open_tag, close_tag) == re.findall(pattern, text, re.DOTALL)


def test_a_looping_tag_is_read_without_a_match():
    # 800 KB of an unclosed tag: the regexes take minutes here, the helpers milliseconds
    # (benchmarks/bench_linearity.py measures it; no timing assertion in tests)
    text = "<answer>" * 100_000
    assert between(text, "<answer>", "</answer>") is None
    assert between(text + "\n</answer>", "<answer>", "</answer>", newlines=False) is None
    assert all_between(text, "<answer>", "</answer>") == []


@settings(max_examples=600, deadline=None)
@given(texts)
def test_fenced_blocks_equal_re_findall(text):
    assert fenced_blocks(text) == re.findall(r"```(?:json)?(.*?)```", text, re.DOTALL)


def test_a_lone_surrogate_is_scored_not_raised():
    # a tokenizer can decode one; every recipe's batch scanner reads the batch as code points
    import json

    import numpy as np

    from rankreward.rewards import DrSegReward, preset
    from rankreward.testing.recipe_batches import perception_r1_batch, segzero_batch

    text = json.loads('"<think>\\ud83d</think><answer>[1, 2, 3, 4]</answer>"')
    rng = np.random.default_rng(0)
    cases = [
        (DrSegReward(), ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']),
        (preset("seg-zero"), segzero_batch(1, rng)[1]),
        (preset("perception-r1"), perception_r1_batch(1, rng)[1]),
    ]
    for reward, gt in cases:
        assert np.isfinite(reward.score([text], gt)["reward"]).all()


def test_a_400_digit_number_is_scored_not_raised():
    # the released VLM-R1, Visual-RFT and Seg-Zero rewards catch the overflow and score 0;
    # Perception-R1's crashes the step, where the preset reads no box
    import numpy as np

    from rankreward.rewards import preset
    from rankreward.testing.recipe_batches import perception_r1_batch, rec_batch, segzero_batch

    big = "9" * 400
    rng = np.random.default_rng(0)
    rft_gt = "<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
    cases = [
        ("seg-zero", {}, f'<answer>{{"bbox": [{big}, 1, 2, 3], "points_1": [1, 2]}}</answer>',
         segzero_batch(1, rng)[1], {}),
        ("perception-r1", {}, f"[{big}, 1, 2, 3]", perception_r1_batch(1, rng)[1], {}),
        ("vlm-r1-rec", {}, f"<answer>[{big}, 1, 2, 3]</answer>", rec_batch(1, rng)[1],
         {"image_grid_thw": [[1, 28, 28]], "image_size": [(392, 392)]}),
        ("visual-rft", {"math_verify": False},
         f"<answer>[{{'Position': [0, 0, 10, 10], 'Confidence': {big}}}]</answer>", [rft_gt], {}),
    ]  # fmt: skip
    for name, options, text, gt, context in cases:
        out = preset(name, **options).score([text], gt, context=context)
        assert np.isfinite(out["reward"]).all(), name
