"""Visual-RFT's detection reward (``src/virft/src/open_r1/grpo.py``: ``accuracy_reward_iou``,
``accuracy_reward_confidence``, ``format_reward``), restated.

An answer is a list of ``{"Position": [x1, y1, x2, y2], "Confidence": c}`` (single quotes
allowed; a truncated list is closed after its last complete object). Predictions, deduplicated
by position and sorted by confidence, are matched greedily to the unmatched ground-truth box of
highest IoU (a match needs IoU > 0.5):

- ``iou``: the sum of matched IoUs over max(ground truths, predictions), at most 1;
- ``confidence``: the mean over predictions of their confidence when matched, else
  1 - confidence, clipped to [0, 1];
- ``format``: ``<think>...</think> <answer>...</answer>`` is the whole text.

Both accuracy terms first try ``math_verify``: if it proves the completion equal to the ground
truth, the term is 1. That shortcut fires on unrelated boxes that share a parsed number, so
reproducing the published numbers needs the ``math-verify`` package (the ``recipes`` extra);
``math_verify=False`` leaves it out, a documented deviation.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...text import between, structure_ok
from ..spec import Component, ComponentReward, Terms
from ._plain import plain_box, plain_number

__all__ = [
    "RftRecipe",
    "math_verified_batch",
    "rft_accuracy",
    "rft_format",
    "rft_matches",
    "rft_terms",
    "visualrft_reward",
]


def rft_format(text: str) -> float:
    """Visual-RFT's ``format_reward`` for one completion. O(len(text)).

    Examples:
        >>> rft_format("<think>a</think><answer>[]</answer>")
        1.0
    """
    return 1.0 if structure_ok(text) else 0.0


def _boxes(text: str) -> Any:
    """Visual-RFT's ``extract_bbox``: the list between the first ``<answer>`` and the first
    ``</answer>``, closed after its last object when truncated, single quotes made double;
    None when it is not JSON."""
    if "<answer>" not in text:
        return None
    start = text.find("<answer>") + len("<answer>")
    end = text.find("</answer>")
    body = text[start : len(text) if end == -1 else end]
    if not body.endswith("]"):
        body = body.rsplit("},", 1)[0] + "}]"
    try:
        return json.loads(body.replace("'", '"'))
    except json.JSONDecodeError:
        return None


def _rft_iou(a: Any, b: Any) -> float:
    x1, y1, x2, y2 = a
    u1, v1, u2, v2 = b
    ix1, iy1, ix2, iy2 = max(x1, u1), max(y1, v1), min(x2, u2), min(y2, v2)
    if ix2 <= ix1 or iy2 <= iy1:
        return 0.0
    inter = (ix2 - ix1) * (iy2 - iy1)
    return inter / ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter)


def rft_matches(text: str, solution: str) -> tuple[list[tuple[float, Any]], int] | None:
    """The (IoU or 0, confidence) of every deduplicated prediction in confidence order, and
    the number of ground-truth boxes; None when the published code scores 0 before matching
    (no list of objects, or anything that raises). O(P G).

    Examples:
        >>> gt = "<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
        >>> rft_matches("<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 0.9}]</answer>", gt)
        ([(1.0, 0.9)], 1)
    """
    try:
        # the published r"<answer>(.*?)</answer>" without DOTALL: the answer holds no newline
        span = between(text, "<answer>", "</answer>", newlines=False)
        answer = text[span[0] : span[1]].strip() if span else text.strip()
        answer = ("<answer>" + answer + "</answer>").replace("[[", "[").replace("]]", "]")
        answer = answer.replace("\n", "")
        gt = _boxes(solution.strip())
        pred = _boxes(answer)
        if pred is None or type(pred[0]) is not dict:
            return None
        seen, unique = set(), []
        for box in pred:
            key = tuple(box["Position"])
            if key not in seen:
                seen.add(key)
                unique.append(box)
        if _plain(gt, unique):  # the common form: the library's greedy-by-confidence matcher
            from ...metrics import greedy_match

            ious = np.array([[_rft_iou(g["Position"], p["Position"]) for g in gt] for p in unique])
            ious = ious.reshape(len(unique), len(gt))
            conf = [p["Confidence"] for p in unique]
            pairs = dict(greedy_match(ious, scores=conf, threshold=0.5, inclusive=False))
            order = sorted(range(len(unique)), key=lambda k: -conf[k])
            return [(float(ious[i, pairs[i]]) if i in pairs else 0, conf[i]) for i in order], len(
                gt
            )
        # anything else follows the published loop, which fails where it computes a bad IoU
        ranked = sorted(unique, key=lambda x: x["Confidence"], reverse=True)
        used: set[int] = set()
        results = []
        for p in ranked:
            best, best_i = 0, -1
            for i, g in enumerate(gt):
                if i not in used:
                    value = _rft_iou(g["Position"], p["Position"])
                    if value > best:
                        best, best_i = value, i
            if best > 0.5:
                results.append((best, p["Confidence"]))
                used.add(best_i)
            else:
                results.append((0, p["Confidence"]))
        return results, len(gt)
    except (TypeError, KeyError, IndexError, ValueError, ZeroDivisionError, AttributeError,
            RecursionError):  # fmt: skip
        return None


def _plain(gt: Any, pred: list) -> bool:
    """Every box a dict whose Position is four plain numbers (and every prediction's
    Confidence one): no IoU can raise, so computing them all first changes nothing."""
    if type(gt) is not list:
        return False
    for box in [*gt, *pred]:
        if type(box) is not dict or not plain_box(box.get("Position"), exactly_four=True):
            return False
    return all(plain_number(p["Confidence"]) for p in pred)


def _math_verified(text: str, solution: str, parsed_solution: Any = None) -> bool:
    from math_verify import parse, verify

    try:
        gold = parse(solution) if parsed_solution is None else parsed_solution
        return float(verify(parse(text), gold)) > 0
    except Exception:  # the published code ignores whatever math_verify raises
        return False


def math_verified_batch(texts: list[str], solutions: list[str]) -> np.ndarray:
    """Visual-RFT's math_verify shortcut for a batch: whether ``verify(parse(text),
    parse(solution))`` holds. Both published accuracy terms ask the same question, so it is
    asked once per completion, and each distinct solution is parsed once (math_verify's
    ``parse`` is a pure function of the string). O(B) math_verify calls.

    Examples:
        >>> math_verified_batch(["The answer is 7", "The answer is 8"], ["7", "7"]).tolist()
        [True, False]
    """
    from math_verify import parse

    gold: dict[str, Any] = {}
    out = np.zeros(len(texts), bool)
    for k, (text, solution) in enumerate(zip(texts, solutions, strict=True)):
        if solution not in gold:
            try:
                gold[solution] = parse(solution)
            except Exception:  # the published call fails inside its try: no shortcut
                gold[solution] = None
        out[k] = gold[solution] is not None and _math_verified(text, solution, gold[solution])
    return out


def rft_terms(
    text: str, solution: str, *, math_verify: bool = True, verified: bool | None = None
) -> dict[str, float]:
    """Both of Visual-RFT's accuracy terms for one completion, from one matching:
    ``{"iou": ..., "confidence": ...}``. ``verified`` passes the math_verify verdict when it
    is already known (`math_verified_batch`). O(P G) plus math_verify.

    Examples:
        >>> gt = "<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
        >>> text = "<answer>[{'Position': [0, 0, 10, 20], 'Confidence': 0.8}]</answer>"
        >>> rft_terms(text, gt, math_verify=False)
        {'iou': 0.0, 'confidence': 0.19999999999999996}
    """
    if verified is None:
        verified = math_verify and _math_verified(text, solution)
    if verified:
        return {"iou": 1.0, "confidence": 1.0}
    zero = {"iou": 0.0, "confidence": 0.0}
    found = rft_matches(text, solution)
    if found is None:
        return zero
    results, n_gt = found
    try:
        # both sums are formed for either term, as published: a bad confidence zeroes both
        total = sum(r[0] for r in results)
        conf = sum(r[1] if r[0] != 0 else (1 - r[0]) * (1 - r[1]) for r in results)
    except Exception:  # the published reward catches everything and scores 0
        return zero
    out = dict(zero)
    try:
        value = total / n_gt if n_gt >= len(results) else total / len(results)
        out["iou"] = 1.0 if value > 1 else value
    except Exception:  # the published reward catches everything and scores 0
        pass
    try:
        value = conf / len(results)
        out["confidence"] = 1.0 if value > 1 else 0.0 if value < 0 else value
    except Exception:  # the published reward catches everything and scores 0
        pass
    return out


def rft_accuracy(
    text: str, solution: str, term: str, *, math_verify: bool = True, verified: bool | None = None
) -> float:
    """One of Visual-RFT's accuracy terms (``"iou"`` or ``"confidence"``) for one completion
    (`rft_terms`). O(P G) plus math_verify.

    Examples:
        >>> gt = "<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
        >>> text = "<answer>[{'Position': [0, 0, 10, 20], 'Confidence': 0.8}]</answer>"
        >>> rft_accuracy(text, gt, "iou", math_verify=False), rft_accuracy(text, gt, "confidence", math_verify=False)
        (0.0, 0.19999999999999996)
    """
    if term not in ("iou", "confidence"):
        raise ValueError(f"term must be 'iou' or 'confidence', got {term!r}")
    return rft_terms(text, solution, math_verify=math_verify, verified=verified)[term]


class RftRecipe:
    """Visual-RFT's detection terms of a batch: the math_verify verdict asked once per
    completion for both accuracy terms (`math_verified_batch`), then one matching per
    completion for both (`rft_terms`). Columns: ``iou``, ``confidence``, ``format``.

    Examples:
        >>> gt = "<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
        >>> text = "<answer>[{'Position': [0, 0, 10, 20], 'Confidence': 0.8}]</answer>"
        >>> terms = RftRecipe(math_verify=False).terms([text], [gt], {}).columns
        >>> terms["iou"].tolist(), terms["confidence"].tolist()
        ([0.0], [0.19999999999999996])
    """

    name = "visual-rft"  # what its windows' state files say they belong to

    context: tuple[str, ...] = ()

    def __init__(self, math_verify: bool) -> None:
        self.math_verify = math_verify

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        sols = [str(g) for g in ground_truths]
        verified = (
            math_verified_batch(texts, sols) if self.math_verify else np.zeros(len(texts), bool)
        )
        rows = [rft_terms(t, s, verified=bool(v))
                for t, s, v in zip(texts, sols, verified.tolist(), strict=True)]  # fmt: skip
        columns = {term: [row[term] for row in rows] for term in ("iou", "confidence")}
        columns["format"] = [rft_format(t) for t in texts]
        return Terms(columns)


def visualrft_reward(ranked: bool = False, math_verify: bool = True) -> ComponentReward:
    """The ``visual-rft`` preset: Visual-RFT's ``accuracy_iou``, ``accuracy_confidence`` and
    ``format`` rewards; ``ranked`` ranks both accuracy terms. O(1).

    Published:
        [Visual-RFT](https://github.com/Liuziyu77/Visual-RFT),
        ``src/virft/src/open_r1/grpo.py``: ``accuracy_reward_iou``,
        ``accuracy_reward_confidence`` (confidence-sorted greedy matching at IoU > 0.5) and
        ``format_reward``, with their ``math_verify`` shortcut (1.0 whenever math_verify finds
        the completion equal to the ground truth).

    Answer:
        ``<think>...</think> <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': 0.9}]
        </answer>`` (single quotes allowed; a truncated list is closed after its last object).

    Ground truth:
        The ``solution`` column: ``'<answer>[{"Position": [10, 100, 200, 210],
        "Confidence": 1}]</answer>'``.

    Options:
        ``math_verify`` (default ``True``, needs ``pip install 'rankreward[recipes]'``):
        ``False`` skips the shortcut.

    Frame:
        Pixels of the image the model saw.

    Deviations:
        ``math_verify=False`` only, opt-in.

    Examples:
        >>> [c.name for c in visualrft_reward(math_verify=False).components]
        ['iou', 'confidence', 'format']
    """
    if math_verify:
        try:
            import math_verify as _  # noqa: F401
        except ImportError:
            raise ImportError(
                "the visual-rft preset reproduces Visual-RFT's math_verify shortcut: pip install "
                "'rankreward[recipes]' (or pass math_verify=False, a documented deviation)"
            ) from None
    # Visual-RFT's reward functions: accuracy_iou, accuracy_confidence, format
    return ComponentReward([
        Component("iou", ranked=ranked),
        Component("confidence", ranked=ranked),
        Component("format"),
    ], recipe=RftRecipe(math_verify), max_reward=3.0)  # fmt: skip
