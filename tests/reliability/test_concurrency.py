"""8 threads hammering one normalizer (update_and_rank, stage, commit, rank) for 10,000 calls:
no exception, nothing lost or duplicated, and each thread's values appear in the window in the
order that thread sent them (the window is some serial order of the calls)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rankreward import RankNormalizer
from rankreward.distributed import DistributedRankNormalizer
from rankreward.normalize import AutoCommitNormalizer

THREADS = 8
CALLS = 10_000


def backends():
    out = ["sorted", "numba"]
    try:
        import torch  # noqa: F401

        out.append("torch")
    except ImportError:
        pass
    return out


def hammer(norm, errors: list, sent: dict) -> None:
    """Each thread sends unique values: thread t's k-th value is t * 1e6 + k (exact floats)."""

    def work(t: int) -> None:
        rng = np.random.default_rng(t)
        direct, staged = [], []
        try:
            for k in range(CALLS // THREADS):
                v = t * 1_000_000.0 + k
                op = rng.integers(0, 4)
                if op == 0:
                    r = norm.update_and_rank(np.array([v]))
                    direct.append(v)
                elif op == 1:
                    norm.stage(np.array([v]))
                    staged.append(v)
                elif op == 2:
                    norm.commit()
                    continue
                else:
                    r = norm.rank(np.array([v]))
                if op in (0, 3):
                    assert 0.0 <= float(r[0]) <= 1.0
        except BaseException as e:  # collected and re-raised by the test
            errors.append(e)
        sent[t] = (direct, staged)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()


def check(window: np.ndarray, sent: dict) -> None:
    position = {v: i for i, v in enumerate(window.tolist())}
    assert len(position) == len(window), "a value was appended twice"
    everything = [v for d, s in sent.values() for v in d + s]
    assert sorted(window.tolist()) == sorted(everything), "a value was lost or invented"
    for direct, staged in sent.values():
        for seq in (direct, staged):
            order = [position[v] for v in seq]
            assert order == sorted(order), "a thread's values were reordered"


@pytest.mark.parametrize("backend", backends())
def test_threads_on_one_normalizer(backend):
    norm = RankNormalizer(num_metrics=1, window=CALLS, backend=backend)
    errors: list = []
    sent: dict = {}
    hammer(norm, errors, sent)
    assert not errors, errors[:3]
    norm.commit()
    norm._check()
    check(norm.window.ravel(), sent)


def test_threads_on_the_wrappers():
    for norm in (
        AutoCommitNormalizer(RankNormalizer(num_metrics=1, window=CALLS), 7),
        DistributedRankNormalizer(RankNormalizer(num_metrics=1, window=CALLS)),
    ):
        errors: list = []
        sent: dict = {}
        hammer(norm, errors, sent)
        assert not errors, errors[:3]
        norm.commit()
        check(norm.window.ravel(), sent)


def test_eviction_under_threads_keeps_a_valid_window():
    norm = RankNormalizer(num_metrics=1, window=500, backend="numba")
    errors: list = []
    sent: dict = {}
    hammer(norm, errors, sent)
    assert not errors
    norm.commit()
    norm._check()
    window = norm.window.ravel().tolist()
    assert len(window) == 500 and len(set(window)) == 500
    everything = {v for d, s in sent.values() for v in d + s}
    assert set(window) <= everything
