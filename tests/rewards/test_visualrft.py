"""The visual-rft preset equals Visual-RFT's published detection reward functions
(``visualrft_oracle``, math_verify shortcut included) on generated answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("math_verify", reason="math-verify is a test dependency")

from rankreward.rewards import preset

from . import visualrft_oracle as oracle


@st.composite
def rft_sample(draw):
    gt = []
    for _ in range(draw(st.integers(0, 3))):
        x, y = draw(st.integers(0, 300)), draw(st.integers(0, 300))
        gt.append([x, y, x + draw(st.integers(1, 150)), y + draw(st.integers(1, 150))])
    preds = []
    for g in gt + [[5, 5, 60, 60]] * draw(st.integers(0, 1)):
        if draw(st.integers(0, 3)):
            b = [v + draw(st.integers(-20, 20)) for v in g]
            conf = draw(st.sampled_from([0.9, 0.5, 1, 0.25, "0.7", None]))
            preds.append({"Position": b, "Confidence": conf})
    if preds and draw(st.integers(0, 4)) == 0:
        preds.append(dict(preds[0]))  # a duplicate position
    body = str(preds)  # Python repr: single quotes, as models often write
    form = draw(st.integers(0, 5))
    if form == 0:
        body = body[:-3] if len(body) > 3 else body  # truncated
    elif form == 1:
        body = f"[{body}]"  # [[...]]
    elif form == 2:
        body = "no boxes"
    think = draw(st.sampled_from(["<think>x</think>", "", "<think>a\nb</think>\n"]))
    newline = draw(st.sampled_from(["", "\n"]))
    sol = "<answer>" + str([{"Position": g, "Confidence": 1} for g in gt]) + "</answer>"
    return f"{think}<answer>{newline}{body}</answer>", sol


@settings(max_examples=300, deadline=None)
@given(st.lists(rft_sample(), min_size=1, max_size=4))
def test_visual_rft_equals_the_published_functions(rows):
    texts, sols = [r[0] for r in rows], [r[1] for r in rows]
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    out = preset("visual-rft").score(completions, sols)
    np.testing.assert_array_equal(out["iou"], oracle.accuracy_reward_iou(completions, sols))
    np.testing.assert_array_equal(
        out["confidence"], oracle.accuracy_reward_confidence(completions, sols)
    )
    np.testing.assert_array_equal(out["format"], oracle.format_reward(completions))


def test_without_math_verify_the_shortcut_is_gone():
    gt = "<answer>[{'Position': [10, 20, 30, 40], 'Confidence': 1}]</answer>"
    other = "<think>a</think><answer>[{'Position': [11, 20, 300, 410], 'Confidence': 1}]</answer>"
    with_mv = preset("visual-rft").score([other], [gt])
    without = preset("visual-rft", math_verify=False).score([other], [gt])
    assert with_mv["iou"][0] == 1.0  # math_verify finds the same number in both
    assert without["iou"][0] == 0.0
