"""VLM-R1's REC reward functions (``vlm_modules/qwen_module.py``: ``iou_reward``,
``format_reward_rec``) restated as a test oracle, called the way its trainer calls them:
conversational completions, ``solution``, ``image_grid_thw`` and ``image_path`` columns."""

from __future__ import annotations

import json
import re

from PIL import Image


def format_reward_rec(completions, **kwargs):
    pattern = r"<think>.*?</think>\s*<answer>.*?\{.*\[\d+,\s*\d+,\s*\d+,\s*\d+\].*\}.*?</answer>"
    return [1.0 if re.search(pattern, c[0]["content"], re.DOTALL) else 0.0 for c in completions]


def iou_reward(completions, solution, **kwargs):
    def iou(b1, b2):
        ix1, iy1 = max(b1[0], b2[0]), max(b1[1], b2[1])
        ix2, iy2 = min(b1[2] - 1, b2[2] - 1), min(b1[3] - 1, b2[3] - 1)
        inter = (ix2 - ix1 + 1) * (iy2 - iy1 + 1) if ix1 < ix2 and iy1 < iy2 else 0
        union = (b1[2] - b1[0]) * (b1[3] - b1[1]) + (b2[2] - b2[0]) * (b2[3] - b2[1]) - inter
        return float(inter) / union

    rewards = []
    for i, (c, sol) in enumerate(zip(completions, solution, strict=True)):
        grid = kwargs["image_grid_thw"][i]
        width, height = Image.open(kwargs["image_path"][i][0]).size
        in_h, in_w = int(grid[1] * 14), int(grid[2] * 14)
        sol = json.loads(re.findall(r"<answer>(.*?)</answer>", sol, re.DOTALL)[-1].strip())
        reward = 0.0
        try:
            m = re.search(r"<answer>(.*?)</answer>", c[0]["content"], re.DOTALL)
            if m:
                b = re.search(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]", m.group(1).strip())
                if b:
                    box = [int(v) for v in b.groups()]
                    box = [box[0] / in_w * width, box[1] / in_h * height,
                           box[2] / in_w * width, box[3] / in_h * height]  # fmt: skip
                    reward = iou(box, sol)
        except Exception:
            pass
        rewards.append(reward)
    return rewards
