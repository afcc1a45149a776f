from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
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
