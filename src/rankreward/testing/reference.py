"""A reference-style Dr. Seg reward: one completion at a time, written the way the paper's code
is (regexes, ``json.loads``, numpy broadcasting, ``scipy.optimize.linear_sum_assignment``, one
rank query per completion against a plain sorted list).

It is the oracle of the reward tests and the baseline of ``benchmarks/bench_reward.py``; it shares
no code with `rankreward.rewards.recipes.drseg`. It follows the released rules (``docs/paper.md``, "The
reward") with the deliberate differences that document allows: non-finite
coordinates score x1 = x3 = 0 instead of propagating NaN, and errors in the ground truth raise.
``compat="strict"`` gives rankreward's strict reading (a malformed answer scores (0, 0, 0)).
"""

from __future__ import annotations

import bisect
import json
import re

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["ReferenceDrSeg", "accuracy", "format_reward", "match", "non_repeat_reward"]

_STRUCTURE = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_THINK = re.compile(r"<think>\s*(.*?)\s*</think>", re.DOTALL)
_ANSWER_SECTION = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_LOOK = re.compile(r"<look>\s*\S[\s\S]*?</look>", re.DOTALL)
_PLACEHOLDERS = [
    re.compile(r"\byour[\s\W]*reasoning[\s\W]*text\b", re.IGNORECASE),
    re.compile(r"\byour[\s\W]*visual[\s\W]*focus\b", re.IGNORECASE),
    re.compile(r"\bmore[\s\W]*reasoning[\s\W]*text\b", re.IGNORECASE),
]
_SPLIT = re.compile(r"[.!?。！？…]+")
_EDGE = " \"'“”‘’[](){}，,;:、"


def format_reward(text: str) -> float:
    structure = 1.0 if _STRUCTURE.fullmatch(text) else 0.0
    items = 0.0
    m = _ANSWER.search(text)
    if m:
        try:
            data = json.loads(m.group(1))
            count = len(data)
            for item in data:
                cur = 0.0
                if "bbox_2d" in item:
                    if isinstance(item["bbox_2d"], list) and len(item["bbox_2d"]) == 4:
                        cur += 1.0
                if "point_2d" in item:
                    if isinstance(item["point_2d"], list) and len(item["point_2d"]) == 2:
                        cur += 1.0
                items += cur / count
        except Exception:
            pass
    look = 0.0
    for section in (_THINK.search(text), _ANSWER_SECTION.search(text)):
        if section and _LOOK.search(section.group(1)):
            look = 1.0
    return structure, items, look


def non_repeat_reward(text: str) -> float:
    if any(p.search(text) for p in _PLACEHOLDERS):
        return 0.0
    seen, repeats = set(), 0
    for raw in _SPLIT.split(text):
        s = re.sub(r"\s+", " ", raw.strip().strip(_EDGE)).lower()
        if not s:
            continue
        if s in seen:
            repeats += 1
        seen.add(s)
    return 0.0 if repeats >= 2 else 1.0


def _objects(data, cap):
    boxes = [item["bbox_2d"] for item in data]
    points = [item["point_2d"] for item in data]
    boxes, points = boxes[:cap], points[:cap]
    ok = all(
        isinstance(v, list) and len(v) == n and all(isinstance(c, (int, float)) for c in v)
        for vs, n in ((boxes, 4), (points, 2))
        for v in vs
    )
    if not ok:
        raise ValueError("malformed objects")
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    p = np.array(points, dtype=np.float64).reshape(-1, 2)
    if (
        not (np.isfinite(b).all() and np.isfinite(p).all())
        or (np.abs(b).max(initial=0) > 1e9)
        or (np.abs(p).max(initial=0) > 1e9)
    ):
        raise ValueError("non-finite objects")
    return b, p


def match(boxes, points, gt_boxes, gt_points):
    """The paper-style geometry of one rollout: pixel-inclusive IoU, L1, point distances,
    point-in-own-box, the 0..3 cost and scipy's assignment. Returns (iou, dist, rows, cols)."""
    x11, y11, x12, y12 = np.split(boxes, 4, axis=1)
    x21, y21, x22, y22 = np.split(gt_boxes, 4, axis=1)
    xa, ya = np.maximum(x11, x21.T), np.maximum(y11, y21.T)
    xb, yb = np.minimum(x12, x22.T), np.minimum(y12, y22.T)
    inter = np.maximum(xb - xa + 1, 0) * np.maximum(yb - ya + 1, 0)
    area1 = (x12 - x11 + 1) * (y12 - y11 + 1)
    area2 = (x22 - x21 + 1) * (y22 - y21 + 1)
    union = area1 + area2.T - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    l1 = np.abs(boxes[:, None, :] - gt_boxes[None, :, :]).mean(axis=2)
    dist = np.sqrt(np.sum((points[:, None, :] - gt_points[None, :, :]) ** 2, axis=2))
    inside = (
        (points[:, 0] >= boxes[:, 0])
        & (points[:, 0] <= boxes[:, 2])
        & (points[:, 1] >= boxes[:, 1])
        & (points[:, 1] <= boxes[:, 3])
    )
    cost = (
        3
        - (iou > 0.5).astype(int)
        - (l1 < 10).astype(int)
        - ((dist < 30) & inside[:, None]).astype(int)
    )
    rows, cols = linear_sum_assignment(cost)
    return iou, dist, rows, cols


