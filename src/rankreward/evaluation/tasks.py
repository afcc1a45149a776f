"""Score a policy's completions on the paper's three evaluations, under a named protocol.

Each ``evaluate_*`` takes the samples and the completions (from `generate_completions`, or your
own), reads them with the protocol's answer reader, maps coordinates back to the original image
when the model saw a resized one, and returns an `EvalOutput`: the summary metrics plus one
record per sample (completion, objects, problems, the sample's score and the ``rule`` that
decided it) for error analysis.

``protocol=`` (see `rankreward.evaluation.protocols`): ``None`` picks the protocol behind the
paper's numbers for the task (``"drseg"`` for ReasonSeg, ``"visionreasoner"`` for COCO and
counting); ``"visionreasoner"``, ``"visionreasoner-nonobj"`` and ``"rankreward"`` are the others.

- ReasonSeg: every predicted object is segmented (box + point prompt), the masks are united,
  and gIoU / cIoU are taken over samples; the protocol decides unreadable answers, both-empty
  samples and the bbox hit rate.
- COCO: each (image, category) query's boxes become COCO results (score: the protocol's),
  evaluated by `coco_evaluate` (pycocotools' numbers) against the ground-truth dict.
- Counting: the number of objects read against the ground-truth count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._deprecation import warn_renamed
from ..frames import answer_size
from ..metrics import CountAccuracy, ReasonSegIoU, coco_evaluate
from ..rewards.recipes.drseg.parser import ParsedCompletion, parse_completion
from ..segment import Segmenter
from ..text import completion_text
from .protocols import EvalAnswer, EvalProtocol, box_iou_exclusive, get_protocol
from .protocols import read_eval_answer as _read_released

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
    # the released scripts' arithmetic: a factor per axis, then a product (docs/evaluation.md)
    sx, sy = _factors(seen_size, image_size)
    return boxes * np.array([sx, sy, sx, sy]), points * np.array([sx, sy])


def _parse(completions: Sequence[Any], n: int, strict: bool) -> list[ParsedCompletion]:
    return [parse_completion(t, strict=strict) for t in _texts(completions, n)]


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


def _factors(seen_size: tuple[int, int] | None, size: tuple[int, int]) -> tuple[float, float]:
    """The released scripts' (x_factor, y_factor): original size / the size the model saw."""
    if seen_size is None:
        return 1.0, 1.0
    sw, sh = seen_size
    if sw <= 0 or sh <= 0:
        raise ValueError(f"seen_size must be positive, got {seen_size}")
    return size[0] / sw, size[1] / sh


def _texts(completions: Sequence[Any], n: int) -> list[str]:
    if len(completions) != n:
        raise ValueError(f"{len(completions)} completions for {n} samples")
    return [completion_text(c) for c in completions]


#: How the rankreward protocol's parser reads an answer (the reward's ``compat`` words):
#: ``"lenient"`` also accepts fenced JSON, a single object and numeric strings; ``"strict"``
#: is plain ``json.loads``.
EVAL_COMPAT = ("lenient", "strict")


def _compat(compat: str, strict: bool | None) -> bool:
    """Whether the rankreward parser reads strictly; ``strict=`` is the 0.1 switch (warns)."""
    if strict is not None:
        warn_renamed("strict=", f"compat={'strict' if strict else 'lenient'!r}", stacklevel=4)
        compat = "strict" if strict else "lenient"
    if compat not in EVAL_COMPAT:
        raise ValueError(f"compat must be one of {EVAL_COMPAT}, got {compat!r}")
    return compat == "strict"


def _protocol(protocol: str | EvalProtocol | None, task: str, strict: bool) -> EvalProtocol:
    proto = get_protocol(protocol, task)
    if strict and proto.reader != "rankreward":
        raise ValueError(
            f"compat='strict' selects the rankreward parser's reading; protocol {proto.name!r} "
            "has its own reader (pass protocol='rankreward')"
        )
    return proto


def _released_record(k: int, sample: Mapping, text: str, read: EvalAnswer) -> dict[str, Any]:
    objects = [
        {"bbox_2d": b, "point_2d": read.points[n] if n < len(read.points) else None}
        for n, b in enumerate(read.boxes)
    ]
    problems = [f"{read.stage}: {read.error}"] if read.error else []
    return {"index": k, "question": sample.get("question"), "completion": text,
            "objects": objects, "problems": problems}  # fmt: skip


def _read(proto: EvalProtocol, text: str, fx: float, fy: float) -> EvalAnswer:
    return _read_released(text, fx, fy, keep_boxes=proto.reader == "visionreasoner")


