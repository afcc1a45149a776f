"""python_round / round_fractions against Python's round(), the brute-force oracle."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rankreward.normalize import python_round, round_fractions


@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=50),
    decimals=st.integers(0, 6),
)
def test_python_round_matches_round(values, decimals):
    got = python_round(np.array(values, dtype=np.float64), decimals)
    assert got.tolist() == [round(v, decimals) for v in values]


@given(denominator=st.integers(1, 100_000), decimals=st.integers(0, 4), data=st.data())
def test_round_fractions_matches_round(denominator, decimals, data):
    counts = data.draw(st.lists(st.integers(0, denominator), min_size=1, max_size=50))
    got = round_fractions(np.array(counts), denominator, decimals)
    assert got.tolist() == [round(c / denominator, decimals) for c in counts]


def test_every_fraction_of_paper_sized_windows():
    for n in (128, 320, 1000, 2047, 2048):
        c = np.arange(n + 1)
        assert round_fractions(c, n, 1).tolist() == [round(x / n, 1) for x in c.tolist()]
