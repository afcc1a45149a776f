from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import linear_sum_assignment

from rankreward._parallel import THRESHOLDS
from rankreward.metrics import hungarian_match, hungarian_match_padded

from . import oracle


def _total(c, rows, cols):
    return float(np.asarray(c)[np.asarray(rows), np.asarray(cols)].sum())


def _check(c, rows, cols):
    c = np.asarray(c)
    rows, cols = np.asarray(rows), np.asarray(cols)
    assert len(rows) == min(c.shape)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert (np.diff(rows) > 0).all()
    r, k = linear_sum_assignment(c)
    assert _total(c, rows, cols) == pytest.approx(_total(c, r, k), rel=1e-12, abs=1e-9)
    # a port of scipy's solver: same tie-breaking, so the very same pairs
    assert rows.tolist() == r.tolist() and cols.tolist() == k.tolist()


matrices = hnp.arrays(
    np.float64,
    st.tuples(st.integers(0, 7), st.integers(0, 7)),
    elements=st.one_of(st.integers(0, 3).map(float), st.floats(-100, 100)),
)


@given(c=matrices)
def test_single_matrix_matches_scipy(c):
    rows, cols = hungarian_match(c)
    _check(c, rows, cols)


@given(
    c=hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 4), st.integers(0, 4)),
        elements=st.integers(0, 3).map(float),
    )
)
def test_small_matrices_match_brute_force(c):
    rows, cols = hungarian_match(c)
    assert _total(c, rows, cols) == oracle.brute_assignment_cost(c)


@given(cs=st.lists(matrices, max_size=12))
def test_list_of_matrices(cs):
    out = hungarian_match(cs)
    assert len(out) == len(cs)
    for c, (rows, cols) in zip(cs, out, strict=True):
        _check(c, rows, cols)


