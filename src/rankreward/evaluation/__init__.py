"""Paper-style evaluation of a trained policy: ReasonSeg gIoU/cIoU through a segmenter (SAM2),
COCO AP and counting. ``examples/eval_drseg.py`` is the command-line front.

Torch and transformers load only when a generator or SAM2 is used.
"""

from .generate import generate_completions
from .segmenters import BoxSegmenter, Sam2Segmenter, Segmenter, build_tiny_sam2
from .tasks import (
    EvalOutput,
    evaluate_coco,
    evaluate_count,
    evaluate_reasonseg,
    image_array,
    rescale_objects,
)

__all__ = [
    "BoxSegmenter",
    "EvalOutput",
    "Sam2Segmenter",
    "Segmenter",
    "build_tiny_sam2",
    "evaluate_coco",
    "evaluate_count",
    "evaluate_reasonseg",
    "generate_completions",
    "image_array",
    "rescale_objects",
]
