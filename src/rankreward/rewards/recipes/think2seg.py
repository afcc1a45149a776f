"""Think2Seg-RS's reward (``geo_reward_func_ultra.py``: ``sam_reward_func_ultra``,
``sam_format_reward``, ``thk_ans_format_reward``), restated with the segmenter in the loop.

The answer is a JSON list in a `````json`` block (inside ``<answer>...</answer>`` when there is
one): ``[{"bbox_2d": [x1, y1, x2, y2], "positive_points": [[x, y], [x, y]]}, ...]`` in pixels
of the image the model saw. The released parser (``parse_sam_json``) takes the text from the
first ``[`` to the last ``]``, reads it with ``json.loads`` (``json_repair.loads`` when that
fails), and accepts a list of objects each with exactly 2 positive points, an optional 4-item
``bbox_2d`` and no negative points; repeated boxes (IoU > 0.5, larger first) are dropped.
Each object prompts the segmenter with its box and points (``multimask_output=False``); the
masks are united. Published terms:

- ``mask_iou``: the IoU of the united mask with the ground truth, times 2 (clipped to 0..2);
  a no-target sample (all-zero ground truth) scores 2 iff the answer is an empty list;
- ``sam_format``: 1 when the answer parses;
- ``thk_ans_format``: 1 when the text is ``<think>...</think> <answer>...</answer>``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ...segment import Prompts
from ...text import structure_ok
from ..spec import Component, ComponentReward, Terms
from .masks import MaskBatch, batch_images, check_segmenter

__all__ = ["Think2SegRecipe", "parse_sam_json", "think2seg_reward"]

_POSITIVE_POINTS = 2  # the released GEO_Reward_Func_Ultra's pos_point_num
_INT64 = 2**63


def _valid_points(instance: dict, key: str) -> bool:
    """The released ``has_valid_points`` with 2 positive and 0 negative points."""
    points = instance.get(key, None)
    want = _POSITIVE_POINTS if key == "positive_points" else 0
    if points is None and want == 0:
        return True
    if not isinstance(points, list) or len(points) == 0 or len(points) != want:
        return False
    for point in points:
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            return False
        try:
            float(point[0])
            float(point[1])
        except (TypeError, ValueError):
            return False
    return True


def _valid_box(instance: dict) -> bool:
    box = instance.get("bbox_2d")
    return isinstance(box, list) and len(box) == 4


def _drop_repeated_boxes(objects: list) -> list:
    """The released ``remove_repeated_boxes_nms`` (IoU > 0.5 drops the smaller box)."""
    if len(objects) <= 1:
        return objects
    boxed = [(i, o["bbox_2d"]) for i, o in enumerate(objects) if _valid_box(o)]
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for _, b in boxed]  # raises on strings, as released
    if len(boxed) <= 1:
        return objects
    order = sorted(range(len(boxed)), key=lambda j: areas[j], reverse=True)
    b = np.array([boxed[j][1] for j in order])
    x1 = np.maximum(b[:, None, 0], b[None, :, 0])
    y1 = np.maximum(b[:, None, 1], b[None, :, 1])
    x2 = np.minimum(b[:, None, 2], b[None, :, 2])
    y2 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area[:, None] + area[None, :] - inter
    with np.errstate(all="ignore"):
        iou = np.where(union > 0, inter / union, 0)
    removed: set[int] = set()
    for i in range(len(order)):
        if i in removed:
            continue
        for j in range(i + 1, len(order)):
            if j not in removed and iou[i, j] > 0.5:
                removed.add(j)
    dropped = {boxed[order[j]][0] for j in removed}
    return [o for i, o in enumerate(objects) if i not in dropped]


def parse_sam_json(text: str, repair: Any = None) -> tuple[list | None, str | None]:
    """The released training parser ``parse_sam_json``: ``(objects, None)`` or
    ``(None, reason)``. ``repair``: the fallback reader when ``json.loads`` fails (the
    released ``json_repair.loads``; ``None``: no fallback). Linear in the text besides
    ``repair``'s own cost.

    Examples:
        >>> parse_sam_json('```json\\n[{"bbox_2d": [0, 0, 4, 4], "positive_points": [[1, 1], [2, 2]]}]\\n```')[0]
        [{'bbox_2d': [0, 0, 4, 4], 'positive_points': [[1, 1], [2, 2]]}]
        >>> parse_sam_json("[]")
        (None, 'Output must contain ```json ``` format')
    """
    try:
        s = text
        if "<answer>" in s and "</answer>" in s:
            at = s.find("<answer>")
            end = s.find("</answer>", at + 8)
            if end >= 0:  # re.search(r"<answer>(.*?)</answer>", DOTALL), then strip
                s = s[at + 8 : end].strip()
        if "```json" not in s:
            return None, "Output must contain ```json ``` format"
        start = s.find("```json") + 7
        while start < len(s) and s[start].isspace():
            start += 1
        end = s.find("```", start)
        if end < 0:
            return None, "Cannot find complete ```json ``` format"
        s = s[start:end].strip()
        if "[" in s and "]" in s:
            s = s[s.find("[") : s.rfind("]") + 1]
        try:
            data = json.loads(s)
        except json.JSONDecodeError:
            if repair is None:
                return None, "JSON parsing error (no json_repair fallback)"
            data = repair(s)
        if not isinstance(data, list):
            return None, "Output must be a JSON array"
        for i, obj in enumerate(data):
            if not isinstance(obj, dict):
                return None, f"Instance #{i + 1} must be a JSON object"
            if not ("bbox_2d" in obj or "positive_points" in obj):
                return (
                    None,
                    f"Instance #{i + 1} must contain at least one of bbox_2d or positive_points",
                )
            if "bbox_2d" in obj and not _valid_box(obj):
                return None, f"Instance #{i + 1} has invalid bbox_2d format"
            if not _valid_points(obj, "positive_points"):
                return None, f"Instance #{i + 1} has invalid positive_points format"
            if not _valid_points(obj, "negative_points"):
                return None, f"Instance #{i + 1} has invalid negative_points format"
        return _drop_repeated_boxes(data), None
    except Exception as err:  # the released parser's own catch-all: model output never raises
        return None, f"Unknown error: {type(err).__name__}"


def _number(v: Any) -> float | None:
    """A coordinate as the SAM call reads it: a JSON number or boolean (finite, within int64
    for an integer); ``None`` for anything the released ``np.array``/SAM call fails on."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int):
        return float(v) if abs(v) < _INT64 else None
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return None