@pytest.mark.parametrize("batch", [5, THRESHOLDS["matching"] + 3])
def test_padded_batch_serial_and_parallel(batch):
    rng = np.random.default_rng(batch)
    costs = rng.integers(0, 4, (batch, 9, 8)).astype(float)
    costs[:, :, -1] = np.nan  # padding may hold anything
    sizes = np.stack([rng.integers(0, 10, batch), rng.integers(0, 8, batch)], 1)
    out = hungarian_match(costs, sizes)
    for k, (rows, cols) in enumerate(out):
        m, n = sizes[k]
        _check(costs[k, :m, :n], rows, cols)
    cols = hungarian_match_padded(costs, sizes[:, 0], sizes[:, 1])
    assert cols.shape == (batch, 9)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    rows, cols = hungarian_match(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert isinstance(rows, torch.Tensor) and cols.tolist() == [1, 0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"cost\[0, 1, 0\] is nan"):
        hungarian_match(np.array([[0.0, 1.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        hungarian_match(np.zeros(3))
    with pytest.raises(ValueError, match=r"sizes must have shape \(2, 2\)"):
        hungarian_match(np.zeros((2, 3, 3)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"nrows must lie in 0..3"):
        hungarian_match_padded(np.zeros((1, 3, 3)), [4], [3])
    assert hungarian_match([]) == []


def test_tie_heavy_integer_costs_pick_scipys_pairs():
    rng = np.random.default_rng(7)
    for _ in range(3000):
        m, n = rng.integers(1, 10, 2)
        c = rng.integers(0, 4, (m, n)).astype(float)  # the reward's cost matrix: values 0..3
        _check(c, *hungarian_match(c))


@pytest.mark.parametrize(
    "cost",
    [
        np.array([["a", "b"], ["c", "d"]]),
        np.array([[1 + 1j, 2]]),
        np.array([[1, None]], dtype=object),
        [np.array([["x"]])],
    ],
)
def test_non_numeric_costs_raise_type_error(cost):
    with pytest.raises(TypeError, match="real numbers"):
        hungarian_match(cost)
    if isinstance(cost, np.ndarray):
        with pytest.raises(TypeError, match="real numbers"):
            hungarian_match_padded(cost[None])


# ----------------------------------------------------------------------------- box matchers
ious_st = st.integers(0, 5).flatmap(
    lambda p: st.integers(0, 5).flatmap(
        lambda g: st.lists(
            st.lists(st.sampled_from([0.0, 0.3, 0.5, 0.55, 0.7, 0.9, 1.0]), min_size=g, max_size=g),
            min_size=p, max_size=p,
        ).map(lambda rows, g=g: np.array(rows, float).reshape(len(rows), g))
    )
)  # fmt: skip


def _greedy_iou_oracle(iou, threshold):
    """VLM-R1's loop (``weighted_sum``), as published: largest IoU first, stop below."""
    free_p, free_g, pairs = list(range(iou.shape[0])), list(range(iou.shape[1])), []
    while free_p and free_g:
        best, bp, bg = -1.0, -1, -1
        for i in free_p:
            for j in free_g:
                if iou[i][j] > best:
                    best, bp, bg = iou[i][j], i, j
        if best < threshold:
            break
        pairs.append((bp, bg))
        free_p.remove(bp)
        free_g.remove(bg)
    return pairs


def _greedy_confidence_oracle(iou, scores, threshold):
    """Visual-RFT's ``match``: predictions by confidence, each the best free ground truth."""
    order = sorted(range(len(scores)), key=lambda k: scores[k], reverse=True)
    used, pairs = set(), []
    for i in order:
        best, bi = 0, -1
        for j in range(iou.shape[1]):
            if j not in used and iou[i][j] > best:
                best, bi = iou[i][j], j
        if best > threshold:
            pairs.append((i, bi))
            used.add(bi)
    return pairs


@settings(max_examples=300, deadline=None)
@given(ious_st, st.sampled_from([0.0, 0.5, 0.7]), st.data())
def test_box_matchers_equal_their_published_loops_and_brute_force(iou, threshold, data):
    from itertools import permutations

    from rankreward.metrics import greedy_match, match_boxes

    P, G = iou.shape
    assert match_boxes(iou, "greedy_iou", threshold=threshold) == _greedy_iou_oracle(iou, threshold)
    scores = data.draw(st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=P, max_size=P))
    got = greedy_match(iou, scores=scores, threshold=threshold, inclusive=False)
    assert got == _greedy_confidence_oracle(iou, scores, threshold)
    # hungarian: the assignment's total IoU is the brute-force maximum; kept pairs pass
    pairs = match_boxes(iou, "hungarian", threshold=-1.0)
    brute = max((sum(iou[i, j] for i, j in zip(r, c, strict=True))
                 for r in permutations(range(P), min(P, G)) for c in permutations(range(G), min(P, G))),
                default=0.0)  # fmt: skip
    assert abs(sum(iou[i, j] for i, j in pairs) - brute) < 1e-9
    assert all(iou[i, j] >= threshold for i, j in match_boxes(iou, threshold=threshold))
    # label-constrained: only same-label pairs, and greedy equals greedy on the masked IoUs
    pl = data.draw(st.lists(st.sampled_from("ab"), min_size=P, max_size=P))
    gl = data.draw(st.lists(st.sampled_from("ab"), min_size=G, max_size=G))
    for method in ("hungarian", "greedy_iou"):
        for i, j in match_boxes(iou, method, pred_labels=pl, gt_labels=gl, threshold=threshold):
            assert pl[i] == gl[j]
    masked = np.where(np.array([[a == b for b in gl] for a in pl], bool).reshape(P, G), iou, -2.0)
    assert match_boxes(iou, "greedy_iou", pred_labels=pl, gt_labels=gl, threshold=threshold) == [
        (i, j) for i, j in _greedy_iou_oracle(masked, threshold)]  # fmt: skip


def test_box_matcher_errors_name_the_problem():
    from rankreward.metrics import match_boxes

    with pytest.raises(ValueError, match="method must be one of"):
        match_boxes(np.zeros((1, 1)), "nearest")
    with pytest.raises(ValueError, match="needs scores"):
        match_boxes(np.zeros((1, 1)), "greedy_confidence")
    with pytest.raises(ValueError, match=r"shape \(P, G\)"):
        match_boxes(np.zeros(3))
    with pytest.raises(ValueError, match="pass both"):
        match_boxes(np.zeros((1, 1)), pred_labels=["a"])
