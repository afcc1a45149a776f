"""Recipes as `ComponentReward` s: ``preset(name, ranked=True)``.

So far: ``"drseg"`` (the Dr. Seg reward: structure, answer_items, look and non_repeat raw,
x1..x3 ranked; equal to `DrSegReward()` sample for sample), ``"visionreasoner"`` (the
paper's baseline: its format, accuracy and non_repeat; ``ranked=True`` ranks its accuracy) and
``"seg-zero"`` (Seg-Zero's ``seg_compute_score``, see `rankreward.rewards.segzero`;
``ranked=True`` ranks the IoU, box L1 and point distance behind its thresholded terms) and
``"vlm-r1-rec"`` (VLM-R1's REC accuracy and format, see `rankreward.rewards.vlmr1`;
``ranked=True`` ranks the IoU) and ``"vlm-r1-ovd"`` (VLM-R1's open-vocabulary detection
accuracy, ``method="odLength"`` (default), ``"od_ap"`` or ``"od_ap50"``, and format;
``ranked=True`` ranks the AP) and ``"visual-rft"`` (Visual-RFT's detection IoU and confidence
terms and format, see `rankreward.rewards.visualrft`) and ``"perception-r1"`` (Perception-R1's
grounding IoU squared and format, see `rankreward.rewards.perception_r1`; ``ranked=True`` ranks
the IoU).
``ranked=False`` gives a recipe as published (for Dr. Seg: raw x1..x3, the paper's ablation).

Each preset reads a batch once: the components share one parse of the batch (the Dr. Seg
scanner and matcher), cached per call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..distributed.ray_actor import RayWindows
from ..drseg.reward import DrSegReward, VisionReasonerReward
from ..normalize.windows import LocalWindows
from .perception_r1 import grounding_format, grounding_iou
from .scan import SEGZERO_COLUMNS, grounding_batch, segzero_batch_terms
from .segzero import read_segzero, segzero_terms
from .spec import Component, ComponentReward
from .visualrft import math_verified_batch, rft_format, rft_terms
from .vlmr1 import (
    OVD_METHODS,
    image_size,
    ovd_accuracy_batch,
    ovd_format,
    rec_batch_scores,
)

__all__ = ["PRESETS", "preset"]


class _Shared:
    """One breakdown per batch for all of a preset's components: `ComponentReward.score`
    hands every component the same two list objects, which are kept (so never recycled).
    ``compute(answers, ground_truths) -> {name: per-sample values}``."""

    def __init__(self, compute: Any) -> None:
        self.compute = compute
        self._batch: tuple[list, list] | None = None
        self._value: dict[str, Any] = {}

    def get(self, answers: list, gts: list, context: dict | None = None) -> dict[str, Any]:
        if self._batch is None or self._batch[0] is not answers or self._batch[1] is not gts:
            args = (answers, gts) if context is None else (answers, gts, context)
            self._value, self._batch = self.compute(*args), (answers, gts)
        return self._value

    def part(self, name: str) -> _Part:
        return _Part(self, name)


class _Each:
    """A per-answer function as a component (a class, so presets pickle)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, answers: list, gts: list) -> list:
        return [self.fn(a) for a in answers]


class _Part:
    """One breakdown entry as a component function (a class, so presets pickle)."""

    def __init__(self, shared: _Shared, name: str) -> None:
        self.shared, self.name = shared, name

    def __call__(self, answers: list, gts: list, context: dict | None = None) -> Any:
        return self.shared.get(answers, gts, context)[self.name]


def _drseg(ranked: bool = True, **options: Any) -> ComponentReward:
    # raw x1..x3 from the released reward's own parser and matcher; ranking happens in the spec
    reward = DrSegReward(accuracy="raw", **options)
    shared = _Shared(reward.score)
    w = reward.weights
    parts = [
        Component("structure", shared.part("structure"), w["structure"]),
        Component("answer_items", shared.part("answer_items"), w["answer_items"]),
        Component("look", shared.part("look"), w["look"]),
        Component("x1", shared.part("x1"), w["r1"], ranked=ranked),
        Component("x2", shared.part("x2"), w["r2"], ranked=ranked),
        Component("x3", shared.part("x3"), w["r3"], ranked=ranked),
        Component("non_repeat", shared.part("non_repeat"), w["non_repeat"]),
    ]
    return ComponentReward(parts, max_reward=reward.max_reward)


