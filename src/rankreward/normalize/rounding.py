"""Vectorised rounding of fractions that matches Python's ``round()`` bit for bit.

The paper rounds each rank with Python's ``round(x, 1)``, which rounds the *exact binary value*
of the float: ``112 / 320`` is stored as ``0.34999999999999997...`` and becomes ``0.3``, while
``np.round`` (which scales by 10 first) gives ``0.4``. Reproducing the paper exactly therefore
needs Python's semantics, but calling ``round`` per value is slow. We scale and round with numpy,
then redo with Python only the values whose scaled form lies within ``1e-6`` of a rounding
midpoint: everywhere else the scaling error (a few ulps) cannot change the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["python_round", "round_fractions"]

# Far larger than the relative error of ``q * 10**d`` (a few 1e-16) and far smaller than the
# spacing of fractions we see (1 / window), so this band catches every case that could flip.
_MIDPOINT_BAND = 1e-6


def python_round(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round float64 ``values`` to ``decimals`` exactly as ``round(float(v), decimals)`` does.

    Complexity: O(n) numpy work plus one Python ``round`` per value near a midpoint (rare).

    Examples:
        >>> python_round(np.array([112 / 320, 0.25, 0.26]), 1).tolist()
        [0.3, 0.2, 0.3]
        >>> np.round(112 / 320, 1)  # numpy disagrees with Python here
        np.float64(0.4)
    """
    values = np.asarray(values, dtype=np.float64)
    scale = 10.0**decimals
    scaled = values * scale
    out = np.round(scaled) / scale
    frac = scaled - np.floor(scaled)
    suspicious = np.flatnonzero(np.abs(frac - 0.5) < _MIDPOINT_BAND)
    if suspicious.size:
        flat = out.reshape(-1)
        src = values.reshape(-1)
        for i in suspicious:
            flat[i] = round(float(src[i]), decimals)
    # round(x, d) returns the double nearest to k / 10**d, and np.round(scaled) / scale is that
    # same correctly rounded division, so the non-suspicious values already match bit for bit.
    return out


def round_fractions(numerators: np.ndarray, denominator: int, decimals: int | None) -> np.ndarray:
    """``numerators / denominator`` as float64, optionally rounded like Python's ``round``.

    Examples:
        >>> round_fractions(np.array([112, 0, 320]), 320, 1).tolist()
        [0.3, 0.0, 1.0]
    """
    q = np.asarray(numerators, dtype=np.float64) / float(denominator)
    if decimals is None:
        return q
    return python_round(q, decimals)
