"""RankNormalizer behaviour: paper facts, validation, state, staging, threads, torch I/O."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from rankreward import RankNormalizer

from ..conftest import requires_cuda

BACKENDS = ["sorted", "numba", "torch"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "torch":
        pytest.importorskip("torch")
    return request.param


# ----------------------------------------------------------------------------- paper facts
def test_paper_preset():
    norm = RankNormalizer.paper()
    assert (norm.num_metrics, norm.capacity, len(norm), norm.ties, norm.decimals) == (
        3, 2048, 128, "right", 1,
    )  # fmt: skip
    assert norm.dtype == "float32"
    np.testing.assert_array_equal(norm.window, np.zeros((128, 3), dtype=np.float32))


def test_python_round_not_numpy_round(backend):
    # 112 of 320 window values <= x gives 0.35, stored as 0.3499999..., rounded to 0.3 by
    # Python's round (numpy's np.round gives 0.4).
    norm = RankNormalizer(num_metrics=1, window=320, decimals=1, backend=backend)
    norm.update(np.arange(320, dtype=np.float64))
    assert norm.rank(np.array([111.0])).tolist() == [0.3]
    assert np.round(112 / 320, 1) == 0.4


def test_float32_cast_makes_ties(backend):
    norm = RankNormalizer(num_metrics=1, window=8, dtype="float32", backend=backend)
    norm.update(np.array([0.1], dtype=np.float32))
    x = 0.1 + 1e-12  # a different float64, the same float32
    assert x != float(np.float32(0.1))
    assert norm.rank(np.array([x])).tolist() == [1.0]
    norm64 = RankNormalizer(num_metrics=1, window=8, dtype="float64", backend=backend)
    norm64.update(np.array([0.1 + 2e-12]))
    assert norm64.rank(np.array([x])).tolist() == [0.0]


def test_ties_modes(backend):
    w = np.array([1.0, 2.0, 2.0, 3.0])
    for ties, want in [("right", 0.75), ("left", 0.25), ("mid", 0.5)]:
        norm = RankNormalizer(num_metrics=1, window=4, ties=ties, backend=backend)
        norm.update(w)
        assert norm.rank([2.0]).tolist() == [want]


def test_signed_zero_is_a_tie(backend):
    norm = RankNormalizer(num_metrics=1, window=4, backend=backend)
    norm.update([-0.0, 0.0])
    assert norm.rank([0.0, -0.0]).tolist() == [1.0, 1.0]
    norm.update([1.0, 1.0, 1.0])  # evicts the -0.0 first (FIFO), whatever the sorted order
    assert np.signbit(norm.window.ravel()).tolist() == [False, False, False, False]
    norm._check()


def test_empty_window_returns_empty_rank(backend):
    norm = RankNormalizer(num_metrics=2, window=4, backend=backend, empty_rank=0.5)
    np.testing.assert_array_equal(norm.rank(np.ones((3, 2))), np.full((3, 2), 0.5))
    norm = RankNormalizer(num_metrics=1, window=4, backend=backend, empty_rank=0.0)
    assert norm.update_and_rank([1.0, 2.0]).tolist() == [0.0, 0.0]
    assert norm.rank([1.5]).tolist() == [0.5]


def test_update_and_rank_uses_snapshot_before_call(backend):
    norm = RankNormalizer(num_metrics=1, window=10, prefill=1, backend=backend)
    # Both values are ranked against [0.0] only, not against each other.
    assert norm.update_and_rank([1.0, 2.0]).tolist() == [1.0, 1.0]
    assert len(norm) == 3


def test_staged_semantics_match_paper_step(backend):
    """Micro-batches rank against the step's snapshot; commit appends them in order."""
    rng = np.random.default_rng(1)
    staged = RankNormalizer.paper(backend=backend)
    ref = RankNormalizer.paper(backend="sorted")
    for _ in range(5):
        step = [rng.random((8, 3)) for _ in range(4)]
        snapshot_ranks = [ref.rank(mb) for mb in step]
        for mb, want in zip(step, snapshot_ranks, strict=True):
            np.testing.assert_array_equal(staged.rank_and_stage(mb), want)
        assert staged.num_staged == 32 and len(staged) == len(ref)
        assert staged.commit() == 32
        ref.update(np.concatenate(step))
        np.testing.assert_array_equal(staged.window, ref.window)
    assert staged.commit() == 0


def test_discard_staged(backend):
    norm = RankNormalizer(num_metrics=1, window=4, backend=backend)
    norm.stage([1.0, 2.0])
    assert norm.discard_staged() == 2
    assert norm.commit() == 0 and len(norm) == 0


