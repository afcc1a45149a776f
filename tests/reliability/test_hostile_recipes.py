"""Every recipe and `DrSegReward` on hostile completions (issue 25's policy for model output):
arbitrary Unicode with lone surrogates, numbers too big for a float, non-finite literals and tag
soup around each recipe's own answer form. The reward never raises, its totals are finite, and
wherever the recipe's released code (restated in ``tests/rewards/*_oracle.py`` and
`rankreward.testing.reference`) returns a number, the preset returns the same number."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rankreward.rewards import DrSegReward, preset
from rankreward.testing import reference

from ..rewards import perception_r1_oracle, segzero_oracle, visualrft_oracle, vlmr1_oracle

#: Examples per recipe: the closing note quotes these.
EXAMPLES = 200

# any code point, lone surrogates included (a tokenizer can decode one)
any_char = st.characters(codec=None, exclude_categories=())
HOSTILE_NUMBERS = ["1" * 400, "-" + "9" * 320, "1e999", "-1e999", "NaN", "Infinity", "-0",
                   "0.0000000000000000000001", "1_000", "0x10", "١٢", "  7  "]  # fmt: skip
SOUP = ["<answer>", "</answer>", "<think>", "</think>", "<look>", "</look>", "{", "}", "[", "]",
        "(", ")", ",", '"', "'", ":", "```json", "```", "<|box_start|>", "<|box_end|>", "\x00",
        "\ud83d", "é", "\n", "bbox_2d", "Position", "Confidence", "points_1"]  # fmt: skip


def _answer_forms() -> list[str]:
    """Each recipe's own answer form with a placeholder ``N`` for one number."""
    return [
        '<think>a</think><answer>[{"bbox_2d": [N, 10, 50, 50], "point_2d": [30, 30]}]</answer>',
        '<think><look>x</look></think><answer>[{"bbox_2d": [10, 10, 50, N], "point_2d": [N, 3]}]</answer>',
        '<think>a</think> <answer>{"bbox": [N, 10, 50, 50], "points_1": [2, 2], "points_2": [5, 5]}</answer>',
        "<think>a</think><answer>[N, 10, 50, 50]</answer>",
        '<think>a</think> <answer>```json[{"bbox_2d": [N, 10, 50, 50], "label": "cat"}]```</answer>',
        "<think>a</think><answer>[{'Position': [N, 10, 50, 50], 'Confidence': N}]</answer>",
        "<|box_start|>(N,10),(50,50)<|box_end|>",
        "[N, 0.1, 0.5, 0.5]",
    ]


@st.composite
def hostile(draw) -> str:
    form = draw(st.sampled_from(_answer_forms()))
    number = draw(st.sampled_from(HOSTILE_NUMBERS) | st.integers(-(10**30), 10**30).map(str))
    text = form.replace("N", number)
    pieces = draw(st.lists(st.sampled_from(SOUP) | st.text(any_char, max_size=6), max_size=12))
    for piece in pieces:  # inserted anywhere, the answer form kept around them
        at = draw(st.integers(0, len(text)))
        text = text[:at] + piece + text[at:]
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.text(any_char, max_size=80))  # no form at all
    return text


def _number_or_none(f, *args, **kwargs):
    """The released code's value, or None where it raises (then only "never raises" is
    checked on our side)."""
    try:
        value = f(*args, **kwargs)
    except Exception:
        return None
    return value


def _finite_totals(out: dict) -> None:
    assert np.isfinite(out["reward"]).all(), out["reward"]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=4))
def test_seg_zero(texts):
    gt = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"
    out = preset("seg-zero").score(texts, [gt] * len(texts))
    _finite_totals(out)
    for k, text in enumerate(texts):
        want = _number_or_none(segzero_oracle.compute_score, text, gt)
        if want is not None:
            assert out["reward"][k] == want, text


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=4))
def test_perception_r1(texts):
    sol = "[10, 10, 50, 50]"
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    out = preset("perception-r1").score(completions, [sol] * len(texts))
    _finite_totals(out)
    for k, c in enumerate(completions):
        want = _number_or_none(perception_r1_oracle.pr1_grounding_reward, [c], [sol])
        if want is not None:
            assert out["grounding"][k] == want[0], texts[k]
    np.testing.assert_array_equal(
        out["format"], perception_r1_oracle.pr1_grounding_format_reward(completions)
    )


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "i.png"
    Image.new("RGB", (392, 392)).save(path)
    return str(path)


