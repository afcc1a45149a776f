"""The result of a COCO evaluation (`COCOResult`), pycocotools' summary of it and the
evaluation's constants (IoU thresholds, recall points, area ranges)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


# ----------------------------------------------------------------------------- result
@dataclass
class COCOResult:
    """What ``COCOeval`` leaves in ``stats`` and ``eval`` after ``summarize()``.

    Attributes:
        stats: the 12 summary numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
            ARm, ARl); -1 where undefined.
        precision: (T, R, K, A, M) interpolated precision, -1 where a category has no ground
            truth (pycocotools' ``eval["precision"]``).
        recall: (T, K, A, M) recall, -1 likewise.
        scores: (T, R, K, A, M) the score at each recall point.
        category_ids, iou_thresholds, recall_thresholds, area_ranges, max_dets: the axes.

    Examples:
        >>> from rankreward.metrics import coco_evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 3}], "annotations": [
        ...     {"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100}]}
        >>> r = coco_evaluate(gt, [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 1}])
        >>> r.precision.shape, round(r.per_category_ap()[3], 6)
        ((10, 101, 1, 4, 3), 1.0)
    """

    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    category_ids: np.ndarray
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    area_ranges: tuple[tuple[float, float], ...]
    max_dets: tuple[int, ...]
    _lines: list[str] = field(default_factory=list, repr=False)

    def per_category_ap(self) -> dict[int, float]:
        """AP@[.5:.95] per category id (area all, the largest max_dets); -1 without ground
        truth. O(T R K)."""
        out = {}
        for k, cat in enumerate(self.category_ids.tolist()):
            s = self.precision[:, :, k, 0, -1]
            s = s[s > -1]
            out[int(cat)] = float(np.mean(s)) if s.size else -1.0
        return out

    def summary(self) -> str:
        """pycocotools' 12-line table (also what ``print(result)`` shows)."""
        return "\n".join(self._lines)

    def __str__(self) -> str:
        return self.summary()


def _summarize(r: COCOResult) -> None:
    """pycocotools' ``summarize`` for bbox/segm: fills ``stats`` and the printed lines.

    The 12 numbers need 3 max_dets and the 4 area ranges (all, small, medium, large); with
    other settings ``stats`` stays empty and ``precision``/``recall`` carry the results.
    """
    r._lines.clear()
    if len(r.max_dets) != 3 or len(r.area_ranges) != 4:
        r.stats = np.zeros(0)
        r._lines.append(f"(no summary for max_dets={r.max_dets}, {len(r.area_ranges)} areas)")
        return
    title = {1: ("Average Precision", "(AP)"), 0: ("Average Recall", "(AR)")}
    t0, t1 = r.iou_thresholds[0], r.iou_thresholds[-1]

    def one(ap: int, iou: float | None = None, area: str = "all", dets: int = 100) -> float:
        a = AREA_LABELS.index(area)
        m = [i for i, v in enumerate(r.max_dets) if v == dets]
        s = r.precision if ap else r.recall
        if iou is not None:
            s = s[np.where(iou == r.iou_thresholds)[0]]
        s = s[:, :, :, a, m] if ap else s[:, :, a, m]
        value = -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))
        iou_s = f"{t0:0.2f}:{t1:0.2f}" if iou is None else f"{iou:0.2f}"
        name, kind = title[ap]
        r._lines.append(
            f" {name:<18} {kind} @[ IoU={iou_s:<9} | area={area:>6s} | maxDets={dets:>3d} ] = "
            f"{value:0.3f}"
        )
        return value

    d = r.max_dets
    r.stats = np.array([
        one(1),  # pycocotools' default maxDets=100 here, whatever max_dets is
        one(1, 0.5, dets=d[2]),
        one(1, 0.75, dets=d[2]),
        one(1, area="small", dets=d[2]),
        one(1, area="medium", dets=d[2]),
        one(1, area="large", dets=d[2]),
        one(0, dets=d[0]),
        one(0, dets=d[1]),
        one(0, dets=d[2]),
        one(0, area="small", dets=d[2]),
        one(0, area="medium", dets=d[2]),
        one(0, area="large", dets=d[2]),
    ])  # fmt: skip
