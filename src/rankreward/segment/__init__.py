"""Segmenters: turn a policy's boxes and points into masks (SAM2 and friends), for the rewards
(mask recipes) and the evaluation alike.

A segmenter is any callable ``(image, boxes, points) -> masks`` (`Segmenter`). Two are provided:
`BoxSegmenter` (each box filled in, no model) and `Sam2Segmenter` (transformers' ``Sam2Model``);
`build_tiny_sam2` saves a tiny random SAM2 for tests and offline runs.
"""

from .base import BoxSegmenter, Segmenter, check_prompts
from .sam2 import Sam2Segmenter, build_tiny_sam2

__all__ = ["BoxSegmenter", "Sam2Segmenter", "Segmenter", "build_tiny_sam2", "check_prompts"]
