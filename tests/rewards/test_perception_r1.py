"""The perception-r1 preset equals Perception-R1's published grounding reward functions
(``perception_r1_oracle``) on generated answers in both coordinate conventions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import preset
from rankreward.rewards.recipes.perception_r1 import grounding_format, grounding_iou
from rankreward.rewards.recipes.perception_r1.scan import grounding_batch

from . import perception_r1_oracle as oracle


@st.composite
def grounding_sample(draw):
    x1, y1 = draw(st.integers(0, 900)), draw(st.integers(0, 900))
    gt = [x1, y1, x1 + draw(st.integers(1, 99)), y1 + draw(st.integers(1, 99))]
    box = [v + draw(st.integers(-30, 30)) for v in gt]
    form = draw(st.integers(0, 5))
    if form == 0:  # Qwen2-VL's own tokens, 0-1000
        text = f"<|object_ref_start|>the cat<|object_ref_end|><|box_start|>({box[0]},{box[1]}),({box[2]},{box[3]})<|box_end|><|im_end|>"
    elif form == 1:  # fractions of the image
        text = "[{:.3f}, {:.3f}, {:.3f}, {:.3f}]".format(*[v / 1000 for v in box])
    elif form == 2:
        text = "the box is ({}, {}, {}, {})".format(*[v / 1000 for v in box])
    elif form == 3:
        text = "no box here"
    elif form == 4:
        text = f"> [{box[0]}.5, {box[1]}, {box[2]}, {box[3]}]<|endoftext|>"
    else:
        text = f"<|box_start|>[-{box[0]}, {box[1]}, {box[2]}, {box[3]}]<|box_end|>"
    return text, str(gt)


@settings(max_examples=300, deadline=None)
@given(st.lists(grounding_sample(), min_size=1, max_size=6))
def test_perception_r1_equals_the_published_functions(rows):
    completions = [[{"role": "assistant", "content": t}] for t, _ in rows]
    sols = [s for _, s in rows]
    out = preset("perception-r1").score(completions, sols)
    want = []
    for c, s in zip(completions, sols, strict=True):
        try:
            want += oracle.pr1_grounding_reward([c], [s])
        except ZeroDivisionError:  # the published step crashes; the preset scores 0
            want.append(0.0)
    np.testing.assert_array_equal(out["grounding"], want)
    np.testing.assert_array_equal(out["format"], oracle.pr1_grounding_format_reward(completions))


def test_ranked_grounding_leaves_boxless_answers_out():
    ranked = preset("perception-r1", ranked=True)
    out = ranked.score(["<|box_start|>(0,0),(10,10)<|box_end|>", "no box"], ["[0, 0, 10, 20]"] * 2)
    assert out["grounding"][0] == 0.5 and np.isnan(out["grounding"][1])
    assert ranked.window("grounding").num_staged == 1


# the batch scanner against the readable restatement, on text built from the patterns' pieces
number = st.one_of(
    st.integers(-50, 1100).map(str),
    st.floats(-2, 1100, allow_nan=False).map(lambda v: f"{v:.{abs(hash(v)) % 5}f}"),
    st.sampled_from(["-0", "-0.0", "007", "1.", ".5", "1e3", "12345678901234567", "0.000"]),
)
space = st.sampled_from(["", " ", "  ", "\t", "\n", "\x1c"])


@st.composite
def piece(draw):
    n = [draw(number) for _ in range(4)]
    s = [draw(space) for _ in range(4)]
    form = draw(st.integers(0, 4))
    if form == 0:
        return f"[{s[0]}{n[0]},{s[1]}{n[1]},{s[2]}{n[2]},{s[3]}{n[3]}{s[0]}]"
    if form == 1:
        return f"({s[0]}{n[0]},{s[1]}{n[1]},{s[2]}{n[2]},{s[3]}{n[3]}{s[1]})"
    if form == 2:
        return f"({s[0]}{n[0]},{s[1]}{n[1]}),{s[2]}({s[3]}{n[2]},{s[0]}{n[3]})"
    return draw(st.sampled_from(["[1, 2, 3]", "(1,2),(3,", "[a, 1, 2, 3]", "[1 ,2, 3, 4]"]))


scanned_text = st.builds(
    lambda head, pieces, tail: head + "".join(pieces) + tail,
    st.sampled_from(["", "<|box_start|>", ">", "<", "box_end", "the box ", "é ", "<|endoftext|>"]),
    st.lists(piece(), max_size=3),
    st.sampled_from(["", "<|box_end|><|im_end|>", " <|box_start|>", "<|endoftext|>"]),
)
solution = st.one_of(
    st.lists(st.integers(-5, 1000), min_size=4, max_size=5).map(str),
    st.lists(st.floats(-5, 1000, allow_nan=False), min_size=4, max_size=4).map(str),
    st.sampled_from(
        [
            "[0, 0, 0, 0]",
            " [-0, 1, 2, 3]",
            "[1,2,3,4]\n",
            "(1, 2, 3, 4)",
            "[07, 1, 2, 3]",
            "[1, 2, 3]",
            "[1, 2, 3, 4,]",
            "[-0.0, 1, 5, 9]",
        ]
    ),
)


def _scanner_rows(texts, sols):
    values, fallback = grounding_batch(texts, sols)
    for k in np.flatnonzero(~fallback):
        iou, found = grounding_iou(texts[k], sols[k])
        want = [iou, float(found), grounding_format(texts[k])]
        np.testing.assert_array_equal(values[k], want, err_msg=repr((texts[k], sols[k])))
        assert np.array_equal(np.signbit(values[k]), np.signbit(want)), (texts[k], sols[k])
    return fallback


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(scanned_text, solution), min_size=1, max_size=12))
def test_batch_scanner_equals_the_restatement(rows):
    _scanner_rows([t for t, _ in rows], [s for _, s in rows])


def test_batch_scanner_scores_the_common_form_itself():
    from rankreward.testing.recipe_batches import perception_r1_batch

    texts, sols = perception_r1_batch(256, np.random.default_rng(0), malformed=0.2)
    texts += ["[0.1, 0.2, 0.5, 0.5]", "the box is (0.1, 0.2, 0.3, 0.4)"]
    sols += ["[100, 200, 500, 500]", "[100.5, 200, 300, 400]"]
    assert not _scanner_rows(texts, sols).any()
    odd = ["é [1, 2, 3, 4]", "[1, 2, 3, 4]<|endoftext|>", "[1, 2, 3, 4]", "[1, 2, 3, 4]"]
    assert _scanner_rows(
        odd, ["[0, 0, 5, 5]", "[0, 0, 5, 5]", "(0, 0, 5, 5)", "[0,\n0, 5, 5]"]
    ).all()
