"""numpy/torch dispatch, shape and finiteness checks shared by every public entry point.

Everything here is deliberately small and import-light: torch is only touched when the caller
already handed us a torch tensor (so ``import rankreward`` never imports torch).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "format_index",
    "is_torch",
    "is_torch_cuda",
    "result_dtype_name",
    "to_numpy",
    "torch_module",
]


def torch_module() -> Any:
    """Return the already-imported ``torch`` module, or ``None`` if torch was never imported.

    Checking ``sys.modules`` instead of importing keeps numpy-only users free of the torch import
    cost: a torch tensor cannot exist unless torch has been imported by someone.
    """
    return sys.modules.get("torch")


def is_torch(x: Any) -> bool:
    """True if ``x`` is a ``torch.Tensor`` (without importing torch).

    >>> import numpy as np
    >>> is_torch(np.zeros(3))
    False
    """
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def is_torch_cuda(x: Any) -> bool:
    """True if ``x`` is a torch tensor that lives on a non-CPU device."""
    return is_torch(x) and x.device.type != "cpu"


def to_numpy(x: Any) -> np.ndarray:
    """View ``x`` as a numpy array; zero-copy for numpy arrays and CPU tensors.

    A tensor on an accelerator is copied to the host (the only way numpy can see it).

    >>> to_numpy([1, 2]).tolist()
    [1, 2]
    """
    if is_torch(x):
        return x.detach().cpu().numpy() if x.device.type != "cpu" else x.detach().numpy()
    return np.asarray(x)


def result_dtype_name(x: Any) -> str:
    """Floating dtype (as a numpy name) that results derived from ``x`` are returned in.

    float64 inputs give float64 results; every other input (float32, float16, bfloat16, ints,
    bools) gives float32, so a float32 training pipeline stays float32 without losing the exact
    fractions a float16 result would round away.
    """
    dt = x.dtype
    if is_torch(x):
        return "float64" if dt == torch_module().float64 else "float32"
    return "float64" if np.dtype(dt) == np.float64 else "float32"


def format_index(index: tuple[int, ...] | np.ndarray) -> str:
    """Render an array index like ``[3, 1]`` for error messages.

    >>> format_index((3, 1))
    '[3, 1]'
    """
    return "[" + ", ".join(str(int(i)) for i in index) + "]"
