"""VLM-R1 (presets ``vlm-r1-rec`` and ``vlm-r1-ovd``): the readable restatements and presets
(`reward`), the REC batch scanner (`scan`)."""

from .reward import (
    OVD_METHODS,
    REC_COLUMNS,
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
    "REC_COLUMNS",
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
