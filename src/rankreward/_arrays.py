"""numpy/torch dispatch, shape and finiteness checks shared by every public entry point.

Everything here is deliberately small and import-light: torch is only touched when the caller
already handed us a torch tensor (so ``import rankreward`` never imports torch).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "as_float",
    "check_finite",
    "check_last_dim",
    "common_float",
    "first_true",
    "float_pair",
    "format_index",
    "is_torch",
    "is_torch_cuda",
    "namespace",
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

    Examples:
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

    Examples:
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

    Examples:
        >>> format_index((3, 1))
        '[3, 1]'
    """
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def namespace(*xs: Any) -> Any:
    """The array module (``numpy`` or ``torch``) that operations on ``xs`` should use.

    Any torch tensor among the inputs selects torch; mixing a tensor with a numpy array is
    allowed only when the array can move to the tensor's device (see `as_float`).

    Examples:
        >>> namespace(np.zeros(2)).__name__
        'numpy'
    """
    for x in xs:
        if is_torch(x):
            return torch_module()
    return np


def as_float(x: Any, xp: Any, like: Any = None) -> Any:
    """``x`` as a floating array of the namespace ``xp``, without copying when it already is one.

    Dtype policy: float64 stays float64, float32 stays float32; float16/bfloat16 are computed in
    float32 (pixel areas overflow float16); integers and bools become float64 for numpy and
    torch's default dtype for torch. ``like`` (a tensor) supplies the device for torch.

    Examples:
        >>> as_float([1, 2], np).dtype
        dtype('float64')
    """
    if xp is np:
        if is_torch(x):
            raise TypeError("cannot mix a torch tensor into a numpy computation")
        a = np.asarray(x)
        if a.dtype == np.float64 or a.dtype == np.float32:
            return a
        if a.dtype.kind in "biuf":
            return a.astype(np.float32 if a.dtype == np.float16 else np.float64)
        raise TypeError(f"expected a numeric array, got dtype {a.dtype}")
    torch = xp
    device = like.device if like is not None and is_torch(like) else None
    t = x if is_torch(x) else torch.as_tensor(np.asarray(x), device=device)
    if device is not None and t.device != device:
        raise ValueError(f"inputs live on different devices: {t.device} and {device}")
    if t.dtype in (torch.float64, torch.float32):
        return t
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.float()
    if t.dtype.is_complex:
        raise TypeError(f"expected a real array, got dtype {t.dtype}")
    return t.to(torch.get_default_dtype())


def common_float(a: Any, b: Any, xp: Any) -> tuple[Any, Any]:
    """Both operands as floats of one dtype (the wider of the two) in namespace ``xp``."""
    like = a if is_torch(a) else (b if is_torch(b) else None)
    fa, fb = as_float(a, xp, like), as_float(b, xp, like)
    if fa.dtype != fb.dtype:
        if xp is np:
            fa, fb = fa.astype(np.float64), fb.astype(np.float64)
        else:
            fa, fb = fa.to(xp.float64), fb.to(xp.float64)
    return fa, fb


def check_last_dim(x: Any, size: int, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` has shape ``(..., size)``.

    Examples:
        >>> check_last_dim(np.zeros((2, 3)), 4, "boxes")
        Traceback (most recent call last):
        ...
        ValueError: boxes must have shape (..., 4), got (2, 3)
    """
    shape = tuple(x.shape)
    if len(shape) == 0 or shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}), got {shape}")


def first_true(mask: Any) -> tuple[int, ...] | None:
    """Index of the first True element of a boolean array or tensor, or ``None``.

    On a CUDA tensor this costs one device-to-host sync (only the ``any`` flag, then the index).

    Examples:
        >>> first_true(np.array([False, True]))
        (1,)
    """
    if is_torch(mask):
        if not bool(mask.any()):
            return None
        idx = mask.nonzero()[0]
        return tuple(int(i) for i in idx.tolist())
    mask = np.asarray(mask)
    if not mask.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN or inf element of ``x``.

    Examples:
        >>> check_finite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "boxes")
        Traceback (most recent call last):
        ...
        ValueError: boxes[1, 0] is nan; values must be finite
    """
    xp = namespace(x)
    if xp is np and np.asarray(x).dtype.kind in "biu":
        return
    if xp is not np and not (x.is_floating_point() or x.is_complex()):
        return
    idx = first_true(~xp.isfinite(x))
    if idx is not None:
        raise ValueError(f"{name}{format_index(idx)} is {float(x[idx])}; values must be finite")


def float_pair(
    a: Any, b: Any, names: tuple[str, str], sizes: tuple[int, int], validate: bool
) -> tuple[Any, Any, Any]:
    """``(xp, a, b)``: two operands checked for their last dimension, as floats of one dtype,
    and (if ``validate``) checked to be finite; the shared front of the pairwise metrics.

    Examples:
        >>> xp, fa, fb = float_pair([[0, 1]], [[2.0, 3.0]], ("p", "q"), (2, 2), True)
        >>> fa.dtype, fb.dtype
        (dtype('float64'), dtype('float64'))
    """
    if not hasattr(a, "shape"):
        a = np.asarray(a)
    if not hasattr(b, "shape"):
        b = np.asarray(b)
    check_last_dim(a, sizes[0], names[0])
    check_last_dim(b, sizes[1], names[1])
    xp = namespace(a, b)
    fa, fb = common_float(a, b, xp)
    if validate:
        check_finite(fa, names[0])
        check_finite(fb, names[1])
    return xp, fa, fb
