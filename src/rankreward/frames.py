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
``"rel999"``      0..999 over the width / height (DeepSeek-VL2)    nothing else
================  ===============================================  ===========================

Which model family answers in which frame (and where that is stated) is in docs/frames.md.
`seen_size` gives the size a Qwen2-VL / Qwen2.5-VL processor resizes an image to (its
``smart_resize``), the frame of Qwen2.5-VL's absolute answers; `sizes_of_images` reads the
sizes from a trainer's image column; `frame_problem` says when an answer's coordinates do not
fit the frame it is read in and which frame would explain them.

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

import math
from typing import Any, Literal

import numpy as np

__all__ = [
    "FRAMES",
    "FRAME_UNITS",
    "Frame",
    "answer_size",
    "check_size",
    "frame_problem",
    "frame_problems",
    "from_pixels",
    "scale_pairs",
    "seen_size",
    "sizes_of_images",
    "smart_resize",
    "to_pixels",
]

Frame = Literal["absolute", "rel1000", "rel1", "rel999"]
FRAMES: tuple[str, ...] = ("absolute", "rel1000", "rel1", "rel999")
#: The size of the "image" a relative frame's coordinates are measured on.
FRAME_UNITS: dict[str, tuple[int, int]] = {
    "rel1000": (1000, 1000),
    "rel1": (1, 1),
    "rel999": (999, 999),
}
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


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 28 * 28 * 1280,
) -> tuple[int, int]:
    """The (height, width) a Qwen2-VL / Qwen2.5-VL image processor resizes an image to: each
    side a multiple of ``factor`` (patch size x merge size, 28), the area within
    ``[min_pixels, max_pixels]``, the aspect ratio kept as well as that allows: sides rounded
    to the nearest multiple (half to even, as Python's ``round``), then, when the area is
    over (under) the bounds, both scaled by one factor and floored (ceiled) to multiples, never
    below one multiple when floored. ``ValueError`` for an aspect ratio over 200, as the
    processor raises. O(1).

    Examples:
        >>> smart_resize(480, 640)
        (476, 644)
        >>> smart_resize(4000, 3000)
        (1148, 840)
    """
    h, w = int(height), int(width)
    if h <= 0 or w <= 0:
        raise ValueError(f"an image size must be positive, got {height} x {width}")
    if max(h, w) / min(h, w) > 200:
        raise ValueError(
            f"an aspect ratio over 200 ({max(h, w) / min(h, w):g}) is refused by the processor"
        )
    out_h, out_w = factor * round(h / factor), factor * round(w / factor)
    if out_h * out_w > max_pixels:
        shrink = math.sqrt(h * w / max_pixels)
        out_h = max(factor, factor * math.floor(h / shrink / factor))
        out_w = max(factor, factor * math.floor(w / shrink / factor))
    elif out_h * out_w < min_pixels:
        grow = math.sqrt(min_pixels / (h * w))
        out_h, out_w = factor * math.ceil(h * grow / factor), factor * math.ceil(w * grow / factor)
    return out_h, out_w


def seen_size(image_size: Any, processor: Any = None, **resize: Any) -> tuple[int, int]:
    """The (width, height) a Qwen2-VL / Qwen2.5-VL policy sees an image of ``image_size``
    (width, height) at, which is the frame its absolute answers are in. ``processor``: the
    model's processor (or its image processor), whose patch size x merge size, and
    ``min_pixels`` / ``max_pixels`` (or ``size["shortest_edge"]`` / ``["longest_edge"]``),
    are used; else `smart_resize`'s defaults, overridden by ``resize`` (``factor``,
    ``min_pixels``, ``max_pixels``). O(1).

    Map a ground truth into the policy's frame with `from_pixels` (``frame="absolute"``,
    ``seen_size=...``), or the policy's answers to the original image with `to_pixels`.

    Examples:
        >>> seen_size((640, 480))
        (644, 476)
        >>> seen_size((640, 480), min_pixels=1024, max_pixels=64 * 64, factor=16)
        (64, 48)
    """
    w, h = check_size(image_size, "image_size")
    if processor is not None:
        ip = getattr(processor, "image_processor", processor)
        patch = getattr(ip, "patch_size", None)
        merge = getattr(ip, "merge_size", None)
        if patch is None or merge is None:
            raise ValueError(
                f"{type(ip).__name__} has no patch_size / merge_size: not a Qwen2-VL-style processor"
            )
        size = getattr(ip, "size", None) or {}
        lo = getattr(ip, "min_pixels", None) or size.get("shortest_edge")
        hi = getattr(ip, "max_pixels", None) or size.get("longest_edge")
        resize = {"factor": int(patch) * int(merge), **({"min_pixels": int(lo)} if lo else {}),
                  **({"max_pixels": int(hi)} if hi else {}), **resize}  # fmt: skip
    out_h, out_w = smart_resize(round(h), round(w), **resize)
    return out_w, out_h


