"""Every backend against the brute-force oracle over random interleavings of operations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward import RankNormalizer

from .oracle import OracleNormalizer

BACKENDS = ["sorted", "numba", "torch"]

# Pools that force ties, signed zeros and extreme magnitudes (within each dtype's range).
POOL64 = [0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 5e-324, -5e-324, 1e-300, 2.0**53, 0.1]
POOL32 = [0.0, -0.0, 1.0, -1.0, 0.5, 3e38, -3e38, 1e-45, 1e-38, 0.1, 0.1 + 1e-12, 16777217.0]


def values_strategy(dtype, k):
    pool = POOL32 if dtype == "float32" else POOL64
    elem = st.one_of(
        st.sampled_from(pool),
        st.integers(-3, 3).map(float),
        st.floats(-10, 10, allow_nan=False, width=64),
    )
    return st.integers(0, 40).flatmap(
        lambda b: st.lists(elem, min_size=b * k, max_size=b * k).map(
            lambda xs: np.array(xs, dtype=np.float64).reshape(b, k)
        )
    )


@st.composite
def scenarios(draw):
    dtype = draw(st.sampled_from(["float64", "float32"]))
    k = draw(st.integers(1, 3))
    window = draw(st.one_of(st.integers(1, 12), st.integers(1, 5000)))
    config = dict(
        num_metrics=k,
        window=window,
        ties=draw(st.sampled_from(["right", "left", "mid"])),
        decimals=draw(st.sampled_from([None, None, 0, 1, 2])),
        prefill=draw(st.integers(0, min(window, 200))),
        prefill_value=draw(st.sampled_from([0.0, -0.0, 0.5])),
        dtype=dtype,
    )
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["rank", "update", "update_and_rank", "stage", "commit", "big"]),
                values_strategy(dtype, k),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return config, ops


def run_scenario(backend, config, ops, as_torch=False):
    norm = RankNormalizer(backend=backend, **config)
    oracle = OracleNormalizer(**config)
    k = config["num_metrics"]
    rng = np.random.default_rng(len(ops))
    for op, values in ops:
        if op == "big":  # a batch larger than small windows, with many duplicates
            values = rng.integers(-2, 3, size=(int(rng.integers(1, 3 * config["window"] + 2)), k))
            values = values.astype(np.float64)
            op = "update_and_rank"
        arg = values
        if as_torch:
            import torch

            arg = torch.from_numpy(values)
        if op in ("rank", "update_and_rank"):
            got = getattr(norm, op)(arg)
            want = getattr(oracle, op)(values)
            got = np.asarray(got.numpy() if as_torch else got)
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, want)
        elif op == "commit":
            norm.commit()
            oracle.commit()
        else:
            getattr(norm, op)(arg)
            getattr(oracle, op)(values)
        norm._check()
        # == comparison: -0.0 and +0.0 may trade places in the sorted copy but not in the FIFO.
        w = norm.window
        np.testing.assert_array_equal(w, oracle.window())
        assert np.array_equal(np.signbit(w), np.signbit(oracle.window()))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60)
@given(scenario=scenarios())
def test_backend_matches_oracle(backend, scenario):
    if backend == "torch":
        pytest.importorskip("torch")
    config, ops = scenario
    run_scenario(backend, config, ops)


@settings(max_examples=25)
@given(scenario=scenarios())
def test_torch_inputs_match_oracle(scenario):
    pytest.importorskip("torch")
    config, ops = scenario
    run_scenario("auto", config, ops, as_torch=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_window_many_steps(backend):
    """A 5000-value window rolled over many times with batches of varied size."""
    rng = np.random.default_rng(0)
    config = dict(num_metrics=2, window=5000, decimals=1, prefill=128, dtype="float32")
    norm = RankNormalizer(backend=backend, **config)
    ref = RankNormalizer(backend="sorted", **config)
    for _step in range(25):
        b = int(rng.integers(1, 1500))
        v = np.round(rng.random((b, 2)), 2)  # many ties
        np.testing.assert_array_equal(norm.update_and_rank(v), ref.update_and_rank(v))
        norm._check()
    np.testing.assert_array_equal(norm.window, ref.window)


@settings(max_examples=80)
@given(scenario=scenarios())
def test_numba_buffered_path_matches_oracle(scenario):
    """Force the insert/delete-buffer path (normally only for windows above SMALL_WINDOW)."""
    from rankreward.normalize import numba_backend

    saved = numba_backend.SMALL_WINDOW
    numba_backend.SMALL_WINDOW = 0
    try:
        config, ops = scenario
        run_scenario("numba", config, ops)
    finally:
        numba_backend.SMALL_WINDOW = saved


def test_numba_buffered_path_long_run():
    from rankreward.normalize import numba_backend

    rng = np.random.default_rng(5)
    saved = numba_backend.SMALL_WINDOW
    numba_backend.SMALL_WINDOW = 0
    try:
        norm = RankNormalizer(num_metrics=3, window=3000, backend="numba", ties="mid")
        ref = RankNormalizer(num_metrics=3, window=3000, backend="sorted", ties="mid")
        buffered_steps = 0
        for _ in range(300):
            v = rng.integers(0, 50, size=(int(rng.integers(1, 40)), 3)).astype(np.float64)
            np.testing.assert_array_equal(norm.update_and_rank(v), ref.update_and_rank(v))
            buffered_steps += norm._backend._ni > 0
        norm._check()
        np.testing.assert_array_equal(norm.window, ref.window)
        assert buffered_steps > 100  # the buffered path really ran
    finally:
        numba_backend.SMALL_WINDOW = saved


@pytest.mark.parametrize("ties", ["right", "left", "mid"])
def test_small_window_small_batches_use_buffers_exactly(ties):
    """Small windows with batches under 1/64 of them keep insert/delete buffers between
    compactions (and switch back to whole-window paths for big batches): every step must
    equal the sorted reference, through many compactions and evictions, with heavy ties."""
    rng = np.random.default_rng(11)
    norm = RankNormalizer(num_metrics=2, window=2048, backend="numba", ties=ties)
    ref = RankNormalizer(num_metrics=2, window=2048, backend="sorted", ties=ties)
    for step in range(400):
        b = int(rng.choice([1, 3, 16, 31, 200, 700])) if step % 7 else 2500
        values = rng.integers(-20, 20, size=(b, 2)).astype(float) / 4
        np.testing.assert_array_equal(norm.update_and_rank(values), ref.update_and_rank(values))
        norm._check()
    np.testing.assert_array_equal(norm.window, ref.window)
