"""Score a policy's completions on the paper's three evaluations.

Each ``evaluate_*`` takes the samples and the completions (from `generate_completions`, or your
own), parses them with the Dr. Seg parser, maps coordinates back to the original image when the
model saw a resized one, and returns an `EvalOutput`: the summary metrics plus one record per
sample (completion, parsed objects, parse problems, the sample's score) for error analysis.

- ReasonSeg: every predicted object is segmented (box + point prompt), the masks are united,
  and gIoU / cIoU are taken over images (`ReasonSegIoU`; both-empty counts as IoU 1).
- COCO: each (image, category) query's boxes become COCO results with score 1.0 (the policy
  gives no confidence; ties keep answer order, as pycocotools' stable sort does), evaluated by
  `coco_evaluate` against the ground-truth dict.
- Counting: the number of parsed objects against the ground-truth count (`CountAccuracy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..drseg.parser import ParsedCompletion, parse_completion
from ..drseg.reward import completion_text
from ..metrics import CountAccuracy, ReasonSegIoU, coco_evaluate
from .segmenters import Segmenter

__all__ = [
    "EvalOutput",
    "evaluate_coco",
    "evaluate_count",
    "evaluate_reasonseg",
    "image_array",
    "rescale_objects",
]


@dataclass
class EvalOutput:
    """Summary metrics and per-sample records of one evaluation.

    Examples:
        >>> print(EvalOutput("count", {"accuracy": 0.5}).table())
        | count | value |
        |---|---:|
        | accuracy | 0.5000 |
    """

    task: str
    metrics: dict[str, float]
    records: list[dict[str, Any]] = field(default_factory=list)
    #: the full `COCOResult` for the coco task (precision, per-category AP, summary())
    coco: Any = None

    def table(self) -> str:
        """A short Markdown table of the metrics."""
        rows = [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                for k, v in self.metrics.items()]  # fmt: skip
        return "\n".join([f"| {self.task} | value |", "|---|---:|", *rows])


def image_array(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 array from a PIL image, a path or an array.

    Examples:
        >>> from PIL import Image
        >>> image_array(Image.new("L", (5, 3))).shape
        (3, 5, 3)
    """
    if isinstance(image, np.ndarray):
        arr = image
    else:
        from PIL import Image

        img = (
            Image.open(image)
            if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__")
            else image
        )
        arr = np.asarray(img.convert("RGB"))
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be RGB (H, W, 3), got {arr.shape}")
    return arr


