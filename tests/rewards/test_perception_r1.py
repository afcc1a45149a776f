"""The perception-r1 preset equals Perception-R1's published grounding reward functions
(``perception_r1_oracle``) on generated answers in both coordinate conventions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import preset

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
    np.testing.assert_array_equal(out["grounding"], oracle.pr1_grounding_reward(completions, sols))
    np.testing.assert_array_equal(out["format"], oracle.pr1_grounding_format_reward(completions))


def test_ranked_grounding_leaves_boxless_answers_out():
    ranked = preset("perception-r1", ranked=True)
    out = ranked.score(["<|box_start|>(0,0),(10,10)<|box_end|>", "no box"], ["[0, 0, 10, 20]"] * 2)
    assert out["grounding"][0] == 0.5 and np.isnan(out["grounding"][1])
    assert ranked.window("grounding").num_staged == 1
