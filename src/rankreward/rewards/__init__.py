"""Ranked rewards for perception recipes: rewards as named components (`ComponentReward`),
coordinate frames (`to_pixels`, `from_pixels`), a configurable answer reader (`AnswerReader`) and
matched-IoU component (`MatchedIoU`), recipe presets (`preset`) and their windows (`LocalWindows`,
`RayWindows`)."""

from ..distributed.ray_actor import RayWindows
from ..normalize.windows import LocalWindows
from .frames import FRAMES, Frame, from_pixels, to_pixels
from .presets import PRESETS, preset
from .reader import Answer, AnswerReader, MatchedIoU
from .spec import Component, ComponentReward

__all__ = [
    "FRAMES",
    "PRESETS",
    "Answer",
    "AnswerReader",
    "Component",
    "ComponentReward",
    "Frame",
    "LocalWindows",
    "MatchedIoU",
    "RayWindows",
    "from_pixels",
    "preset",
    "to_pixels",
]
