"""AnswerReader reads back what was written in every supported form, never raises on text, and
MatchedIoU equals a brute-force best assignment."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.metrics import box_iou
from rankreward.rewards import Answer, AnswerReader, Component, ComponentReward, MatchedIoU

coord = st.integers(0, 900)
obj = st.fixed_dictionaries(
    {"bbox_2d": st.tuples(coord, coord, coord, coord).map(list)},
    optional={"point_2d": st.tuples(coord, coord).map(list), "label": st.sampled_from(["cat", "dog"]),
              "confidence": st.sampled_from([0.5, 1, 0.25])},
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(obj, max_size=4), st.sampled_from(["json", "python"]), st.booleans(),
       st.sampled_from(["first", "last"]), st.sampled_from(["bbox_2d", "BBOX", "box"]))  # fmt: skip
def test_reads_back_what_was_written(objects, style, fenced, which, box_key):
    objects = [{(box_key if k == "bbox_2d" else k): v for k, v in o.items()} for o in objects]
    body = json.dumps(objects) if style == "json" else repr(objects)
    if fenced:
        body = f"```json\n{body}\n```"
    decoy = "<answer>[]</answer>"
    text = (f"<think>x</think><answer>{body}</answer>{decoy}" if which == "first"
            else f"{decoy}<answer>{body}</answer>")  # fmt: skip
    a = AnswerReader(fenced=fenced, which=which)(text)
    assert a.ok, a.problem
    want = [o[box_key] for o in objects]
    np.testing.assert_array_equal(a.boxes, np.array(want, float).reshape(-1, 4))
    for o, point, label, score in zip(objects, a.points, a.labels, a.scores, strict=True):
        assert label == o.get("label")
        np.testing.assert_array_equal(point, o.get("point_2d", [np.nan, np.nan]))
        assert score == o["confidence"] if "confidence" in o else np.isnan(score)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/answer{}[]\"':,0123456789 .-eNaIf`json")), max_size=60
    )
)
def test_never_raises_on_text_and_explains_failures(text):
    for reader in (AnswerReader(), AnswerReader(tag=None, fenced=True), AnswerReader(tag=None)):
        a = reader(text)
        assert isinstance(a, Answer)
        assert a.ok or a.problem
        assert a.boxes.shape == (len(a), 4) and a.points.shape == (len(a), 2)
        assert len(a.labels) == len(a.scores) == len(a)


def test_problems_and_notes_name_what_was_wrong():
    reader = AnswerReader()
    assert reader("<answer>{oops</answer>").problem == "not JSON or a Python literal"
    assert reader("<answer>7</answer>").problem == "expected objects, got int"
    a = reader('<answer>[{"bbox": [1, 2, "x", 4]}, 5, {"bbox": [1, 2, 3, 4]}]</answer>')
    assert a.ok and a.notes == (
        "item 0: the box is not 4 finite numbers",
        "item 1 is not an object",
    )
    assert np.isnan(a.boxes[0]).all() and a.boxes[1].tolist() == [1, 2, 3, 4]
    assert reader("<answer>[1, 2, 3, 4]</answer>").boxes.tolist() == [[1, 2, 3, 4]]
    with pytest.raises(ValueError, match="which must be"):
        AnswerReader(which="middle")
    with pytest.raises(TypeError, match="completions must be text"):
        reader(None)


def test_frames_map_to_the_original_image():
    reader = AnswerReader(frame="rel1000")
    a = reader.read('<answer>{"bbox_2d": [100, 200, 500, 1000]}</answer>', image_size=(640, 480))
    np.testing.assert_allclose(a.boxes, [[64, 96, 320, 480]])
    seen = AnswerReader().read('<answer>{"bbox_2d": [14, 14, 28, 28]}</answer>', (640, 480),
                               seen_size=(320, 240))  # fmt: skip
    np.testing.assert_allclose(seen.boxes, [[28, 28, 56, 56]])


boxes = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 30),
                           st.integers(1, 30)).map(lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]),
                 max_size=4)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_matched_iou_equals_the_best_assignment(pred, gt):
    text = "<answer>" + json.dumps([{"bbox_2d": b} for b in pred]) + "</answer>"
    got = MatchedIoU()([AnswerReader()(text)], [gt])[0]
    n = max(len(pred), len(gt))
    if n == 0:
        assert got == 1.0
        return
    iou = box_iou(np.array(pred, float).reshape(-1, 4), np.array(gt, float).reshape(-1, 4))
    k = min(len(pred), len(gt))
    best = max((sum(iou[i, j] for i, j in zip(r, c, strict=True))
                for r in permutations(range(len(pred)), k) for c in permutations(range(len(gt)), k)),
               default=0.0)  # fmt: skip
    assert abs(got - best / n) < 1e-9


def test_matched_iou_options_and_not_applicable_answers():
    reader = AnswerReader()
    cat_dog = reader(
        '<answer>[{"bbox_2d": [0, 0, 10, 10], "label": "cat", "confidence": 0.2},'
        ' {"bbox_2d": [0, 0, 10, 9], "label": "dog", "confidence": 0.9}]</answer>'
    )
    truth = reader.__class__(tag=None)('[{"bbox_2d": [0, 0, 10, 10], "label": "dog"}]')
    assert MatchedIoU()([cat_dog], [truth]) == [0.5]  # the exact cat box, over 2 predictions
    assert MatchedIoU(labels=True)([cat_dog], [truth]) == [0.45]  # only the dog may match
    assert MatchedIoU("greedy_confidence")([cat_dog], [truth]) == [0.45]  # the dog goes first
    unreadable = reader('<answer>[{"bbox_2d": "?"}]</answer>')
    assert MatchedIoU()([unreadable, reader("none")], [truth, truth]) == [None, None]
    with pytest.raises(ValueError, match="ground truth of sample 0 is unreadable"):
        MatchedIoU()([cat_dog], ["not json"])
    reward = ComponentReward([Component("iou", MatchedIoU(), ranked=True)], reader=reader)
    reward(["<answer>[]</answer>", "nothing"], ground_truth=[[[0, 0, 5, 5]]] * 2)
    assert reward.window("iou").num_staged == 1  # the unreadable answer stayed out