def rescale_objects(
    boxes: np.ndarray,
    points: np.ndarray,
    seen_size: tuple[int, int] | None,
    image_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Map boxes (N, 4) xyxy and points (N, 2) from the (width, height) image the model saw to
    the original (width, height). ``seen_size=None`` means no resize. O(N).

    Examples:
        >>> b, p = rescale_objects(np.array([[0, 0, 420, 840]]), np.array([[420, 420]]),
        ...                        (840, 840), (1680, 420))
        >>> b.tolist(), p.tolist()
        ([[0.0, 0.0, 840.0, 420.0]], [[840.0, 210.0]])
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if seen_size is None:
        return boxes, points
    sw, sh = seen_size
    w, h = image_size
    if sw <= 0 or sh <= 0:
        raise ValueError(f"seen_size must be positive, got {seen_size}")
    sx, sy = w / sw, h / sh
    return boxes * np.array([sx, sy, sx, sy]), points * np.array([sx, sy])


def _parse(completions: Sequence[Any], n: int, strict: bool) -> list[ParsedCompletion]:
    if len(completions) != n:
        raise ValueError(f"{len(completions)} completions for {n} samples")
    return [parse_completion(completion_text(c), strict=strict) for c in completions]


def _record(k: int, sample: Mapping, parsed: ParsedCompletion, boxes, points) -> dict[str, Any]:
    return {
        "index": k,
        "question": sample.get("question"),
        "completion": parsed.text,
        "objects": [
            {
                "bbox_2d": [round(float(v), 2) for v in b],
                "point_2d": [round(float(v), 2) for v in p],
            }
            for b, p in zip(boxes, points, strict=True)
        ],
        "problems": [str(p) for p in parsed.problems],
    }


def _objects(parsed: ParsedCompletion, seen_size, size) -> tuple[np.ndarray, np.ndarray]:
    if not parsed.objects_ok:
        return np.zeros((0, 4)), np.zeros((0, 2))
    return rescale_objects(parsed.boxes, parsed.points, seen_size, size)


def evaluate_reasonseg(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    segmenter: Segmenter,
    *,
    seen_size: tuple[int, int] | None = None,
    strict: bool = False,
) -> EvalOutput:
    """gIoU / cIoU of the union of the segmented objects against each sample's ``mask``.

    Samples need ``image`` and ``mask`` ((H, W) bool, the image's size). An unparsable
    answer predicts an empty mask (and its problems are in the record). O(N H W + segmenter).

    Examples:
        >>> from rankreward.evaluation import BoxSegmenter
        >>> mask = np.zeros((8, 8), bool); mask[0:4, 0:4] = True
        >>> text = '<think></think><answer>[{"bbox_2d": [0, 0, 3, 3], "point_2d": [1, 1]}]</answer>'
        >>> out = evaluate_reasonseg([{"image": np.zeros((8, 8, 3), np.uint8), "mask": mask}], [text],
        ...                          BoxSegmenter())
        >>> out.metrics["giou"], out.records[0]["iou"]
        (1.0, 1.0)
    """
    parsed = _parse(completions, len(samples), strict)
    acc = ReasonSegIoU()
    records = []
    for k, (sample, p) in enumerate(zip(samples, parsed, strict=True)):
        img = image_array(sample["image"])
        gt = np.asarray(sample["mask"], bool)
        if gt.shape != img.shape[:2]:
            raise ValueError(f"sample {k}: mask {gt.shape} but image {img.shape[:2]}")
        boxes, points = _objects(p, seen_size, (img.shape[1], img.shape[0]))
        masks = segmenter(img, boxes, points)
        pred = masks.any(axis=0) if len(masks) else np.zeros_like(gt)
        acc.update(pred[None], gt[None])
        records.append(_record(k, sample, p, boxes, points))
    for rec, iou in zip(records, acc.per_image_iou().tolist(), strict=True):
        rec["iou"] = iou  # once at the end: per_image_iou rebuilds the whole array
    m = acc.compute()
    metrics = {"giou": m["giou"], "ciou": m["ciou"], "num_samples": m["num_images"]}
    return EvalOutput("reasonseg", metrics, records)


def evaluate_count(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    *,
    strict: bool = False,
) -> EvalOutput:
    """Counting accuracy and mean absolute error: predicted count = parsed objects.

    Samples need ``count``. O(total text).

    Examples:
        >>> text = '<think></think><answer>[{"bbox_2d": [0, 0, 5, 5], "point_2d": [2, 2]}]</answer>'
        >>> evaluate_count([{"count": 1}], [text]).metrics
        {'accuracy': 1.0, 'mae': 0.0, 'num_samples': 1}
    """
    parsed = _parse(completions, len(samples), strict)
    pred = np.array([p.num_objects if p.objects_ok else 0 for p in parsed], np.int64)
    gt = np.array([int(s["count"]) for s in samples], np.int64)
    acc = CountAccuracy()
    acc.update(pred, gt)
    m = acc.compute()
    records = []
    for k, (sample, p) in enumerate(zip(samples, parsed, strict=True)):
        rec = _record(k, sample, p, *_objects(p, None, (0, 0)))
        rec.update(pred_count=int(pred[k]), gt_count=int(gt[k]))
        records.append(rec)
    metrics = {"accuracy": m["accuracy"], "mae": m["mae"], "num_samples": m["num"]}
    return EvalOutput("count", metrics, records)


def evaluate_coco(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    gt: Mapping[str, Any],
    *,
    seen_size: tuple[int, int] | None = None,
    strict: bool = False,
) -> EvalOutput:
    """COCO bbox AP of the predicted boxes (score 1.0 each) against ``gt``.

    Samples need ``image_id``, ``category_id`` and the image's ``width``/``height`` (or the
    ``image``). O(total text) plus `coco_evaluate`.

    Examples:
        >>> gt = {"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 1}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20],
        ...                        "area": 400, "iscrowd": 0}]}
        >>> sample = {"image_id": 1, "category_id": 1, "width": 100, "height": 100}
        >>> text = '<think></think><answer>[{"bbox_2d": [10, 10, 30, 30], "point_2d": [20, 20]}]</answer>'
        >>> round(evaluate_coco([sample], [text], gt).metrics["AP"], 6)  # pycocotools' 1 - 2e-16
        1.0
    """
    parsed = _parse(completions, len(samples), strict)
    results, records = [], []
    for k, (sample, p) in enumerate(zip(samples, parsed, strict=True)):
        if "width" in sample and "height" in sample:
            size = (int(sample["width"]), int(sample["height"]))
        else:
            img = image_array(sample["image"])
            size = (img.shape[1], img.shape[0])
        boxes, points = _objects(p, seen_size, size)
        for b in boxes:
            x1, y1, x2, y2 = (float(v) for v in b)
            results.append({
                "image_id": sample["image_id"],
                "category_id": sample["category_id"],
                "bbox": [x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)],
                "score": 1.0,
            })  # fmt: skip
        rec = _record(k, sample, p, boxes, points)
        rec.update(image_id=sample["image_id"], category_id=sample["category_id"])
        records.append(rec)
    result = coco_evaluate(gt, results)
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
    metrics: dict[str, Any] = {n: float(v) for n, v in zip(names, result.stats, strict=True)}
    metrics["num_queries"] = len(samples)
    return EvalOutput("coco", metrics, records, coco=result)
