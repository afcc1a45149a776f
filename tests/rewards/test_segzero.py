"""The seg-zero preset equals Seg-Zero's published ``seg_compute_score`` (restated in
``segzero_oracle``) on generated answers, and its ranked form ranks the values behind the
thresholds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import preset
from rankreward.rewards.recipes.segzero import read_segzero, segzero_terms
from rankreward.rewards.recipes.segzero.scan import SEGZERO_COLUMNS, segzero_batch_terms

from . import segzero_oracle as oracle

num = st.one_of(st.integers(-20, 900), st.floats(-20, 900, allow_nan=False),
                st.sampled_from([True, "12", None, float("nan"), 1e400, [3]]))  # fmt: skip
pair = st.lists(num, min_size=0, max_size=3)
obj = st.dictionaries(
    st.sampled_from(["bbox", "BBox_2d", "points_1", "points_2", "point", "bbox_point", "x"]),
    st.one_of(st.lists(num, min_size=4, max_size=4), pair, num, st.text(max_size=4)),
    max_size=5,
)
answer = st.one_of(obj.map(json.dumps), st.sampled_from(["{}", "{not json}", "[1, 2]", "{[[["]))
completion = st.builds(
    lambda think, body, tail: (
        (f"<think>{think}</think>" if think is not None else "") + f"<answer>{body}</answer>{tail}"
    ),
    st.one_of(st.none(), st.text(max_size=5)),
    answer,
    st.sampled_from(["", " ", "x", "}"]),
)
gt = st.builds(
    lambda b, p: (
        (f"<box>({b[0]},{b[1]}),({b[2]},{b[3]})</box>" if b else "")
        + (f"<points>({p[0]},{p[1]}),({p[2]},{p[3]})</points>" if p else "")
    ),
    st.one_of(st.none(), st.lists(st.integers(0, 900), min_size=4, max_size=4)),
    st.one_of(st.none(), st.lists(st.integers(0, 900), min_size=4, max_size=4)),
)


@st.composite
def near_miss(draw):
    """A ground truth and an answer close to it (so every term fires sometimes), with the
    published code's traps mixed in: key variants, string or float coordinates, points outside
    the box, a missing key."""
    x1, y1 = draw(st.integers(0, 400)), draw(st.integers(0, 400))
    x2, y2 = x1 + draw(st.integers(1, 300)), y1 + draw(st.integers(1, 300))
    p = [[x1 + (x2 - x1) // 3, y1 + (y2 - y1) // 3], [x2 - (x2 - x1) // 3, y2 - (y2 - y1) // 3]]
    truth = f"<box>({x1},{y1}),({x2},{y2})</box><points>({p[0][0]},{p[0][1]}),({p[1][0]},{p[1][1]})</points>"
    jitter = st.integers(-25, 25)
    box = [v + draw(jitter) for v in (x1, y1, x2, y2)]
    if draw(st.booleans()):
        box = [float(v) + 0.5 for v in box]
    if draw(st.integers(0, 9)) == 0:
        box[draw(st.integers(0, 3))] = str(box[0])
    points = [[v + draw(st.integers(-150, 150)) for v in q] for q in p]
    keys = draw(st.sampled_from([("bbox", "points_1", "points_2"), ("bbox_2d", "point_1", "point_2"),
                                 ("BBOX", "Points_a", "Points_b"), ("bbox", "points_1", "x")]))  # fmt: skip
    data = {keys[0]: box, keys[1]: points[0], keys[2]: points[1]}
    if draw(st.integers(0, 9)) == 0:
        data.pop(draw(st.sampled_from(list(data))))
    think = draw(st.sampled_from(["<think>ok</think>", "", "<think>a</think> "]))
    return f"{think}<answer>{json.dumps(data)}</answer>", truth


@settings(max_examples=400, deadline=None)
@given(near_miss())
def test_terms_equal_the_published_functions_near_the_answer(case):
    test_terms_equal_the_published_functions.hypothesis.inner_test(*case)


@settings(max_examples=400, deadline=None)
@given(completion, gt)
def test_terms_equal_the_published_functions(text, truth):
    t = segzero_terms(read_segzero(text), truth)
    assert t["thinking_format"] == oracle.thinking(text)
    assert t["segmentation_format"] == oracle.seg_format(text)
    assert t["iou"] == oracle.iou_term(text, truth)
    assert t["point_l1"] == oracle.point_term(text, truth)
    assert t["box_l1"] == oracle.box_term(text, truth)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(completion, gt) | near_miss(), min_size=1, max_size=8))
def test_preset_totals_equal_seg_compute_score(rows):
    texts, truths = [r[0] for r in rows], [r[1] for r in rows]
    incomplete = [k for k, g in enumerate(truths) if "<box>" not in g or "<points>" not in g]
    if incomplete:  # the user's mistake: the published code scores it 0 silently, we raise
        with pytest.raises(ValueError, match=f"ground truth of sample {incomplete[0]} has no"):
            preset("seg-zero")(texts, ground_truth=truths)
        return
    assert preset("seg-zero")(texts, ground_truth=truths) == [
        oracle.compute_score(t, g) for t, g in zip(texts, truths, strict=True)
    ]


def test_ranked_seg_zero_ranks_the_values_behind_the_thresholds():
    truth = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"

    def text(x):
        return (f'<think>t</think><answer>{{"bbox": [{x}, 10, 50, 50], "points_1": [20, 20], '
                f'"points_2": [40, 40]}}</answer>')  # fmt: skip

    ranked = preset("seg-zero", ranked=True)
    out = ranked.score([text(10), text(30), "no answer"], [truth] * 3)
    assert out["iou"][0] > out["iou"][1] and np.isnan(out["iou"][2])  # continuous, n/a
    assert out["box_l1"][0] == 0.0 and out["box_l1"][1] == -5.0
    assert ranked.window("iou").num_staged == 2  # the unreadable answer stayed out


# the batch scanner against the readable restatement: every row it scores itself must equal it
dumped = st.builds(
    lambda data, indent, seps: json.dumps(data, indent=indent, separators=seps),
    obj,
    st.sampled_from([None, 0, 2, "\t"]),
    st.sampled_from([None, (",", ":"), (" , ", " : ")]),
)
spaced = st.builds(
    lambda think, body, tail: f"{think}<answer>{body}</answer>{tail}",
    st.sampled_from(["<think>ok</think>", "", "<think>a</think>\n ", "{} <think>x</think>"]),
    st.one_of(
        dumped,
        st.sampled_from(
            [
                '{"bbox": [1, 2, 3, 4], "bbox": [1, 2, 3, 4]}',
                '{"b\\u0062ox": [1, 2, 3, 4]}',
                '{"bbox": [01, 2, 3, 4]}',
                '{"bbox": [1e2, 2E-1, -0, -0.0]}',
                "{ }",
                "{\n}",
            ]
        ),
    ),
    st.sampled_from(["", " ", "}", "é"]),
)


def _assert_scanner_matches(texts, truths):
    terms, fallback = segzero_batch_terms(texts, truths)
    for k in np.flatnonzero(~fallback):
        row = segzero_terms(read_segzero(texts[k]), truths[k])
        want = [np.nan if row[c] is None else row[c] for c in SEGZERO_COLUMNS]
        np.testing.assert_array_equal(terms[k], want, err_msg=repr((texts[k], truths[k])))
        assert np.array_equal(np.signbit(terms[k]), np.signbit(want))
    return fallback


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(completion | spaced, gt) | near_miss(), min_size=1, max_size=16))
def test_batch_scanner_equals_the_restatement(rows):
    _assert_scanner_matches([r[0] for r in rows], [r[1] for r in rows])


def test_batch_scanner_scores_the_common_form_itself():
    from rankreward.testing.recipe_batches import segzero_batch

    texts, truths = segzero_batch(512, np.random.default_rng(0), malformed=0.2)
    assert not _assert_scanner_matches(texts, truths).any()
    # float coordinates, other key names, indentation: still the fast path
    data = {"BBox_2d": [10.5, 10, 50, 50.25], "Points_a": [20, 20.9], "points_b": [40, -0.0]}
    text = f"<think>t</think><answer>{json.dumps(data, indent=2)}</answer>"
    truth = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"
    assert not _assert_scanner_matches([text], [truth]).any()
    # what it leaves to Python: non-ASCII text, escapes, duplicate keys, 16+ digit numbers
    odd = ['<answer>{"bbox": [1, 2, 3, 4], "x": "é"}</answer>', '{"b\\u0062ox": [1, 2, 3, 4]}',
           '{"bbox": [1, 2, 3, 4], "bbox": [5, 6, 7, 8]}', '{"bbox": [1234567890123456, 2, 3, 4]}']  # fmt: skip
    assert _assert_scanner_matches(odd, [truth] * 4).all()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["{", "}", "a", '"', "\n", " "]), max_size=30).map("".join))
def test_first_object_equals_the_published_regex(text):
    import re

    from rankreward.rewards.recipes.segzero import first_object

    m = re.search(r"{[^}]+}", text)
    assert first_object(text) == (m.group(0) if m else None)
