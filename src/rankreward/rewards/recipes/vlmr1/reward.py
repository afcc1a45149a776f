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

import functools
import json
import math
import re
from typing import Any

import numpy as np

from ...._deprecation import renamed_attributes
from ....frames import check_size
from ....text import all_between, between, structure_ok
from ...spec import Component, ComponentReward, Terms
from .._plain import plain_box

__all__ = [
    "OVD_METHODS",
    "REC_CONTEXT",
    "OvdRecipe",
    "RecRecipe",
    "clean_answer",
    "detection_score",
    "image_size",
    "ovd_accuracy",
    "ovd_accuracy_batch",
    "ovd_format",
    "rec_accuracy",
    "rec_batch_scores",
    "rec_format",
    "vlmr1_ovd_reward",
    "vlmr1_rec_reward",
]

_OPEN, _CLOSE = "<answer>", "</answer>"  # the published r"<answer>(.*?)</answer>", DOTALL
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


def _vlmr1_iou(a: list[float], b: list[Any]) -> float:
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
    sol = json.loads(all_between(solution, _OPEN, _CLOSE)[-1].strip())
    input_h, input_w = int(image_grid_thw[1] * 14), int(image_grid_thw[2] * 14)
    width, height = image_size
    try:
        span = between(text, _OPEN, _CLOSE)
        box = _BOX.search(text[span[0] : span[1]].strip()) if span else None
        if box is None:
            return None
        b = [int(v) for v in box.groups()]
        b = [b[0] / input_w * width, b[1] / input_h * height,
             b[2] / input_w * width, b[3] / input_h * height]  # fmt: skip
        return _vlmr1_iou(b, sol)
    except Exception:  # the published iou_reward catches everything here and scores 0
        return 0.0


@functools.lru_cache(maxsize=1 << 16)
def image_size(path: str) -> tuple[int, int]:
    """An image file's (width, height), read once per path and process (VLM-R1 opens the
    image at every call; a file replaced during a run keeps its first size here). O(1) after
    the first read."""
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _solution_box(solution: str) -> Any:
    """The solution's box as VLM-R1 reads it (raising where it raises), and whether the batch
    path can use it (four plain numbers, exact in float64)."""
    sol = json.loads(all_between(solution, _OPEN, _CLOSE)[-1].strip())
    return sol, plain_box(sol)


