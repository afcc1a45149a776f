"""VLM-R1 (presets ``vlm-r1-rec`` and ``vlm-r1-ovd``): the readable restatements and presets
(`reward`), the REC batch scanner (`scan`)."""

from ...._deprecation import renamed_attributes
from .reward import (
    OVD_METHODS,
    REC_CONTEXT,
    OvdRecipe,
    RecRecipe,
    clean_answer,
    detection_score,
    image_size,
    ovd_accuracy,
    ovd_accuracy_batch,
    ovd_format,
    rec_accuracy,
    rec_batch_scores,
    rec_format,
    vlmr1_ovd_reward,
    vlmr1_rec_reward,
)

__all__ = [
    "OVD_METHODS",
    "REC_CONTEXT",
    "OvdRecipe",
    "RecRecipe",
    "clean_answer",
    "detection_score",
    "image_size",
    "ovd_accuracy",
    "ovd_accuracy_batch",
    "ovd_format",
    "rec_accuracy",
    "rec_batch_scores",
    "rec_format",
    "vlmr1_ovd_reward",
    "vlmr1_rec_reward",
]

#: The 0.1 name of `REC_CONTEXT`: it warns.
__getattr__ = renamed_attributes(__name__, {"REC_COLUMNS": ("REC_CONTEXT", lambda: REC_CONTEXT)})
