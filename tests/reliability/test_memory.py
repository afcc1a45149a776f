"""A 10,000,000-value window per metric stays within 3x the raw data size.

Measured with tracemalloc for the numpy/Numba backend (numpy reports its buffers to it) and
with the process's RSS for torch (whose allocator tracemalloc does not see). Each case runs in
a fresh subprocess so nothing else is on the books. The sortedcontainers backend keeps one
Python float object per value (about 4x raw) and is the exactness reference, not the
large-window backend; it is not held to this bound.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

N = 10_000_000
K = 3

CHILD = r"""
import json, sys, tracemalloc, resource
import numpy as np
backend, dtype, N, K = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from rankreward import RankNormalizer
if backend == "torch":
    import torch
rng = np.random.default_rng(0)
chunks = [rng.random((N // 2, K)), rng.random((N // 2, K)), rng.random((N // 10, K))]
def rss():
    import ctypes
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed temporaries back before reading RSS
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
tracemalloc.start()
base_rss, base_traced = rss(), tracemalloc.get_traced_memory()[0]
norm = RankNormalizer(num_metrics=K, window=N, backend=backend, dtype=dtype)
for c in chunks:            # fill, then evict a tenth
    norm.update(c)
norm.rank(chunks[2][:1000])
traced = tracemalloc.get_traced_memory()[0] - base_traced
print(json.dumps({"len": len(norm), "traced": traced, "rss": rss() - base_rss}))
"""


def measure(backend: str, dtype: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, backend, dtype, str(N), str(K)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_window_within_3x_raw(dtype):
    m = measure("numba", dtype)
    raw = N * K * (8 if dtype == "float64" else 4)
    assert m["len"] == N
    assert m["traced"] <= 3 * raw, f"{m['traced'] / raw:.2f}x raw"


@pytest.mark.slow
def test_torch_window_within_3x_raw():
    pytest.importorskip("torch")
    m = measure("torch", "float64")
    raw = N * K * 8
    assert m["len"] == N
    assert m["rss"] <= 3 * raw, f"{m['rss'] / raw:.2f}x raw"
