"""Array-backend parametrisation for the metric tests: numpy, torch CPU and (if present) CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import cuda_available


def _backends():
    out = ["numpy"]
    try:
        import torch  # noqa: F401

        out.append("torch")
    except ImportError:
        pass
    if cuda_available():
        out.append("cuda")
    return out


@pytest.fixture(params=_backends(), scope="module")
def backend(request):
    return request.param


def convert(x, backend, dtype=None):
    """Put a numpy array on ``backend`` ("numpy", "torch", "cuda")."""
    x = np.asarray(x) if dtype is None else np.asarray(x, dtype)
    if backend == "numpy":
        return x
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x))
    return t.cuda() if backend == "cuda" else t


def back(x):
    """Bring a result back to numpy for comparison, checking it stayed on its backend."""
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy()
