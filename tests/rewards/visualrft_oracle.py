"""Visual-RFT's detection reward functions (``src/virft/src/open_r1/grpo.py``) restated as a
test oracle, math_verify shortcut included, called as its trainer calls them."""

from __future__ import annotations

import json
import re

from math_verify import parse, verify


def extract_bbox(s):
    if "<answer>" not in s:
        return None
    start = s.find("<answer>") + len("<answer>")
    end = s.find("</answer>")
    if end == -1:
        end = len(s)
    body = s[start:end]
    if not body.endswith("]"):
        body = body.rsplit("},", 1)[0] + "}]"
    try:
        return json.loads(body.replace("'", '"'))
    except json.JSONDecodeError:
        return None


def iou(b1, b2):
    x1, y1, x2, y2 = b1
    a1, c1, a2, c2 = b2
    ix1, iy1, ix2, iy2 = max(x1, a1), max(y1, c1), min(x2, a2), min(y2, c2)
    if ix2 <= ix1 or iy2 <= iy1:
        return 0.0
    inter = (ix2 - ix1) * (iy2 - iy1)
    return inter / ((x2 - x1) * (y2 - y1) + (a2 - a1) * (c2 - c1) - inter)


def match(gt, pred):
    pred = sorted(pred, key=lambda x: x["Confidence"], reverse=True)
    out, used = [], set()
    for p in pred:
        best, bi = 0, -1
        for i, g in enumerate(gt):
            if i not in used:
                v = iou(g["Position"], p["Position"])
                if v > best:
                    best, bi = v, i
        if best > 0.5:
            out.append((best, p["Confidence"]))
            used.add(bi)
        else:
            out.append((0, p["Confidence"]))
    return out


def _accuracy(completions, solution, which):
    rewards = []
    for c, sol in zip([x[0]["content"] for x in completions], solution, strict=True):
        reward = 0.0
        try:
            if float(verify(parse(c), parse(sol))) > 0:
                reward = 1.0
        except Exception:
            pass
        if reward == 0.0:
            try:
                m = re.search(r"<answer>(.*?)</answer>", c)
                a = m.group(1).strip() if m else c.strip()
                a = ("<answer>" + a + "</answer>").replace("[[", "[").replace("]]", "]")
                a = a.replace("\n", "")
                gt, pred = extract_bbox(sol.strip()), extract_bbox(a)
                if pred is None or type(pred[0]) is not dict:
                    reward = 0.0
                else:
                    seen, unique = set(), []
                    for b in pred:
                        t = tuple(b["Position"])
                        if t not in seen:
                            seen.add(t)
                            unique.append(b)
                    res = match(gt, unique)
                    iou_sum = sum(r[0] for r in res)
                    conf_sum = sum(r[1] if r[0] != 0 else (1 - r[0]) * (1 - r[1]) for r in res)
                    if which == "iou":
                        reward = iou_sum / len(gt) if len(gt) >= len(res) else iou_sum / len(res)
                        reward = 1.0 if reward > 1 else reward
                    else:
                        reward = conf_sum / len(res)
                        reward = 1.0 if reward > 1 else 0.0 if reward < 0 else reward
            except Exception:
                pass
        rewards.append(reward)
    return rewards


def accuracy_reward_iou(completions, solution, **kwargs):
    return _accuracy(completions, solution, "iou")


def accuracy_reward_confidence(completions, solution, **kwargs):
    return _accuracy(completions, solution, "confidence")


def format_reward(completions, **kwargs):
    pattern = r"<think>.*?</think>\s*<answer>.*?</answer>"
    return [1.0 if re.fullmatch(pattern, c[0]["content"], re.DOTALL) else 0.0 for c in completions]
