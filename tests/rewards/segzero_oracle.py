"""Seg-Zero's published reward (``verl/utils/reward_score/seg.py``) restated as a test oracle:
each term's own parse, its broad ``except Exception``, its arithmetic, in its order."""

from __future__ import annotations

import json
import math
import re

GT_BOX = r"<box>\((\d+),(\d+)\),\((\d+),(\d+)\)</box>"
GT_POINTS = r"<points>\((\d+),(\d+)\),\((\d+),(\d+)\)</points>"


def thinking(s):
    return 1.0 if re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", s, re.DOTALL) else 0.0


def seg_format(s):
    try:
        m = re.search(r"{[^}]+}", s)
        if not m:
            return 0.0
        data = json.loads(m.group(0))
        box_key, point_keys = None, []
        for k in data.keys():
            if "bbox" in k.lower() and box_key is None:
                box_key = k
            elif "point" in k.lower():
                point_keys.append(k)
        if not (box_key and len(point_keys) >= 2):
            return 0.0
        if len(data[box_key]) != 4:
            return 0.0
        for k in point_keys[:2]:
            if len(data[k]) != 2:
                return 0.0
        return 1.0
    except Exception:
        return 0.0


def _box_of(s):
    data = json.loads(re.search(r"{[^}]+}", s).group(0))
    key = next((k for k in data.keys() if "bbox" in k.lower()), None)
    return data, key


def iou_term(s, gt):
    try:
        m = re.search(GT_BOX, gt.strip())
        if m:
            g = [int(v) for v in m.groups()]
        data, key = _box_of(s)
        if key and len(data[key]) == 4:
            b = data[key]
            ix1, iy1, ix2, iy2 = max(b[0], g[0]), max(b[1], g[1]), min(b[2], g[2]), min(b[3], g[3])
            inter = (ix2 - ix1 + 1) * (iy2 - iy1 + 1) if ix1 < ix2 and iy1 < iy2 else 0
            a1 = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
            a2 = (g[2] - g[0] + 1) * (g[3] - g[1] + 1)
            if float(inter) / (a1 + a2 - inter) > 0.5:
                return 1.0
    except Exception:
        pass
    return 0.0


def box_term(s, gt):
    try:
        m = re.search(GT_BOX, gt.strip())
        if m:
            g = [int(v) for v in m.groups()]
        data, key = _box_of(s)
        if key and len(data[key]) == 4:
            b = data[key]
            l1 = (abs(b[0] - g[0]) + abs(b[1] - g[1]) + abs(b[2] - g[2]) + abs(b[3] - g[3])) / 4
            if l1 < 10:
                return 1.0
    except Exception:
        pass
    return 0.0


def point_term(s, gt):
    try:
        m = re.search(GT_POINTS, gt)
        if m:
            v = [int(x) for x in m.groups()]
            gp = [v[:2], v[2:]]
        data, key = _box_of(s)
        if key and len(data[key]) == 4:
            box = data[key]
        keys = [k for k in data.keys() if "points" in k.lower()][:2]
        if len(keys) == 2:
            p1 = [int(data[keys[0]][0]), int(data[keys[0]][1])]
            p2 = [int(data[keys[1]][0]), int(data[keys[1]][1])]

            def inside(p):
                return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]

            if inside(p1) and inside(p2):

                def d(a, b):
                    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)

                dist = min(d(p1, gp[0]) + d(p2, gp[1]), d(p1, gp[1]) + d(p2, gp[0])) / 2
                if dist < 100:
                    return 1.0
    except Exception:
        pass
    return 0.0


def compute_score(s, gt):
    return iou_term(s, gt) + thinking(s) + seg_format(s) + point_term(s, gt) + box_term(s, gt)