def _released(text: str, ground_truth: str, cap: int) -> tuple[float, float, float]:
    gt_boxes, gt_points = _objects(json.loads(ground_truth), cap)  # errors here are the data's
    boxes, points = [], []
    m = _ANSWER.search(text)
    data = None
    if m:
        try:
            data = json.loads(m.group(1))
        except Exception:
            data = None
    if isinstance(data, list):
        try:
            boxes = [item["bbox_2d"] for item in data]
            points = [item["point_2d"] for item in data]
        except Exception:
            boxes, points = [], []
    boxes, points = boxes[:cap], points[:cap]
    mm, nn = len(boxes), len(gt_boxes)
    x2 = 1.0 if mm == nn == 0 else min(mm, nn) / max(mm, nn)
    if mm == 0 or nn == 0:
        return 0.0, x2, 0.0
    try:
        b = np.array(boxes, dtype=float)
        p = np.array(points, dtype=float)
        if (
            b.shape != (mm, 4)
            or p.shape != (mm, 2)
            or not (np.isfinite(b).all() and np.isfinite(p).all())
        ):
            raise ValueError("not usable")
    except Exception:
        return 0.0, x2, 0.0
    iou, dist, rows, cols = match(b, p, gt_boxes, gt_points)
    d = dist[rows, cols]
    score = np.where(d <= 30, 1.0, np.where(d < 200, (200 - d) / 170, 0.0))
    x1, x3 = float(iou[rows, cols].mean()), float(score.mean())
    if not (np.isfinite(x1) and np.isfinite(x3)):
        return 0.0, x2, 0.0
    return x1, x2, x3


def accuracy(
    text: str, ground_truth: str, cap: int = 120, compat: str = "released"
) -> tuple[float, float, float]:
    if compat == "released":
        return _released(text, ground_truth, cap)
    gt_boxes, gt_points = _objects(json.loads(ground_truth), cap)  # errors here are the data's
    try:
        m = _ANSWER.search(text)
        if not m:
            return 0.0, 0.0, 0.0
        boxes, points = _objects(json.loads(m.group(1)), cap)
    except Exception:
        return 0.0, 0.0, 0.0
    mm, nn = len(boxes), len(gt_boxes)
    x2 = 1.0 if mm == nn == 0 else min(mm, nn) / max(mm, nn)
    if mm == 0 or nn == 0:
        return 0.0, x2, 0.0
    iou, dist, rows, cols = match(boxes, points, gt_boxes, gt_points)
    d = dist[rows, cols]
    score = np.where(d <= 30, 1.0, np.where(d < 200, (200 - d) / 170, 0.0))
    return float(iou[rows, cols].mean()), x2, float(score.mean())


class ReferenceDrSeg:
    """The paper's per-step loop: rank each completion against the window before the step (one
    query per completion and metric), buffer, append at `commit`."""

    def __init__(self, window: int = 2048, prefill: int = 128, compat: str = "released") -> None:
        self.compat = compat
        self.window = window
        self.values: list[list[float]] = [[0.0] * prefill for _ in range(3)]
        self.buffer: list[tuple[float, float, float]] = []
        self._snapshot: list[list[float]] | None = None

    def _rank(self, k: int, x: float) -> float:
        if self._snapshot is None:  # the window as it stood before the step, sorted once
            self._snapshot = [sorted(v) for v in self.values]
        ordered = self._snapshot[k]
        n = len(ordered)
        c = bisect.bisect_right(ordered, float(np.float32(x)))
        return round(min(max(c / n, 0.0), 1.0), 1)

    def __call__(self, completions, ground_truth) -> list[float]:
        out = []
        for text, gt in zip(completions, ground_truth, strict=True):
            structure, items, look = format_reward(text)
            xs = accuracy(text, gt, compat=self.compat)
            ranks = [self._rank(k, x) for k, x in enumerate(xs)]
            self.buffer.append(xs)
            out.append(
                structure + items + look + ranks[0] + ranks[1] + ranks[2] + non_repeat_reward(text)
            )
        return out

    def commit(self) -> None:
        for xs in self.buffer:
            for k in range(3):
                self.values[k].append(float(np.float32(xs[k])))
                if len(self.values[k]) > self.window:
                    self.values[k].pop(0)
        self.buffer.clear()
        self._snapshot = None
