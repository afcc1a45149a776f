"""Ranked rewards for perception recipes: rewards as named components (`ComponentReward`),
coordinate frames (`to_pixels`, `from_pixels`) and recipe presets (`preset`)."""

from .frames import FRAMES, Frame, from_pixels, to_pixels
from .presets import PRESETS, preset
from .spec import Component, ComponentReward

__all__ = [
    "FRAMES",
    "PRESETS",
    "Component",
    "ComponentReward",
    "Frame",
    "from_pixels",
    "preset",
    "to_pixels",
]