def test_stage_copies_the_callers_buffer(backend):
    norm = RankNormalizer(num_metrics=1, window=4, backend=backend)
    buf = np.array([1.0, 2.0])
    norm.stage(buf)
    buf[:] = 99.0
    norm.commit()
    assert norm.window.ravel().tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "k, shape, expected",
    [(3, (4,), r"\(B, 3\)"), (3, (4, 2), r"\(B, 3\)"), (1, (4, 2), r"\(B,\) or \(B, 1\)"),
     (2, (2, 2, 2), r"\(B, 2\)"), (1, (), r"\(B,\)")],
)  # fmt: skip
def test_wrong_shape_names_both_shapes(k, shape, expected):
    norm = RankNormalizer(num_metrics=k, window=4)
    with pytest.raises(ValueError, match=expected) as err:
        norm.rank(np.zeros(shape))
    assert f"got shape {shape}" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_names_row_and_metric(backend, bad):
    norm = RankNormalizer(num_metrics=3, window=4, backend=backend)
    v = np.zeros((5, 3))
    v[3, 2] = bad
    for method in ("rank", "update", "update_and_rank", "stage", "rank_and_stage"):
        with pytest.raises(ValueError, match=r"values\[3, 2\] \(row 3, metric 2\)"):
            getattr(norm, method)(v)
    assert len(norm) == 0 and norm.num_staged == 0  # nothing half-applied


def test_float64_overflowing_float32_is_rejected():
    norm = RankNormalizer(num_metrics=1, window=4, dtype="float32")
    with pytest.raises(ValueError, match="float32"):
        norm.rank([1e300])


def test_non_numeric_input_is_a_type_error():
    norm = RankNormalizer(num_metrics=1, window=4)
    with pytest.raises(TypeError, match="real numbers"):
        norm.rank(np.array(["a", "b"]))
    with pytest.raises(TypeError):
        norm.rank(np.array([1 + 2j]))
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="real numbers"):
        norm.rank(torch.tensor([1 + 2j]))  # like numpy: no silent drop of the imaginary part


@pytest.mark.parametrize(
    "kwargs",
    [dict(num_metrics=0), dict(window=0), dict(window=2.5), dict(ties="middle"),
     dict(decimals=-1), dict(prefill=10, window=4), dict(prefill_value=float("nan")),
     dict(dtype="float16"), dict(backend="gpu"), dict(empty_rank=2.0)],
)  # fmt: skip
def test_bad_configuration(kwargs):
    with pytest.raises(ValueError):
        RankNormalizer(**kwargs)


def test_empty_batch(backend):
    norm = RankNormalizer(num_metrics=2, window=4, backend=backend, prefill=1)
    assert norm.update_and_rank(np.zeros((0, 2))).shape == (0, 2)
    assert len(norm) == 1


def test_integer_and_float32_inputs(backend):
    norm = RankNormalizer(num_metrics=1, window=4, backend=backend, prefill=2)
    r = norm.rank(np.array([0, 1], dtype=np.int64))
    assert r.dtype == np.float32 and r.tolist() == [1.0, 1.0]
    r = norm.rank(np.array([[-1.0]], dtype=np.float32))
    assert r.dtype == np.float32 and r.shape == (1, 1)
    assert norm.rank([0.5]).dtype == np.float64  # Python floats are float64


# ----------------------------------------------------------------------------- state
def test_resume_gives_identical_ranks(backend, tmp_path):
    rng = np.random.default_rng(7)
    batches = [np.round(rng.random((int(rng.integers(1, 300)), 3)), 3) for _ in range(12)]
    straight = RankNormalizer.paper(backend=backend, window=500)
    want = [straight.update_and_rank(b) for b in batches]

    first = RankNormalizer.paper(backend=backend, window=500)
    got = [first.update_and_rank(b) for b in batches[:6]]
    first.stage(batches[6][:1])  # staged rows are part of the state too
    first.save(tmp_path / "norm.npz")
    resumed = RankNormalizer.paper(backend=backend, window=500)
    resumed.load(tmp_path / "norm.npz")
    assert resumed.num_staged == 1
    resumed.discard_staged()
    got += [resumed.update_and_rank(b) for b in batches[6:]]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(resumed.window, straight.window)