def rec_batch_scores(
    texts: list[str], solutions: list[str], grids: Any, sizes: Any
) -> tuple[np.ndarray, np.ndarray]:
    """`rec_accuracy` (NaN where it is None) and `rec_format` of a batch: the batch scanner
    reads the completions, each distinct solution is parsed once, the IoUs are computed as
    arrays with VLM-R1's arithmetic in its order; rows outside that form (non-ASCII text,
    solutions that are not four plain numbers, a zero input size) go through `rec_accuracy`.
    O(total length + B).

    Examples:
        >>> acc, fmt = rec_batch_scores(['<answer>[0, 0, 28, 28]</answer>'],
        ...                             ['<answer>[0, 0, 56, 56]</answer>'], [(1, 2, 2)], [(56, 56)])
        >>> acc.tolist(), fmt.tolist()
        ([1.0], [0.0])
    """
    from .scan import scan_rec_batch

    n = len(texts)
    if not len(solutions) == len(grids) == len(sizes) == n:
        raise ValueError(f"{n} completions but {len(solutions)} solutions, {len(grids)} "
                         f"image_grid_thw rows and {len(sizes)} image sizes")  # fmt: skip
    values, fallback = scan_rec_batch(texts)
    parsed = {sol: _solution_box(sol) for sol in dict.fromkeys(solutions)}
    sol = np.zeros((n, 4))
    slow = fallback.copy()
    for k, solution in enumerate(solutions):
        box, plain = parsed[solution]
        if plain:
            sol[k] = box[:4]
        else:
            slow[k] = True
    frame = np.array([[g[1], g[2]] for g in grids], np.float64).reshape(n, 2)
    in_h, in_w = np.trunc(frame[:, 0] * 14), np.trunc(frame[:, 1] * 14)
    wh = np.array([tuple(s) for s in sizes], np.float64).reshape(n, 2)
    slow |= (in_h == 0) | (in_w == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = values[:, 1:5]
        a = np.stack([b[:, 0] / in_w * wh[:, 0], b[:, 1] / in_h * wh[:, 1],
                      b[:, 2] / in_w * wh[:, 0], b[:, 3] / in_h * wh[:, 1]], axis=1)  # fmt: skip
        x1 = np.where(sol[:, 0] > a[:, 0], sol[:, 0], a[:, 0])  # Python's max(a, b)
        y1 = np.where(sol[:, 1] > a[:, 1], sol[:, 1], a[:, 1])
        x2 = np.where(sol[:, 2] - 1 < a[:, 2] - 1, sol[:, 2] - 1, a[:, 2] - 1)  # min(a, b)
        y2 = np.where(sol[:, 3] - 1 < a[:, 3] - 1, sol[:, 3] - 1, a[:, 3] - 1)
        inter = np.where((x1 < x2) & (y1 < y2), (x2 - x1 + 1) * (y2 - y1 + 1), 0.0)
        union = (
            (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
            + (sol[:, 2] - sol[:, 0]) * (sol[:, 3] - sol[:, 1])
            - inter
        )
        iou = np.where(union != 0, inter / union, 0.0)  # ZeroDivisionError scores 0
    accuracy = np.where(values[:, 0] == 1.0, iou, np.nan)
    fmt = values[:, 5].copy()
    for k in np.flatnonzero(slow).tolist():
        value = rec_accuracy(texts[k], solutions[k], grids[k], sizes[k])
        accuracy[k] = np.nan if value is None else value
        if fallback[k]:
            fmt[k] = rec_format(texts[k])
    return accuracy, fmt


# ----------------------------------------------------------------------------- open-vocabulary
_FENCE_OPEN, _FENCE_CLOSE = "```json", "```"  # the published r"```json(.*?)```", DOTALL
OVD_METHODS = ("odLength", "od_ap", "od_ap50", "weighted_sum")


def ovd_format(text: str) -> float:
    """VLM-R1's ``format_reward`` of ``grpo_jsonl.py``: the whole text is
    ``<think>...</think> <answer>...</answer>``. O(len(text)).

    Examples:
        >>> ovd_format("<think>a</think> <answer>b</answer>"), ovd_format("<answer>b</answer>")
        (1.0, 0.0)
    """
    return 1.0 if structure_ok(text) else 0.0


def _fenced_items(text: str, strict: bool) -> list:
    found = all_between(text, _FENCE_OPEN, _FENCE_CLOSE)
    if not found:
        return []
    if strict:  # the ground truth: a malformed one raises, as in the published code
        block = found[-1].strip()
        # an empty block is no ground truth, as published (``if bbox_json:`` is falsy for "")
        return list(json.loads(block)) if block else []
    try:
        return list(json.loads(found[-1].strip()))
    except (ValueError, TypeError, RecursionError):
        return []


def _sample_ap(pred: list, gt: list, stat: int) -> float:
    """VLM-R1's ``calculate_map``: one image, categories from the ground-truth labels,
    every prediction scored 1.0, COCO AP (`coco_evaluate`: pycocotools' numbers)."""
    from ....metrics import coco_evaluate

    cats: dict[Any, int] = {}
    anns = []
    for k, g in enumerate(gt):
        cat = cats.setdefault(g["label"], len(cats))
        x1, y1, x2, y2 = g["bbox_2d"][:4]
        anns.append({"id": k + 1, "image_id": 0, "category_id": cat, "iscrowd": 0,
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})  # fmt: skip
    dets = []
    for p in pred:
        try:
            x1, y1, x2, y2 = p["bbox_2d"][0], p["bbox_2d"][1], p["bbox_2d"][2], p["bbox_2d"][3]
            box = [x1, y1, x2 - x1, y2 - y1]
            cat = cats[p["label"]]
        except (TypeError, KeyError, IndexError):
            continue  # the published code skips a prediction it cannot read
        dets.append({"image_id": 0, "category_id": cat, "bbox": box, "score": 1.0})
    if not dets:
        return 0.0
    truth = {"images": [{"id": 0, "width": 2048, "height": 2048}], "annotations": anns,
             "categories": [{"id": c} for c in cats.values()]}  # fmt: skip
    finite = all(isinstance(v, (int, float)) and math.isfinite(v) for d in dets for v in d["bbox"])
    if not finite:  # pycocotools' C code gives NaN boxes NaN IoUs that then match: ask it
        return _pycocotools_ap(truth, dets, stat)
    return float(coco_evaluate(truth, dets, negative_sizes="allow").stats[stat])


def _pycocotools_ap(truth: dict, dets: list, stat: int) -> float:
    import contextlib
    import io

    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError(
            "a predicted box with NaN/inf coordinates is scored by pycocotools itself, as the "
            "published reward does: pip install 'rankreward[coco]'"
        ) from None
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {
            **truth,
            "categories": [dict(c, name=str(c["id"])) for c in truth["categories"]],
        }
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes([dict(d) for d in dets]), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[stat])


def ovd_accuracy(text: str, solution: str, method: str = "odLength") -> float:
    """VLM-R1's open-vocabulary detection accuracy (``accuracy_reward`` with
    ``accu_reward_method`` ``odLength``, ``od_ap`` or ``od_ap50``) for one completion: the
    last ``<answer>``'s last fenced JSON list of ``{"bbox_2d", "label"}`` against the
    solution's; AP (or AP50) over the sample's categories (pycocotools' value, so a perfect
    answer is 1 - 2e-16), 1 when both are empty, 0 when one is; ``odLength`` multiplies by
    min(1, ground truths / predictions). `ovd_accuracy_batch` of one. O(len(text)) plus one
    COCO evaluation.

    Examples:
        >>> sol = '<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]```</answer>'
        >>> ovd_accuracy('<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]```</answer>', sol)
        0.9999999999999998
    """
    return float(ovd_accuracy_batch([text], [solution], method)[0])


def _length_factor(method: str, n_gt: int, n_pred: int) -> float:
    """``odLength``'s min(1, ground truths / predictions); 1 for the other methods."""
    return n_gt / n_pred if method == "odLength" and n_gt < n_pred else 1.0


def _ap_rows(pred: list, gt: list) -> tuple[list, list] | None:
    """``(gt rows, det rows)`` as `_sample_ap` builds them (categories in ground-truth order,
    unreadable predictions skipped), or None when some entry needs the per-sample path."""
    cats: dict[str, int] = {}
    g_rows = []
    for g in gt:
        if (
            type(g) is not dict
            or type(g.get("label")) is not str
            or not plain_box(g.get("bbox_2d"))
        ):
            return None
        x1, y1, x2, y2 = g["bbox_2d"][:4]
        area = (x2 - x1) * (y2 - y1)
        if area < 0:
            return None  # the per-sample path's coco_evaluate rejects it; keep one behaviour
        g_rows.append((cats.setdefault(g["label"], len(cats)), x1, y1, x2 - x1, y2 - y1, area))
    d_rows = []
    for p in pred:
        if type(p) is not dict:
            return None
        if "bbox_2d" not in p or "label" not in p:
            continue  # KeyError: skipped
        label = p["label"]
        if not plain_box(p["bbox_2d"]) or not isinstance(label, (str, int, float, type(None))):
            return None
        if label not in cats:
            continue
        x1, y1, x2, y2 = p["bbox_2d"][:4]
        d_rows.append((cats[label], x1, y1, x2 - x1, y2 - y1))
    return g_rows, d_rows


def check_ovd_solution(solution: str, k: int, method: str) -> None:
    """Raise ``ValueError`` naming sample ``k`` for a solution VLM-R1 cannot score: for the
    COCO methods a non-empty ```` ```json ```` block that is not a JSON list (the published
    code raises ``JSONDecodeError`` mid-step; an empty block is no ground truth there and
    here); for every method an object without a ``label`` or without a
    ``bbox_2d`` of 4 finite numbers with x1 <= x2 and y1 <= y2 (pycocotools would give AP -1.0
    for an inverted box, a reward the policy then trains on: a documented deviation). O(len).

    Examples:
        >>> check_ovd_solution('<answer>```json[{"bbox_2d": [9, 0, 0, 9], "label": "a"}]```</answer>', 3, "odLength")
        Traceback (most recent call last):
        ...
        ValueError: solution of sample 3: object 0's bbox_2d must be 4 finite numbers with x1 <= x2 and y1 <= y2, got [9, 0, 0, 9]
    """
    sol = between(solution, _OPEN, _CLOSE)
    truth = solution[sol[0] : sol[1]].strip() if sol else None
    if truth is None or truth == "None":
        return
    try:
        items = _fenced_items(truth, strict=True)
    except (ValueError, TypeError, RecursionError) as e:
        if method == "weighted_sum":
            return  # its reader treats an unreadable solution as no ground truth, as published
        raise ValueError(
            f"solution of sample {k}: the ```json block is not a JSON list ({e}): {solution[:80]!r}"
        ) from None
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"solution of sample {k}: object {i} is not an object: {item!r:.80}")
        if "label" not in item and method != "weighted_sum":  # the COCO methods read g["label"]
            raise ValueError(f"solution of sample {k}: object {i} needs a label, got {item!r:.80}")
        box = item.get("bbox_2d")
        ok = isinstance(box, (list, tuple)) and len(box) == 4 and all(
            type(v) in (int, float) and math.isfinite(v) for v in box
        )  # fmt: skip
        if not ok or box[2] < box[0] or box[3] < box[1]:
            raise ValueError(
                f"solution of sample {k}: object {i}'s bbox_2d must be 4 finite numbers with "
                f"x1 <= x2 and y1 <= y2, got {box!r:.80}"
            )


