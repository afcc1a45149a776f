"""Point metrics: pairwise distances, point-in-own-box tests, the point score and the count fit.

numpy in gives numpy out, torch in gives torch out on the same device. Shapes follow the box
metrics: ``(..., M, 2)`` with ``(..., N, 2)`` gives ``(..., M, N)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import as_float, check_finite, common_float, float_pair, namespace

__all__ = ["count_score", "point_distance", "point_score", "points_in_boxes"]


def point_distance(p: Any, q: Any, *, validate: bool = True) -> Any:
    """Pairwise Euclidean distance: ``(..., M, 2)`` x ``(..., N, 2)`` -> ``(..., M, N)``. O(M N).

    Examples:
        >>> point_distance(np.array([[0, 0]]), np.array([[3, 4], [0, 1]])).tolist()
        [[5.0, 1.0]]
    """
    xp, fp, fq = float_pair(p, q, ("p", "q"), (2, 2), validate)
    dx = fp[..., :, None, 0] - fq[..., None, :, 0]
    dy = fp[..., :, None, 1] - fq[..., None, :, 1]
    # sqrt(dx^2 + dy^2) in this order: the reward code's np.sqrt(np.sum(d ** 2, axis=-1))
    return xp.sqrt(dx * dx + dy * dy)


def points_in_boxes(points: Any, boxes: Any, *, validate: bool = True) -> Any:
    """Whether each point lies inside its own box (borders included): ``(..., 2)``, ``(..., 4)``.

    Point ``i`` is tested against box ``i`` only (xyxy boxes); the leading shapes broadcast and
    the result is a boolean array of that shape. O(n).

    Examples:
        >>> points_in_boxes(np.array([[5, 5], [10, 0], [11, 5]]), np.array([[0, 0, 10, 10]] * 3)).tolist()
        [True, True, False]
    """
    _, fp, fb = float_pair(points, boxes, ("points", "boxes"), (2, 4), validate)
    x, y = fp[..., 0], fp[..., 1]
    return (x >= fb[..., 0]) & (x <= fb[..., 2]) & (y >= fb[..., 1]) & (y <= fb[..., 3])


def point_score(d: Any, inner: float = 30.0, outer: float = 200.0) -> Any:
    """Score of a point distance: 1 up to ``inner``, linear down to 0 at ``outer``, then 0.

    The Dr. Seg reward uses ``inner=30, outer=200``: ``(200 - d) / 170`` in between. Works
    elementwise on any shape; a Python float in gives a Python float out. O(n).

    Examples:
        >>> point_score(np.array([0.0, 30.0, 115.0, 200.0, 500.0])).tolist()
        [1.0, 1.0, 0.5, 0.0, 0.0]
    """
    if not outer > inner:
        raise ValueError(f"point_score needs outer > inner, got inner={inner}, outer={outer}")
    if isinstance(d, (int, float)):
        return float(point_score(np.array(float(d)), inner, outer))
    xp = namespace(d)
    fd = as_float(d, xp)
    check_finite(fd, "d")
    linear = (outer - fd) / (outer - inner)
    return xp.where(fd <= inner, 1 + 0 * fd, xp.where(fd >= outer, 0 * fd, linear))


def count_score(m: Any, n: Any) -> Any:
    """Count fit ``min(m, n) / max(m, n)``, 1.0 when both counts are 0. Elementwise, O(n).

    Counts must be non-negative; a Python int pair gives a Python float.

    Examples:
        >>> count_score(np.array([0, 3, 4]), np.array([0, 6, 0])).tolist()
        [1.0, 0.5, 0.0]
        >>> count_score(2, 2)
        1.0
    """
    if isinstance(m, (int, float)) and isinstance(n, (int, float)):
        return float(count_score(np.array(float(m)), np.array(float(n))))
    xp = namespace(m, n)
    fm, fn = common_float(m, n, xp)
    check_finite(fm, "m")
    check_finite(fn, "n")
    if bool((fm < 0).any()) or bool((fn < 0).any()):
        raise ValueError("counts must be non-negative")
    hi = xp.maximum(fm, fn)
    lo = xp.minimum(fm, fn)
    ok = hi > 0
    return xp.where(ok, lo / xp.where(ok, hi, 1), 1 + 0 * hi)
