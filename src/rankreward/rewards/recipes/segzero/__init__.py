"""Seg-Zero (preset ``seg-zero``): the readable restatement and preset (`reward`), the batch
scanner (`scan`)."""

from .reward import (
    SegZeroAnswer,
    SegZeroRecipe,
    first_object,
    read_segzero,
    segzero_reward,
    segzero_terms,
)
from .scan import (
    SEGZERO_COLUMNS,
    segzero_batch_terms,
)

__all__ = [
    "SEGZERO_COLUMNS",
    "SegZeroAnswer",
    "SegZeroRecipe",
    "first_object",
    "read_segzero",
    "segzero_batch_terms",
    "segzero_reward",
    "segzero_terms",
]
