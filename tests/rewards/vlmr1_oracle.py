"""VLM-R1's REC reward functions (``vlm_modules/qwen_module.py``: ``iou_reward``,
``format_reward_rec``) restated as a test oracle, called the way its trainer calls them:
conversational completions, ``solution``, ``image_grid_thw`` and ``image_path`` columns."""

from __future__ import annotations

import json
import re

from PIL import Image


def format_reward_rec(completions, **kwargs):
    pattern = r"<think>.*?</think>\s*<answer>.*?\{.*\[\d+,\s*\d+,\s*\d+,\s*\d+\].*\}.*?</answer>"
    return [1.0 if re.search(pattern, c[0]["content"], re.DOTALL) else 0.0 for c in completions]


def iou_reward(completions, solution, **kwargs):
    def iou(b1, b2):
        ix1, iy1 = max(b1[0], b2[0]), max(b1[1], b2[1])
        ix2, iy2 = min(b1[2] - 1, b2[2] - 1), min(b1[3] - 1, b2[3] - 1)
        inter = (ix2 - ix1 + 1) * (iy2 - iy1 + 1) if ix1 < ix2 and iy1 < iy2 else 0
        union = (b1[2] - b1[0]) * (b1[3] - b1[1]) + (b2[2] - b2[0]) * (b2[3] - b2[1]) - inter
        return float(inter) / union

    rewards = []
    for i, (c, sol) in enumerate(zip(completions, solution, strict=True)):
        grid = kwargs["image_grid_thw"][i]
        width, height = Image.open(kwargs["image_path"][i][0]).size
        in_h, in_w = int(grid[1] * 14), int(grid[2] * 14)
        sol = json.loads(re.findall(r"<answer>(.*?)</answer>", sol, re.DOTALL)[-1].strip())
        reward = 0.0
        try:
            m = re.search(r"<answer>(.*?)</answer>", c[0]["content"], re.DOTALL)
            if m:
                b = re.search(r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]", m.group(1).strip())
                if b:
                    box = [int(v) for v in b.groups()]
                    box = [box[0] / in_w * width, box[1] / in_h * height,
                           box[2] / in_w * width, box[3] / in_h * height]  # fmt: skip
                    reward = iou(box, sol)
        except Exception:
            pass
        rewards.append(reward)
    return rewards