def _visionreasoner(ranked: bool = False, **options: Any) -> ComponentReward:
    reward = VisionReasonerReward(**options)
    shared = _Shared(reward.score)
    # the released sum's order: format terms, non_repeat, then the accuracy
    parts = [
        Component("structure", shared.part("structure")),
        Component("answer_items", shared.part("answer_items")),
        Component("non_repeat", shared.part("non_repeat")),
        Component("accuracy", shared.part("accuracy"), ranked=ranked),
    ]
    return ComponentReward(parts, max_reward=reward.max_reward)


class _SegZeroTerms:
    """Seg-Zero's terms of a batch, as per-sample arrays (NaN where a value cannot be
    computed): the batch scanner, and the readable restatement for the rows it leaves."""

    def __call__(self, texts: list, gts: list) -> dict[str, np.ndarray]:
        gts = [str(g) for g in gts]
        terms, fallback = segzero_batch_terms(texts, gts)
        for k in np.flatnonzero(fallback).tolist():
            row = segzero_terms(read_segzero(texts[k]), gts[k])
            terms[k] = [np.nan if row[c] is None else row[c] for c in SEGZERO_COLUMNS]
        return {name: terms[:, j] for j, name in enumerate(SEGZERO_COLUMNS)}


def _segzero(ranked: bool = False, **options: Any) -> ComponentReward:
    if options:
        raise TypeError(f"the seg-zero preset takes no options, got {sorted(options)}")
    shared = _Shared(_SegZeroTerms())
    acc = {"iou": "iou_value", "box_l1": "box_l1_value", "point_l1": "point_value"}

    def term(name: str) -> Component:
        if ranked and name in acc:
            return Component(name, shared.part(acc[name]), ranked=True)
        return Component(name, shared.part(name))

    # the published sum's order
    names = ("iou", "thinking_format", "segmentation_format", "point_l1", "box_l1")
    return ComponentReward([term(n) for n in names], max_reward=5.0)


class _RecScores:
    """VLM-R1's REC accuracy and format of a batch (`rec_batch_scores`); the image size comes
    from ``image_size`` (width, height) or, as VLM-R1 reads it, from ``image_path`` (its first
    path, read once per path)."""

    def __call__(self, texts: list, gts: list, context: dict) -> dict[str, np.ndarray]:
        sizes = context.get("image_size")
        if sizes is None:
            if "image_path" not in context:
                raise TypeError("the vlm-r1-rec accuracy needs an image_size or image_path column")
            sizes = [image_size(str(p[0] if isinstance(p, (list, tuple)) else p))
                     for p in context["image_path"]]  # fmt: skip
        grids = context["image_grid_thw"]
        accuracy, fmt = rec_batch_scores(texts, [str(g) for g in gts], grids, sizes)
        return {"accuracy": accuracy, "format": fmt}


#: The columns VLM-R1's REC reward reads.
_REC_COLUMNS = ("image_grid_thw", "image_size?", "image_path?")


def _vlmr1_rec(ranked: bool = False, **options: Any) -> ComponentReward:
    if options:
        raise TypeError(f"the vlm-r1-rec preset takes no options, got {sorted(options)}")
    shared = _Shared(_RecScores())
    # VLM-R1's reward_funcs order: accuracy, then format
    parts = [
        Component("accuracy", shared.part("accuracy"), ranked=ranked, context=_REC_COLUMNS),
        Component("format", shared.part("format"), context=_REC_COLUMNS),
    ]
    return ComponentReward(parts, max_reward=2.0)


class _OvdAccuracy:
    def __init__(self, method: str) -> None:
        if method not in OVD_METHODS:
            raise ValueError(f"method must be one of {OVD_METHODS}, got {method!r}")
        self.method = method

    def __call__(self, texts: list, gts: list) -> np.ndarray:
        return ovd_accuracy_batch(texts, [str(g) for g in gts], self.method)


def _vlmr1_ovd(ranked: bool = False, method: str = "odLength") -> ComponentReward:
    # VLM-R1's reward_funcs order: accuracy, then format
    return ComponentReward([Component("accuracy", _OvdAccuracy(method), ranked=ranked),
                            Component("format", _Each(ovd_format))], max_reward=2.0)  # fmt: skip


