"""What every mask recipe shares: the images and ground-truth masks of a batch, read once and
checked, and its answers' prompts through the segmenter with each distinct image encoded once.

A mask recipe parses each completion into `rankreward.segment.Prompts` (in the pixels of the
sample's image), hands the batch to `MaskBatch.masks`, and scores the united masks against the
ground truth with `rankreward.metrics.dense_mask_iou` (one Numba pass for the batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...metrics.masks import dense_mask_iou, read_mask
from ...segment import Prompts, TwoStageSegmenter, as_rgb, segment_batch

__all__ = ["MaskBatch", "batch_images", "check_segmenter"]


def check_segmenter(segmenter: Any, recipe: str) -> Any:
    """``segmenter`` if it is one (a callable, or an ``encode``/``decode`` pair), else a
    ``TypeError`` saying what to pass. O(1)."""
    if segmenter is None:
        raise TypeError(
            f"the {recipe} preset needs segmenter=: a callable (image, boxes, points, labels) -> "
            "masks, e.g. rankreward.segment.Sam2Segmenter('facebook/sam2.1-hiera-large') (or "
            "BoxSegmenter() for a model-free check)"
        )
    if not (callable(segmenter) or isinstance(segmenter, TwoStageSegmenter)):
        raise TypeError(f"segmenter must be callable or have encode/decode, got {segmenter!r}")
    return segmenter


def batch_images(context: Mapping[str, Sequence[Any]], n: int, recipe: str) -> list[np.ndarray]:
    """Each sample's image from the trainer's column (``image``, or the first of ``images``)
    as an RGB uint8 array; a ``TypeError`` when neither is there, a ``ValueError`` naming the
    sample for an image that is not one. O(B H W)."""
    column = "image" if context.get("image") is not None else "images"
    raw = context.get(column)
    if raw is None:
        raise TypeError(
            f"the {recipe} reward segments each sample's image: pass its 'image' column "
            "(TRL passes the dataset's image/images column to reward functions)"
        )
    if len(raw) != n:
        raise ValueError(f"{n} completions but {len(raw)} {column} values")
    out = []
    for k, img in enumerate(raw):
        if column == "images":
            if not isinstance(img, (list, tuple)) or not img:
                raise ValueError(f"sample {k}: 'images' must hold a list with its image")
            img = img[0]
        out.append(as_rgb(img, f"sample {k}: the {column!r} column"))
    return out


class MaskBatch:
    """A batch's images and ground-truth masks (each read once, checked against its image's
    size) and its answers' masks.

    Args:
        images: (H, W, 3) uint8 RGB arrays, one per sample.
        ground_truths: one mask per sample in any format `rankreward.metrics.read_mask` reads.
        column: the ground-truth column's name, for errors.

    Examples:
        >>> from rankreward.segment import BoxSegmenter
        >>> img = np.zeros((4, 4, 3), np.uint8)
        >>> gt = np.zeros((4, 4), bool); gt[:2, :2] = True
        >>> batch = MaskBatch([img], [gt], "gt_mask")
        >>> masks = batch.masks(BoxSegmenter(), [Prompts.from_objects([([0, 0, 1, 1], None, None)])])
        >>> batch.iou(masks).tolist()
        [1.0]
    """

    def __init__(
        self, images: Sequence[np.ndarray], ground_truths: Sequence[Any], column: str
    ) -> None:
        self.images = list(images)
        # G completions of a prompt often share one ground-truth object: read it once, and
        # score every completion against that one copy (dense_mask_iou's index)
        slot: dict[int, int] = {}
        self.unique: list[np.ndarray] = []
        self.index = np.empty(len(self.images), np.int64)
        for k, (img, gt) in enumerate(zip(self.images, ground_truths, strict=True)):
            j = slot.get(id(gt))
            if j is None or self.unique[j].shape != img.shape[:2]:
                slot[id(gt)] = j = len(self.unique)
                self.unique.append(
                    read_mask(gt, img.shape[:2], f"sample {k}: the {column!r} column")
                )
            self.index[k] = j
        self.truths = [self.unique[j] for j in self.index]

    def masks(
        self, segmenter: Any, prompts: Sequence[Prompts], swap_rb: bool = False
    ) -> list[np.ndarray]:
        """Each answer's prompts through ``segmenter`` united into one (H, W) mask per sample
        (an answer without prompts: an empty mask). ``swap_rb`` hands the segmenter the image
        with R and B swapped (Seg-R1's ``cv2.COLOR_BGR2RGB`` on an RGB image). O(segmenter)."""
        images = [img[..., ::-1].copy() for img in self.images] if swap_rb else self.images
        per_prompt = segment_batch(segmenter, images, prompts)
        return [m.any(axis=0) for m in per_prompt]

    def iou(self, masks: Sequence[np.ndarray]) -> np.ndarray:
        """Each sample's IoU of its mask with its ground truth (0 for an empty union): images
        of one size in one `dense_mask_iou` call. O(B H W / 8)."""
        out = np.zeros(len(masks))
        by_size: dict[tuple[int, int], list[int]] = {}
        for k, m in enumerate(masks):
            by_size.setdefault(m.shape, []).append(k)
        for rows in by_size.values():
            shared = sorted({int(self.index[k]) for k in rows})
            local = {j: i for i, j in enumerate(shared)}
            out[rows] = dense_mask_iou(
                np.stack([masks[k] for k in rows]),
                np.stack([self.unique[j] for j in shared]),
                [local[int(self.index[k])] for k in rows],
            )
        return out
