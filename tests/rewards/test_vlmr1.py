"""The vlm-r1-rec preset equals VLM-R1's published REC reward functions (restated in
``vlmr1_oracle``), called the way VLM-R1's trainer calls them (real image files, grid sizes)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rankreward.rewards import preset

from . import vlmr1_oracle as oracle

SIZES = [(640, 480), (333, 500), (1024, 768)]


@st.composite
def rec_sample(draw):
    k = draw(st.integers(0, len(SIZES) - 1))
    w, h = SIZES[k]
    grid = (1, draw(st.integers(2, 60)), draw(st.integers(2, 60)))  # (t, h, w) in 14-px patches
    x1, y1 = draw(st.integers(0, w - 2)), draw(st.integers(0, h - 2))
    gt = [x1, y1, draw(st.integers(x1 + 1, w)), draw(st.integers(y1 + 1, h))]
    sx, sy = grid[2] * 14 / w, grid[1] * 14 / h
    box = [
        int(v * s) + draw(st.integers(-20, 20)) for v, s in zip(gt, (sx, sy, sx, sy), strict=True)
    ]
    body = draw(st.sampled_from([
        '{{"bbox_2d": [{0}, {1}, {2}, {3}], "label": "x"}}', "[{0}, {1}, {2}, {3}]",
        "[{0},{1},{2},{3}] and [1, 2, 3, 4]", "{{[{0}, {1}]}}", "none", "{{[{0}, {1}, {2}, {3}]}}",
    ]))  # fmt: skip
    think = draw(st.sampled_from(["<think>x</think>", "", "<think>a</think>\n"]))
    answer = body.format(*[abs(v) for v in box])
    text = f"{think}<answer>{answer}</answer>" if draw(st.booleans()) else f"{think}{answer}"
    return text, f"<answer>{json.dumps(gt)}</answer>", grid, k


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(rec_sample(), min_size=1, max_size=6))
def test_vlm_r1_rec_equals_the_published_functions(tmp_path, rows):
    paths = []
    for k, size in enumerate(SIZES):
        path = tmp_path / f"{k}.png"
        if not path.exists():
            Image.new("RGB", size).save(path)
        paths.append(str(path))
    texts = [r[0] for r in rows]
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    kwargs = {"solution": [r[1] for r in rows], "image_grid_thw": [r[2] for r in rows],
              "image_path": [[paths[r[3]]] for r in rows]}  # fmt: skip
    acc = oracle.iou_reward(completions, **kwargs)
    fmt = oracle.format_reward_rec(completions)
    reward = preset("vlm-r1-rec")
    out = reward.score(completions, kwargs["solution"], context=kwargs)
    np.testing.assert_array_equal(np.nan_to_num(out["accuracy"], nan=0.0), acc)
    np.testing.assert_array_equal(out["format"], fmt)
    assert reward(completions, **kwargs) == [a + f for a, f in zip(acc, fmt, strict=True)]
    sizes = {"image_size": [SIZES[r[3]] for r in rows]}  # the size given directly: the same
    same = preset("vlm-r1-rec").score(completions, kwargs["solution"],
                                      context={**kwargs, **sizes, "image_path": None})  # fmt: skip
    np.testing.assert_array_equal(same["accuracy"], out["accuracy"])
