"""Frames in the evaluation (issue 26): a ``rel1000`` answer maps to the original image as
``int(v * W / 1000 + 0.5)`` per axis (the released scripts' rounding with 1000 for 840); the
absolute protocols are unchanged."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.evaluation import BoxSegmenter, answer_size, evaluate_coco, evaluate_reasonseg


def _text(box, point) -> str:
    return f"<think>x</think><answer>{json.dumps([{'bbox_2d': box, 'point_2d': point}])}</answer>"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 4000),
       st.lists(st.integers(0, 1000), min_size=6, max_size=6))  # fmt: skip
def test_coco_maps_rel1000_answers_with_the_released_rounding(w, h, v):
    box, point = v[:4], v[4:]
    gt = {"images": [{"id": 1, "width": w, "height": h}], "categories": [{"id": 1}],
          "annotations": []}  # fmt: skip
    sample = {"image_id": 1, "category_id": 1, "width": w, "height": h}
    out = evaluate_coco([sample], [_text(box, point)], gt, seen_size=(840, 840), frame="rel1000")
    got = out.records[0]["objects"][0]
    fx, fy = w / 1000, h / 1000
    assert got["bbox_2d"] == [int(box[0] * fx + 0.5), int(box[1] * fy + 0.5),
                              int(box[2] * fx + 0.5), int(box[3] * fy + 0.5)]  # fmt: skip
    assert got["point_2d"] == [int(point[0] * fx + 0.5), int(point[1] * fy + 0.5)]


def test_reasonseg_rel1000_equals_the_absolute_answer_it_maps_to():
    mask = np.zeros((480, 640), bool)
    mask[48:240, 64:320] = True
    sample = {"image": np.zeros((480, 640, 3), np.uint8), "mask": mask}
    rel = evaluate_reasonseg([sample], [_text([100, 100, 500, 500], [300, 300])], BoxSegmenter(),
                             seen_size=(840, 840), frame="rel1000")  # fmt: skip
    absolute = evaluate_reasonseg([sample], [_text([64, 48, 320, 240], [192, 144])],
                                  BoxSegmenter(), seen_size=None)  # fmt: skip
    assert rel.metrics["giou"] == absolute.metrics["giou"] > 0.9


def test_answer_size():
    assert answer_size("rel1", (840, 840)) == (1, 1)
    assert answer_size("absolute", None) is None
    with pytest.raises(ValueError, match="frame must be one of"):
        answer_size("pixels", None)


def _qwen_resize(w: int, h: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's resize rule, restated: round each side to the factor, then scale the area
    into [min_pixels, max_pixels] keeping multiples of the factor."""
    hb, wb = max(factor, round(h / factor) * factor), max(factor, round(w / factor) * factor)
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb = max(factor, math.floor(h / beta / factor) * factor)
        wb = max(factor, math.floor(w / beta / factor) * factor)
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return wb, hb


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_generate_records_the_size_each_encoder_saw(tmp_path, family):
    """generate_completions runs with Qwen2.5-VL's and Qwen3-VL's processors (saved, reloaded)
    and, with return_seen_sizes, reports the size after each processor's own resize: what an
    absolute-frame answer refers to (28-pixel multiples for Qwen2.5-VL, 32 for Qwen3-VL)."""
    pytest.importorskip("transformers")
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText

    from rankreward.evaluation import generate_completions
    from rankreward.testing.tiny_vlm import (
        build_tiny_qwen2_5_vl,
        build_tiny_qwen3_vl,
        load_image_only_processor,
    )

    build, factor = {"qwen2.5-vl": (build_tiny_qwen2_5_vl, 28),
                     "qwen3-vl": (build_tiny_qwen3_vl, 32)}[family]  # fmt: skip
    model_dir = build(tmp_path / family, seed=0)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    processor = load_image_only_processor(model_dir)
    size = processor.image_processor.size
    images = [Image.new("RGB", wh, (200, 10, 10)) for wh in [(100, 60), (56, 56), (30, 90)]]
    torch.manual_seed(0)
    texts, seen = generate_completions(model, processor, images, ["a", "b", "c"], seen_size=None,
                                       max_new_tokens=4, progress=False,
                                       return_seen_sizes=True)  # fmt: skip
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    expected = [_qwen_resize(*img.size, factor, size.shortest_edge, size.longest_edge)
                for img in images]  # fmt: skip
    assert seen == expected
    assert all(w % factor == 0 and h % factor == 0 for w, h in seen)