def _prompts(objects: list) -> tuple[Prompts | None, str | None]:
    """One prompt per object (its box, its positive points); ``None`` with the reason when a
    coordinate is not a number the SAM call takes."""
    rows = []
    for i, obj in enumerate(objects):
        box = obj.get("bbox_2d")
        points = obj.get("positive_points") or None
        if box is not None:
            box = [_number(v) for v in box]
            if None in box:
                return None, f"object {i + 1}: bbox_2d holds a value SAM cannot take"
        if points is not None:
            points = [[_number(v) for v in p] for p in points]
            if any(None in p for p in points):
                return None, f"object {i + 1}: positive_points hold a value SAM cannot take"
        if box is None and points is None:
            continue
        rows.append((box, points, [1] * len(points) if points else None))
    return (Prompts.from_objects(rows) if rows else Prompts.empty()), None


class Think2SegRecipe:
    """Think2Seg-RS's terms of a batch: ``mask_iou`` (0 where the answer does not parse),
    ``mask_iou_value`` (NaN there), ``sam_format`` and ``thk_ans_format``.

    Args:
        segmenter: the `rankreward.segment.Segmenter`.
        compat: ``"released"`` (default) reads JSON with ``json_repair`` when ``json.loads``
            fails, as the released parser does (needs ``pip install 'rankreward[segment]'``);
            ``"strict"``: ``json.loads`` only.
    """

    name = "think2seg-rs"
    context: tuple[str, ...] = ("image?", "images?")

    def __init__(self, segmenter: Any, compat: str = "released") -> None:
        if compat not in ("released", "strict"):
            raise ValueError(f"compat must be 'released' or 'strict', got {compat!r}")
        self.segmenter = check_segmenter(segmenter, "think2seg-rs")
        self.compat = compat
        self.repair = None
        if compat == "released":
            try:
                import json_repair
            except ImportError as err:
                raise ImportError(
                    "the think2seg-rs preset reads JSON as released, with json_repair: pip "
                    "install 'rankreward[segment]' (or pass compat='strict')"
                ) from err
            self.repair = json_repair.loads

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        n = len(texts)
        batch = MaskBatch(batch_images(context, n, "think2seg-rs"), ground_truths, "GT_mask")
        parsed = [parse_sam_json(t, self.repair) for t in texts]
        problems: list[list[str]] = [[why] if why else [] for _, why in parsed]
        no_target = [not m.any() for m in batch.truths]
        prompts, scored = [], np.zeros(n, bool)
        for k, (objects, _) in enumerate(parsed):
            p = Prompts.empty()
            if objects and not no_target[k]:
                got, why = _prompts(objects)
                if why:
                    problems[k].append(why + " (the released batch loop raises there and "
                                       "zeroes every sample of the batch): 0 for this sample")  # fmt: skip
                else:
                    p, scored[k] = got, True
            prompts.append(p)
        iou = batch.iou(batch.masks(self.segmenter, prompts))
        value = np.full(n, np.nan)
        for k, (objects, _) in enumerate(parsed):
            if no_target[k]:
                value[k] = 1.0 if objects is not None and len(objects) == 0 else 0.0
                if objects:
                    problems[k].append("no target, but the answer names objects: 0")
            elif scored[k]:
                value[k] = iou[k]
        fmt = np.array([float(objects is not None) for objects, _ in parsed])
        structure = np.array([float(structure_ok(t)) for t in texts])
        return Terms(
            {"mask_iou": np.nan_to_num(value), "mask_iou_value": value, "sam_format": fmt,
             "thk_ans_format": structure},
            problems,
        )  # fmt: skip


