"""Brute-force per-pair loops: the test oracles for the vectorized metrics."""

from __future__ import annotations

import itertools
import math

import numpy as np


def iou(a, b, inclusive=False):
    e = 1.0 if inclusive else 0.0
    iw = max(min(a[2], b[2]) - max(a[0], b[0]) + e, 0.0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]) + e, 0.0)
    inter = iw * ih
    union = (a[2] - a[0] + e) * (a[3] - a[1] + e) + (b[2] - b[0] + e) * (b[3] - b[1] + e) - inter
    return inter / union if union > 0 else 0.0


def giou(a, b):
    i = iou(a, b)
    e = 0.0
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), e) * max(min(a[3], b[3]) - max(a[1], b[1]), e)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    c = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return i - (c - union) / c if c > 0 else i


def diou(a, b):
    cw = max(a[2], b[2]) - min(a[0], b[0])
    ch = max(a[3], b[3]) - min(a[1], b[1])
    d2 = ((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) ** 2 + ((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) ** 2
    c2 = cw * cw + ch * ch
    return iou(a, b) - (d2 / c2 if c2 > 0 else 0.0)


def ciou(a, b):
    i = iou(a, b)
    v = (
        4
        / math.pi**2
        * (math.atan2(b[2] - b[0], b[3] - b[1]) - math.atan2(a[2] - a[0], a[3] - a[1])) ** 2
    )
    alpha = v / (1 - i + v) if (1 - i + v) > 0 else 0.0
    return diou(a, b) - alpha * v


def l1(a, b):
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / 4


def dist(p, q):
    return math.hypot(p[0] - q[0], p[1] - q[1])


def pairwise(fn, A, B, **kw):
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    out = np.zeros((len(A), len(B)))
    for i, j in itertools.product(range(len(A)), range(len(B))):
        out[i, j] = fn(A[i].tolist(), B[j].tolist(), **kw)
    return out


def brute_assignment_cost(c):
    """Minimal total cost by enumerating every injective assignment (tiny problems only)."""
    c = np.asarray(c, np.float64)
    m, n = c.shape
    if m == 0 or n == 0:
        return 0.0
    if m > n:
        c, m, n = c.T, n, m
    return min(sum(c[i, p[i]] for i in range(m)) for p in itertools.permutations(range(n), m))
