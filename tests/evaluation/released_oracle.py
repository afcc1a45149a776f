"""The released evaluation scripts' per-sample control flow, restated plainly as a test oracle.

Each function follows one script's steps in its order, with its broad ``except Exception``
branches, on the scripts' own data layout (lists of ints, a per-item loop). The library's
vectorised, typed implementation must agree with it on every input; this file is the slow,
obvious version it is checked against (see ``docs/paper.md``, "Evaluation
protocols of the released code").
"""

from __future__ import annotations

import json
import re

import numpy as np


def extract(text, xf, yf):
    """Answer -> (boxes, points); raises on anything malformed (the Dr. Seg reader)."""
    m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL)
    if not m:
        raise ValueError("no answer")
    data = json.loads(m.group(1))
    boxes = [[int(it["bbox_2d"][i] * (xf if i % 2 == 0 else yf) + 0.5) for i in range(4)]
             for it in data]  # fmt: skip
    points = [[int(it["point_2d"][i] * (xf if i % 2 == 0 else yf) + 0.5) for i in range(2)]
              for it in data]  # fmt: skip
    return boxes, points


def extract_vr(text, xf, yf):
    """VisionReasoner's reader: never raises; boxes survive a failure in the points."""
    boxes, points = [], []
    m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL)
    if m:
        try:
            data = json.loads(m.group(1))
            boxes = [[int(it["bbox_2d"][i] * (xf if i % 2 == 0 else yf) + 0.5)
                      for i in range(4)] for it in data]  # fmt: skip
            points = [[int(it["point_2d"][i] * (xf if i % 2 == 0 else yf) + 0.5)
                       for i in range(2)] for it in data]  # fmt: skip
        except Exception:
            pass
    return boxes, points


def masks_for(segmenter, image, boxes, points, shape):
    mask_all = np.zeros(shape, bool)
    if not boxes or not points or len(points) != len(boxes):
        return mask_all  # the box-only branch of the released code never ORs its masks
    for b, p in zip(boxes, points, strict=True):
        mask_all |= segmenter(image, [b], [p])[0]
    return mask_all


def bbox_iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0 if union == 0 else inter / union


def drseg_giou(samples, texts, segmenter, seen=840):
    ious = []
    for s, t in zip(samples, texts, strict=True):
        gt = np.asarray(s["mask"], bool)
        h, w = gt.shape
        try:
            boxes, points = extract(t, w / seen, h / seen)
        except Exception:
            ious.append(0 / gt.sum() if gt.sum() > 0 else 0)
            continue
        pred = masks_for(segmenter, s["image"], boxes, points, gt.shape)
        union = np.logical_or(pred, gt).sum()
        if union == 0:
            continue  # compute_iou returns a bare 0, unpacking it raises: the sample is skipped
        ious.append(np.logical_and(pred, gt).sum() / union)
    return float(np.mean(ious)), len(ious)


def vr_segmentation(samples, texts, segmenter, seen=840, nonobj=False):
    total_i = total_u = hits = 0
    ious, non_object, non_object_gt = [], 0, 0
    for s, t in zip(samples, texts, strict=True):
        gt = np.asarray(s["mask"], bool)
        h, w = gt.shape
        boxes, points = extract_vr(t, w / seen, h / seen)
        pred = masks_for(segmenter, s["image"], boxes, points, gt.shape)
        inter, union = np.logical_and(pred, gt).sum(), np.logical_or(pred, gt).sum()
        if union == 0:
            inter = union = 0
        if "bbox" in s:
            gt_box = s["bbox"]
        elif gt.any():
            r, c = np.where(gt.any(1))[0], np.where(gt.any(0))[0]
            gt_box = [int(c[0]), int(r[0]), int(c[-1]), int(r[-1])]
        else:
            gt_box = []
        hit = 0.0
        if gt_box == []:
            hit = 1.0 if len(boxes) == 0 else 0.0
        else:
            for b in boxes:
                if bbox_iou(b, gt_box) > 0.5:
                    hit = 1.0
                    break
            if boxes:
                merged = [min(b[0] for b in boxes), min(b[1] for b in boxes),
                          max(b[2] for b in boxes), max(b[3] for b in boxes)]  # fmt: skip
                if bbox_iou(merged, gt_box) > 0.5:
                    hit = 1.0
        iou = inter / union if union > 0 else 0
        no = int(gt.sum() == 0 and len(boxes) == 0)
        if nonobj and no:
            iou = 1.0
        non_object += no
        non_object_gt += int(gt.sum() == 0)
        ious.append(iou)
        total_i += inter
        total_u += union
        hits += hit
    out = {"giou": float(np.mean(ious)), "ciou": total_i / total_u if total_u > 0 else 0,
           "bbox_accuracy": hits / len(ious)}  # fmt: skip
    if nonobj:
        out["n_acc"] = non_object / non_object_gt if non_object_gt > 0 else 0
    return out


def vr_coco_results(samples, texts, seen=840):
    results = []
    for s, t in zip(samples, texts, strict=True):
        boxes, _ = extract_vr(t, s["width"] / seen, s["height"] / seen)
        for b in boxes:
            score = (b[2] - b[0]) * (b[3] - b[1]) / (s["width"] * s["height"]) if s["bbox"] else 0.0
            results.append({"image_id": s["image_id"], "category_id": s["category_id"],
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                            "score": float(score)})  # fmt: skip
    return results


def vr_count(samples, texts):
    pred = [len(extract_vr(t, 1.0, 1.0)[0]) for t in texts]
    gt = [s["count"] for s in samples]
    err = [p - g for p, g in zip(pred, gt, strict=True)]
    return {"accuracy": float(np.mean([e == 0 for e in err])),
            "mae": float(np.mean([abs(e) for e in err])),
            "rmse": float(np.sqrt(np.mean([e * e for e in err])))}  # fmt: skip