def think2seg_reward(
    ranked: bool = False, *, segmenter: Any = None, compat: str = "released"
) -> ComponentReward:
    """The ``think2seg-rs`` preset: Think2Seg-RS's SAM mask IoU (x2) and its two format rewards
    (0..4), or with ``ranked`` the mask IoU ranked (x2). O(1).

    Published:
        [Think2Seg-RS](https://github.com/Ricardo-XZ/Think2Seg-RS) (arXiv 2512.19302),
        ``src/open-r1-multimodal/src/open_r1/geo_reward_func_ultra.py``:
        ``sam_reward_func_ultra`` (``final_reward = clip(2 * IoU, 0, 2)``, the no-target
        rule), ``sam_format_reward`` and ``thk_ans_format_reward``, summed.

    Answer:
        ``<think>...</think><answer>```json [{"bbox_2d": [x1, y1, x2, y2],
        "positive_points": [[x, y], [x, y]]}] ```</answer>`` (``bbox_2d`` optional; an empty
        list for no target).

    Ground truth:
        The ``GT_mask`` column (or ``ground_truth=``): one mask per sample of its image's size,
        as a bool/0-1 array, COCO RLE, polygon list or PNG path
        (`rankreward.metrics.read_mask`); all zero means no target. The ``image`` column
        holds the images.

    Options:
        ``segmenter`` (required); ``compat`` (``"released"``: ``json_repair`` as the fallback
        reader, needs ``rankreward[segment]``; ``"strict"``: ``json.loads`` only). ``ranked``
        ranks the IoU (an answer that does not parse stays out of the window).

    Frame:
        Pixels of the image in the ``image`` column (Think2Seg-RS resizes to 840 first).

    Deviations:
        Each sample is scored on its own: the released loop runs the whole batch's SAM calls
        in one ``try``, so one answer whose coordinates SAM cannot take (strings, ``null``,
        NaN, integers beyond int64) zeroes every sample of the batch; here that answer scores
        0 with a problem. Each image is encoded once per batch (released: once per completion).

    Examples:
        >>> import numpy as np
        >>> from rankreward.segment import BoxSegmenter
        >>> reward = think2seg_reward(segmenter=BoxSegmenter(), compat="strict")
        >>> gt = np.zeros((16, 16), bool); gt[2:8, 2:8] = True
        >>> text = '<think>ok</think><answer>```json [{"bbox_2d": [2, 2, 7, 7], "positive_points": [[3, 3], [4, 4]]}] ```</answer>'
        >>> reward([text], ground_truth=[gt], image=[np.zeros((16, 16, 3), np.uint8)])
        [4.0]
    """
    recipe = Think2SegRecipe(segmenter, compat)
    iou = (
        Component("mask_iou", column="mask_iou_value", weight=2.0, ranked=True)
        if ranked
        else Component("mask_iou", weight=2.0)
    )
    components = [iou, Component("sam_format"), Component("thk_ans_format")]
    return ComponentReward(components, recipe=recipe, ground_truth_key="GT_mask", max_reward=4.0)
