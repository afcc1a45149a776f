from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import count_score, point_distance, point_score, points_in_boxes

from . import oracle
from .conftest import back, convert

coords = st.integers(-500, 500)


@given(
    p=hnp.arrays(np.float64, st.tuples(st.integers(0, 6), st.just(2)), elements=coords),
    q=hnp.arrays(np.float64, st.tuples(st.integers(0, 6), st.just(2)), elements=coords),
    dtype=st.sampled_from(["float64", "float32", "int64"]),
)
def test_point_distance_matches_loop(backend, p, q, dtype):
    got = back(point_distance(convert(p, backend, dtype), convert(q, backend, dtype)))
    assert got.shape == (len(p), len(q))
    np.testing.assert_allclose(got, oracle.pairwise(oracle.dist, p, q), rtol=1e-6, atol=1e-4)


@given(
    pts=hnp.arrays(np.float64, (7, 2), elements=st.integers(0, 20)),
    xy=hnp.arrays(np.float64, (7, 2), elements=st.integers(0, 20)),
    wh=hnp.arrays(np.float64, (7, 2), elements=st.integers(0, 10)),
)
def test_points_in_boxes_matches_loop(backend, pts, xy, wh):
    boxes = np.concatenate([xy, xy + wh], 1)
    got = back(points_in_boxes(convert(pts, backend), convert(boxes, backend)))
    want = [b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3] for p, b in zip(pts, boxes, strict=True)]
    assert got.tolist() == want


def _score_loop(d, inner=30.0, outer=200.0):
    if d <= inner:
        return 1.0
    if d >= outer:
        return 0.0
    return (outer - d) / (outer - inner)


@given(d=hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(0, 1000)))
def test_point_score_matches_loop(backend, d):
    got = back(point_score(convert(d, backend)))
    np.testing.assert_allclose(got, [_score_loop(x) for x in d], atol=1e-12)


def test_point_score_pieces_at_30_and_200():
    assert point_score(30.0) == 1.0
    assert point_score(30.0 + 1e-9) < 1.0
    assert point_score(115.0) == 0.5
    assert point_score(200.0) == 0.0
    assert point_score(199.0) == pytest.approx(1 / 170)
    assert point_score(50.0, inner=10, outer=90) == 0.5
    with pytest.raises(ValueError, match="outer > inner"):
        point_score(1.0, inner=5, outer=5)
    with pytest.raises(ValueError, match="nan"):
        point_score(np.array([np.nan]))


@given(m=st.integers(0, 200), n=st.integers(0, 200))
def test_count_score(m, n):
    want = 1.0 if m == n == 0 else min(m, n) / max(m, n)
    assert count_score(m, n) == want
    assert count_score(np.array([m]), np.array([n])).tolist() == [want]


def test_count_score_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        count_score(np.array([-1]), np.array([2]))


def test_point_shapes_validated():
    with pytest.raises(ValueError, match=r"p must have shape \(\.\.\., 2\), got \(3, 3\)"):
        point_distance(np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"q\[1, 0\] is inf"):
        point_distance(np.zeros((3, 2)), np.array([[0, 0], [np.inf, 0]]))
