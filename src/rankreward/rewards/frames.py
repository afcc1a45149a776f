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
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["FRAMES", "Frame", "check_size", "from_pixels", "to_pixels"]

Frame = Literal["absolute", "rel1000", "rel1"]
FRAMES: tuple[str, ...] = ("absolute", "rel1000", "rel1")


def check_size(size: Any, name: str) -> tuple[float, float]:
    """``size`` as (width, height) floats; ``ValueError`` naming ``name`` unless two positive
    finite numbers. O(1).

    Examples:
        >>> check_size((640, 480), "image_size")
        (640.0, 480.0)
    """
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height), got {size!r}") from None
    if not (np.isfinite(w) and np.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f"{name} must be two positive finite numbers, got {size!r}")
    return w, h


def _scale(frame: str, image_size: Any, seen_size: Any) -> tuple[float, float]:
    """Pixels of the original image per unit of ``frame``, per axis."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    w, h = check_size(image_size, "image_size")
    if frame == "rel1000":
        return w / 1000.0, h / 1000.0
    if frame == "rel1":
        return w, h
    if seen_size is None:
        return 1.0, 1.0
    sw, sh = check_size(seen_size, "seen_size")
    return w / sw, h / sh


def _apply(coords: Any, sx: float, sy: float, divide: bool) -> Any:
    shape = tuple(coords.shape)
    if not shape or shape[-1] % 2:
        raise ValueError(f"coordinates must have shape (..., 2k) of x, y pairs, got {shape}")
    if hasattr(coords, "device") and hasattr(coords, "new_tensor"):  # torch
        if not coords.is_floating_point():
            coords = coords.double()
        factor = coords.new_tensor([sx, sy]).repeat(shape[-1] // 2)
    else:
        coords = np.asarray(coords, dtype=np.result_type(coords.dtype, np.float64))
        factor = np.tile(np.array([sx, sy]), shape[-1] // 2)
    return coords / factor if divide else coords * factor


def to_pixels(coords: Any, frame: Frame, image_size: Any, *, seen_size: Any = None) -> Any:
    """Answer coordinates in ``frame`` -> pixels of the original ``image_size`` (width,
    height). ``seen_size`` is the (width, height) the model saw, for ``"absolute"``. O(N).

    Examples:
        >>> to_pixels(np.array([[100, 500, 300, 1000]]), "rel1000", (640, 480)).tolist()
        [[64.0, 240.0, 192.0, 480.0]]
        >>> to_pixels(np.array([[420, 420]]), "absolute", (1680, 420), seen_size=(840, 840)).tolist()
        [[840.0, 210.0]]
    """
    sx, sy = _scale(frame, image_size, seen_size)
    return _apply(coords if hasattr(coords, "shape") else np.asarray(coords), sx, sy, False)


def from_pixels(coords: Any, frame: Frame, image_size: Any, *, seen_size: Any = None) -> Any:
    """The inverse of `to_pixels`: original-image pixels -> ``frame`` (for ground truths in
    the policy's frame, or prompts that show coordinates). O(N).

    Examples:
        >>> from_pixels(np.array([[64.0, 240.0]]), "rel1000", (640, 480)).tolist()
        [[100.0, 500.0]]
    """
    sx, sy = _scale(frame, image_size, seen_size)
    return _apply(coords if hasattr(coords, "shape") else np.asarray(coords), sx, sy, True)
