"""The segmenter contract and the model-free `BoxSegmenter`.

A segmenter is any callable ``(image, boxes, points) -> masks``: ``image`` an (H, W, 3) uint8
array, ``boxes`` (N, 4) xyxy and ``points`` (N, 2) xy in that image's pixels, ``masks`` an
(N, H, W) bool array. Bring your own model by writing one; two are provided:

- `BoxSegmenter`: each box filled in (the ``--segmenter box`` baseline, no model);
- `Sam2Segmenter`: transformers' ``Sam2Model`` prompted with each object's box and point, all
  objects of an image in one batched forward pass.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["BoxSegmenter", "Segmenter", "check_prompts"]


class Segmenter(Protocol):
    """Anything that turns prompts into masks: ``(image, boxes, points) -> masks``.

    Examples:
        >>> def threshold_segmenter(image, boxes, points):
        ...     return np.repeat((image.mean(-1) > 128)[None], len(boxes), axis=0)
        >>> threshold_segmenter(np.zeros((4, 4, 3)), [[0, 0, 1, 1]], [[0, 0]]).shape
        (1, 4, 4)
    """

    def __call__(self, image: np.ndarray, boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(H, W, 3) image, (N, 4) xyxy boxes, (N, 2) points -> (N, H, W) bool masks."""
        ...


def check_prompts(image: Any, boxes: Any, points: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert a segmenter's inputs; ``ValueError`` names the bad shape."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {img.shape}")
    b = np.asarray(boxes, np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    p = np.asarray(points, np.float64).reshape(-1, 2) if np.size(points) else np.zeros((0, 2))
    if len(b) != len(p):
        raise ValueError(f"boxes {b.shape} and points {p.shape} must have one row per object")
    if not (np.isfinite(b).all() and np.isfinite(p).all()):
        raise ValueError("boxes and points must be finite")
    return img, b, p


class BoxSegmenter:
    """Each box as its mask (inclusive pixel bounds, clipped to the image). O(N H W).

    Examples:
        >>> m = BoxSegmenter()(np.zeros((4, 5, 3), np.uint8), [[1, 1, 2, 3]], [[1, 1]])
        >>> m.shape, int(m.sum())
        ((1, 4, 5), 6)
    """

    def __call__(self, image: Any, boxes: Any, points: Any) -> np.ndarray:
        img, b, _ = check_prompts(image, boxes, points)
        h, w = img.shape[:2]
        masks = np.zeros((len(b), h, w), np.bool_)
        for k, (x1, y1, x2, y2) in enumerate(b):
            c1, r1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
            c2, r2 = min(int(np.ceil(x2)), w - 1), min(int(np.ceil(y2)), h - 1)
            if c2 >= c1 and r2 >= r1:
                masks[k, r1 : r2 + 1, c1 : c2 + 1] = True
        return masks
