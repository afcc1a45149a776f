"""The Dr. Seg reward and the VisionReasoner baseline as named rewards of the framework.

`DrSegReward` is the framework's `ComponentReward` of the Dr. Seg recipe
(`batch.DrSegRecipe`), built by name: ``preset("drseg")`` returns one (`drseg_reward`), so the
two are one object with one set of keys, parts, metrics and state files. What makes it the
paper's is data: its components and their ``part`` (the paper's format, look, accuracy and
non_repeat parts), its three ranked accuracy metrics sharing one 3-metric window
(``accuracy``, its ``normalizer``), its log columns (``format``, ``accuracy``, ``num_pred``,
``num_gt``) and the keys an earlier release used (``r1``..``r3``, read with a
``FutureWarning``). A batch scores the one way every recipe does: texts ->
``DrSegRecipe.terms`` (scan, fallbacks, accuracy) -> rank -> weighted sum (the paper's
per-step semantics: rank against the windows as they stood before the step; the step's values
join them at `commit`).

Dr. Seg's breakdown keys, before and after the one-object release:

| before (`DrSegReward`) | before (``preset("drseg")``) | now (both) |
| --- | --- | --- |
| ``r1``, ``r2``, ``r3`` | ``x1_rank``, ``x2_rank``, ``x3_rank`` | ``x1_rank``..``x3_rank`` (``r1``.. warn) |
| ``format``, ``accuracy``, ``num_pred``, ``num_gt``, ``num_problems`` | (none) | the same |
| parts format, look, accuracy, non_repeat | one part per component | format, look, accuracy, non_repeat |
| metrics ``drseg/r1``.. | ``drseg/x1_raw``.. | ``drseg/x1``, ``drseg/x1_rank``, .. |
| a normalizer state file | a window-set file | a window-set file (both old ones load) |
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...._deprecation import REMOVAL_RELEASE, warn_renamed
from ....normalize import LocalWindows, NormalizerLike
from ...spec import Component, ComponentReward
from .accuracy import AccuracyConfig, check_compat
from .batch import NON_REPEAT_MODES, DrSegRecipe
from .parser import DEFAULT_MAX_CHARS
from .prompt import LOOK_TO_CONFIRM

__all__ = [
    "ACCURACY_MODES",
    "COMPONENTS",
    "COMPONENT_MAX",
    "DrSegReward",
    "VisionReasonerReward",
    "drseg_reward",
    "visionreasoner_reward",
]

#: Names of the per-sample components in `DrSegReward.last_breakdown` and the weights mapping
#: (the 0.1 weight keys ``r1..r3`` are ``x1..x3``; they still work, with a `FutureWarning`).
COMPONENTS = ("structure", "answer_items", "look", "x1", "x2", "x3", "non_repeat")
#: The largest value of each component (answer items score 0..2, the rest 0..1).
COMPONENT_MAX = {name: 2.0 if name == "answer_items" else 1.0 for name in COMPONENTS}
#: What the accuracy part of the reward is.
ACCURACY_MODES = ("ranked", "raw", "visionreasoner")
#: The window the ranked accuracy metrics share in `DrSegReward`.
ACCURACY_WINDOW = "accuracy"


def _setup(
    weights: Mapping[str, float] | None,
    *,
    compat: str = "released",
    look: bool = True,
    accuracy: str = "ranked",
    non_repeat: str = "drseg",
    template: str = LOOK_TO_CONFIRM,
    strict: bool | None = None,
    config: AccuracyConfig | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    frame: str = "absolute",
    **thresholds: Any,
) -> tuple[DrSegRecipe, dict[str, float]]:
    """The recipe and the weights of a Dr. Seg reward, options checked."""
    if strict is not None:  # the older switch: strict=True/False
        warn_renamed("strict=", f"compat={'strict' if strict else 'lenient'!r}", stacklevel=5)
        compat = "strict" if strict else "lenient"
    check_compat(compat)
    if accuracy not in ACCURACY_MODES:
        raise ValueError(f"accuracy must be one of {ACCURACY_MODES}, got {accuracy!r}")
    if non_repeat not in NON_REPEAT_MODES:
        raise ValueError(f"non_repeat must be one of {NON_REPEAT_MODES}, got {non_repeat!r}")
    weights = dict(weights or {})
    for k in (1, 2, 3):
        if f"r{k}" in weights:
            warn_renamed(f"the weight key 'r{k}'", f"'x{k}'", stacklevel=5)
            weights[f"x{k}"] = weights.pop(f"r{k}")
    unknown = set(weights) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown weight keys {sorted(unknown)}; known: {COMPONENTS}")
    w = {name: float(weights.get(name, 1.0)) for name in COMPONENTS}
    if not look:
        w["look"] = 0.0
    base = config or AccuracyConfig()
    unknown = [k for k in thresholds if k not in base.__dict__]
    if unknown:
        known = ["weights", "compat", "look", "accuracy", "non_repeat", "template", "config",
                 "max_chars", "frame", *base.__dict__]  # fmt: skip
        near = difflib.get_close_matches(unknown[0], [*known, "ranked"], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise TypeError(f"no Dr. Seg option {unknown[0]!r}{hint}; the options: {known}")
    cfg = AccuracyConfig(**{**base.__dict__, **thresholds}) if thresholds else base
    recipe = DrSegRecipe(compat=compat, non_repeat=non_repeat, config=cfg, template=template,
                         max_chars=max_chars, frame=frame)  # fmt: skip
    return recipe, w


def _components(
    w: Mapping[str, float], accuracy: str, rank_baseline: bool = False
) -> list[Component]:
    """The components in the paper's sum order, each in its paper part; ranked x1..x3 share
    the ``accuracy`` window (the baseline's accuracy ranks in it alone with
    ``rank_baseline``)."""
    parts = [Component("structure", weight=w["structure"], part="format"),
             Component("answer_items", weight=w["answer_items"], part="format"),
             Component("look", weight=w["look"])]  # fmt: skip
    if accuracy != "visionreasoner":
        ranked = accuracy == "ranked"
        window = ACCURACY_WINDOW if ranked else None
        parts += [Component(f"x{k}", weight=w[f"x{k}"], ranked=ranked, window=window,
                            part="accuracy") for k in (1, 2, 3)]  # fmt: skip
    parts.append(Component("non_repeat", weight=w["non_repeat"]))
    if accuracy == "visionreasoner":  # the released sum: format, non_repeat, then accuracy
        parts.append(Component("accuracy", ranked=rank_baseline))
    return parts


def _zeros(breakdown: Mapping[str, Any]) -> np.ndarray:
    return np.zeros(len(breakdown["reward"]))


def _log_columns(accuracy: str, look: bool = True) -> dict[str, str | tuple[str, ...]]:
    """The columns the paper logs beside the components: its format (0..4) and accuracy
    (0..3) as the reward sums them, and the answer counts."""
    fmt = ("structure", "answer_items", "look") if look else ("structure", "answer_items")
    columns: dict[str, str | tuple[str, ...]] = {"format": fmt}
    if accuracy != "visionreasoner":
        columns["accuracy"] = ("x1", "x2", "x3")
    return {**columns, "num_pred": "num_pred", "num_gt": "num_gt"}


def _renamed(accuracy: str) -> dict[str, Any]:
    """The keys `DrSegReward.score` returned before the one-object release: r1..r3 were what
    the sum used for x1..x3 (ranks, the raw values, or 0 for the baseline's accuracy)."""
    if accuracy == "visionreasoner":
        return {f"r{k}": _zeros for k in (1, 2, 3)}
    suffix = "_rank" if accuracy == "ranked" else ""
    return {f"r{k}": f"x{k}{suffix}" for k in (1, 2, 3)}


def _max_reward(w: Mapping[str, float], accuracy: str) -> float:
    parts = dict(w)
    if accuracy == "visionreasoner":  # r1..r3 are 0; the accuracy part is 0..3
        parts.update(x1=0.0, x2=0.0, x3=0.0)
        return sum(max(v, 0.0) * COMPONENT_MAX[n] for n, v in parts.items()) + 3.0
    return sum(max(v, 0.0) * COMPONENT_MAX[n] for n, v in parts.items())


class DrSegReward(ComponentReward):
    """The Dr. Seg reward as a TRL-style callable ``(completions, ground_truth, **kw) -> list``.

    reward = structure + answer_items + look + r1 + r2 + r3 + non_repeat (each times its
    weight, all 1 by default: 0..8), where r1..r3 are the ranks of the raw accuracy metrics
    x1..x3 in the normalizer's windows. With no arguments this is the released reward
    (``docs/paper.md``), input for input.

    It is the framework's reward (`ComponentReward`, the same object as ``preset("drseg")``):
    this class only names the construction, and adds no behaviour of its own.

    Args:
        normalizer: the ``accuracy`` window: a 3-metric `RankNormalizer` or a wrapper with the
            same calls (`AutoCommitNormalizer`, `DistributedRankNormalizer`,
            `RayRankNormalizer`); default the paper's (`WindowSpec`). Only with the ranked
            accuracy.
        weights: per-component weights, keys from `COMPONENTS` (missing keys weigh 1).
        compat: how answers are read. ``"released"`` (default): the released code's rules
            (M counts every item; coordinates coerced like ``float()``; wrong widths zero the
            geometry but keep the count fit; no or empty answer against an empty ground truth
            has count fit 1). ``"strict"``: an answer that is not a list of well-formed objects
            scores (0, 0, 0) with a problem. ``"lenient"``: strict, but also accepts a fenced
            JSON answer, a single object and numeric strings. docs/reward.md lists every input
            class where they differ.
        look: the paper's look part of the format score (the ablations turn it off).
        accuracy: ``"ranked"`` (the paper: r1..r3 are ranks), ``"raw"`` (r1..r3 are x1..x3,
            no normalizer) or ``"visionreasoner"`` (the baseline's matched-cost accuracy,
            0..3, reported in ``accuracy``; r1..r3 are 0).
        non_repeat: ``"drseg"`` (placeholders + normalised sentences) or ``"visionreasoner"``
            (sentences split on ``.`` only).
        template: the prompt template in use; its bracketed placeholder phrases are what
            non_repeat rejects (`placeholder_phrases`). Default: the released prompt.
        config: thresholds (`AccuracyConfig`); keyword overrides like ``iou_threshold=0.7``
            are accepted directly.
        max_chars: completions longer than this score 0 everywhere (``too_long`` problem).
        frame: the answers' coordinate frame: ``"absolute"`` (default, the paper: pixels of
            the 840x840 image), ``"rel1000"`` (Qwen3-VL, Qwen2-VL) or ``"rel1"``. A
            non-absolute answer is mapped to the pixels of its sample's image from the
            ``image_size`` column (width, height) before any geometry (``x * W / 1000``,
            float64); everything after is the released reward's (docs/reward.md).

        windows: where the windows live instead of ``normalizer`` (any `Windows` host).
        name: what the reward is called in logs (``drseg/x1``, ...).
        rank_baseline: with ``accuracy="visionreasoner"``, rank the baseline's accuracy in
            its own window (the ``visionreasoner`` preset's ``ranked=True``).

    Breakdown (`score`): the components structure, answer_items, look, x1..x3, non_repeat
    (``accuracy`` for the baseline's), ``x1_rank``..``x3_rank`` when ranked, ``format``
    (0..4) and ``accuracy`` (0..3) as the reward sums them, ``num_pred``, ``num_gt``,
    ``num_problems``, ``reward``, ``terms`` and ``problems``. Parts (one TRL function each):
    format, look, accuracy, non_repeat.

    Per-step semantics (the paper): every call ranks against the windows as they stood before
    the step and stages the raw metrics; `commit` (called by the trainer adapter once per
    optimizer step, or by you) appends them. A warning fires if more than a window's worth of
    values is staged without a commit, since that usually means nobody is committing.

    Thread safety: the whole of `score` (ranking, staging, the breakdown it returns) runs under
    one lock, so concurrent calls are serialised and each gets its own breakdown; `commit`
    takes the same lock. `last_breakdown` is a convenience for single-threaded use (the
    latest call's): from threads, use what `score` returns.

    Examples:
        >>> reward = DrSegReward()
        >>> text = ('<think>the cup <look>red handle</look></think>'
        ...         '<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>')
        >>> reward([text], ground_truth=['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'])
        [8.0]
        >>> reward.commit()
        1
    """

    def __init__(
        self,
        normalizer: NormalizerLike | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        compat: str = "released",
        look: bool = True,
        accuracy: str = "ranked",
        non_repeat: str = "drseg",
        template: str = LOOK_TO_CONFIRM,
        strict: bool | None = None,
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        frame: str = "absolute",
        windows: Any = None,
        name: str = "drseg",
        rank_baseline: bool = False,
        **thresholds: Any,
    ) -> None:
        recipe, w = _setup(weights, compat=compat, look=look, accuracy=accuracy,
                           non_repeat=non_repeat, template=template, strict=strict,
                           config=config, max_chars=max_chars, frame=frame,
                           **thresholds)  # fmt: skip
        if normalizer is not None and accuracy != "ranked":
            # 0.1 kept such a normalizer idle; it ranks nothing, so say so instead of using it
            warnings.warn(f"normalizer= is unused with accuracy={accuracy!r} (nothing is "
                          f"ranked): drop it; from {REMOVAL_RELEASE} this raises",
                          FutureWarning, stacklevel=2)  # fmt: skip
            normalizer = None
        if normalizer is not None:
            if windows is not None:
                raise TypeError("pass normalizer (the accuracy window) or windows, not both")
            if normalizer.num_metrics != 3:
                raise ValueError(f"the normalizer must rank 3 metrics (x1, x2, x3), it has "
                                 f"{normalizer.num_metrics}")  # fmt: skip
            windows = LocalWindows(windows={f"/{ACCURACY_WINDOW}": normalizer})
        if rank_baseline and accuracy != "visionreasoner":
            raise ValueError("rank_baseline ranks the baseline's accuracy: it needs "
                             "accuracy='visionreasoner'")  # fmt: skip
        components = _components(w, accuracy, rank_baseline)
        if accuracy == "visionreasoner" and not look:  # the baseline has no look part
            components = [c for c in components if c.name != "look"]
        super().__init__(components, recipe=recipe, windows=windows, name=name,
                         max_reward=_max_reward(w, accuracy),
                         log_columns=_log_columns(accuracy, look or accuracy != "visionreasoner"),
                         renamed_keys=_renamed(accuracy))  # fmt: skip
        self.recipe: DrSegRecipe = recipe
        self.weights = w
        self.look = look
        self.accuracy = accuracy
        self.template = template

    # the reading settings live in the recipe; these read them there
    @property
    def normalizer(self) -> Any:
        """The window the ranked accuracy metrics share (``None`` when nothing is ranked)."""
        if self.accuracy != "ranked":
            return None
        return self.window(ACCURACY_WINDOW)

    @property
    def config(self) -> AccuracyConfig:
        """The accuracy thresholds (`AccuracyConfig`)."""
        return self.recipe.config

    @property
    def compat(self) -> str:
        """How answers are read (``released``, ``strict`` or ``lenient``)."""
        return self.recipe.compat

    @property
    def non_repeat(self) -> str:
        return self.recipe.non_repeat

    @property
    def phrases(self) -> tuple[str, ...]:
        """The placeholder phrases non_repeat rejects (from ``template``)."""
        return self.recipe.phrases

    @property
    def max_chars(self) -> int:
        return self.recipe.max_chars


class VisionReasonerReward(DrSegReward):
    """The paper's baseline: VisionReasoner's released reward, batched, called like
    `DrSegReward` (same ``score`` breakdown and problems).

    reward = structure + answer_items (no look part, 0..3) + accuracy + non_repeat, where
    accuracy = (3 * matches - matched cost) / max(M, N) on the Dr. Seg cost matrix (0..3; 0
    when either side is empty or the answer's coordinates are not all JSON numbers, as the
    released code's exception handler gives), and non_repeat splits on ``.`` only. No
    normalizer unless ``ranked`` (then the accuracy is ranked in its own window).

    Examples:
        >>> reward = VisionReasonerReward()
        >>> text = ('<think>the cup</think>'
        ...         '<answer>[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]</answer>')
        >>> reward([text], ground_truth=['[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'])
        [7.0]
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        *,
        ranked: bool = False,
        compat: str = "released",
        template: str = LOOK_TO_CONFIRM,
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        frame: str = "absolute",
        windows: Any = None,
        **thresholds: Any,
    ) -> None:
        super().__init__(None, weights, compat=compat, look=False, accuracy="visionreasoner",
                         non_repeat="visionreasoner", template=template, config=config,
                         max_chars=max_chars, frame=frame, windows=windows,
                         name="visionreasoner", rank_baseline=ranked, **thresholds)  # fmt: skip


def drseg_reward(ranked: bool | None = None, **options: Any) -> DrSegReward:
    """The ``drseg`` preset: a `DrSegReward` (the same object, keys and state files);
    ``ranked=False`` is the paper's raw ablation. O(1).

    Published:
        Dr. Seg (CVPR 2026), ``verl/utils/reward_score/dr_seg.py`` of
        [xVI-group-SCU/Dr-Seg](https://github.com/xVI-group-SCU/Dr-Seg): format + accuracy +
        non_repeat, 0 to 8, with the accuracy's three metrics ranked in rolling windows. Every
        rule is stated on the Dr. Seg protocols (docs/paper.md).

    Answer:
        ``<think>... <look>...</look> ...</think><answer>[{"bbox_2d": [x1, y1, x2, y2],
        "point_2d": [x, y]}, ...]</answer>``, read from the first ``<answer>`` (JSON).

    Ground truth:
        The ``solution`` column: a JSON list of the same objects, for example
        ``'[{"bbox_2d": [10, 100, 200, 210], "point_2d": [30, 110]}]'`` (a list of dicts is
        accepted too). An unreadable one raises a ``ValueError`` naming the sample.

    Options:
        `DrSegReward`'s: ``weights`` (per component), ``look=False`` (the no-look ablation),
        ``compat`` (the released number quirks, on by default), ``template`` (whose
        placeholder phrases non_repeat rejects), ``max_chars``, ``frame``.

    Frame:
        Pixels of the image the model saw (840x840 in the paper); ``frame="rel1000"`` or
        ``"rel1"`` maps answers per sample from an ``image_size`` column (Qwen3-VL's 0-1000
        boxes) before any geometry.

    Deviations:
        A malformed ground truth raises instead of scoring N = 0; a non-finite coordinate
        scores x1 = x3 = 0 with a problem instead of a NaN (docs/reward.md).

    Examples:
        >>> [c.name for c in drseg_reward().components]
        ['structure', 'answer_items', 'look', 'x1', 'x2', 'x3', 'non_repeat']
        >>> drseg_reward().parts
        ['format', 'look', 'accuracy', 'non_repeat']
    """
    accuracy = options.pop("accuracy", None)
    if accuracy is None:
        accuracy = "raw" if ranked is False else "ranked"
    elif (
        ranked is not None
        and accuracy != ("ranked" if ranked else "raw")
        and not (accuracy == "visionreasoner" and not ranked)
    ):
        raise ValueError(f"ranked={ranked} contradicts accuracy={accuracy!r}: pass one of them")
    return DrSegReward(accuracy=accuracy, **options)


def visionreasoner_reward(ranked: bool = False, **options: Any) -> VisionReasonerReward:
    """The ``visionreasoner`` preset: the paper's baseline (format, non_repeat, then its
    matched-cost accuracy); ``ranked=True`` ranks the accuracy. O(1).

    Published:
        VisionReasoner's reward as released beside Dr. Seg,
        ``verl/utils/reward_score/vision_reasoner.py`` of
        [xVI-group-SCU/Dr-Seg](https://github.com/xVI-group-SCU/Dr-Seg): structure + answer
        items (no look part) + non_repeat (sentences split on ``.`` only) + accuracy
        = (3 x matches - total cost) / max(M, N) after the Hungarian assignment (0 to 3); see
        the Dr. Seg protocols (docs/paper.md).

    Answer:
        ``<think>...</think><answer>[{"bbox_2d": [x1, y1, x2, y2], "point_2d": [x, y]}]
        </answer>``, as for ``drseg``.

    Ground truth:
        The ``solution`` column, as for ``drseg``:
        ``'[{"bbox_2d": [10, 100, 200, 210], "point_2d": [30, 110]}]'``.

    Options:
        `VisionReasonerReward`'s: ``weights``, ``template``, ``max_chars``, ``frame``.

    Frame:
        Pixels, as for ``drseg`` (``frame="rel1000"`` with an ``image_size`` column).

    Deviations:
        A malformed ground truth raises instead of scoring 0.

    Examples:
        >>> [c.name for c in visionreasoner_reward().components]
        ['structure', 'answer_items', 'non_repeat', 'accuracy']
    """
    return VisionReasonerReward(ranked=ranked, **options)
