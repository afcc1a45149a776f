from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import (
    box_area,
    box_convert,
    box_iou,
    box_l1,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
)

from . import oracle
from .conftest import back, convert

DTYPES = ["float64", "float32", "int32"]


@st.composite
def boxes(draw, max_n=6, integer=False):
    n = draw(st.integers(0, max_n))
    # sub-pixel grid: exact in float32, so float32 and float64 see the same boxes
    coord = st.integers(0, 400) if integer else st.integers(0, 400 * 64).map(lambda v: v / 64)
    xy = draw(hnp.arrays(np.float64, (n, 2), elements=coord))
    wh = draw(hnp.arrays(np.float64, (n, 2), elements=coord))
    return np.concatenate([xy, xy + wh], axis=1)


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype != "float64" else dict(rtol=1e-9, atol=1e-9)


@given(
    a=boxes(integer=True),
    b=boxes(integer=True),
    inclusive=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_box_iou_matches_loop(backend, a, b, inclusive, dtype):
    got = box_iou(convert(a, backend, dtype), convert(b, backend, dtype), pixel_inclusive=inclusive)
    assert type(got) is type(convert(a, backend)), "numpy in numpy out, torch in torch out"
    want = oracle.pairwise(oracle.iou, a, b, inclusive=inclusive)
    assert back(got).shape == (len(a), len(b))
    np.testing.assert_allclose(back(got), want, **_tol(dtype))


@pytest.mark.parametrize(
    ("fn", "ref"),
    [
        (generalized_box_iou, oracle.giou),
        (distance_box_iou, oracle.diou),
        (complete_box_iou, oracle.ciou),
        (box_l1, oracle.l1),
    ],
)
@given(a=boxes(), b=boxes(), dtype=st.sampled_from(["float64", "float32"]))
def test_pairwise_variants_match_loop(backend, fn, ref, a, b, dtype):
    got = back(fn(convert(a, backend, dtype), convert(b, backend, dtype)))
    want = oracle.pairwise(ref, a.astype(dtype), b.astype(dtype))
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got, want, **tol)
    assert np.isfinite(got).all()


def test_leading_dims_broadcast(backend):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (5, 3, 4, 2))
    a = np.concatenate([xy, xy + rng.uniform(0, 50, xy.shape)], -1)
    b = a[0, :, :2]  # (3, 2, 4) broadcasts against (5, 3, 4, 4)
    got = back(box_iou(convert(a, backend), convert(b, backend)))
    assert got.shape == (5, 3, 4, 2)
    for g in range(5):
        for k in range(3):
            np.testing.assert_allclose(got[g, k], oracle.pairwise(oracle.iou, a[g, k], b[k]))


def test_empty_sets_have_the_right_shape(backend):
    a = convert(np.zeros((0, 4)), backend)
    b = convert(np.ones((3, 4)) * [0, 0, 1, 1], backend)
    for fn in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou, box_l1):
        assert tuple(fn(a, b).shape) == (0, 3)
        assert tuple(fn(b, a).shape) == (3, 0)


def test_zero_area_boxes_are_defined():
    point_box = np.array([[5.0, 5.0, 5.0, 5.0]])
    for fn in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou):
        out = fn(point_box, point_box)
        assert np.isfinite(out).all()
    assert box_iou(point_box, point_box).item() == 0.0
    # pixel-inclusive: a zero-width box is one pixel wide
    assert box_iou(point_box, point_box, pixel_inclusive=True).item() == 1.0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[0, 0, 1, 1], [5, 0, 4, 2]], r"a\[1\] has x2 < x1"),
        ([[0, 0, 1, 1], [0, 3, 4, 2]], r"a\[1\] has x2 < x1 or y2 < y1"),
        ([[0, 0, 1, np.nan]], r"a\[0, 3\] is nan"),
        ([[0, 0, np.inf, 1]], r"a\[0, 2\] is inf"),
    ],
)
def test_invalid_boxes_raise_with_index(backend, bad, message):
    a = convert(np.array(bad, np.float64), backend)
    with pytest.raises(ValueError, match=message):
        box_iou(a, a)
    with pytest.raises(ValueError, match=message):
        generalized_box_iou(a, a)


def test_validate_false_runs_the_formula_as_written():
    inverted = np.array([[10.0, 10.0, 5.0, 5.0]])
    # the paper's reward code computes IoU on whatever the model wrote
    got = box_iou(
        inverted, np.array([[0.0, 0.0, 20.0, 20.0]]), pixel_inclusive=True, validate=False
    )
    assert np.isfinite(got).all()


def test_wrong_shapes_name_the_shape():
    with pytest.raises(ValueError, match=r"a must have shape \(\.\.\., 4\), got \(2, 3\)"):
        box_iou(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(\.\.\., M, 4\), got \(4,\)"):
        box_iou(np.zeros(4), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="fmt must be one of"):
        box_iou(np.zeros((1, 4)), np.zeros((1, 4)), fmt="yxyx")


@given(b=boxes(), fmt=st.sampled_from(["xywh", "cxcywh"]))
def test_fmt_round_trip(backend, b, fmt):
    x = convert(b, backend)
    there = box_convert(x, "xyxy", fmt)
    again = box_convert(there, fmt, "xyxy")
    np.testing.assert_allclose(back(again), b, atol=1e-9)
    np.testing.assert_allclose(back(box_iou(there, there, fmt=fmt)), back(box_iou(x, x)), atol=1e-9)


def test_box_area_and_formats():
    b = np.array([[0.0, 0.0, 9.0, 4.0]])
    assert box_area(b).tolist() == [36.0]
    assert box_area(b, pixel_inclusive=True).tolist() == [50.0]
    assert box_area(box_convert(b, "xyxy", "xywh"), fmt="xywh").tolist() == [36.0]


def test_dtypes_follow_policy():
    b = np.array([[0, 0, 2, 2]], np.int64)
    assert box_iou(b, b).dtype == np.float64
    assert box_iou(b.astype(np.float32), b.astype(np.float32)).dtype == np.float32
    assert box_iou(b.astype(np.float16), b.astype(np.float16)).dtype == np.float32
    assert box_iou(b.astype(np.float32), b.astype(np.float64)).dtype == np.float64


def test_torch_float16_and_int_inputs():
    torch = pytest.importorskip("torch")
    b = torch.tensor([[0, 0, 300, 300]], dtype=torch.float16)
    out = box_iou(b, b)  # areas overflow float16; computed in float32
    assert out.dtype == torch.float32 and out.item() == 1.0
    assert box_iou(b.int(), b.int()).dtype == torch.get_default_dtype()


@pytest.mark.parametrize("dtype, v", [("float32", 3e19), ("float32", 3e38), ("float64", 1e155),
                                      ("float64", 1e307)])  # fmt: skip
def test_huge_finite_coordinates_give_correct_values_not_nan(backend, dtype, v):
    """Areas of such boxes overflow; the metrics rescale by a power of two first."""
    from rankreward.metrics import complete_box_iou, distance_box_iou, generalized_box_iou

    boxes = np.array([[-v, -v, v, v], [0, 0, v, v]], dtype)
    small = np.array([[-2.0, -2.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]], dtype)
    for f in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou):
        got = back(f(convert(boxes, backend), convert(boxes, backend)))
        want = back(f(convert(small, backend), convert(small, backend)))
        assert np.isfinite(got).all(), f.__name__
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f.__name__)
    got = back(box_iou(convert(boxes, backend), convert(boxes, backend), pixel_inclusive=True))
    assert np.isfinite(got).all() and np.allclose(np.diag(got), 1.0)
