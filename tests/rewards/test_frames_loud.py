"""Frames that cannot go silently wrong: the image size comes from the trainer's image column,
answers that do not fit their frame record a problem and warn once, the seen-size helper equals
the Qwen2.5-VL processor's own resize, and DeepSeek-VL2's 0..999 frame."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.frames import frame_problem, seen_size, smart_resize, to_pixels
from rankreward.rewards import DrSegReward

GT = [json.dumps([{"bbox_2d": [128, 240, 384, 432], "point_2d": [256, 336]}])] * 4
# a Qwen3-VL-style answer in 0..1000 of a 640x480 image: the same object
REL = '<think><look>a</look></think><answer>[{"bbox_2d": [200, 500, 600, 900], "point_2d": [400, 700]}]</answer>'


def _images(n=4):
    return [np.zeros((480, 640, 3), np.uint8) for _ in range(n)]


def test_a_rel1000_batch_read_as_pixels_records_a_problem_and_warns_once():
    reward = DrSegReward()  # frame="absolute": the paper's pixels
    with pytest.warns(RuntimeWarning, match=r"do not fit frame='absolute'.*frame='rel1000'"):
        out = reward.score([REL] * 4, GT, context={"image": _images()})
    assert all(any(p.startswith("frame: ") for p in probs) for probs in out["problems"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per reward, not every step
        reward.score([REL] * 4, GT, context={"image": _images()})
    fits = '<think><look>a</look></think><answer>[{"bbox_2d": [128, 240, 384, 432], "point_2d": [256, 336]}]</answer>'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = DrSegReward().score([fits] * 4, GT, context={"image": _images()})
    assert not any(p.startswith("frame") for probs in out["problems"] for p in probs)


def test_rel1000_with_only_the_image_column_scores_as_with_image_size():
    by_images = DrSegReward(frame="rel1000").score([REL] * 4, GT, context={"image": _images()})
    by_sizes = DrSegReward(frame="rel1000").score(
        [REL] * 4, GT, context={"image_size": [(640, 480)] * 4}
    )
    for key in ("x1", "x2", "x3", "reward"):
        np.testing.assert_array_equal(by_images[key], by_sizes[key])
    assert by_images["x1"][0] == pytest.approx(1.0)
    pil = pytest.importorskip("PIL.Image")
    trl_style = [[pil.fromarray(img)] for img in _images()]  # TRL's "images": a list per sample
    again = DrSegReward(frame="rel1000").score([REL] * 4, GT, context={"images": trl_style})
    np.testing.assert_array_equal(again["reward"], by_sizes["reward"])


def test_the_deepseek_vl2_frame():
    assert to_pixels(np.array([[0, 999, 999, 0]]), "rel999", (640, 480)).tolist() == [
        [0.0, 480.0, 640.0, 0.0]
    ]
    assert "rel1000" in frame_problem(np.array([[10, 10, 990, 990]]), "absolute", (640, 480))
    assert (
        frame_problem(np.array([[0.1, 0.2, 0.5, 0.9]]), "absolute", (640, 480)) is None
    )  # fits as pixels
    assert "frame='absolute'" in frame_problem(
        np.array([[10, 10, 1500, 900]]), "rel1000", (1600, 1200)
    )


def _released_smart_resize():
    """transformers' own smart_resize, read from its module's source (importing the module needs
    torchvision, which this environment must not install)."""
    import ast

    import transformers

    path = (
        Path(transformers.__file__).parent / "models" / "qwen2_vl" / "image_processing_qwen2_vl.py"
    )
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "smart_resize")
    scope = {"math": math}
    exec(compile(ast.Module([node], []), str(path), "exec"), scope)
    return scope["smart_resize"]


@settings(max_examples=300, deadline=None)
@given(st.integers(28, 5000), st.integers(28, 5000), st.sampled_from([28, 32]),
       st.sampled_from([(56 * 56, 28 * 28 * 1280), (3136, 12845056), (256 * 28 * 28, 1280 * 28 * 28)]))  # fmt: skip
def test_seen_size_equals_the_processors_resize(h, w, factor, bounds):
    pytest.importorskip("transformers")
    theirs = _released_smart_resize()
    if max(h, w) / min(h, w) > 200:
        with pytest.raises(ValueError):
            smart_resize(h, w, factor, *bounds)
        return
    assert smart_resize(h, w, factor, *bounds) == theirs(h, w, factor, *bounds)


def test_seen_size_reads_the_processor(tmp_path):
    pytest.importorskip("transformers")
    from PIL import Image

    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl, load_image_only_processor

    processor = load_image_only_processor(build_tiny_qwen2_5_vl(tmp_path / "m"))
    ip = processor.image_processor
    patch = ip.patch_size
    for w, h in [(640, 480), (57, 91), (1000, 30), (2000, 1500)]:
        grid = ip(images=[Image.new("RGB", (w, h))], return_tensors="np")["image_grid_thw"][0]
        assert seen_size((w, h), processor) == (int(grid[2]) * patch, int(grid[1]) * patch)


def test_only_each_samples_own_rows_are_read():
    """A row buffer may hold unused rows between samples: they never flag a sample."""
    from rankreward.frames import frame_problems

    rows = np.array(
        [[10, 10, 20, 20], [900, 900, 950, 990], [5, 5, 9, 9], [700, 800, 900, 990]], float
    )
    got = frame_problems(rows, np.array([0, 2]), np.array([1, 1]), "absolute", [(640, 480)] * 2)
    assert got == [None, None]
    got = frame_problems(rows, np.array([0, 2]), np.array([2, 2]), "absolute", [(640, 480)] * 2)
    assert all("rel1000" in g for g in got)
