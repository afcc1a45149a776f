"""Stateful evaluation accumulators built on the functional metrics (torchmetrics style).

Each accumulator has ``update(...)``, ``compute()``, ``reset()`` and ``merge(other)`` (combine
the states of data-parallel shards; merging then computing equals computing over all the data).
State is kept on the host as float64/int64 arrays: a few numbers per image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .masks import _is_rle, mask_intersection_union
from .rle import rle_batch, rle_intersection_union

__all__ = ["CountAccuracy", "ReasonSegIoU"]


def _per_image(masks: Any, name: str) -> list[Any]:
    """Split ``masks`` into one mask per image: a stack (N, H, W), one (H, W), a list, or RLEs."""
    if isinstance(masks, Mapping):
        return [masks]
    if isinstance(masks, (list, tuple)):
        return list(masks)
    if not hasattr(masks, "shape"):
        raise TypeError(f"{name} must be masks (array, tensor, list or RLE), got {type(masks)}")
    nd = len(tuple(masks.shape))
    if nd == 2:
        return [masks]
    if nd == 3:
        return list(masks)
    raise ValueError(f"{name} must have shape (N, H, W) or (H, W), got {tuple(masks.shape)}")


class ReasonSegIoU:
    """ReasonSeg's gIoU and cIoU over a stream of (prediction, ground truth) mask pairs.

    * gIoU: mean over images of the per-image IoU.
    * cIoU: total intersection over total union, over all images.
    * ReasonSeg convention: an image whose prediction and ground truth are both empty has IoU
      1.0 (it adds 0 to both cIoU sums).

    ``update`` accepts stacks ``(N, H, W)`` (numpy or torch), a single ``(H, W)`` pair, lists
    of per-image masks of different sizes, or COCO RLE dicts. Each image's prediction and ground
    truth must have the same size. O(H W) per image.

    Examples:
        >>> acc = ReasonSegIoU()
        >>> gt = np.zeros((2, 4, 4), bool); gt[0, :2] = True
        >>> pred = np.zeros((2, 4, 4), bool); pred[0, :1] = True
        >>> acc.update(pred, gt)
        >>> acc.compute()
        {'giou': 0.75, 'ciou': 0.5, 'num_images': 2}
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every image. O(1)."""
        self._inter: list[np.ndarray] = []
        self._union: list[np.ndarray] = []

    def _counts(self, pred: Any, gt: Any, k: int) -> tuple[int, int]:
        if _is_rle(pred) or _is_rle(gt):
            p = rle_batch([pred], f"pred_masks[{k}]")
            g = rle_batch([gt], f"gt_masks[{k}]")
            if (p.hw != g.hw).any():
                raise ValueError(
                    f"image {k}: mask sizes differ, {p.hw[0].tolist()} and {g.hw[0].tolist()}"
                )
            inter, union = rle_intersection_union(p, g)
            return int(inter[0]), int(union[0])
        if tuple(pred.shape) != tuple(gt.shape):
            raise ValueError(
                f"image {k}: prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} differ"
            )
        i, u = mask_intersection_union(pred, gt)
        return int(i), int(u)

    def update(self, pred_masks: Any, gt_masks: Any) -> None:
        """Add images; one sync per call for torch inputs. O(N H W)."""
        preds, gts = _per_image(pred_masks, "pred_masks"), _per_image(gt_masks, "gt_masks")
        if len(preds) != len(gts):
            raise ValueError(f"{len(preds)} predictions but {len(gts)} ground truths")
        stacked = hasattr(pred_masks, "shape") and hasattr(gt_masks, "shape")
        if stacked and tuple(pred_masks.shape) == tuple(gt_masks.shape) and preds:
            i, u = mask_intersection_union(pred_masks, gt_masks)
            inter, union = to_numpy(i).reshape(-1), to_numpy(u).reshape(-1)
        else:
            counts = [
                self._counts(p, g, k) for k, (p, g) in enumerate(zip(preds, gts, strict=True))
            ]
            inter = np.array([c[0] for c in counts], np.int64)
            union = np.array([c[1] for c in counts], np.int64)
        self._inter.append(inter.astype(np.int64))
        self._union.append(union.astype(np.int64))

    def merge(self, other: ReasonSegIoU) -> ReasonSegIoU:
        """Add another accumulator's images (data-parallel shards). Returns self. O(images)."""
        self._inter.extend(other._inter)
        self._union.extend(other._union)
        return self

    def per_image_iou(self) -> np.ndarray:
        """IoU of every image so far, in update order (both empty -> 1.0). O(images)."""
        if not self._inter:
            return np.zeros(0)
        inter = np.concatenate(self._inter).astype(np.float64)
        union = np.concatenate(self._union).astype(np.float64)
        return np.where(union > 0, inter / np.maximum(union, 1), 1.0)

    def compute(self) -> dict[str, float | int]:
        """``{"giou", "ciou", "num_images"}``; raises if no image was added. O(images)."""
        ious = self.per_image_iou()
        if ious.size == 0:
            raise ValueError("ReasonSegIoU.compute() called before any update")
        total_u = int(sum(int(u.sum()) for u in self._union))
        total_i = int(sum(int(i.sum()) for i in self._inter))
        ciou = total_i / total_u if total_u else 1.0
        return {"giou": float(ious.mean()), "ciou": float(ciou), "num_images": int(ious.size)}


class CountAccuracy:
    """Pixmo-style counting: accuracy (predicted count == ground truth) and mean absolute error.

    Counts are non-negative integers (floats that are whole numbers are accepted).

    Examples:
        >>> acc = CountAccuracy()
        >>> acc.update([3, 2, 0], [3, 4, 0])
        >>> acc.compute()
        {'accuracy': 0.6666666666666666, 'mae': 0.6666666666666666, 'num': 3}
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every sample. O(1)."""
        self._pred: list[np.ndarray] = []
        self._gt: list[np.ndarray] = []

    @staticmethod
    def _counts(x: Any, name: str) -> np.ndarray:
        a = to_numpy(x).reshape(-1)
        if a.dtype.kind not in "iuf" and a.size:
            raise TypeError(f"{name} must be numeric counts, got dtype {a.dtype}")
        af = a.astype(np.float64)
        bad = ~np.isfinite(af) | (af < 0) | (af != np.round(af))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"{name}[{k}] = {a[k]} is not a non-negative whole count")
        return af.astype(np.int64)

    def update(self, pred_counts: Any, gt_counts: Any) -> None:
        """Add samples. O(n)."""
        p, g = self._counts(pred_counts, "pred_counts"), self._counts(gt_counts, "gt_counts")
        if p.shape != g.shape:
            raise ValueError(f"{p.size} predicted counts but {g.size} ground-truth counts")
        self._pred.append(p)
        self._gt.append(g)

    def merge(self, other: CountAccuracy) -> CountAccuracy:
        """Add another accumulator's samples. Returns self. O(samples)."""
        self._pred.extend(other._pred)
        self._gt.extend(other._gt)
        return self

    def compute(self) -> dict[str, float | int]:
        """``{"accuracy", "mae", "num"}``; raises if nothing was added. O(samples)."""
        if not self._pred or sum(p.size for p in self._pred) == 0:
            raise ValueError("CountAccuracy.compute() called before any update")
        p, g = np.concatenate(self._pred), np.concatenate(self._gt)
        return {
            "accuracy": float((p == g).mean()),
            "mae": float(np.abs(p - g).mean()),
            "num": int(p.size),
        }