def test_state_dict_is_plain_arrays(backend):
    norm = RankNormalizer.paper(backend=backend)
    state = norm.state_dict()
    for key, value in state.items():
        assert isinstance(value, (int, float, str, np.ndarray)), key
    other = RankNormalizer.paper(backend="sorted")
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.window, norm.window)


@pytest.mark.parametrize(
    "mutate, match",
    [(lambda s: s.pop("values"), "missing"),
     (lambda s: s.update(version=99), "version 99"),
     (lambda s: s.update(num_metrics=2), "num_metrics=2"),
     (lambda s: s.update(window=10), "window=10"),
     (lambda s: s.update(ties="left"), "ties"),
     (lambda s: s.update(values=np.zeros((4, 2))), r"shape \(n, 3\)"),
     (lambda s: s.update(values=np.full((4, 3), np.nan)), "non-finite"),
     (lambda s: s.update(values=np.zeros((3000, 3))), "more than window")],
)  # fmt: skip
def test_bad_state_raises_and_leaves_normalizer_unchanged(mutate, match):
    norm = RankNormalizer.paper()
    norm.update(np.ones((5, 3)))
    before = norm.window
    state = norm.state_dict()
    mutate(state)
    with pytest.raises(ValueError, match=match):
        norm.load_state_dict(state)
    np.testing.assert_array_equal(norm.window, before)


def test_corrupted_state_file(tmp_path):
    norm = RankNormalizer.paper()
    path = tmp_path / "state.npz"
    norm.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read"):
        norm.load(path)
    assert len(norm) == 128


# ----------------------------------------------------------------------------- threads
def test_concurrent_callers_lose_nothing(backend):
    norm = RankNormalizer(num_metrics=2, window=100_000, backend=backend)
    n_threads, calls = 8, 150

    def worker(t):
        for i in range(calls):
            v = np.array([[t, i]], dtype=np.float64)
            if i % 3 == 0:
                norm.update_and_rank(v)
            elif i % 3 == 1:
                norm.stage(v)
            else:
                norm.rank_and_stage(v)
                norm.commit()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    norm.commit()
    norm._check()
    rows = norm.window
    assert rows.shape == (n_threads * calls, 2)
    # Every (thread, call) pair appears exactly once, and each thread's rows keep their order.
    assert len({tuple(r) for r in rows.tolist()}) == n_threads * calls
    for t in range(n_threads):
        mine = rows[rows[:, 0] == t, 1]
        assert sorted(mine.tolist()) == list(range(calls))


# ----------------------------------------------------------------------------- torch I/O
def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    norm = RankNormalizer(num_metrics=3, window=16, prefill=4)
    x = torch.rand(5, 3, dtype=torch.float32)
    r = norm.update_and_rank(x)
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float32 and r.shape == (5, 3)
    assert norm.backend == "numba"  # CPU tensors use the numba kernels zero-copy
    r64 = norm.rank(x.double())
    assert r64.dtype == torch.float64
    one = RankNormalizer(num_metrics=1, window=4)
    assert one.rank(torch.zeros(3)).shape == (3,)


def test_torch_backend_on_cpu_tensors_no_numpy_roundtrip():
    torch = pytest.importorskip("torch")
    norm = RankNormalizer(num_metrics=2, window=8, backend="torch", decimals=1, prefill=3)
    r = norm.update_and_rank(torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))
    assert r.tolist() == [[1.0, 1.0], [0.0, 1.0]]


def test_torch_non_finite_rejected():
    torch = pytest.importorskip("torch")
    norm = RankNormalizer(num_metrics=2, window=8, backend="torch")
    x = torch.zeros(3, 2)
    x[1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"values\[1, 0\]"):
        norm.rank(x)


@requires_cuda
def test_cuda_auto_picks_torch_backend_and_matches_cpu():
    import torch

    rng = np.random.default_rng(3)
    gpu = RankNormalizer.paper()
    cpu = RankNormalizer.paper(backend="sorted")
    for _ in range(10):
        v = rng.random((64, 3))
        r = gpu.update_and_rank(torch.from_numpy(v).cuda())
        assert r.device.type == "cuda"
        np.testing.assert_array_equal(r.cpu().numpy(), cpu.update_and_rank(v))
    assert gpu.backend == "torch"
    gpu._check()


# ----------------------------------------------------------------------------- packaging
def test_import_is_light():
    code = (
        "import sys, rankreward; from rankreward import RankNormalizer; "
        "RankNormalizer(num_metrics=1, window=4, backend='sorted').rank([1.0]); "
        "heavy = [m for m in ('torch', 'trl', 'pycocotools', 'transformers') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
