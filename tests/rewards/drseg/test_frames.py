"""Coordinate frames in the Dr. Seg reward (issue 26): ``frame="absolute"`` is today's reward
bit for bit; a ``rel1000`` / ``rel1`` answer scores exactly as the absolute reward scores the
same answer with every coordinate mapped to pixels (``x * W / 1000`` in float64), over the
released reading rules' edge cases (numeric strings, booleans, wrong widths, missing keys,
inverted boxes, non-numbers)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import DrSegReward, VisionReasonerReward, from_pixels, preset, to_pixels

from .test_released import GT1, PIECES

coordinate = st.one_of(
    st.integers(-50, 1200),
    st.floats(-50, 1200, allow_nan=False).map(lambda v: round(v, 3)),
    st.sampled_from(["10", " 1e1 ", "7.5", True, False, "x", None, float("nan"), 1e400]),
)


@st.composite
def answer(draw) -> list:
    objects = []
    for _ in range(draw(st.integers(0, 4))):
        box = draw(
            st.lists(coordinate, min_size=3, max_size=5)
            | st.lists(coordinate, min_size=4, max_size=4)
        )
        point = draw(
            st.lists(coordinate, min_size=2, max_size=2)
            | st.lists(coordinate, min_size=1, max_size=3)
        )
        obj = {"bbox_2d": box, "point_2d": point}
        if draw(st.integers(0, 9)) == 0:
            obj.pop(draw(st.sampled_from(["bbox_2d", "point_2d"])))
        objects.append(obj)
    return objects


def _mapped(value, scale: float, per_unit: float):
    """What the reward reads ``value`` as (Python's float(), as the released code coerces),
    mapped to pixels; values it cannot read stay as they are."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(x):
        return value
    return x * scale / per_unit


def _to_pixels_text(objects: list, size: tuple[int, int], per_unit: float) -> list:
    w, h = size
    out = []
    for obj in objects:
        new = {}
        for key, values in obj.items():
            new[key] = [_mapped(v, w if i % 2 == 0 else h, per_unit) for i, v in enumerate(values)]
        out.append(new)
    return out


def _text(objects: list) -> str:
    # json.dumps writes 1e400 as Infinity and NaN as NaN, as a model could
    return f"<think>ok <look>the cup</look></think><answer>{json.dumps(objects)}</answer>"


gt_objects = st.lists(
    st.builds(lambda x, y, w, h, px, py: {"bbox_2d": [x, y, x + w, y + h], "point_2d": [x + px, y + py]},
              st.integers(0, 600), st.integers(0, 400), st.integers(1, 200), st.integers(1, 200),
              st.integers(0, 50), st.integers(0, 50)),
    max_size=3,
)  # fmt: skip
sizes = st.tuples(st.integers(1, 2000), st.integers(1, 2000))


@settings(max_examples=300, deadline=None)
@given(st.lists(answer(), min_size=1, max_size=4), gt_objects, sizes,
       st.sampled_from([("rel1000", 1000.0), ("rel1", 1.0)]))  # fmt: skip
def test_relative_answers_score_as_their_pixel_images(answers, gt, size, frame):
    name, per_unit = frame
    gt_text = json.dumps(gt)
    texts = [_text(a) for a in answers]
    pixel_texts = [_text(_to_pixels_text(a, size, per_unit)) for a in answers]
    for accuracy in ("raw", "ranked"):
        rel = DrSegReward(frame=name, accuracy=accuracy).score(
            texts, [gt_text] * len(texts), context={"image_size": [size] * len(texts)}
        )
        absolute = DrSegReward(accuracy=accuracy).score(pixel_texts, [gt_text] * len(texts))
        # the accuracy part (the mapped text's "12.8" may differ in non_repeat's sentences)
        ranks = ("x1_rank", "x2_rank", "x3_rank") if accuracy == "ranked" else ()
        for key in ("x1", "x2", "x3", *ranks, "accuracy"):
            np.testing.assert_array_equal(rel[key], absolute[key], err_msg=f"{key} {texts}")


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.lists(st.sampled_from(PIECES), max_size=14), min_size=1, max_size=8))
def test_absolute_is_todays_reward_bit_for_bit(parts):
    texts = ["".join(p) for p in parts]
    today, framed = DrSegReward(), DrSegReward(frame="absolute")
    for _ in range(2):
        a = today.score(texts, [GT1] * len(texts))
        b = framed.score(texts, [GT1] * len(texts), context={"image_size": [(5, 5)] * len(texts)})
        for key in ("reward", "x1", "x2", "x3", "x1_rank", "x2_rank", "x3_rank", "format"):
            np.testing.assert_array_equal(a[key], b[key])
        today.commit(), framed.commit()


def test_each_sample_uses_its_own_image_and_the_baseline_and_presets_take_the_frame():
    gt = json.dumps([{"bbox_2d": [64, 48, 320, 240], "point_2d": [192, 144]}])
    big = json.dumps([{"bbox_2d": [128, 96, 640, 480], "point_2d": [384, 288]}])
    text = _text([{"bbox_2d": [100, 100, 500, 500], "point_2d": [300, 300]}])
    sizes = [(640, 480), (1280, 960)]
    out = DrSegReward(frame="rel1000", accuracy="raw").score([text] * 2, [gt, big],
                                                             context={"image_size": sizes})  # fmt: skip
    assert out["x1"].tolist() == [1.0, 1.0] and out["x3"].tolist() == [1.0, 1.0]
    pixels = _text([{"bbox_2d": [64.0, 48.0, 320.0, 240.0], "point_2d": [192.0, 144.0]}])
    pairs = [(VisionReasonerReward(frame="rel1000"), VisionReasonerReward()),
             (preset("drseg", frame="rel1000"), preset("drseg")),
             (preset("visionreasoner", frame="rel1000"), preset("visionreasoner"))]  # fmt: skip
    for framed, absolute in pairs:
        got = framed([text], ground_truth=[gt], image_size=[(640, 480)])
        assert got == absolute([pixels], ground_truth=[gt]) and got[0] > 0


def test_a_relative_frame_needs_image_sizes():
    reward = DrSegReward(frame="rel1000")
    text = _text([{"bbox_2d": [100, 100, 500, 500], "point_2d": [300, 300]}])
    with pytest.raises(TypeError, match=r"frame='rel1000'.*'image_size' column"):
        reward([text], ground_truth=[GT1])
    with pytest.raises(ValueError, match="sample 1: image_size must be two positive"):
        reward.score([text] * 2, [GT1] * 2, context={"image_size": [(640, 480), (0, 480)]})
    with pytest.raises(ValueError, match="frame must be one of"):
        DrSegReward(frame="pixels")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=4, max_size=4), sizes,
       st.sampled_from(["rel1000", "rel1"]))  # fmt: skip
def test_frames_round_trip(box, size, frame):
    coords = np.array([box])
    back = from_pixels(to_pixels(coords, frame, size), frame, size)
    np.testing.assert_allclose(back, coords, rtol=1e-12, atol=1e-9)