def ovd_accuracy_batch(
    texts: list[str], solutions: list[str], method: str = "odLength"
) -> np.ndarray:
    """`ovd_accuracy` of a batch: answers read per completion, each distinct solution once,
    and every sample's COCO AP computed in one `ap_per_image` pass (the per-sample COCOeval
    calls of VLM-R1, same numbers); samples outside the plain form (non-numeric or non-finite
    coordinates, non-dict items) use `ovd_accuracy`. ``weighted_sum`` is per sample.
    O(total length) plus one batched COCO evaluation.

    Examples:
        >>> sol = '<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]```</answer>'
        >>> ovd_accuracy_batch(['<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]```</answer>',
        ...                     "no answer"], [sol, sol]).tolist()
        [0.9999999999999998, 0.0]
    """
    from ....metrics import ap_per_image

    if method not in OVD_METHODS:
        raise ValueError(f"method must be one of {OVD_METHODS}, got {method!r}")
    checked: set[str] = set()  # a prompt's completions share its solution
    for k, solution in enumerate(solutions):
        if solution not in checked:
            check_ovd_solution(solution, k, method)
            checked.add(solution)
    if method == "weighted_sum":
        return np.array([detection_score(t, s) for t, s in zip(texts, solutions, strict=True)])
    out = np.zeros(len(texts))
    truths: dict[str, tuple[str | None, list]] = {}
    batch: list[tuple[int, int, int, list, list]] = []  # (k, len(gt), len(pred), rows)
    for k, (text, solution) in enumerate(zip(texts, solutions, strict=True)):
        if solution not in truths:
            sol = between(solution, _OPEN, _CLOSE)
            truth = solution[sol[0] : sol[1]].strip() if sol else None
            truths[solution] = (
                truth,
                _fenced_items(truth, strict=True) if truth is not None else [],
            )
        truth, gt = truths[solution]
        answers = all_between(text, _OPEN, _CLOSE)
        answer = answers[-1].strip() if answers else None
        if answer is None:
            continue
        if truth == "None" and answer == "None":
            out[k] = 1.0
            continue
        pred = _fenced_items(answer, strict=False)
        if not (pred and gt):
            ap = 1.0 if not pred and not gt else 0.0
            out[k] = ap * _length_factor(method, len(gt), len(pred))
            continue
        try:
            rows = _ap_rows(pred, gt)
            if rows is None:  # the per-sample evaluation, which reproduces every quirk
                stat = 1 if method == "od_ap50" else 0
                out[k] = _sample_ap(pred, gt, stat) * _length_factor(method, len(gt), len(pred))
                continue
        except OverflowError:  # a coordinate beyond float's range: the published step crashes
            out[k] = 0.0
            continue
        if not rows[1]:
            out[k] = 0.0  # no readable prediction: calculate_map returns 0
        else:
            batch.append((k, len(gt), len(pred), *rows))
    if batch:
        g = np.array([(i, *r) for i, b in enumerate(batch) for r in b[3]], np.float64)
        d = np.array([(i, *r) for i, b in enumerate(batch) for r in b[4]], np.float64)
        aps = ap_per_image(g[:, 0], g[:, 1], g[:, 2:6], g[:, 6], d[:, 0], d[:, 1], d[:, 2:6],
                           np.ones(len(d)), len(batch), iou=0.5 if method == "od_ap50" else None)  # fmt: skip
        for (k, n_gt, n_pred, _, _), ap in zip(batch, aps.tolist(), strict=True):
            out[k] = ap * _length_factor(method, n_gt, n_pred)
    return out