class _RftTerms:
    """Visual-RFT's two accuracy terms of a batch: the math_verify verdict asked once per
    completion for both (`math_verified_batch`), then one matching per completion for both
    (`rft_terms`)."""

    def __init__(self, math_verify: bool) -> None:
        self.math_verify = math_verify

    def __call__(self, texts: list, gts: list) -> dict[str, list]:
        sols = [str(g) for g in gts]
        verified = (
            math_verified_batch(texts, sols) if self.math_verify else np.zeros(len(texts), bool)
        )
        rows = [rft_terms(t, s, verified=bool(v))
                for t, s, v in zip(texts, sols, verified.tolist(), strict=True)]  # fmt: skip
        return {term: [row[term] for row in rows] for term in ("iou", "confidence")}


def _visual_rft(ranked: bool = False, math_verify: bool = True) -> ComponentReward:
    if math_verify:
        try:
            import math_verify as _  # noqa: F401
        except ImportError:
            raise ImportError(
                "the visual-rft preset reproduces Visual-RFT's math_verify shortcut: pip install "
                "'rankreward[recipes]' (or pass math_verify=False, a documented deviation)"
            ) from None
    # Visual-RFT's reward functions: accuracy_iou, accuracy_confidence, format
    shared = _Shared(_RftTerms(math_verify))
    return ComponentReward([
        Component("iou", shared.part("iou"), ranked=ranked),
        Component("confidence", shared.part("confidence"), ranked=ranked),
        Component("format", _Each(rft_format)),
    ], max_reward=3.0)  # fmt: skip


class _Grounding:
    """Perception-R1's grounding term and format of a batch: the batch scanner, and the
    readable restatement for the rows it leaves (a class, so presets pickle)."""

    def __init__(self, ranked: bool) -> None:
        self.ranked = ranked

    def __call__(self, texts: list, gts: list) -> dict[str, list]:
        sols = [str(g) for g in gts]
        values, fallback = grounding_batch(texts, sols)
        iou, found, fmt = values[:, 0].tolist(), values[:, 1].tolist(), values[:, 2].tolist()
        for k in np.flatnonzero(fallback).tolist():
            iou[k], found[k] = grounding_iou(texts[k], sols[k])
            fmt[k] = grounding_format(texts[k])
        if self.ranked:
            grounding = [v if f else None for v, f in zip(iou, found, strict=True)]
        else:
            grounding = [v**2 for v in iou]  # Python's float power, as published
        return {"grounding": grounding, "format": fmt}


def _perception_r1(ranked: bool = False) -> ComponentReward:
    shared = _Shared(_Grounding(ranked))
    # Perception-R1's grounding script: pr1_grounding, then pr1_grounding_format
    return ComponentReward([Component("grounding", shared.part("grounding"), ranked=ranked),
                            Component("format", shared.part("format"))], max_reward=2.0)  # fmt: skip


PRESETS = {"drseg": _drseg, "visionreasoner": _visionreasoner, "seg-zero": _segzero,
           "vlm-r1-rec": _vlmr1_rec, "vlm-r1-ovd": _vlmr1_ovd, "visual-rft": _visual_rft,
           "perception-r1": _perception_r1}  # fmt: skip


def preset(
    name: str,
    ranked: bool | None = None,
    *,
    task_key: str | None = None,
    windows: LocalWindows | RayWindows | None = None,
    **options: Any,
) -> ComponentReward:
    """A recipe's reward as a `ComponentReward`; ``ranked=None`` is the recipe's own choice
    (Dr. Seg ranks, the others do not). ``task_key`` and ``windows`` are as in
    `ComponentReward` (the trainer adapters pass shared, counted windows); the other options
    are the recipe's own (see `PRESETS`' functions). O(1).

    Examples:
        >>> gt = ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']
        >>> text = '<think><look>a</look></think><answer>[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]</answer>'
        >>> preset("drseg")([text], ground_truth=gt) == DrSegReward()([text], ground_truth=gt)
        True
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    if ranked is not None:
        options["ranked"] = ranked
    reward = PRESETS[name](**options)
    reward.task_key = task_key
    if windows is not None:
        reward.windows = windows
    return reward
