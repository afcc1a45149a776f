"""Synthetic Dr. Seg completions and ground truths (valid, malformed and adversarial, mixed) for
tests and benchmarks. Deterministic for a given generator."""

from __future__ import annotations

import json

import numpy as np

__all__ = ["synthetic_batch"]


def _objects(rng: np.random.Generator, n: int, size: int = 840) -> list[dict]:
    out = []
    for _ in range(n):
        x, y = rng.integers(0, size - 60, 2)
        w, h = rng.integers(8, 200, 2)
        x2, y2 = min(int(x + w), size - 1), min(int(y + h), size - 1)
        out.append(
            {
                "bbox_2d": [int(x), int(y), x2, y2],
                "point_2d": [int((x + x2) // 2), int((y + y2) // 2)],
            }
        )
    return out


def _jitter(rng: np.random.Generator, objs: list[dict]) -> list[dict]:
    out = []
    for o in objs:
        b = (np.array(o["bbox_2d"]) + rng.normal(0, 8, 4)).round().astype(int).tolist()
        p = (np.array(o["point_2d"]) + rng.normal(0, 20, 2)).round().astype(int).tolist()
        out.append({"bbox_2d": b, "point_2d": p})
    return out


_REASONING = [
    "The question asks for the object on the left.",
    "I compare the two candidates by colour.",
    "The red one is closer to the table.",
    "The shape matches the description.",
    "There is a second instance behind it.",
]


def synthetic_batch(
    n: int, rng: np.random.Generator, max_objects: int = 20
) -> tuple[list[str], list[str]]:
    """``n`` completions with ground truths: about 70% well-formed answers of 1..max_objects
    objects (jittered, reordered, some missing or extra), 30% malformed or adversarial."""
    completions, gts = [], []
    for _ in range(n):
        gt = _objects(rng, int(rng.integers(1, max_objects + 1)))
        gts.append(json.dumps(gt))
        pred = _jitter(rng, gt)
        rng.shuffle(pred)
        k = int(rng.integers(0, 4))
        if k == 0 and len(pred) > 1:
            pred = pred[:-1]
        elif k == 1:
            pred = pred + _objects(rng, 1)
        think = " ".join(rng.choice(_REASONING, int(rng.integers(1, 5))))
        look = "<look>the red handle</look>" if rng.random() < 0.8 else ""
        kind = rng.random()
        if kind < 0.7:
            text = (
                f"<think>{think} {look} {think[:20]}</think>\n<answer>{json.dumps(pred)}</answer>"
            )
        elif kind < 0.75:
            text = f"<think>{think}</think><answer>{json.dumps(pred)[:-3]}</answer>"  # broken JSON
        elif kind < 0.8:
            bad = [dict(o, bbox_2d=o["bbox_2d"][:3]) for o in pred]
            text = f"<think>{think}{look}</think><answer>{json.dumps(bad)}</answer>"
        elif kind < 0.85:
            text = f"{think} <answer>{json.dumps(pred)}</answer> trailing"  # no think
        elif kind < 0.9:
            text = "<think>[your reasoning text] <look> [your visual focus] </look></think><answer>[]</answer>"
        elif kind < 0.95:
            text = "<think>" + "<look>" * int(rng.integers(10, 2000)) + think  # unclosed tags
        else:
            text = f"<think>{think}. {think}. {think}.</think><answer>```json\n{json.dumps(pred)}\n```</answer>"
        completions.append(text)
    return completions, gts