# ----------------------------------------------------------------------------- weighted sum
def clean_answer(text: str) -> str:
    """VLM-R1's ``clean_text``: the last ``<answer>`` content if any, newlines joined (dropped
    after whitespace, a space otherwise), stripped, a trailing ``.`` removed, lower-cased.
    O(len(text)).

    Examples:
        >>> clean_answer("<answer>A\\nCat.</answer>")
        'a cat'
    """
    found = all_between(text, _OPEN, _CLOSE)
    if found:
        text = found[-1]
    for char in ("\n", "\r"):
        text = re.sub(r"(?<=\s)" + re.escape(char), "", text)
        text = re.sub(r"(?<!\s)" + re.escape(char), " ", text)
    return text.strip().rstrip(".").lower()


def _first_fenced(text: str, strict: bool) -> list:
    cleaned = clean_answer(text)
    span = between(cleaned, _FENCE_OPEN, _FENCE_CLOSE)
    body = cleaned[span[0] : span[1]].strip() if span else None
    if not body:
        return []
    if strict:
        return list(json.loads(body))
    try:
        return list(json.loads(body))
    except (ValueError, TypeError, RecursionError):
        return []


def _safe_iou(pred: Any, gt: Any) -> float:
    try:
        return _vlmr1_iou(pred["bbox_2d"], gt["bbox_2d"])
    except (TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError):
        # OverflowError: a coordinate beyond float's range (the published code crashes the
        # step there; an unreadable box scores IoU 0 here, as the other errors do)
        return 0.0