@settings(
    max_examples=EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(st.lists(hostile(), min_size=1, max_size=4))
def test_vlm_r1_rec(image_path, texts):
    n = len(texts)
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    kwargs = {"solution": ["<answer>[10, 10, 50, 50]</answer>"] * n,
              "image_grid_thw": [[1, 28, 28]] * n, "image_path": [[image_path]] * n}  # fmt: skip
    out = preset("vlm-r1-rec").score(completions, kwargs["solution"], context=kwargs)
    _finite_totals(out)
    for k, c in enumerate(completions):
        one = {key: [v[k]] for key, v in kwargs.items()}
        want = _number_or_none(vlmr1_oracle.iou_reward, [c], **one)
        if want is not None:
            assert np.nan_to_num(out["accuracy"][k]) == want[0], texts[k]
    np.testing.assert_array_equal(out["format"], vlmr1_oracle.format_reward_rec(completions))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=3),
       st.sampled_from(["odLength", "od_ap", "od_ap50", "weighted_sum"]))  # fmt: skip
def test_vlm_r1_ovd(texts, method):
    sol = '<answer>```json[{"bbox_2d": [10, 10, 50, 50], "label": "cat"}]```</answer>'
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    out = preset("vlm-r1-ovd", method=method).score(completions, [sol] * len(texts))
    _finite_totals(out)
    for k, text in enumerate(texts):
        if method == "weighted_sum":
            want = _number_or_none(vlmr1_oracle.weighted_sum_accuracy, text, sol)
        else:
            want = _number_or_none(vlmr1_oracle.od_accuracy, text, sol, method)
        if want is not None:
            assert out["accuracy"][k] == pytest.approx(want, abs=1e-12), text
    np.testing.assert_array_equal(out["format"], vlmr1_oracle.format_reward(completions))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=4))
def test_visual_rft(texts):
    sol = "<answer>[{'Position': [10, 10, 50, 50], 'Confidence': 1}]</answer>"
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    sols = [sol] * len(texts)
    out = preset("visual-rft").score(completions, sols)
    _finite_totals(out)
    for k, c in enumerate(completions):
        iou = _number_or_none(visualrft_oracle.accuracy_reward_iou, [c], [sol])
        conf = _number_or_none(visualrft_oracle.accuracy_reward_confidence, [c], [sol])
        if iou is not None:
            assert out["iou"][k] == iou[0], texts[k]
        if conf is not None:
            assert out["confidence"][k] == conf[0], texts[k]
    np.testing.assert_array_equal(out["format"], visualrft_oracle.format_reward(completions))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=4))
def test_drseg(texts):
    gt = json.dumps([{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}])
    reward = DrSegReward()
    out = reward.score(texts, [gt] * len(texts))
    _finite_totals(out)
    assert ((0 <= out["reward"]) & (out["reward"] <= reward.max_reward)).all()
    for k, text in enumerate(texts):
        want = _number_or_none(reference.accuracy, text, gt)
        if want is not None:
            assert (out["x1"][k], out["x2"][k], out["x3"][k]) == want, text
        fmt = _number_or_none(reference.format_reward, text)
        if fmt is not None:
            assert (out["structure"][k], out["answer_items"][k], out["look"][k]) == fmt, text


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(hostile(), min_size=1, max_size=4), st.sampled_from(["absolute", "rel1000"]))
def test_answer_reader_and_matched_iou(texts, frame):
    from rankreward.rewards import AnswerReader, Component, ComponentReward, MatchedIoU

    reader = AnswerReader(tag="answer", fenced=False, frame=frame)
    reward = ComponentReward(
        [Component("format", lambda a, g: [1.0 if x.ok else 0.0 for x in a]),
         Component("iou", MatchedIoU("greedy_confidence"), ranked=True)],
        reader=reader,
    )  # fmt: skip
    n = len(texts)
    out = reward.score(texts, [[[10, 10, 50, 50]]] * n, context={"image_size": [(640, 480)] * n})
    _finite_totals(out)
    for text in texts:
        answer = reader(text)
        assert answer.ok or answer.problem  # a reason whenever nothing was read
        assert np.isfinite(answer.boxes[np.isfinite(answer.boxes).all(axis=1)]).all()
