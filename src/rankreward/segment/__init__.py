"""Segmenters: turn a policy's boxes and points into masks (SAM2 and friends), for the rewards
(mask recipes) and the evaluation alike.

A segmenter is any callable ``(image, boxes, points, labels=None) -> masks`` (`Segmenter`; the
shapes are in `rankreward.segment.base`), optionally two-stage (`TwoStageSegmenter`: ``encode``
an image once, ``decode`` many prompts). Two are provided: `BoxSegmenter` (each box filled in,
no model) and `Sam2Segmenter` (transformers' ``Sam2Model``, two-stage); `build_tiny_sam2` saves
a tiny random SAM2 for tests and offline runs. `segment_batch` runs a batch's answers through a
segmenter with each distinct image encoded once.
"""

from .base import (
    BoxSegmenter,
    Prompts,
    Segmenter,
    TwoStageSegmenter,
    as_rgb,
    check_prompts,
    image_key,
    segment_batch,
)
from .sam2 import Sam2Embedding, Sam2Segmenter, build_tiny_sam2, default_device

__all__ = [
    "BoxSegmenter",
    "Prompts",
    "Sam2Embedding",
    "Sam2Segmenter",
    "Segmenter",
    "TwoStageSegmenter",
    "as_rgb",
    "build_tiny_sam2",
    "check_prompts",
    "default_device",
    "image_key",
    "segment_batch",
]
