"""Perception-R1 (preset ``perception-r1``): the readable restatement and preset (`reward`),
the batch scanner (`scan`)."""

from .reward import (
    GroundingRecipe,
    grounding_box,
    grounding_format,
    grounding_iou,
    perception_r1_reward,
)
from .scan import (
    grounding_batch,
)

__all__ = [
    "GroundingRecipe",
    "grounding_batch",
    "grounding_box",
    "grounding_format",
    "grounding_iou",
    "perception_r1_reward",
]
