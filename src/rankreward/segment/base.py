"""The segmenter contract, the model-free `BoxSegmenter`, and `segment_batch`: a batch's prompts
through a segmenter with each distinct image encoded once.

**The contract.** A segmenter is any callable
``segmenter(image, boxes, points, labels=None) -> masks``:

- ``image``: an (H, W, 3) uint8 RGB array (never channel-swapped);
- ``boxes``: (N, 4) xyxy in that image's pixels, or ``None`` (no prompt has a box); a row of
  NaN is a prompt without a box (a points-only prompt);
- ``points``: (N, P, 2) xy in that image's pixels, or ``None`` (no prompt has points); the
  0.1 form (N, 2), one positive point per prompt, is still read;
- ``labels``: (N, P) ints as SAM2 reads them: 1 positive, 0 negative, -1 padding (prompts with
  fewer points than P are padded with label -1; a padded point's coordinates are ignored);
  ``None``: every point positive;
- ``masks``: (N, H, W) bool, one mask per prompt (SAM2's ``multimask_output=False``: the
  single-mask head, which is what Seg-R1 and Think2Seg-RS train with).

A segmenter may also be **two-stage** (`TwoStageSegmenter`): ``encode(image) -> embedding``
and ``decode(embedding, boxes, points, labels) -> masks``. `segment_batch` then encodes each
distinct image of a batch once (images keyed by their pixels, never by object identity: TRL
hands every completion its own image object) and decodes every prompt of that image against
it; a one-stage segmenter is called once per distinct image with all of its prompts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "BoxSegmenter",
    "Prompts",
    "Segmenter",
    "TwoStageSegmenter",
    "as_rgb",
    "check_prompts",
    "image_key",
    "segment_batch",
]


class Segmenter(Protocol):
    """Anything that turns prompts into masks: ``(image, boxes, points, labels=None) -> masks``
    (see the module docs for the shapes).

    Examples:
        >>> def threshold_segmenter(image, boxes, points, labels=None):
        ...     n = len(boxes if boxes is not None else points)
        ...     return np.repeat((image.mean(-1) > 128)[None], n, axis=0)
        >>> threshold_segmenter(np.zeros((4, 4, 3)), [[0, 0, 1, 1]], None).shape
        (1, 4, 4)
    """

    def __call__(
        self, image: np.ndarray, boxes: Any, points: Any, labels: Any = None
    ) -> np.ndarray: ...


@runtime_checkable
class TwoStageSegmenter(Protocol):
    """A segmenter that encodes an image once and decodes many prompts against it.

    ``encode(image) -> embedding`` (anything; it must know the image's size) and
    ``decode(embedding, boxes, points, labels) -> (N, H, W) bool`` with the prompt shapes of
    the contract. `Sam2Segmenter` is one.
    """

    def encode(self, image: np.ndarray) -> Any: ...

    def decode(self, embedding: Any, boxes: Any, points: Any, labels: Any) -> np.ndarray: ...


def as_rgb(image: Any, where: str = "image") -> np.ndarray:
    """An image (PIL, numpy (H, W, 3) or (H, W), torch (H, W, 3)) as a contiguous (H, W, 3)
    uint8 RGB array; ``ValueError`` names ``where`` for anything else. O(H W).

    Examples:
        >>> as_rgb(np.zeros((2, 3), np.uint8)).shape
        (2, 3, 3)
    """
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        image = image.convert("RGB")
    elif hasattr(image, "detach"):  # torch
        image = image.detach().cpu().numpy()
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"{where} must be an (H, W, 3) RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        if img.dtype.kind not in "uif" or (img.size and (img.min() < 0 or img.max() > 255)):
            raise ValueError(f"{where} must hold uint8 pixels (0..255), got {img.dtype}")
        img = img.astype(np.uint8)
    return np.ascontiguousarray(img)


def image_key(image: np.ndarray) -> bytes:
    """What identifies an image within a batch: a 128-bit BLAKE2b digest of its shape and
    pixels (the same picture under two objects is one image). O(H W).

    Examples:
        >>> a = np.zeros((2, 2, 3), np.uint8)
        >>> image_key(a) == image_key(a.copy()), image_key(a) == image_key(a + 1)
        (True, False)
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(image.shape).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def check_prompts(
    image: Any, boxes: Any, points: Any, labels: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a segmenter's inputs and bring them to one form: ``(image, boxes (N, 4) with NaN
    rows for no box, points (N, P, 2), labels (N, P))``; ``ValueError`` names the bad shape.
    O(N P).

    Examples:
        >>> _, b, p, l = check_prompts(np.zeros((4, 4, 3)), [[0, 0, 2, 2]], [[1, 1]])
        >>> b.shape, p.shape, l.tolist()
        ((1, 4), (1, 1, 2), [[1]])
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {img.shape}")
    b = None if boxes is None or np.size(boxes) == 0 else np.asarray(boxes, np.float64)
    p = None if points is None or np.size(points) == 0 else np.asarray(points, np.float64)
    if b is not None and (b.ndim != 2 or b.shape[1] != 4):
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    if p is not None and p.ndim == 2 and p.shape[1] == 2:
        p = p[:, None, :]  # the 0.1 form: one positive point per prompt
    if p is not None and (p.ndim != 3 or p.shape[2] != 2):
        raise ValueError(f"points must have shape (N, P, 2), got {p.shape}")
    n = len(b) if b is not None else len(p) if p is not None else 0
    if b is None:
        b = np.full((n, 4), np.nan)
    if p is None:
        p = np.zeros((n, 0, 2))
    if len(b) != len(p):
        raise ValueError(f"boxes {b.shape} and points {p.shape} must have one row per prompt")
    if labels is None or np.size(labels) == 0:
        lab = np.ones(p.shape[:2], np.int64)
    else:
        lab = np.asarray(labels)
        if lab.dtype.kind not in "iub":
            raise ValueError(f"labels must be integers (1, 0, -1), got {lab.dtype}")
        lab = lab.astype(np.int64).reshape(p.shape[:2]) if lab.size == p.shape[0] * p.shape[1] \
            else None  # fmt: skip
        if lab is None:
            raise ValueError(f"labels {np.shape(labels)} must match points {p.shape[:2]}")
    has_box = np.isfinite(b).all(axis=1)
    if not (has_box | np.isnan(b).all(axis=1)).all():
        raise ValueError("a box must be 4 finite numbers (or 4 NaN: no box)")
    real = lab != -1
    if not np.isfinite(p[real]).all():
        raise ValueError("points must be finite")
    return img, b, p, lab


class BoxSegmenter:
    """Each box as its mask (inclusive pixel bounds, clipped to the image); a prompt without a
    box gives an empty mask. Points are not used. O(N H W).

    Examples:
        >>> m = BoxSegmenter()(np.zeros((4, 5, 3), np.uint8), [[1, 1, 2, 3]], [[1, 1]])
        >>> m.shape, int(m.sum())
        ((1, 4, 5), 6)
    """

    def __call__(self, image: Any, boxes: Any, points: Any, labels: Any = None) -> np.ndarray:
        img, b, _, _ = check_prompts(image, boxes, points, labels)
        h, w = img.shape[:2]
        masks = np.zeros((len(b), h, w), np.bool_)
        for k, (x1, y1, x2, y2) in enumerate(b):
            if np.isnan(x1):
                continue
            c1, r1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
            c2, r2 = min(int(np.ceil(x2)), w - 1), min(int(np.ceil(y2)), h - 1)
            if c2 >= c1 and r2 >= r1:
                masks[k, r1 : r2 + 1, c1 : c2 + 1] = True
        return masks


class Prompts:
    """One answer's prompts for a segmenter, in its image's pixels: ``boxes`` (N, 4) (NaN rows:
    no box), ``points`` (N, P, 2), ``labels`` (N, P) (-1 padding). `from_objects` builds one.

    Examples:
        >>> p = Prompts.from_objects([([0, 0, 4, 4], [[1, 1]], [1]), (None, [[2, 2], [3, 3]], [1, 0])])
        >>> p.boxes[1].tolist(), p.labels.tolist()
        ([nan, nan, nan, nan], [[1, -1], [1, 0]])
    """

    __slots__ = ("boxes", "labels", "points")

    def __init__(self, boxes: np.ndarray, points: np.ndarray, labels: np.ndarray) -> None:
        self.boxes, self.points, self.labels = boxes, points, labels

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def from_objects(cls, objects: Sequence[tuple[Any, Any, Any]]) -> Prompts:
        """``[(box or None, points (k, 2) or None, labels (k,) or None), ...]``, one per prompt;
        shorter point lists are padded with label -1. O(N P)."""
        n = len(objects)
        width = max((0 if pts is None else len(pts) for _, pts, _ in objects), default=0)
        boxes = np.full((n, 4), np.nan)
        points = np.zeros((n, width, 2))
        labels = np.full((n, width), -1, np.int64)
        for k, (box, pts, lab) in enumerate(objects):
            if box is not None:
                boxes[k] = box
            if pts is not None and len(pts):
                points[k, : len(pts)] = pts
                labels[k, : len(pts)] = 1 if lab is None else lab
        return cls(boxes, points, labels)

    @classmethod
    def empty(cls) -> Prompts:
        """No prompt (an answer with nothing to segment). O(1)."""
        return cls(np.zeros((0, 4)), np.zeros((0, 0, 2)), np.zeros((0, 0), np.int64))


def _concat(prompts: Sequence[Prompts]) -> Prompts:
    """Several answers' prompts as one batch, the point axis padded to the widest. O(N P)."""
    width = max(p.points.shape[1] for p in prompts)
    n = sum(len(p) for p in prompts)
    boxes = np.concatenate([p.boxes for p in prompts]) if n else np.zeros((0, 4))
    points = np.zeros((n, width, 2))
    labels = np.full((n, width), -1, np.int64)
    at = 0
    for p in prompts:
        k, w = p.points.shape[:2]
        points[at : at + k, :w] = p.points
        labels[at : at + k, :w] = p.labels
        at += k
    return Prompts(boxes, points, labels)


def segment_batch(
    segmenter: Any, images: Sequence[np.ndarray], prompts: Sequence[Prompts]
) -> list[np.ndarray]:
    """Every answer's masks, ``(len(prompts[i]), H, W)`` bool for answer ``i`` on
    ``images[i]`` (RGB uint8 arrays, `as_rgb`): the answers are grouped by image content
    (`image_key`); a two-stage segmenter encodes each distinct image once and decodes all of
    its prompts in one call, a one-stage one is called once per distinct image. An answer
    without prompts gets (0, H, W) and costs nothing.

    Complexity: one encode per distinct image plus the decoder on every prompt; O(B H W) to key
    the images.

    Examples:
        >>> img = np.zeros((4, 4, 3), np.uint8)
        >>> one = Prompts.from_objects([([0, 0, 1, 1], None, None)])
        >>> [m.shape for m in segment_batch(BoxSegmenter(), [img, img.copy()], [one, Prompts.empty()])]
        [(1, 4, 4), (0, 4, 4)]
    """
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompt sets")
    out: list[np.ndarray | None] = [None] * len(images)
    by_image: dict[bytes, list[int]] = {}
    for i, (img, p) in enumerate(zip(images, prompts, strict=True)):
        if len(p) == 0:
            out[i] = np.zeros((0, *img.shape[:2]), np.bool_)
        else:
            by_image.setdefault(image_key(img), []).append(i)
    two_stage = isinstance(segmenter, TwoStageSegmenter)
    for members in by_image.values():
        img = images[members[0]]
        batch = _concat([prompts[i] for i in members])
        boxes = batch.boxes if np.isfinite(batch.boxes).any() else None
        points, labels = (batch.points, batch.labels) if batch.points.shape[1] else (None, None)
        if two_stage:
            masks = segmenter.decode(segmenter.encode(img), boxes, points, labels)
        else:
            masks = segmenter(img, boxes, points, labels)
        masks = np.asarray(masks)
        if masks.shape != (len(batch), *img.shape[:2]):
            raise ValueError(
                f"the segmenter returned masks {masks.shape} for {len(batch)} prompts on an "
                f"image of {img.shape[:2]}: it must return (N, H, W)"
            )
        masks = masks != 0
        at = 0
        for i in members:
            out[i] = masks[at : at + len(prompts[i])]
            at += len(prompts[i])
    return out  # type: ignore[return-value]