def detection_score(text: str, solution: str, iou_threshold: float = 0.5, alpha: float = 0.7,
                    beta: float = 0.0, gamma: float = 0.3) -> float:  # fmt: skip
    """VLM-R1's weighted-sum detection score (``accu_reward_method="weighted_sum"``): greedy
    matching by IoU (largest first, ties to the earliest pair, stop below ``iou_threshold``), a
    match with a wrong label counting IoU 0; ``(alpha x mean matched IoU over ground truths +
    beta x label accuracy + gamma x (1 - (miss rate + false-alarm rate) / 2)) / (alpha + beta +
    gamma)``; ``"none"`` answers against ``"none"`` solutions score 1.

    The published code keeps the previous match's label when a predicted label cannot be read,
    and crashes the step when the first one cannot: that answer scores 0 here (model output
    never makes the reward raise; docs/rewards.md lists the deviation).
    O(P G min(P, G)).

    Examples:
        >>> sol = '<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]```</answer>'
        >>> detection_score('<answer>```json[{"bbox_2d": [0, 0, 10, 10], "label": "Cat"}]```</answer>', sol)
        1.0
    """
    content, sol = clean_answer(text), clean_answer(solution)
    if sol == "none":
        return 1.0 if content == "none" else 0.0
    pred, gt = _first_fenced(content, strict=False), _first_fenced(sol, strict=True)
    if not gt:
        return 1.0 if not pred else 0.0
    if not pred:
        return 0.0
    from ....metrics import greedy_match

    ious = np.array([[_safe_iou(p, g) for g in gt] for p in pred], np.float64)
    matched: list[tuple[float, bool]] = []
    pred_label: Any = _UNSET
    pairs = greedy_match(ious, threshold=iou_threshold)  # largest IoU first, as published
    for bp, bg in pairs:
        best = ious[bp, bg]
        try:
            pred_label = pred[bp]["label"].lower()
        except (TypeError, KeyError, AttributeError, IndexError):
            if pred_label is _UNSET:  # the published code crashes the step here: 0
                return 0.0
        try:
            gt_label = gt[bg]["label"].lower()
        except (TypeError, KeyError, AttributeError, IndexError):
            gt_label = ""
        correct = pred_label == gt_label
        matched.append((float(best) if correct else 0, correct))
    position = sum(m[0] for m in matched) / len(gt) if matched else 0.0
    labels = sum(1.0 for m in matched if m[1]) / len(gt) if matched else 0.0
    missed, false_alarms = len(gt) - len(pairs), len(pred) - len(pairs)
    completeness = 1.0 - (missed / len(gt) + false_alarms / len(pred)) / 2.0
    return (alpha * position + beta * labels + gamma * completeness) / (alpha + beta + gamma)