def sizes_of_images(column: Any, where: str = "image") -> list[tuple[int, int]]:
    """Each sample's (width, height) from a trainer's image column: PIL images, (H, W[, C])
    arrays or tensors, or TRL's ``images`` lists (the first image); ``ValueError`` naming the
    sample for anything else. O(B).

    Examples:
        >>> sizes_of_images([np.zeros((480, 640, 3)), [np.zeros((20, 10))]])
        [(640, 480), (10, 20)]
    """
    out = []
    for k, img in enumerate(column):
        if isinstance(img, (list, tuple)) and img and not isinstance(img[0], (int, float)):
            img = img[0]
        size = getattr(img, "size", None)
        if isinstance(size, tuple) and len(size) == 2 and hasattr(img, "convert"):  # PIL
            out.append((int(size[0]), int(size[1])))
            continue
        shape = tuple(getattr(img, "shape", ()))
        if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
            shape = (shape[1], shape[2])  # a (C, H, W) tensor
        if len(shape) not in (2, 3) or not shape[0] or not shape[1]:
            raise ValueError(
                f"sample {k}: the {where!r} column holds no image (got {type(img).__name__})"
            )
        out.append((int(shape[1]), int(shape[0])))
    return out


def frame_problem(coords: Any, frame: str, image_size: Any, seen: Any = None) -> str | None:
    """Why the answer coordinates ``coords`` (x, y pairs) cannot be in ``frame`` for an image of
    ``image_size`` (width, height; ``seen``: the size the model saw, for ``"absolute"``), naming
    the frame that would explain them; ``None`` when they fit. `frame_problems` for a batch.
    O(N).

    An answer fits when every coordinate lies within the frame's extent (a 1% margin, for
    boxes drawn to the border). It is flagged when it does not fit and another frame's extent
    holds all of it; ``"rel1"`` is only suggested when some coordinate is fractional.

    Examples:
        >>> frame_problem(np.array([[100, 200, 900, 950]]), "absolute", (640, 480))
        "coordinates up to (900, 950) lie outside the 640x480 image but within 0..1000: the policy may answer in frame='rel1000'"
        >>> frame_problem(np.array([[10, 20, 300, 400]]), "absolute", (640, 480)) is None
        True
    """
    v = np.asarray(coords, np.float64).reshape(1, -1)
    return frame_problems(v, np.array([0]), np.array([1]), frame, [image_size],
                          None if seen is None else [seen])[0]  # fmt: skip


def frame_problems(
    rows: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    frame: str,
    sizes: Any,
    seen: Any = None,
) -> list[str | None]:
    """`frame_problem` for a batch at once: sample k's answer is ``rows[starts[k] :
    starts[k] + counts[k]]`` (rows of x, y pairs: boxes and points); ``sizes`` (and ``seen``)
    per sample. Vectorised: O(rows + B), messages built only for the flagged samples.
    """
    check_frame(frame)
    n = len(counts)
    out: list[str | None] = [None] * n
    counts = np.maximum(np.asarray(counts, np.int64), 0)
    has = counts > 0
    if not has.any() or not len(rows):
        return out
    # only each sample's own rows (a buffer may hold unused rows between samples)
    offsets = np.cumsum(counts) - counts
    take = np.repeat(np.asarray(starts, np.int64), counts) + (
        np.arange(counts.sum()) - np.repeat(offsets, counts)
    )
    rows = np.asarray(rows, np.float64)[take]
    starts = offsets
    xs, ys = rows[:, 0::2], rows[:, 1::2]
    finite = np.isfinite(xs) & np.isfinite(ys)
    big = np.where(finite, 1, 0)
    x_hi = np.where(finite, xs, -np.inf).max(axis=1)
    y_hi = np.where(finite, ys, -np.inf).max(axis=1)
    lo = np.where(finite, np.minimum(xs, ys), np.inf).min(axis=1)
    frac = (finite & ((xs != np.round(xs)) | (ys != np.round(ys)))).any(axis=1)
    idx = np.flatnonzero(has)
    st = np.asarray(starts)[idx]
    x_top, y_top = np.maximum.reduceat(x_hi, st), np.maximum.reduceat(y_hi, st)
    low, fractional = np.minimum.reduceat(lo, st), np.logical_or.reduceat(frac, st)
    any_finite = np.logical_or.reduceat(big.any(axis=1), st)
    wh = np.array([check_size((seen if (frame == "absolute" and seen is not None) else sizes)[k],
                              "image_size") for k in idx])  # fmt: skip

    def fits(ext_w: Any, ext_h: Any) -> np.ndarray:
        margin = 0.01 * np.maximum(ext_w, ext_h)
        return (low >= -margin) & (x_top <= ext_w * 1.01) & (y_top <= ext_h * 1.01)

    extents = {
        "absolute": (wh[:, 0], wh[:, 1]),
        **{f: (float(u[0]), float(u[1])) for f, u in FRAME_UNITS.items()},
    }
    bad = any_finite & ~fits(*extents[frame])
    if not bad.any():
        return out
    for other in ("rel1000", "absolute", "rel1"):
        if other == frame:
            continue
        explained = bad & fits(*extents[other]) & (fractional if other == "rel1" else True)
        for j in np.flatnonzero(explained):
            w, h = wh[j]
            where = f"the {w:g}x{h:g} image" if frame == "absolute" else f"0..{extents[frame][0]:g}"
            held = f"the {w:g}x{h:g} image" if other == "absolute" else f"0..{extents[other][0]:g}"
            out[int(idx[j])] = (f"coordinates up to ({x_top[j]:g}, {y_top[j]:g}) lie outside {where} but "
                                f"within {held}: the policy may answer in frame={other!r}")  # fmt: skip
        bad &= ~explained
    return out
