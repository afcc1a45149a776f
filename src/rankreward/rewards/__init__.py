"""The one reward framework: a `Recipe` computes a batch's terms in one pass, `Component` s
pick, rank and weigh them, `ComponentReward` is the reward (TRL-shaped). Recipes live in
`rankreward.rewards.recipes` (Dr. Seg, VisionReasoner, Seg-Zero, VLM-R1, Visual-RFT,
Perception-R1), registered by name in `preset`; also coordinate frames (`to_pixels`,
`from_pixels`), a configurable answer reader (`AnswerReader`), a matched-IoU component
(`MatchedIoU`) and the windows (`LocalWindows`, `RayWindows`)."""

from ..distributed.ray_actor import RayWindows
from ..frames import FRAMES, Frame, from_pixels, to_pixels
from ..normalize.windows import LocalWindows
from .presets import MASK_PRESETS, PRESETS, preset
from .reader import Answer, AnswerReader, MatchedIoU
from .recipes.drseg import DrSegReward, VisionReasonerReward
from .spec import Component, ComponentReward, FunctionTerms, Recipe, Terms

__all__ = [
    "FRAMES",
    "MASK_PRESETS",
    "PRESETS",
    "Answer",
    "AnswerReader",
    "Component",
    "ComponentReward",
    "DrSegReward",
    "Frame",
    "FunctionTerms",
    "LocalWindows",
    "MatchedIoU",
    "RayWindows",
    "Recipe",
    "Terms",
    "VisionReasonerReward",
    "from_pixels",
    "preset",
    "to_pixels",
]
