"""Coordinate frames of a policy's answer, and the map to the original image's pixels.

The most common perception-RL bug is a frame mix-up: Qwen2-VL and Qwen3-VL answer in 0-1000
relative coordinates, Qwen2.5-VL in absolute pixels of the image *as resized for the model*,
other recipes in 0-1 fractions. A reward or metric must compare the answer with the ground truth
in one frame; these functions map both ways, per axis:

================  ===============================================  ===========================
frame             an answer coordinate means                       needs
================  ===============================================  ===========================
``"absolute"``    a pixel of the image the model saw               ``seen_size`` (or none: the
                                                                   original image itself)
``"rel1000"``     thousandths of the width / height                nothing else
``"rel1"``        fractions of the width / height                  nothing else
================  ===============================================  ===========================

Coordinates are ``(..., 2k)`` arrays of x, y pairs: boxes ``(N, 4)`` xyxy, points ``(N, 2)``,
or several points flattened. numpy in, numpy out; torch in, torch out (same device and dtype).

**One arithmetic.** Every map of the package (`AnswerReader`, the Dr. Seg recipe, the
evaluation) goes through `scale_pairs`: ``v * size / unit`` per axis, multiplied then divided
in float64 (``unit`` is 1000 for ``rel1000``, 1 for ``rel1``, the seen size for
``absolute``), so an integer coordinate is rounded once and every path gives the same bits.
The released evaluation scripts' arithmetic (a factor ``W / unit`` first, then
``int(v * factor + 0.5)``: whole pixels) is the explicit option ``rounding="released"``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = [
    "FRAMES",
    "FRAME_UNITS",
    "Frame",
    "answer_size",
    "check_size",
    "from_pixels",
    "scale_pairs",
    "to_pixels",
]

Frame = Literal["absolute", "rel1000", "rel1"]
FRAMES: tuple[str, ...] = ("absolute", "rel1000", "rel1")
#: The size of the "image" a relative frame's coordinates are measured on.
FRAME_UNITS: dict[str, tuple[int, int]] = {"rel1000": (1000, 1000), "rel1": (1, 1)}
ROUNDINGS = ("none", "released")


def check_size(size: Any, name: str) -> tuple[float, float]:
    """``size`` as (width, height) floats; ``ValueError`` naming ``name`` unless two positive
    finite numbers. O(1).

    Examples:
        >>> check_size((640, 480), "image_size")
        (640.0, 480.0)
    """
    if isinstance(size, str | bytes) or any(
        isinstance(v, bool | str | bytes) for v in (size if isinstance(size, list | tuple) else ())
    ):
        raise ValueError(f"{name} must be (width, height) numbers, got {size!r}")
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height), got {size!r}") from None
    if not (np.isfinite(w) and np.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f"{name} must be two positive finite numbers, got {size!r}")
    return w, h


def check_frame(frame: str) -> None:
    """``ValueError`` naming the frames unless ``frame`` is one of `FRAMES`. O(1)."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")


def answer_size(frame: str, seen_size: tuple[int, int] | None) -> tuple[int, int] | None:
    """The size of the "image" an answer's coordinates are measured on: the ``seen_size``
    for ``"absolute"``, 1000 x 1000 for ``"rel1000"``, 1 x 1 for ``"rel1"``. O(1).

    Examples:
        >>> answer_size("rel1000", (840, 840)), answer_size("absolute", (840, 840))
        ((1000, 1000), (840, 840))
    """
    check_frame(frame)
    return seen_size if frame == "absolute" else FRAME_UNITS[frame]


