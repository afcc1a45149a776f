"""Numba kernels of `rankreward.metrics` that other packages build on (internal, documented).

The reward recipes fuse their geometry and matching into one compiled pass per batch, so they
call these device-level kernels directly instead of the array functions around them. This
module is the one place they are imported from; the names stay stable across the package, the
signatures may change with the metrics they come from.

- `pair_value(a, b, kind, extra)`: one box-pair value of kind `PAIR_IOU` (``extra`` 1.0 for
  the pixel-inclusive ``+1`` convention) or `PAIR_L1` (mean absolute coordinate difference),
  ``a`` and ``b`` rows whose first four entries are ``x1, y1, x2, y2``.
- `solve_assignment(cost, nrows, ncols, out_col)`: scipy's ``linear_sum_assignment`` pairs of
  one ``cost[:nrows, :ncols]`` (``out_col[i]`` the column of row ``i``, ``-1`` if unmatched).
"""

from __future__ import annotations

from .boxes import _IOU as PAIR_IOU
from .boxes import _L1 as PAIR_L1
from .boxes import _pair_value as pair_value
from .matching import _solve_one as solve_assignment

__all__ = ["PAIR_IOU", "PAIR_L1", "pair_value", "solve_assignment"]