_UNSET = object()


#: The columns VLM-R1's REC reward reads.
REC_CONTEXT = ("image_grid_thw", "image_size?", "image_path?")


class RecRecipe:
    """VLM-R1's REC accuracy and format of a batch (`rec_batch_scores`); the image size comes
    from ``image_size`` (width, height) or, as VLM-R1 reads it, from ``image_path`` (its first
    path, read once per path). Columns: ``accuracy`` (NaN where VLM-R1 has none), ``format``.
    """

    name = "vlm-r1-rec"  # what its windows' state files say they belong to

    context = REC_CONTEXT

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        sizes = context.get("image_size")
        if sizes is None:
            if context.get("image_path") is None:
                raise TypeError("the vlm-r1-rec accuracy needs an image_size or image_path column")
            sizes = [image_size(str(p[0] if isinstance(p, (list, tuple)) else p))
                     for p in context["image_path"]]  # fmt: skip
        # user input, checked where it enters: two positive finite numbers per sample
        sizes = [check_size(s, f"image_size of sample {k}") for k, s in enumerate(sizes)]
        grids = context["image_grid_thw"]
        accuracy, fmt = rec_batch_scores(texts, [str(g) for g in ground_truths], grids, sizes)
        return Terms({"accuracy": accuracy, "format": fmt})


def vlmr1_rec_reward(ranked: bool = False, **options: Any) -> ComponentReward:
    """The ``vlm-r1-rec`` preset: VLM-R1's REC accuracy (IoU in the image's pixels) and format;
    ``ranked`` ranks the accuracy. Reads the `REC_CONTEXT` columns. O(1).

    Published:
        [VLM-R1](https://github.com/om-ai-lab/VLM-R1),
        ``src/open-r1-multimodal/src/open_r1/vlm_modules/qwen_module.py``: ``iou_reward`` and
        ``format_reward_rec`` (the ``accuracy`` and ``format`` functions of ``grpo_rec.py``).

    Answer:
        ``<think>...</think><answer>{"bbox_2d": [x1, y1, x2, y2], "label": "..."}</answer>``:
        the first ``[x1, y1, x2, y2]`` of non-negative integers in the first answer.

    Ground truth:
        The ``solution`` column: ``'<answer>[10, 100, 200, 210]</answer>'`` (the JSON list in
        its last ``<answer>``), in the original image's pixels. Columns: ``image_grid_thw``
        (the processor's, per sample) and ``image_size`` (width, height) or ``image_path``
        (opened for its size).

    Options:
        None besides ``ranked`` (an answer with no readable box leaves the window alone).

    Frame:
        The model's input frame, ``image_grid_thw`` x 14 pixels, mapped to the original image
        as ``v / input_size * image_size`` per axis (Qwen2.5-VL's absolute coordinates).

    Deviations:
        A JSON-object solution scores 0, as published; no deviation on model output.

    Examples:
        >>> vlmr1_rec_reward().recipe.context
        ('image_grid_thw', 'image_size?', 'image_path?')
    """
    if options:
        raise TypeError(f"the vlm-r1-rec preset takes no options, got {sorted(options)}")
    # VLM-R1's reward_funcs order: accuracy, then format
    return ComponentReward([Component("accuracy", ranked=ranked), Component("format")],
                           recipe=RecRecipe(), max_reward=2.0)  # fmt: skip


