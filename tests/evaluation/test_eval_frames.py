"""Frames in the evaluation (issue 26): a ``rel1000`` answer maps to the original image as
``int(v * W / 1000 + 0.5)`` per axis (the released scripts' rounding with 1000 for 840); the
absolute protocols are unchanged."""

from __future__ import annotations

import json

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
