"""Paper-style evaluation of a trained policy: ReasonSeg gIoU/cIoU through a segmenter (SAM2),
COCO AP and counting, under the released scripts' protocols (`protocols`). ``examples/eval_drseg.py`` is the command-line front.

Torch and transformers load only when a generator or SAM2 is used.
"""

from .._deprecation import renamed_attributes
from ..segment import BoxSegmenter, Sam2Segmenter, Segmenter, build_tiny_sam2
from .generate import generate_completions
from .protocols import (
    PROTOCOLS,
    RENAMED,
    EvalAnswer,
    EvalProtocol,
    get_protocol,
    read_eval_answer,
)
from .tasks import (
    EvalOutput,
    answer_size,
    evaluate_coco,
    evaluate_count,
    evaluate_reasonseg,
    image_array,
    rescale_objects,
)

__all__ = [
    "PROTOCOLS",
    "BoxSegmenter",
    "EvalAnswer",
    "EvalOutput",
    "EvalProtocol",
    "Sam2Segmenter",
    "Segmenter",
    "answer_size",
    "build_tiny_sam2",
    "evaluate_coco",
    "evaluate_count",
    "evaluate_reasonseg",
    "generate_completions",
    "get_protocol",
    "image_array",
    "read_eval_answer",
    "rescale_objects",
]

#: Former names: they warn and forward (`rankreward._deprecation`).
__getattr__ = renamed_attributes(__name__, RENAMED)
