"""Perception-R1's grounding reward functions (``src/open_r1/rewards.py`` and the helpers of
``src/open_r1/utils.py``) restated as a test oracle (``eval`` of the solution kept here)."""

from __future__ import annotations

import re


def parse_float_sequence_within(s):
    n = r"(-?\d+(?:\.\d+)?)"
    for pattern in (rf"\[\s*{n},\s*{n},\s*{n},\s*{n}\s*\]", rf"\(\s*{n},\s*{n},\s*{n},\s*{n}\s*\)",
                    rf"\(\s*{n},\s*{n}\),\s*\(\s*{n},\s*{n}\)"):  # fmt: skip
        m = re.search(pattern, s)
        if m:
            return [float(m.group(i)) for i in range(1, 5)]
    return [0, 0, 0, 0]


def extract_bbox_answer(content):
    q = "<|box_start|>" in content
    b = parse_float_sequence_within(content)
    if not q:
        b = [int(x * 1000) for x in b]
    return b, q


def compute_iou(b1, b2):
    xl, yt = max(b1[0], b2[0]), max(b1[1], b2[1])
    xr, yb = min(b1[2], b2[2]), min(b1[3], b2[3])
    inter = max(0, xr - xl) * max(0, yb - yt)
    union = (b1[2] - b1[0]) * (b1[3] - b1[1]) + (b2[2] - b2[0]) * (b2[3] - b2[1]) - inter
    return inter / union


def pr1_grounding_reward(completions, solution, **kwargs):
    out = []
    for c, sol in zip([x[0]["content"].replace("<|endoftext|>", "") for x in completions], solution,
                      strict=True):  # fmt: skip
        box, _ = extract_bbox_answer(c)
        out.append(compute_iou(box, eval(sol)) ** 2)
    return out


def pr1_grounding_format_reward(completions, **kwargs):
    pattern = r"^<|object_ref_start|>.*?<|object_ref_end|><|box_start|>.*?<|box_end|><|im_end|>"
    contents = [x[0]["content"].replace("<|endoftext|>", "") for x in completions]
    return [1.0 if re.match(pattern, c) else 0.0 for c in contents]
