"""A deterministic segmenter of the contract for tests: each prompt's mask is its box (inclusive
pixels), plus a 3x3 square at each positive point, minus one at each negative point, where the
image's red channel is at least its blue one (so a channel swap changes the masks). Every
prompt is independent of the others, so batching cannot change a mask."""

from __future__ import annotations

import numpy as np

from rankreward.segment import check_prompts


def fake_masks(image, boxes, points, labels=None):
    img, b, p, lab = check_prompts(image, boxes, points, labels)
    h, w = img.shape[:2]
    allowed = img[..., 0].astype(int) >= img[..., 2].astype(int)
    out = np.zeros((len(b), h, w), bool)
    for k in range(len(b)):
        m = out[k]
        if np.isfinite(b[k]).all():
            x1, y1, x2, y2 = b[k]
            c1, r1 = max(int(np.floor(min(x1, 1e9))), 0), max(int(np.floor(min(y1, 1e9))), 0)
            c2, r2 = (
                min(int(np.ceil(max(x2, -1e9))), w - 1),
                min(int(np.ceil(max(y2, -1e9))), h - 1),
            )
            if c2 >= c1 and r2 >= r1:
                m[r1 : r2 + 1, c1 : c2 + 1] = True
        for (x, y), label in zip(p[k], lab[k], strict=False):
            if label == -1 or not (-1e9 < x < 1e9 and -1e9 < y < 1e9):
                continue
            c, r = round(x), round(y)
            rs, cs = slice(max(r - 1, 0), max(r + 2, 0)), slice(max(c - 1, 0), max(c + 2, 0))
            m[rs, cs] = label == 1 if label in (0, 1) else m[rs, cs]
        m &= allowed
    return out


class FakeSegmenter:
    """`fake_masks` as a one-stage segmenter, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, image, boxes, points, labels=None):
        self.calls += 1
        return fake_masks(image, boxes, points, labels)


class FakeTwoStage:
    """`fake_masks` as a two-stage segmenter, counting encodes and decodes."""

    def __init__(self):
        self.encodes = 0
        self.decodes = 0

    def encode(self, image):
        self.encodes += 1
        return np.array(image, copy=True)

    def decode(self, embedding, boxes, points, labels):
        self.decodes += 1
        return fake_masks(embedding, boxes, points, labels)
