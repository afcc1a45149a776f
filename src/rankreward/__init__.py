"""rankreward: distribution-ranked rewards and vectorised perception metrics for GRPO training.

Importing the package is light: numpy and the normaliser front end only. Numba kernels compile
on first use; torch, pycocotools, shapely and trainers load only when the code that needs them
runs.

Examples:
    >>> from rankreward import RankNormalizer
    >>> RankNormalizer.paper().rank([[0.0, 0.0, 0.0]]).tolist()
    [[1.0, 1.0, 1.0]]
"""

from ._version import __version__
from .normalize import (
    RankNormalizer,
    advantage_shares,
    group_advantages,
    zero_spread_fractions,
)

__all__ = [
    "RankNormalizer",
    "__version__",
    "advantage_shares",
    "group_advantages",
    "zero_spread_fractions",
]
