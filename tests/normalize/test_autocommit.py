"""AutoCommitNormalizer: the counted per-step snapshot used by per-sample trainer hooks."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.normalize import AutoCommitNormalizer, RankNormalizer


def _paper_small():
    return RankNormalizer.paper(window=64, prefill=8)


@settings(max_examples=40, deadline=None)
@given(
    every=st.integers(1, 12),
    data=st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=1, max_size=80),
)
def test_equals_manual_commit_every_n(every, data):
    auto = AutoCommitNormalizer(_paper_small(), every)
    manual = _paper_small()
    for k, x in enumerate(data):
        row = np.array([[x, 1 - x, x / 2]])
        got = auto.rank_and_stage(row)
        want = manual.rank_and_stage(row)
        np.testing.assert_array_equal(got, want)
        if (k + 1) % every == 0:
            manual.commit()
        auto._check()
    np.testing.assert_array_equal(auto.window, manual.window)
    assert auto.num_staged == manual.num_staged
    assert auto.commits == len(data) // every


def test_a_call_crossing_the_boundary_commits_whole():
    auto = AutoCommitNormalizer(RankNormalizer(num_metrics=1, window=10, prefill=1), 3)
    auto.rank_and_stage([1.0, 2.0])
    assert auto.num_staged == 2
    auto.rank_and_stage([3.0, 4.0])  # 4 staged >= 3: all four committed together
    assert auto.num_staged == 0 and len(auto) == 5 and auto.commits == 1


def test_state_files_per_step_and_resume(tmp_path):
    pattern = str(tmp_path / "norm" / "step-{step}.npz")
    auto = AutoCommitNormalizer(_paper_small(), 4, state_file=pattern)
    rng = np.random.default_rng(0)
    rows = rng.random((14, 3))
    out = [auto.rank_and_stage(r[None]) for r in rows]
    assert sorted(p.name for p in (tmp_path / "norm").iterdir()) == [
        "step-1.npz",
        "step-2.npz",
        "step-3.npz",
    ]
    # resume from step 2 and replay steps 3.. : the same ranks as the uninterrupted run
    resumed = AutoCommitNormalizer(_paper_small(), 4, resume_from=tmp_path / "norm" / "step-2.npz")
    assert resumed.commits == 2  # the step count travels in the file
    again = [resumed.rank_and_stage(r[None]) for r in rows[8:]]
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate(out[8:]))
    assert resumed.commits == auto.commits == 3


def test_rejects_bad_commit_every():
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="commit_every"):
            AutoCommitNormalizer(_paper_small(), bad)


def test_threads_lose_nothing():
    auto = AutoCommitNormalizer(RankNormalizer(num_metrics=1, window=100_000), 7)
    per_thread, threads = 300, 4

    def work(t):
        for i in range(per_thread):
            auto.rank_and_stage([t * 1000.0 + i])

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    total = per_thread * threads
    assert len(auto) + auto.num_staged == total
    assert auto.commits == total // 7
    state = auto.state_dict()
    seen = np.concatenate([state["values"], state["staged"]]).ravel()
    everything = [t * 1000.0 + i for t in range(threads) for i in range(per_thread)]
    assert sorted(seen.tolist()) == sorted(everything)  # nothing lost, nothing duplicated