class OvdRecipe:
    """VLM-R1's open-vocabulary detection accuracy (`ovd_accuracy_batch`, by ``method``) and
    format of a batch. Columns: ``accuracy``, ``format``.

    Examples:
        >>> OvdRecipe("odLength").terms(["x"], ["[]"], {}).columns["format"].tolist()
        [0.0]
    """

    name = "vlm-r1-ovd"  # what its windows' state files say they belong to

    context: tuple[str, ...] = ()

    def __init__(self, method: str) -> None:
        if method not in OVD_METHODS:
            raise ValueError(f"method must be one of {OVD_METHODS}, got {method!r}")
        self.method = method

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        accuracy = ovd_accuracy_batch(texts, [str(g) for g in ground_truths], self.method)
        return Terms({"accuracy": accuracy, "format": [ovd_format(t) for t in texts]})


def vlmr1_ovd_reward(ranked: bool = False, method: str = "odLength") -> ComponentReward:
    """The ``vlm-r1-ovd`` preset: VLM-R1's OVD accuracy (``method`` one of `OVD_METHODS`) and
    format; ``ranked`` ranks the accuracy. O(1).

    Published:
        [VLM-R1](https://github.com/om-ai-lab/VLM-R1),
        ``src/open-r1-multimodal/src/open_r1/grpo_jsonl.py``: ``accuracy_reward`` with
        ``accu_reward_method`` ``odLength`` (AP@[.5:.95] times min(1, truths / predictions)),
        ``od_ap``, ``od_ap50`` or ``weighted_sum`` (0.7 x mean matched IoU + 0.3 x
        completeness), and ``format_reward``; the per-sample COCO evaluation is pycocotools'.

    Answer:
        ``<think>...</think><answer>```json [{"bbox_2d": [x1, y1, x2, y2], "label": "dog"}]
        ```</answer>``.

    Ground truth:
        The ``solution`` column: ``'<answer>```json [{"bbox_2d": [10, 100, 200, 210],
        "label": "dog"}] ```</answer>'``. A box with x2 < x1, a block that is not a JSON list
        or (COCO methods) an object without ``label`` raises naming the sample.

    Options:
        ``method``: ``"odLength"`` (default), ``"od_ap"``, ``"od_ap50"``, ``"weighted_sum"``.

    Frame:
        Pixels of the image the model saw (the solution's frame).

    Deviations:
        The ground-truth checks above (pycocotools gives AP -1.0 for a reversed box, which the
        published trainer adds to the reward); an answer with a coordinate beyond float's
        range, or (``weighted_sum``) an unreadable first matched label, scores 0 accuracy where
        the published code crashes the step.

    Examples:
        >>> vlmr1_ovd_reward(method="od_ap").recipe.method
        'od_ap'
    """
    # VLM-R1's reward_funcs order: accuracy, then format
    return ComponentReward([Component("accuracy", ranked=ranked), Component("format")],
                           recipe=OvdRecipe(method), max_reward=2.0)  # fmt: skip


#: The 0.1 name of `REC_CONTEXT` (the recipe's ``context``: the per-sample columns it reads).
__getattr__ = renamed_attributes(__name__, {"REC_COLUMNS": ("REC_CONTEXT", lambda: REC_CONTEXT)})