def _units(
    frame: str, image_size: Any, seen_size: Any
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(original size, unit size) per axis for ``frame``, both checked."""
    check_frame(frame)
    size = check_size(image_size, "image_size")
    if frame != "absolute":
        return size, tuple(float(u) for u in FRAME_UNITS[frame])  # type: ignore[return-value]
    if seen_size is None:
        return size, size
    return size, check_size(seen_size, "seen_size")


def scale_pairs(coords: Any, size: Any, unit: Any, *, rounding: str = "none") -> Any:
    """``coords`` (``(..., 2k)`` x, y pairs) times ``size / unit`` per axis: the package's
    one frame arithmetic, ``v * size / unit`` in float64 (multiplied, then divided).
    ``size`` and ``unit`` are ``(2,)`` (width, height) or per row ``(..., 2)``;
    ``rounding="released"`` maps to whole pixels as the released evaluation scripts do,
    ``int(v * (size / unit) + 0.5)``. numpy or torch in, the same out. O(N).

    Examples:
        >>> scale_pairs(np.array([[500.0, 250.0]]), (640, 480), (1000, 1000)).tolist()
        [[320.0, 120.0]]
        >>> scale_pairs(np.array([[333.0, 1.0]]), (640, 480), (1000, 1000), rounding="released").tolist()
        [[213.0, 0.0]]
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    shape = tuple(coords.shape)
    if not shape or shape[-1] % 2:
        raise ValueError(f"coordinates must have shape (..., 2k) of x, y pairs, got {shape}")
    pairs = shape[-1] // 2
    if hasattr(coords, "device") and hasattr(coords, "new_tensor"):  # torch
        import torch

        if not coords.is_floating_point():
            coords = coords.double()
        num = torch.as_tensor(np.asarray(size, np.float64), dtype=coords.dtype,
                              device=coords.device)  # fmt: skip
        den = torch.as_tensor(np.asarray(unit, np.float64), dtype=coords.dtype,
                              device=coords.device)  # fmt: skip
        num = num.repeat(*([1] * (num.ndim - 1)), pairs)
        den = den.repeat(*([1] * (den.ndim - 1)), pairs)
        if rounding == "released":
            return torch.trunc(coords * (num / den) + 0.5)
        return coords * num / den
    if coords.dtype.kind not in "biuf":  # strings, objects: name them, not numpy's ufunc
        raise ValueError(f"coordinates must be numbers, got an array of {coords.dtype} "
                         f"({np.ravel(coords)[:4].tolist()!r:.80})")  # fmt: skip
    coords = np.asarray(coords, dtype=np.result_type(coords.dtype, np.float64))
    num = np.asarray(size, np.float64)
    den = np.asarray(unit, np.float64)
    num = np.tile(num, (1,) * (num.ndim - 1) + (pairs,))
    den = np.tile(den, (1,) * (den.ndim - 1) + (pairs,))
    if rounding == "released":
        # the released scripts' order: a factor first, then int(v * factor + 0.5), which
        # truncates toward zero (np.trunc) for a negative coordinate too
        return np.trunc(coords * (num / den) + 0.5)
    return coords * num / den


def to_pixels(coords: Any, frame: Frame, image_size: Any, *, seen_size: Any = None) -> Any:
    """Answer coordinates in ``frame`` -> pixels of the original ``image_size`` (width,
    height). ``seen_size`` is the (width, height) the model saw, for ``"absolute"``. O(N).

    Examples:
        >>> to_pixels(np.array([[100, 500, 300, 1000]]), "rel1000", (640, 480)).tolist()
        [[64.0, 240.0, 192.0, 480.0]]
        >>> to_pixels(np.array([[420, 420]]), "absolute", (1680, 420), seen_size=(840, 840)).tolist()
        [[840.0, 210.0]]
    """
    size, unit = _units(frame, image_size, seen_size)
    return scale_pairs(coords if hasattr(coords, "shape") else np.asarray(coords), size, unit)


def from_pixels(coords: Any, frame: Frame, image_size: Any, *, seen_size: Any = None) -> Any:
    """The inverse of `to_pixels`: original-image pixels -> ``frame`` (for ground truths in
    the policy's frame, or prompts that show coordinates). O(N).

    Examples:
        >>> from_pixels(np.array([[64.0, 240.0]]), "rel1000", (640, 480)).tolist()
        [[100.0, 500.0]]
    """
    size, unit = _units(frame, image_size, seen_size)
    return scale_pairs(coords if hasattr(coords, "shape") else np.asarray(coords), unit, size)
