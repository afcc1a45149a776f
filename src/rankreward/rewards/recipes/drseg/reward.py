"""The Dr. Seg reward and the VisionReasoner baseline as named rewards of the framework.

`DrSegReward` is a `ComponentReward` of the Dr. Seg recipe (`batch.DrSegRecipe`) whose three
ranked accuracy components share one 3-metric window, its ``normalizer``; the ``drseg`` preset
is the same recipe and components with one window per component. Both score a batch the one
way every recipe does: texts -> ``DrSegRecipe.terms`` (scan, fallbacks, accuracy) -> rank ->
weighted sum (the paper's per-step semantics: rank against the windows as they stood before
the step; the step's values join them at `commit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ....normalize import LocalWindows, NormalizerLike, RankNormalizer
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

#: Names of the per-sample components in `DrSegReward.last_breakdown` and the weights mapping.
COMPONENTS = ("structure", "answer_items", "look", "r1", "r2", "r3", "non_repeat")
#: The largest value of each component (answer items score 0..2, the rest 0..1).
COMPONENT_MAX = {name: 2.0 if name == "answer_items" else 1.0 for name in COMPONENTS}
#: The per-sample keys of `DrSegReward.score` a trainer logs.
LOGGED_KEYS = ("format", "look", "non_repeat", "x1", "x2", "x3", "r1", "r2", "r3", "num_pred",
               "num_problems")  # fmt: skip
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
        compat = "strict" if strict else "lenient"
    check_compat(compat)
    if accuracy not in ACCURACY_MODES:
        raise ValueError(f"accuracy must be one of {ACCURACY_MODES}, got {accuracy!r}")
    if non_repeat not in NON_REPEAT_MODES:
        raise ValueError(f"non_repeat must be one of {NON_REPEAT_MODES}, got {non_repeat!r}")
    unknown = set(weights or {}) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown weight keys {sorted(unknown)}; known: {COMPONENTS}")
    w = {name: float((weights or {}).get(name, 1.0)) for name in COMPONENTS}
    if not look:
        w["look"] = 0.0
    base = config or AccuracyConfig()
    cfg = AccuracyConfig(**{**base.__dict__, **thresholds}) if thresholds else base
    recipe = DrSegRecipe(compat=compat, non_repeat=non_repeat, config=cfg, template=template,
                         max_chars=max_chars, frame=frame)  # fmt: skip
    return recipe, w


def _components(w: Mapping[str, float], accuracy: str, window: str | None) -> list[Component]:
    """The components in the paper's sum order; ranked x1..x3 share ``window`` (``None``: one
    window each)."""
    parts = [Component("structure", weight=w["structure"]),
             Component("answer_items", weight=w["answer_items"]),
             Component("look", weight=w["look"])]  # fmt: skip
    if accuracy != "visionreasoner":
        ranked = accuracy == "ranked"
        parts += [
            Component(f"x{k}", weight=w[f"r{k}"], ranked=ranked, window=window if ranked else None)
            for k in (1, 2, 3)
        ]
    parts.append(Component("non_repeat", weight=w["non_repeat"]))
    if accuracy == "visionreasoner":  # the released sum: format, non_repeat, then accuracy
        parts.append(Component("accuracy"))
    return parts


def _max_reward(w: Mapping[str, float], accuracy: str) -> float:
    parts = dict(w)
    if accuracy == "visionreasoner":  # r1..r3 are 0; the accuracy part is 0..3
        parts.update(r1=0.0, r2=0.0, r3=0.0)
        return sum(max(v, 0.0) * COMPONENT_MAX[n] for n, v in parts.items()) + 3.0
    return sum(max(v, 0.0) * COMPONENT_MAX[n] for n, v in parts.items())


def drseg_reward(ranked: bool = True, **options: Any) -> ComponentReward:
    """The ``drseg`` preset: the Dr. Seg recipe with one window per ranked component (equal to
    `DrSegReward` sample for sample); ``ranked=False`` is the paper's raw ablation. O(1).

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
    """
    options.pop("accuracy", None)
    accuracy = "ranked" if ranked else "raw"
    recipe, w = _setup(options.pop("weights", None), accuracy=accuracy, **options)
    return ComponentReward(
        _components(w, accuracy, None), recipe=recipe, max_reward=_max_reward(w, accuracy)
    )


def visionreasoner_reward(ranked: bool = False, **options: Any) -> ComponentReward:
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
    recipe, w = _setup(options.pop("weights", None), look=False, accuracy="visionreasoner",
                          non_repeat="visionreasoner", **options)  # fmt: skip
    parts = [Component("structure", weight=w["structure"]),
             Component("answer_items", weight=w["answer_items"]),
             Component("non_repeat", weight=w["non_repeat"]),
             Component("accuracy", ranked=ranked)]  # fmt: skip
    return ComponentReward(parts, recipe=recipe, max_reward=_max_reward(w, "visionreasoner"))


class DrSegReward(ComponentReward):
    """The Dr. Seg reward as a TRL-style callable ``(completions, ground_truth, **kw) -> list``.

    reward = structure + answer_items + look + r1 + r2 + r3 + non_repeat (each times its
    weight, all 1 by default: 0..8), where r1..r3 are the ranks of the raw accuracy metrics
    x1..x3 in the normalizer's windows. With no arguments this is the released reward
    (``docs/paper.md``), input for input.

    Args:
        normalizer: a 3-metric `RankNormalizer` or a wrapper with the same calls
            (`AutoCommitNormalizer`, `DistributedRankNormalizer`, `RayRankNormalizer`);
            default `RankNormalizer.paper()`.
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

    Per-step semantics (the paper): every call ranks against the windows as they stood before
    the step and stages the raw metrics; `commit` (called by the trainer adapter once per
    optimizer step, or by you) appends them. A warning fires if more than a window's worth of
    values is staged without a commit, since that usually means nobody is committing.

    Thread safety: the whole of `score` (ranking, staging, the breakdown it returns) runs under
    one lock, so concurrent calls are serialised and each gets its own breakdown; `commit`
    takes the same lock. `last_breakdown` / `last_problems` are a convenience for single-
    threaded use (the latest call's, set under the lock): from threads, use what `score`
    returns.

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
        **thresholds: Any,
    ) -> None:
        recipe, w = _setup(weights, compat=compat, look=look, accuracy=accuracy,
                                     non_repeat=non_repeat, template=template, strict=strict,
                                     config=config, max_chars=max_chars, frame=frame,
                                     **thresholds)  # fmt: skip
        self.normalizer = normalizer if normalizer is not None else RankNormalizer.paper()
        if self.normalizer.num_metrics != 3:
            raise ValueError(
                f"the normalizer must rank 3 metrics (x1, x2, x3), it has {self.normalizer.num_metrics}"
            )
        super().__init__(
            _components(w, accuracy, ACCURACY_WINDOW),
            recipe=recipe,
            windows=LocalWindows(windows={f"/{ACCURACY_WINDOW}": self.normalizer}),
            max_reward=_max_reward(w, accuracy),
        )
        self.recipe: DrSegRecipe = recipe
        self.weights = w
        self.look = look
        self.accuracy = accuracy
        self.template = template
        self.last_breakdown: dict[str, Any] = {}
        self.last_problems: list[list[str]] = []
        self.__name__ = "drseg_reward"  # TRL logs reward functions by __name__

    # the reading settings live in the recipe; these read them there
    @property
    def config(self) -> AccuracyConfig:
        """The accuracy thresholds (`AccuracyConfig`)."""
        return self.recipe.config

    @property
    def compat(self) -> str:
        """How answers are read (``released``, ``strict`` or ``lenient``)."""
        return self.recipe.compat

    @property
    def strict(self) -> bool:
        return self.recipe.compat != "lenient"

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

    def score(
        self,
        completions: Sequence[Any],
        ground_truth: Sequence[Any],
        tasks: Sequence[Any] | None = None,
        context: Mapping[str, Sequence[Any]] | None = None,
        *,
        stage: bool = True,
    ) -> dict[str, Any]:
        """Parse, measure and rank a batch; stages the raw metrics (ranked accuracy). Returns
        this call's breakdown: per-sample arrays (``reward``, every component, ``format``,
        ``accuracy``, x1..x3, counts) and ``problems`` (a list of strings per sample).

        ``stage=False`` ranks against the window without staging anything: validation
        batches scored on the training distribution, never entering it.
        ``tasks`` is accepted for the framework's call form (the paper's reward keeps one
        window); ``context`` holds the ``image_size`` column a non-absolute ``frame`` needs.
        O(total text + sum M N + matching)."""
        with self._lock:
            out = super().score(completions, ground_truth, context=context, stage=stage)
            terms, w = out["terms"], self.weights
            if self.accuracy == "ranked":
                r = [out[f"x{k}_rank"] for k in (1, 2, 3)]
            elif self.accuracy == "raw":
                r = [terms[f"x{k}"] for k in (1, 2, 3)]
            else:
                r = [np.zeros(len(out["reward"]))] * 3
            if self.accuracy == "visionreasoner":
                accuracy = terms["accuracy"]
            else:
                accuracy = w["r1"] * r[0] + w["r2"] * r[1] + w["r3"] * r[2]
            problems = out["problems"]
            breakdown = {
                "structure": terms["structure"],
                "answer_items": terms["answer_items"],
                "look": terms["look"],
                "r1": r[0],
                "r2": r[1],
                "r3": r[2],
                "non_repeat": terms["non_repeat"],
                "format": terms["structure"] + terms["answer_items"] + w["look"] * terms["look"],
                "accuracy": accuracy,
                "x1": terms["x1"],
                "x2": terms["x2"],
                "x3": terms["x3"],
                "num_pred": terms["num_pred"],
                "num_gt": terms["num_gt"],
                "num_problems": np.fromiter(map(len, problems), np.int64, len(problems)),
                "reward": out["reward"],
                "problems": problems,
            }
            self.last_breakdown = breakdown
            self.last_problems = problems
        return breakdown

    def __call__(
        self, completions: Sequence[Any], ground_truth: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        """Score a batch: one float per completion. ``ground_truth`` may also arrive as a
        ``solution`` keyword (the VisionReasoner dataset column)."""
        if ground_truth is None:
            ground_truth = kwargs.get("solution")
        if ground_truth is None:
            raise TypeError("DrSegReward needs ground_truth=... (or a 'solution' column)")
        self.on_trainer_call(kwargs)  # shared across ranks; the step for the commit warning
        return [float(x) for x in self.score(completions, ground_truth, context=kwargs)["reward"]]

    @property
    def logged_keys(self) -> list[str]:
        """The per-sample keys of `score` a trainer logs."""
        return list(LOGGED_KEYS)

    #: The reward functions a trainer shows (TRL logs each): the paper's four parts.
    PARTS: ClassVar[dict[str, tuple[str, ...]]] = {"format": ("structure", "answer_items"), "look": ("look",), "accuracy": ("accuracy",),
             "non_repeat": ("non_repeat",)}  # fmt: skip

    @property
    def parts(self) -> list[str]:
        """format, look, accuracy, non_repeat: the paper's parts; their sum is the reward."""
        return list(self.PARTS)

    def part_values(self, breakdown: Mapping[str, Any], part: str) -> np.ndarray:
        """Part ``part`` of a `score` breakdown, weights applied (``accuracy``: the ranked,
        raw or baseline accuracy as the reward sums it). O(B)."""
        if part == "accuracy":
            return np.asarray(breakdown["accuracy"], np.float64)
        total = np.zeros(len(breakdown["reward"]))
        for name in self.PARTS[part]:
            total = total + self.weights[name] * breakdown[name]
        return total

    def metrics(self, breakdown: Mapping[str, Any], prefix: str = "drseg") -> dict[str, float]:
        """Batch means a trainer logs beside the parts: x1..x3, r1..r3, answer counts and
        problems, as ``<prefix>/<name>``. O(B)."""
        return {
            f"{prefix}/{name}": float(np.mean(breakdown[name])) if len(breakdown[name]) else 0.0
            for name in ("x1", "x2", "x3", "r1", "r2", "r3", "num_pred", "num_problems")
        }

    def means(self, breakdown: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Mean of every numeric component of ``breakdown`` (default: the last call's), for
        logging."""
        out = {}
        for k, v in (self.last_breakdown if breakdown is None else breakdown).items():
            if isinstance(v, np.ndarray) and len(v):
                out[k] = float(np.mean(v))
        return out

    def state_dict(self) -> dict[str, Any]:
        """The normalizer's state (the only state that matters)."""
        return self.normalizer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.normalizer.load_state_dict(state)

    def save(self, path: Any) -> None:
        """Write the normalizer's state file (atomic ``.npz``, no pickle)."""
        self.normalizer.save(path)

    def load(self, path: Any) -> None:
        """Restore what `save` wrote (exactly)."""
        self.normalizer.load(path)


class VisionReasonerReward(DrSegReward):
    """The paper's baseline: VisionReasoner's released reward, batched, called like
    `DrSegReward` (same ``score`` breakdown and problems).

    reward = structure + answer_items (no look part, 0..3) + accuracy + non_repeat, where
    accuracy = (3 * matches - matched cost) / max(M, N) on the Dr. Seg cost matrix (0..3; 0
    when either side is empty or the answer's coordinates are not all JSON numbers, as the
    released code's exception handler gives), and non_repeat splits on ``.`` only. No
    normalizer: nothing is staged, `commit` does nothing.

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
        compat: str = "released",
        config: AccuracyConfig | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        frame: str = "absolute",
        **thresholds: Any,
    ) -> None:
        super().__init__(
            None,
            weights,
            compat=compat,
            look=False,
            accuracy="visionreasoner",
            non_repeat="visionreasoner",
            config=config,
            max_chars=max_chars,
            frame=frame,
            **thresholds,
        )
        self.__name__ = "visionreasoner_reward"
