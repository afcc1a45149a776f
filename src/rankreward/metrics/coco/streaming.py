"""`DetectionAP`: streaming COCO bbox AP inside a trainer, on the same kernels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .evaluate import _evaluate
from .inputs import _check_params, _Flat, _integer_ids
from .result import COCOResult


# ----------------------------------------------------------------------------- streaming
class DetectionAP:
    """Streaming COCO bbox AP for evaluation inside a trainer; same numbers as
    `coco_evaluate` on the same data (ground-truth area = box area).

    ``update`` takes one image at a time (numpy or torch arrays); ``compute`` evaluates
    everything seen; ``merge`` adds another accumulator's images (data-parallel workers).
    Categories are the labels seen in ground truths or predictions.

    Args:
        box_format: ``"xyxy"`` (default), ``"xywh"`` (COCO) or ``"cxcywh"``.
        max_dets: as in `coco_evaluate`.
        iou_thresholds: as in `coco_evaluate`.
        area_ranges: as in `coco_evaluate`.

    Complexity: ``update`` O(N); ``compute`` as `coco_evaluate`.

    Examples:
        >>> ap = DetectionAP(box_format="xywh")
        >>> ap.update(1, [[12, 10, 50, 50]], [0.9], [7], [[10, 10, 50, 50]], [7])
        >>> ap.compute().stats[:3].round(3).tolist()
        [0.9, 1.0, 1.0]
    """

    def __init__(
        self,
        box_format: str = "xyxy",
        *,
        max_dets: Sequence[int] = (1, 10, 100),
        iou_thresholds: Sequence[float] | None = None,
        area_ranges: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        if box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"box_format must be xyxy, xywh or cxcywh, got {box_format!r}")
        self.box_format = box_format
        self._params = _check_params(max_dets, iou_thresholds, area_ranges)
        self.iou_thresholds, self.area_ranges, self.max_dets = self._params
        self.reset()

    def reset(self) -> None:
        self._images: dict[int, int] = {}
        self._gt: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._dt: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def _xywh(self, boxes: Any, what: str) -> np.ndarray:
        from ..._arrays import to_numpy

        b = np.asarray(to_numpy(boxes), np.float64)
        if b.size == 0:
            return np.zeros((0, 4))
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"{what} must have shape (N, 4), got {b.shape}")
        if not np.isfinite(b).all():
            raise ValueError(f"{what} contains NaN or inf")
        if self.box_format == "xyxy":
            b = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        elif self.box_format == "cxcywh":
            b = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], axis=1)
        if (b[:, 2:] < 0).any():
            raise ValueError(f"{what} has boxes with negative width or height")
        return b

    def update(
        self,
        image_id: int,
        pred_boxes: Any,
        pred_scores: Any,
        pred_labels: Any,
        gt_boxes: Any,
        gt_labels: Any,
        gt_iscrowd: Any = None,
    ) -> None:
        """Add one image's predictions and ground truths. O(N)."""
        from ..._arrays import to_numpy

        image_id = int(image_id)
        pb = self._xywh(pred_boxes, f"image {image_id} pred_boxes")
        ps = np.asarray(to_numpy(pred_scores), np.float64).reshape(-1)
        pl = _integer_ids(to_numpy(pred_labels), f"image {image_id} pred_labels", "label")
        gb = self._xywh(gt_boxes, f"image {image_id} gt_boxes")
        gl = _integer_ids(to_numpy(gt_labels), f"image {image_id} gt_labels", "label")
        gc = (
            np.zeros(len(gb), np.bool_)
            if gt_iscrowd is None
            else np.asarray(to_numpy(gt_iscrowd)).reshape(-1).astype(np.bool_)
        )
        if not len(pb) == len(ps) == len(pl):
            raise ValueError(
                f"image {image_id}: pred_boxes {pb.shape}, pred_scores {ps.shape} and "
                f"pred_labels {pl.shape} disagree"
            )
        if not len(gb) == len(gl) == len(gc):
            raise ValueError(
                f"image {image_id}: gt_boxes {gb.shape}, gt_labels {gl.shape} and gt_iscrowd "
                f"{gc.shape} disagree"
            )
        if not np.isfinite(ps).all():
            raise ValueError(f"image {image_id}: pred_scores contain NaN or inf")
        self._add((image_id, gb, gl, gc), (image_id, pb, ps, pl))

    def merge(self, other: DetectionAP) -> None:
        """Add the images of another accumulator (their image ids must not overlap)."""
        for gt, dt in zip(other._gt, other._dt, strict=True):
            self._add(gt, dt)

    def _add(self, gt: tuple, dt: tuple) -> None:
        if gt[0] in self._images:
            raise ValueError(f"image {gt[0]} was already added")
        self._images[gt[0]] = len(self._images)
        self._gt.append(gt)
        self._dt.append(dt)

    def compute(self) -> COCOResult:
        """Evaluate every image added so far (pycocotools' numbers)."""
        imgs = np.array(sorted(self._images), np.int64)
        gl = np.concatenate([g[2] for g in self._gt]) if self._gt else np.zeros(0, np.int64)
        pl = np.concatenate([d[3] for d in self._dt]) if self._dt else np.zeros(0, np.int64)
        cats = np.unique(np.concatenate([gl, pl]))

        def cat(parts, i, empty):
            return np.concatenate([p[i] for p in parts]) if parts else empty

        g_img = (
            np.concatenate([np.full(len(g[1]), g[0]) for g in self._gt])
            if self._gt
            else np.zeros(0, np.int64)
        )
        d_img = (
            np.concatenate([np.full(len(d[1]), d[0]) for d in self._dt])
            if self._dt
            else np.zeros(0, np.int64)
        )
        g_box = cat(self._gt, 1, np.zeros((0, 4)))
        d_box = cat(self._dt, 1, np.zeros((0, 4)))
        flat = _Flat(
            img_ids=imgs,
            cat_ids=cats,
            g_img=np.searchsorted(imgs, g_img).astype(np.int64),
            g_cat=np.searchsorted(cats, gl).astype(np.int64),
            g_box=g_box,
            g_area=g_box[:, 2] * g_box[:, 3],
            g_crowd=cat(self._gt, 3, np.zeros(0, np.bool_)),
            g_id=np.arange(1, len(g_box) + 1, dtype=np.int64),
            d_img=np.searchsorted(imgs, d_img).astype(np.int64),
            d_cat=np.searchsorted(cats, pl).astype(np.int64),
            d_box=d_box,
            d_area=d_box[:, 2] * d_box[:, 3],
            d_score=cat(self._dt, 2, np.zeros(0)),
        )
        return _evaluate(flat, "bbox", *self._params)
