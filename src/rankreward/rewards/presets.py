"""The recipe registry: ``preset(name, ranked=...)`` builds a recipe's reward.

Each name is a recipe module of `rankreward.rewards.recipes` (verl's ``reward_score`` shape:
one module per recipe, one dispatcher); its builder takes ``ranked`` and the recipe's own
options:

- ``"drseg"``: the Dr. Seg reward (structure, answer_items, look and non_repeat raw, x1..x3
  ranked; equal to `DrSegReward()` sample for sample; ``ranked=False`` is the raw ablation);
- ``"visionreasoner"``: the paper's baseline (``ranked=True`` ranks its accuracy);
- ``"seg-zero"``: Seg-Zero's ``seg_compute_score`` (``ranked=True`` ranks the IoU, box L1 and
  point distance behind its thresholded terms);
- ``"vlm-r1-rec"``: VLM-R1's REC accuracy and format (``ranked=True`` ranks the IoU);
- ``"vlm-r1-ovd"``: VLM-R1's open-vocabulary detection accuracy (``method="odLength"``
  (default), ``"od_ap"``, ``"od_ap50"`` or ``"weighted_sum"``) and format;
- ``"visual-rft"``: Visual-RFT's detection IoU and confidence terms and format;
- ``"perception-r1"``: Perception-R1's grounding IoU squared and format (``ranked=True`` ranks
  the IoU);
- ``"seg-r1"``: Seg-R1's mask reward (0.7 IoU + 0.3 S-measure of the segmenter's masks) and
  format (``segmenter=`` required);
- ``"think2seg-rs"``: Think2Seg-RS's mask IoU (x2) and its two format terms (``segmenter=``
  required).

``ranked=None`` gives each recipe's own choice (Dr. Seg ranks, the others do not). Adding a
recipe is one line here (docs/add-a-recipe.md).
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from ..distributed.ray_actor import RayWindows
from ..normalize.windows import LocalWindows
from .recipes.drseg.reward import drseg_reward, visionreasoner_reward
from .recipes.perception_r1 import perception_r1_reward
from .recipes.segr1 import segr1_reward
from .recipes.segzero import segzero_reward
from .recipes.think2seg import think2seg_reward
from .recipes.visualrft import visualrft_reward
from .recipes.vlmr1 import vlmr1_ovd_reward, vlmr1_rec_reward
from .spec import ComponentReward

__all__ = ["MASK_PRESETS", "PRESETS", "preset"]

PRESETS = {
    "drseg": drseg_reward,
    "visionreasoner": visionreasoner_reward,
    "seg-zero": segzero_reward,
    "vlm-r1-rec": vlmr1_rec_reward,
    "vlm-r1-ovd": vlmr1_ovd_reward,
    "visual-rft": visualrft_reward,
    "perception-r1": perception_r1_reward,
    "seg-r1": segr1_reward,
    "think2seg-rs": think2seg_reward,
}

#: The presets that segment: they need ``segmenter=`` and the trainer's image column.
MASK_PRESETS = ("seg-r1", "think2seg-rs")


def preset(
    name: str,
    ranked: bool | None = None,
    *,
    task_key: str | None = None,
    windows: LocalWindows | RayWindows | None = None,
    **options: Any,
) -> ComponentReward:
    """A recipe's reward as a `ComponentReward`; ``ranked=None`` is the recipe's own choice
    (Dr. Seg ranks, the others do not). ``task_key`` and ``windows`` are as in
    `ComponentReward` (the trainer adapters pass shared, counted windows); the other options
    are the recipe's own (see `PRESETS`' builders). O(1).

    Examples:
        >>> from rankreward.rewards import DrSegReward
        >>> gt = ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']
        >>> text = '<think><look>a</look></think><answer>[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]</answer>'
        >>> preset("drseg")([text], ground_truth=gt) == DrSegReward()([text], ground_truth=gt)
        True
    """
    if name not in PRESETS:
        near = difflib.get_close_matches(str(name), PRESETS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose from {sorted(PRESETS)}")
    if ranked is not None:
        options["ranked"] = ranked
    builder = PRESETS[name]
    params = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        valid = [k for k in params if k != "ranked"]
        for key in options:
            if key not in params:
                near = difflib.get_close_matches(key, valid, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise TypeError(f"the {name} preset has no option {key!r}{hint}; its options: "
                                f"{valid or 'none besides ranked'}")  # fmt: skip
    reward = builder(**options)
    reward.task_key = task_key
    if windows is not None:
        reward.windows = windows
    return reward
