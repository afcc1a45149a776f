from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import (
    mask_intersection_union,
    mask_iou,
    mask_to_rle,
    polygon_iou,
    polygon_to_mask,
    polygon_to_rle,
    rle_area,
    rle_to_mask,
)

from .conftest import back, convert

pytest.importorskip("pycocotools")


def _iou_loop(p, g):
    inter = np.logical_and(p, g).sum()
    union = np.logical_or(p, g).sum()
    return inter / union if union else 0.0


stacks = st.integers(0, 4).flatmap(
    lambda n: hnp.arrays(np.bool_, (n, 5, 6)),
)


@given(p=stacks, g=stacks, dtype=st.sampled_from(["bool", "uint8", "float32"]))
def test_pairwise_dense_matches_loop(backend, p, g, dtype):
    got = back(mask_iou(convert(p, backend, dtype), convert(g, backend, dtype)))
    want = np.array([[_iou_loop(a, b) for b in g] for a in p]).reshape(len(p), len(g))
    np.testing.assert_allclose(got, want, atol=1e-12)


@given(p=hnp.arrays(np.bool_, (3, 4, 7)), g=hnp.arrays(np.bool_, (3, 4, 7)))
def test_paired_dense_and_rle_match_loop(backend, p, g):
    want = [_iou_loop(a, b) for a, b in zip(p, g, strict=True)]
    got = back(mask_iou(convert(p, backend), convert(g, backend), pairwise=False))
    np.testing.assert_allclose(got, want, atol=1e-12)
    rp, rg = [mask_to_rle(m) for m in p], [mask_to_rle(m) for m in g]
    np.testing.assert_allclose(mask_iou(rp, rg, pairwise=False), want, atol=1e-12)
    pair = mask_iou(rp, rg)
    assert pair.shape == (3, 3)
    np.testing.assert_allclose(np.diag(pair), want, atol=1e-12)
    i, u = mask_intersection_union(convert(p, backend), convert(g, backend))
    assert back(i).tolist() == [int((a & b).sum()) for a, b in zip(p, g, strict=True)]
    assert back(u).tolist() == [int((a | b).sum()) for a, b in zip(p, g, strict=True)]


def test_paired_broadcast_single_mask():
    p = np.zeros((4, 4), bool)
    p[:2] = True
    g = np.ones((3, 4, 4), bool)
    assert mask_iou(p, g, pairwise=False).tolist() == [0.5, 0.5, 0.5]


def test_rle_round_trip_and_uncompressed_counts():
    m = np.zeros((5, 4), bool)
    m[1:3, 1:4] = True
    rle = mask_to_rle(m)
    assert isinstance(rle["counts"], str)
    assert (rle_to_mask(rle) == m).all()
    assert rle_area(rle) == 6
    # uncompressed RLE (column-major run lengths) is accepted too
    flat = m.T.reshape(-1)
    runs, cur, n = [], False, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    assert rle_area({"size": [5, 4], "counts": runs}) == 6


def test_shape_errors():
    with pytest.raises(ValueError, match="mask sizes differ"):
        mask_iou(np.zeros((1, 3, 3)), np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="pairwise=False"):
        mask_iou(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="RLE has no"):
        mask_iou([{"size": [2, 2]}], [{"size": [2, 2]}])


def test_polygons():
    pytest.importorskip("shapely")
    square = [0, 0, 4, 0, 4, 4, 0, 4]
    assert polygon_iou(square, square) == 1.0
    assert polygon_iou(square, [[2, 0], [6, 0], [6, 4], [2, 4]]) == pytest.approx(1 / 3)
    assert polygon_iou(square, [10, 10, 12, 10, 12, 12]) == 0.0
    # a bow-tie (self-intersecting) is repaired, not an error
    assert 0 < polygon_iou([0, 0, 4, 4, 4, 0, 0, 4], square) <= 1
    # multi-part segmentation: two disjoint squares
    two = [[0, 0, 2, 0, 2, 2, 0, 2], [4, 4, 6, 4, 6, 6, 4, 6]]
    assert polygon_iou(two, [0, 0, 2, 0, 2, 2, 0, 2]) == pytest.approx(0.5)
    mask = polygon_to_mask(square, 8, 8)
    assert mask.shape == (8, 8) and mask.dtype == bool
    assert rle_area(polygon_to_rle(square, 8, 8)) == mask.sum()
    with pytest.raises(ValueError, match="odd number"):
        polygon_iou([0, 0, 1], square)
    with pytest.raises(ValueError, match="needs 3"):
        polygon_iou([0, 0, 1, 1], square)
