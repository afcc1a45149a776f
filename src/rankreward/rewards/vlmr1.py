"""VLM-R1's referring-expression reward (REC), restated from its Qwen module
(``src/open-r1-multimodal/src/open_r1/vlm_modules/qwen_module.py``: ``iou_reward`` and
``format_reward_rec``, the ``accuracy`` and ``format`` functions of ``grpo_rec.py``).

- ``accuracy``: the first ``[x1, y1, x2, y2]`` of non-negative integers inside the first
  ``<answer>...</answer>``, mapped from the model's input frame (``image_grid_thw`` x 14
  pixels) to the original image as ``v / input_size * image_size``, against the solution's box
  (the JSON list in its last ``<answer>``) with VLM-R1's IoU: intersection on ``x2 - 1`` /
  ``y2 - 1`` with +1, union of exclusive areas. Anything that raises scores 0.
- ``format``: ``<think>...</think>`` then an ``<answer>`` holding ``{...[d, d, d, d]...}``.

Ranked (the Dr. Seg idea): the IoU is ranked; an answer without a readable box leaves it out of
the window and out of its sum, which is what the published 0 gives it there.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["rec_accuracy", "rec_format"]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_BOX = re.compile(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]")
_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?\{.*\[\d+,\s*\d+,\s*\d+,\s*\d+\].*\}.*?</answer>",
                     re.DOTALL)  # fmt: skip


def rec_format(text: str) -> float:
    """VLM-R1's ``format_reward_rec`` for one completion. O(len(text)).

    Examples:
        >>> rec_format('<think>a</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>')
        1.0
    """
    return 1.0 if _FORMAT.search(text) else 0.0


def _iou(a: list[float], b: list[Any]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2] - 1, b[2] - 1), min(a[3] - 1, b[3] - 1)
    inter = (x2 - x1 + 1) * (y2 - y1 + 1) if x1 < x2 and y1 < y2 else 0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter) / union


def rec_accuracy(text: str, solution: str, image_grid_thw: Any, image_size: Any) -> float | None:
    """VLM-R1's ``iou_reward`` for one completion; ``None`` when the completion has no
    readable box (the published code scores 0 there). ``image_size`` is the original (width,
    height). Raises like the published code on a malformed ``solution``. O(len(text)).

    Examples:
        >>> rec_accuracy('<answer>[0, 0, 28, 28]</answer>', '<answer>[0, 0, 56, 56]</answer>',
        ...              (1, 2, 2), (56, 56))
        1.0
    """
    sol = json.loads(_ANSWER.findall(solution)[-1].strip())
    input_h, input_w = int(image_grid_thw[1] * 14), int(image_grid_thw[2] * 14)
    width, height = image_size
    try:
        m = _ANSWER.search(text)
        box = _BOX.search(m.group(1).strip()) if m else None
        if box is None:
            return None
        b = [int(v) for v in box.groups()]
        b = [b[0] / input_w * width, b[1] / input_h * height,
             b[2] / input_w * width, b[3] / input_h * height]  # fmt: skip
        return _iou(b, sol)
    except (TypeError, IndexError, ZeroDivisionError):
        return 0.0