def calculate_map(pred, gt, score_type=0):
    """VLM-R1's ``calculate_map``: pycocotools on one 2048x2048 image, printing silenced."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_json = {"annotations": [], "images": [{"id": 0, "width": 2048, "height": 2048,
                                              "file_name": "x.jpg"}], "categories": []}  # fmt: skip
    cats = {}
    for idx, g in enumerate(gt):
        if g["label"] not in cats:
            cats[g["label"]] = len(cats)
            gt_json["categories"].append({"id": cats[g["label"]], "name": g["label"]})
        b = g["bbox_2d"]
        gt_json["annotations"].append({"id": idx + 1, "image_id": 0, "category_id": cats[g["label"]],
                                       "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                                       "area": (b[2] - b[0]) * (b[3] - b[1]), "iscrowd": 0})  # fmt: skip
    dt = []
    for p in pred:
        try:
            b = p["bbox_2d"]
            dt.append({"image_id": 0, "category_id": cats[p["label"]],
                       "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": 1.0,
                       "area": (b[2] - b[0]) * (b[3] - b[1])})  # fmt: skip
        except Exception:
            pass
    if not dt:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt_json
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dt), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[score_type]


def map_reward(content, sol, length_reward=False, score_type=0):
    pattern = r"```json(.*?)```"
    m = re.findall(pattern, sol, re.DOTALL)
    gt = list(json.loads(m[-1].strip())) if m else []
    pred = []
    m = re.findall(pattern, content, re.DOTALL)
    if m:
        try:
            pred = list(json.loads(m[-1].strip()))
        except Exception:
            pred = []
    if pred and gt:
        r = calculate_map(pred, gt, score_type)
    elif not pred and not gt:
        r = 1.0
    else:
        r = 0.0
    if length_reward:
        return r * (1.0 if len(gt) >= len(pred) else len(gt) / len(pred))
    return r


def od_accuracy(content, sol, method="odLength"):
    s = re.search(r"<answer>(.*?)</answer>", sol, re.DOTALL)
    truth = s.group(1).strip() if s else None
    c = re.findall(r"<answer>(.*?)</answer>", content, re.DOTALL)
    answer = c[-1].strip() if c else None
    if answer is None:
        return 0.0
    if truth == "None" and answer == "None":
        return 1.0
    if method == "odLength":
        return map_reward(answer, truth, length_reward=True)
    return map_reward(answer, truth, score_type=1 if method == "od_ap50" else 0)


def format_reward(completions):
    pattern = r"<think>.*?</think>\s*<answer>.*?</answer>"
    return [1.0 if re.fullmatch(pattern, c[0]["content"], re.DOTALL) else 0.0 for c in completions]


def clean_text(text):
    m = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)
    if m:
        text = m[-1]
    for char in ["\n", "\r"]:
        text = re.sub(r"(?<=\s)" + re.escape(char), "", text)
        text = re.sub(r"(?<!\s)" + re.escape(char), " ", text)
    return text.strip().rstrip(".").lower()


def _iou(b1, b2):
    ix1, iy1 = max(b1[0], b2[0]), max(b1[1], b2[1])
    ix2, iy2 = min(b1[2] - 1, b2[2] - 1), min(b1[3] - 1, b2[3] - 1)
    inter = (ix2 - ix1 + 1) * (iy2 - iy1 + 1) if ix1 < ix2 and iy1 < iy2 else 0
    union = (b1[2] - b1[0]) * (b1[3] - b1[1]) + (b2[2] - b2[0]) * (b2[3] - b2[1]) - inter
    return float(inter) / union


def detection_score(content, sol, thr=0.5, alpha=0.7, beta=0.0, gamma=0.3):
    m = re.search(r"```json(.*?)```", clean_text(content), re.DOTALL)
    body = m.group(1).strip() if m else None
    if body:
        try:
            pred = [x for x in json.loads(body)]
        except Exception:
            pred = []
    else:
        pred = []
    m = re.search(r"```json(.*?)```", clean_text(sol), re.DOTALL)
    body = m.group(1).strip() if m else None
    gt = [x for x in json.loads(body)] if body else []
    if len(gt) == 0:
        return 1.0 if not pred else 0.0
    if len(pred) == 0:
        return 0.0
    matches, up, ug = [], list(range(len(pred))), list(range(len(gt)))
    table = []
    for p in pred:
        row = []
        for g in gt:
            try:
                row.append(_iou(p["bbox_2d"], g["bbox_2d"]))
            except Exception:
                row.append(0.0)
        table.append(row)
    while up and ug:
        best, bp, bg = -1, -1, -1
        for i in up:
            for j in ug:
                if table[i][j] > best:
                    best, bp, bg = table[i][j], i, j
        if best < thr:
            break
        try:
            pred_label = pred[bp]["label"].lower()  # kept across iterations
        except Exception:
            pass
        try:
            gt_label = gt[bg]["label"].lower()
        except Exception:
            gt_label = ""
        ok = pred_label == gt_label  # NameError when the first label is unreadable
        matches.append((best if ok else 0, ok))
        up.remove(bp)
        ug.remove(bg)
    pos = sum(x[0] for x in matches) / len(gt) if matches else 0.0
    lab = sum(1.0 for x in matches if x[1]) / len(gt) if matches else 0.0
    comp = 1.0 - (len(ug) / len(gt) + len(up) / len(pred)) / 2.0
    return (alpha * pos + beta * lab + gamma * comp) / (alpha + beta + gamma)


def weighted_sum_accuracy(content, sol):
    c, s = clean_text(content), clean_text(sol)
    if s == "none":
        return 1.0 if c == "none" else 0.0
    return detection_score(c, s)