def _mask_bbox(mask: np.ndarray) -> list[int]:
    """VisionReasoner's ground-truth box from a mask: inclusive pixel indices, [] if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return []
    return [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]


def _bbox_hit(boxes: list[list[int]], gt_box: Any) -> float:
    """VisionReasoner's per-sample "bbox_AP": 1 if any predicted box, or the box around all of
    them, has IoU > 0.5 with the ground-truth box; with no ground-truth box, 1 iff no box."""
    if gt_box is None:
        return 0.0  # the released script's TypeError, caught as a miss
    gt_box = [float(v) for v in gt_box]
    if not gt_box:
        return float(not boxes)
    if any(box_iou_exclusive(b, gt_box) > 0.5 for b in boxes):
        return 1.0
    if boxes:
        merged = [min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes)]  # fmt: skip
        if box_iou_exclusive(merged, gt_box) > 0.5:
            return 1.0
    return 0.0


def evaluate_reasonseg(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    segmenter: Segmenter,
    *,
    seen_size: tuple[int, int] | None = None,
    compat: str = "lenient",
    protocol: str | EvalProtocol | None = None,
    frame: str = "absolute",
    strict: bool | None = None,
) -> EvalOutput:
    """gIoU / cIoU of the union of the segmented objects against each sample's ``mask``.

    Samples need ``image`` and ``mask`` ((H, W) bool, the image's size); an optional ``bbox``
    (xyxy, original pixels) is the ground-truth box of the VisionReasoner bbox hit rate (else
    the mask's own box, as its script does).

    Protocols (``None`` = ``"drseg"``, the paper's):

    - ``"drseg"``: an answer that fails to read is a penalty (I = 0, U = ground-truth area); a
      sample whose predicted and true masks are both empty is dropped (its record says so);
      ``giou`` = mean I/U over the rest (the released number); ``ciou`` = ΣI/ΣU over the same
      samples (not printed by the released script).
    - ``"visionreasoner"``: a failed read predicts nothing (boxes read before a bad point are
      kept, with an empty mask, as the released code does); both-empty scores 0;
      ``bbox_accuracy`` = the mean bbox hit.
    - ``"visionreasoner-nonobj"``: as above, but an empty ground truth with no predicted box
      scores 1; ``n_acc`` = those / empty ground truths.
    - ``"rankreward"``: the lenient parser (``compat="strict"``: plain ``json.loads``; ``strict=``
      is its 0.1 name and warns), float coordinates, both-empty scores 1.

    ``frame``: the policy's coordinate frame (`answer_size`): ``"rel1000"`` answers (Qwen3-VL)
    are mapped as the protocol maps an 840-pixel answer, with 1000 for 840.

    Each record carries ``rule``: ``scored``, ``penalty``, ``dropped_both_empty``,
    ``both_empty_zero``, ``no_object_one``, ``points_unreadable`` or ``both_empty_one``.

    Complexity: O(N H W) plus the segmenter.

    Examples:
        >>> from rankreward.evaluation import BoxSegmenter
        >>> mask = np.zeros((8, 8), bool); mask[0:4, 0:4] = True
        >>> text = '<think></think><answer>[{"bbox_2d": [0, 0, 3, 3], "point_2d": [1, 1]}]</answer>'
        >>> out = evaluate_reasonseg([{"image": np.zeros((8, 8, 3), np.uint8), "mask": mask}], [text],
        ...                          BoxSegmenter())
        >>> out.metrics["giou"], out.records[0]["iou"], out.records[0]["rule"]
        (1.0, 1.0, 'scored')
    """
    seen_size = answer_size(frame, seen_size)  # a relative answer: its unit "image"
    strict = _compat(compat, strict)
    proto = _protocol(protocol, "reasonseg", strict)
    if proto.reader == "rankreward":
        return _reasonseg_rankreward(samples, completions, segmenter, seen_size, strict)
    texts = _texts(completions, len(samples))
    vr = proto.reader == "visionreasoner"
    nonobj = proto.name == "visionreasoner-nonobj"
    records = []
    for k, (sample, text) in enumerate(zip(samples, texts, strict=True)):
        img = image_array(sample["image"])
        gt = np.asarray(sample["mask"], bool)
        if gt.shape != img.shape[:2]:
            raise ValueError(f"sample {k}: mask {gt.shape} but image {img.shape[:2]}")
        read = _read(proto, text, *_factors(seen_size, (gt.shape[1], gt.shape[0])))
        rec = _released_record(k, sample, text, read)
        gt_area = int(gt.sum())
        records.append(rec)
        if not vr and read.error is not None:
            rec.update(rule="penalty", intersection=0, union=gt_area, iou=0.0)
            continue
        pred = np.zeros_like(gt)
        if read.boxes and len(read.points) == len(read.boxes):
            masks = segmenter(img, np.asarray(read.boxes, np.float64).reshape(-1, 4),
                              np.asarray(read.points, np.float64).reshape(-1, 2))  # fmt: skip
            if len(masks):
                pred = np.asarray(masks, bool).any(axis=0)
        inter, union = int((pred & gt).sum()), int((pred | gt).sum())
        rec.update(intersection=inter, union=union, iou=inter / union if union else 0.0)
        rec["rule"] = "points_unreadable" if read.boxes and not read.points else "scored"
        if not vr:
            if union == 0:
                rec.update(rule="dropped_both_empty", iou=None)
            continue
        if union == 0:
            rec["rule"] = "both_empty_zero"
        gt_box = sample["bbox"] if "bbox" in sample else _mask_bbox(gt)
        rec["bbox_hit"] = _bbox_hit(read.boxes, gt_box)
        if nonobj:
            rec["non_object_gt"] = int(gt_area == 0)
            rec["non_object"] = int(gt_area == 0 and not read.boxes)
            if rec["non_object"]:
                rec.update(iou=1.0, rule="no_object_one")
    kept = [r for r in records if r["iou"] is not None]
    inter = sum(r["intersection"] for r in kept)
    union = sum(r["union"] for r in kept)
    metrics: dict[str, Any] = {
        "giou": float(np.mean([r["iou"] for r in kept])) if kept else float("nan"),
        "ciou": inter / union if union else 0.0,
    }
    if vr:
        metrics["bbox_accuracy"] = float(np.mean([r["bbox_hit"] for r in kept])) if kept else 0.0
    if nonobj:
        empty = sum(r["non_object_gt"] for r in kept)
        metrics["n_acc"] = sum(r["non_object"] for r in kept) / empty if empty else 0.0
    metrics["num_samples"] = len(kept)
    if not vr:
        metrics["num_dropped"] = len(records) - len(kept)
        metrics["num_penalty"] = sum(r["rule"] == "penalty" for r in records)
    return EvalOutput("reasonseg", metrics, records)


def _reasonseg_rankreward(samples, completions, segmenter, seen_size, strict) -> EvalOutput:
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
        rec = _record(k, sample, p, boxes, points)
        rec["rule"] = "both_empty_one" if not pred.any() and not gt.any() else "scored"
        records.append(rec)
    for rec, iou in zip(records, acc.per_image_iou().tolist(), strict=True):
        rec["iou"] = iou  # once at the end: per_image_iou rebuilds the whole array
    m = acc.compute()
    metrics = {"giou": m["giou"], "ciou": m["ciou"], "num_samples": m["num_images"]}
    return EvalOutput("reasonseg", metrics, records)


def evaluate_count(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    *,
    compat: str = "lenient",
    protocol: str | EvalProtocol | None = None,
    strict: bool | None = None,
) -> EvalOutput:
    """Counting accuracy, mean absolute error and RMSE: predicted count = objects read.

    Samples need ``count``. Protocols (``None`` = ``"visionreasoner"``, the paper's): under
    ``"visionreasoner"`` the count is the number of boxes its reader keeps (a bad point keeps
    the boxes; any other failure counts 0); under ``"rankreward"`` the number of objects the
    lenient parser reads (0 when they are not all valid). O(total text).

    Examples:
        >>> text = '<think></think><answer>[{"bbox_2d": [0, 0, 5, 5], "point_2d": [2, 2]}]</answer>'
        >>> evaluate_count([{"count": 1}], [text]).metrics
        {'accuracy': 1.0, 'mae': 0.0, 'rmse': 0.0, 'num_samples': 1}
    """
    strict = _compat(compat, strict)
    proto = _protocol(protocol, "count", strict)
    gt = np.array([int(s["count"]) for s in samples], np.int64)
    records = []
    if proto.reader == "rankreward":
        parsed = _parse(completions, len(samples), strict)
        pred = np.array([p.num_objects if p.objects_ok else 0 for p in parsed], np.int64)
        for k, (sample, p) in enumerate(zip(samples, parsed, strict=True)):
            records.append(_record(k, sample, p, *_objects(p, None, (0, 0))))
    else:
        texts = _texts(completions, len(samples))
        reads = [_read(proto, t, 1.0, 1.0) for t in texts]
        pred = np.array([len(r.boxes) for r in reads], np.int64)
        for k, (sample, t, r) in enumerate(zip(samples, texts, reads, strict=True)):
            records.append(_released_record(k, sample, t, r))
    acc = CountAccuracy()
    acc.update(pred, gt)
    m = acc.compute()
    for rec, p, g in zip(records, pred.tolist(), gt.tolist(), strict=True):
        rec.update(pred_count=p, gt_count=g, rule="exact" if p == g else "miss")
    err = (pred - gt).astype(np.float64)
    rmse = float(np.sqrt(np.mean(err**2))) if len(err) else 0.0
    metrics = {"accuracy": m["accuracy"], "mae": m["mae"], "rmse": rmse, "num_samples": m["num"]}
    return EvalOutput("count", metrics, records)


def evaluate_coco(
    samples: Sequence[Mapping[str, Any]],
    completions: Sequence[Any],
    gt: Mapping[str, Any],
    *,
    seen_size: tuple[int, int] | None = None,
    compat: str = "lenient",
    protocol: str | EvalProtocol | None = None,
    frame: str = "absolute",
    strict: bool | None = None,
) -> EvalOutput:
    """COCO bbox AP of the predicted boxes against ``gt``.

    Samples need ``image_id``, ``category_id`` and the image's ``width``/``height`` (or the
    ``image``); an optional ``bbox`` (the row's ground-truth boxes, as VisionReasoner's
    evaluation set has them) says whether the category is present in the image (else ``gt``
    says it).

    Protocols (``None`` = ``"visionreasoner"``, the paper's): each box read (rounded as the
    released script does) becomes a result with score = box area / image area, 0 when the
    category has no ground truth in that image, and bbox ``[x1, y1, x2 - x1, y2 - y1]``
    unclamped (a negative width scores as pycocotools scores it). ``"rankreward"``: score 1.0
    (ties keep answer order), float coordinates, widths clamped at 0. ``frame`` as in
    `evaluate_reasonseg`.

    O(total text) plus `coco_evaluate`.

    Examples:
        >>> gt = {"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 1}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20],
        ...                        "area": 400, "iscrowd": 0}]}
        >>> sample = {"image_id": 1, "category_id": 1, "width": 100, "height": 100}
        >>> text = '<think></think><answer>[{"bbox_2d": [10, 10, 30, 30], "point_2d": [20, 20]}]</answer>'
        >>> out = evaluate_coco([sample], [text], gt)
        >>> round(out.metrics["AP"], 6), out.records[0]["results"][0]["score"]
        (1.0, 0.04)
    """
    seen_size = answer_size(frame, seen_size)  # a relative answer: its unit "image"
    strict = _compat(compat, strict)
    proto = _protocol(protocol, "coco", strict)
    released = proto.reader != "rankreward"
    parsed = None if released else _parse(completions, len(samples), strict)
    texts = _texts(completions, len(samples)) if released else None
    present = (
        {(a["image_id"], a["category_id"]) for a in gt.get("annotations", [])}
        if released
        else set()
    )
    results, records = [], []
    for k, sample in enumerate(samples):
        if "width" in sample and "height" in sample:
            size = (int(sample["width"]), int(sample["height"]))
        else:
            img = image_array(sample["image"])
            size = (img.shape[1], img.shape[0])
        mine = []
        if released:
            read = _read(proto, texts[k], *_factors(seen_size, size))
            has_gt = (bool(sample["bbox"]) if "bbox" in sample
                      else (sample["image_id"], sample["category_id"]) in present)  # fmt: skip
            for x1, y1, x2, y2 in read.boxes:
                score = float((x2 - x1) * (y2 - y1) / (size[0] * size[1])) if has_gt else 0.0
                mine.append({"image_id": sample["image_id"], "category_id": sample["category_id"],
                             "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score})  # fmt: skip
            rec = _released_record(k, sample, texts[k], read)
            rec["rule"] = "area_score" if has_gt else "absent_category_zero_score"
        else:
            p = parsed[k]
            boxes, points = _objects(p, seen_size, size)
            for b in boxes:
                x1, y1, x2, y2 = (float(v) for v in b)
                mine.append({"image_id": sample["image_id"], "category_id": sample["category_id"],
                             "bbox": [x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)],
                             "score": 1.0})  # fmt: skip
            rec = _record(k, sample, p, boxes, points)
            rec["rule"] = "score_one"
        rec.update(image_id=sample["image_id"], category_id=sample["category_id"], results=mine)
        results.extend(mine)
        records.append(rec)
    result = coco_evaluate(gt, results, negative_sizes="allow" if released else "raise")
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
    metrics: dict[str, Any] = {n: float(v) for n, v in zip(names, result.stats, strict=True)}
    metrics["num_queries"] = len(samples)
    return EvalOutput("coco", metrics, records, coco=result)
