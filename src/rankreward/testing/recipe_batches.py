"""Batches of completions and ground truths in each recipe preset's published format, for tests,
benchmarks and examples: answers near their ground truths (jittered), with a share of malformed
ones (no JSON, missing keys, no box) so not-applicable values occur.

Examples:
    >>> texts, gts = segzero_batch(4, np.random.default_rng(0))
    >>> len(texts), gts[0].startswith("<box>(")
    (4, True)
"""

from __future__ import annotations

import json

import numpy as np

__all__ = ["ovd_batch", "perception_r1_batch", "rec_batch", "segzero_batch", "visual_rft_batch"]


def _box(rng: np.random.Generator, hi: int = 500) -> list[int]:
    x1, y1 = (int(v) for v in rng.integers(0, hi, 2))
    return [x1, y1, x1 + int(rng.integers(20, 200)), y1 + int(rng.integers(20, 200))]


def _jitter(rng: np.random.Generator, values: list[int], s: int = 15) -> list[int]:
    return [int(v + rng.integers(-s, s + 1)) for v in values]


def segzero_batch(
    n: int, rng: np.random.Generator, malformed: float = 0.1, group: int = 1
) -> tuple[list[str], list[str]]:
    """Seg-Zero completions (``{"bbox", "points_1", "points_2"}`` JSON in ``<answer>``) and its
    ``<box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points>`` ground truths; a ``malformed``
    share has no readable box. ``group`` consecutive completions share a ground truth (GRPO's
    completions of one prompt)."""
    texts, gts = [], []
    for i in range(n):
        if i % group == 0:
            b = _box(rng)
            p = [[b[0] + 10, b[1] + 10], [b[2] - 10, b[3] - 10]]
            gt = (f"<box>({b[0]},{b[1]}),({b[2]},{b[3]})</box>"
                  f"<points>({p[0][0]},{p[0][1]}),({p[1][0]},{p[1][1]})</points>")  # fmt: skip
        gts.append(gt)
        if rng.random() < malformed:
            texts.append("<think>unsure</think><answer>no object</answer>")
            continue
        answer = {"bbox": _jitter(rng, b), "points_1": _jitter(rng, p[0]),
                  "points_2": _jitter(rng, p[1])}  # fmt: skip
        texts.append(f"<think>look</think><answer>{json.dumps(answer)}</answer>")
    return texts, gts


def rec_batch(n: int, rng: np.random.Generator, group: int = 1) -> tuple[list[str], list[str]]:
    """VLM-R1 REC completions (``{"bbox_2d": [...]}`` in ``<answer>``) and its
    ``<answer>[x1, y1, x2, y2]</answer>`` solutions, ``group`` completions per solution."""
    texts, gts = [], []
    for i in range(n):
        if i % group == 0:
            b = _box(rng, 400)
        gts.append(f"<answer>{json.dumps(b)}</answer>")
        answer = json.dumps({"bbox_2d": _jitter(rng, b)})
        texts.append(f"<think>x</think><answer>{answer}</answer>")
    return texts, gts


def perception_r1_batch(
    n: int, rng: np.random.Generator, malformed: float = 0.1, group: int = 1
) -> tuple[list[str], list[str]]:
    """Perception-R1 grounding completions (``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``, 0-1000)
    and its ``[x1, y1, x2, y2]`` solutions; a ``malformed`` share has no box; ``group``
    completions per solution."""
    texts, gts = [], []
    for i in range(n):
        if i % group == 0:
            b = _box(rng, 800)
        gts.append(str(b))
        if rng.random() < malformed:
            texts.append("<|object_ref_start|>it<|object_ref_end|> is not visible")
            continue
        j = _jitter(rng, b)
        texts.append("<|object_ref_start|>it<|object_ref_end|>"
                     f"<|box_start|>({j[0]},{j[1]}),({j[2]},{j[3]})<|box_end|><|im_end|>")  # fmt: skip
    return texts, gts


def ovd_batch(n: int, rng: np.random.Generator, group: int = 1) -> tuple[list[str], list[str]]:
    """VLM-R1 OVD completions (a fenced JSON list of ``{"bbox_2d", "label"}`` in ``<answer>``)
    and solutions in the same form, two labelled boxes per solution."""
    texts, gts = [], []
    for i in range(n):
        if i % group == 0:
            gt = [
                {"bbox_2d": _box(rng), "label": str(lab)} for lab in rng.choice(["cat", "dog"], 2)
            ]
        pred = [{"bbox_2d": _jitter(rng, g["bbox_2d"]), "label": g["label"]} for g in gt]
        gts.append(f"<answer>```json{json.dumps(gt)}```</answer>")
        texts.append(f"<think>x</think><answer>```json{json.dumps(pred)}```</answer>")
    return texts, gts


def visual_rft_batch(
    n: int, rng: np.random.Generator, group: int = 1
) -> tuple[list[str], list[str]]:
    """Visual-RFT completions (a Python-literal list of ``{'Position', 'Confidence'}`` in
    ``<answer>``) and its solutions."""
    texts, gts = [], []
    for i in range(n):
        if i % group == 0:
            b = _box(rng)
        gts.append("<answer>" + str([{"Position": b, "Confidence": 1}]) + "</answer>")
        texts.append("<think>x</think><answer>"
                     + str([{"Position": _jitter(rng, b), "Confidence": 0.9}]) + "</answer>")  # fmt: skip
    return texts, gts
