"""The released mask rewards restated as test oracles, one completion at a time, the way their
code runs: Seg-R1's ``grpo.py`` (``parse_custom_format`` with its regexes and ``eval``,
``segmentation_reward`` with its per-box SAM calls and ``Smeasure.cal_sm``, ``format_reward``)
and Think2Seg-RS's ``geo_reward_func_ultra.py`` (``parse_sam_json``, ``sam_reward_func_ultra``
with its batch-wide ``try``, the two format rewards). SAM is a `Predictor` over any segmenter
of the contract, called one prompt at a time as ``SAM2ImagePredictor`` is."""

from __future__ import annotations

import json
import re

import numpy as np

_EPS = np.spacing(1)


class Predictor:
    """``SAM2ImagePredictor``'s calling shape over a segmenter: ``set_image`` then one
    ``predict`` per prompt (``multimask_output=False``)."""

    def __init__(self, segmenter):
        self.segmenter, self.image, self.set_images = segmenter, None, 0

    def set_image(self, image):
        self.image = np.asarray(image)
        self.set_images += 1

    def predict(self, point_coords=None, point_labels=None, box=None, multimask_output=False):
        boxes = None if box is None else np.asarray(box, np.float64).reshape(1, 4)
        points = None if point_coords is None else np.asarray(point_coords, np.float64)[None]
        labels = None if point_labels is None else np.asarray(point_labels).astype(np.int64)[None]
        masks = self.segmenter(self.image, boxes, points, labels)
        return np.asarray(masks), np.ones(1), None


# -- Seg-R1 ------------------------------------------------------------------------------------


def parse_custom_format(content):
    point_pattern = r"<points>\s*(\[\s*(?:\[\s*\d+\s*,\s*\d+\s*\]\s*,?\s*)+\])\s*</points>"
    label_pattern = r"<labels>\s*(\[\s*(?:\d+\s*,?\s*)+\])\s*</labels>"
    bbox_pattern = r"<bbox>\s*(\[\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\])\s*</bbox>"
    point_match = re.search(point_pattern, content)
    label_match = re.search(label_pattern, content)
    bbox_matches = re.findall(bbox_pattern, content)
    import warnings

    warnings.filterwarnings("ignore", category=SyntaxWarning)  # eval of "[[1,2] [3,4]]"
    try:
        points = np.array(eval(point_match.group(1))) if point_match else None
        labels = np.array(eval(label_match.group(1))) if label_match else None
        if points is not None and labels is not None:
            if not (
                len(points.shape) == 2 and points.shape[1] == 2 and len(labels) == points.shape[0]
            ):
                points, labels = None, None
        bboxes = []
        for s in bbox_matches:
            b = np.array(eval(s))
            if len(b.shape) == 1 and b.shape[0] == 4:
                bboxes.append(b)
        bboxes = np.stack(bboxes, axis=0) if bboxes else None
        return points, labels, bboxes
    except Exception:
        return None, None, None


def segr1_format_reward(content):
    points, labels, bbox = parse_custom_format(content)
    think = re.search(r"<think>([\s\S]*?)</think>", content)
    think = think.group(1).strip() if think else None
    return 1.0 if (points is not None and labels is not None and bbox is not None
                   and think is not None) else 0.0  # fmt: skip


class Smeasure:
    """The saliency-evaluation S-measure as Seg-R1's ``utils/metrics.py`` has it."""

    def __init__(self, alpha=0.5):
        self.alpha = alpha

    def cal_sm(self, pred, gt):
        y = np.mean(gt)
        if y == 0:
            sm = 1 - np.mean(pred)
        elif y == 1:
            sm = np.mean(pred)
        else:
            sm = self.alpha * self.object(pred, gt) + (1 - self.alpha) * self.region(pred, gt)
            sm = max(0, sm)
        return sm

    def object(self, pred, gt):
        fg = pred * gt
        bg = (1 - pred) * (1 - gt)
        u = np.mean(gt)
        return u * self.s_object(fg, gt) + (1 - u) * self.s_object(bg, 1 - gt)

    def s_object(self, pred, gt):
        x = np.mean(pred[gt == 1])
        sigma_x = np.std(pred[gt == 1], ddof=1)
        return 2 * x / (np.power(x, 2) + 1 + sigma_x + _EPS)

    def region(self, pred, gt):
        x, y = self.centroid(gt)
        h, w = gt.shape
        area = h * w
        parts = [(gt[0:y, 0:x], pred[0:y, 0:x]), (gt[0:y, x:w], pred[0:y, x:w]),
                 (gt[y:h, 0:x], pred[y:h, 0:x]), (gt[y:h, x:w], pred[y:h, x:w])]  # fmt: skip
        w1 = x * y / area
        w2 = y * (w - x) / area
        w3 = (h - y) * x / area
        w4 = 1 - w1 - w2 - w3
        return sum(
            wk * self.ssim(p, g) for wk, (g, p) in zip((w1, w2, w3, w4), parts, strict=False)
        )

    def centroid(self, matrix):
        h, w = matrix.shape
        if np.count_nonzero(matrix) == 0:
            x, y = np.round(w / 2), np.round(h / 2)
        else:
            y, x = np.argwhere(matrix).mean(axis=0).round()
        return int(x) + 1, int(y) + 1

    def ssim(self, pred, gt):
        h, w = pred.shape
        n = h * w
        x, y = np.mean(pred), np.mean(gt)
        sigma_x = np.sum((pred - x) ** 2) / (n - 1)
        sigma_y = np.sum((gt - y) ** 2) / (n - 1)
        sigma_xy = np.sum((pred - x) * (gt - y)) / (n - 1)
        alpha = 4 * x * y * sigma_xy
        beta = (x**2 + y**2) * (sigma_x + sigma_y)
        if alpha != 0:
            return alpha / (beta + _EPS)
        if alpha == 0 and beta == 0:
            return 1
        return 0


def segr1_segmentation_reward(content, gt_mask, img, predictor, corrected=False, swap=True):
    """One completion of ``segmentation_reward`` (its canvas the image's size; ``swap``: its
    ``cv2.COLOR_BGR2RGB``; ``corrected``: the S-measure against the real ground truth)."""
    points, labels, bbox = parse_custom_format(content)
    iou_reward, sm_reward = 0.0, 0.0
    if points is not None and len(points) > 0 and bbox is not None and labels is not None:
        final_mask = np.zeros(np.asarray(img).shape[:2], dtype=bool)
        for b in bbox:
            b = b.tolist()
            inside = ((points[:, 0] >= b[0]) & (points[:, 0] <= b[2])
                      & (points[:, 1] >= b[1]) & (points[:, 1] <= b[3]))  # fmt: skip
            sp, sl = points[inside], labels[inside]
            try:
                image = np.asarray(img)[..., ::-1] if swap else np.asarray(img)
                predictor.set_image(image)
                masks, _, _ = predictor.predict(
                    point_coords=np.array(sp.tolist()) if len(sp) > 0 else None,
                    point_labels=np.array(sl.tolist()) if len(sl) > 0 else None,
                    box=np.array(b),
                    multimask_output=False,
                )
                final_mask |= masks[0] > 0
            except Exception:
                continue
        inter = np.logical_and(final_mask, gt_mask).sum()
        union = np.logical_or(final_mask, gt_mask).sum()
        iou_reward = inter / union if union > 0 else 0.0
        pred = final_mask.astype(np.float64)
        gt = np.array(gt_mask).astype(np.float64)
        if not corrected:
            gt = (gt > 128).astype(np.float64)  # the released _prepare_data on a 0/1 mask
        sm = Smeasure(0.5).cal_sm(pred, gt)
        sm_reward = max(0.0, min(1.0, sm))
    return 0.7 * iou_reward + 0.3 * sm_reward


# -- Think2Seg-RS ------------------------------------------------------------------------------

POS, NEG = 2, 0


def _valid_bbox(instance):
    try:
        return (
            "bbox_2d" in instance
            and isinstance(instance["bbox_2d"], list)
            and len(instance["bbox_2d"]) == 4
        )
    except Exception:
        return False


def _valid_points(instance, point_type):
    try:
        points = instance.get(point_type, None)
        num = POS if point_type == "positive_points" else NEG
        if points is None and num == 0:
            return True
        if not isinstance(points, list) or len(points) == 0:
            return False
        if len(points) != num:
            return False
        for point in points:
            if not isinstance(point, (list, tuple)) or len(point) != 2:
                return False
            try:
                float(point[0])
                float(point[1])
            except (TypeError, ValueError):
                return False
        return True
    except Exception:
        return False


def _bbox_iou(b1, b2):
    b1 = np.array(b1)[:, None, :]
    b2 = np.array(b2)[None, :, :]
    x1 = np.maximum(b1[..., 0], b2[..., 0])
    y1 = np.maximum(b1[..., 1], b2[..., 1])
    x2 = np.minimum(b1[..., 2], b2[..., 2])
    y2 = np.minimum(b1[..., 3], b2[..., 3])
    inter = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
    a1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    a2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    union = a1 + a2 - inter
    with np.errstate(all="ignore"):
        return np.where(union > 0, inter / union, 0)


def _nms(data, thr=0.5):
    if not data or len(data) <= 1:
        return data
    valid = []
    for i, inst in enumerate(data):
        if _valid_bbox(inst):
            b = inst["bbox_2d"]
            valid.append({"index": i, "bbox": b, "area": (b[2] - b[0]) * (b[3] - b[1])})
    if len(valid) <= 1:
        return data
    valid.sort(key=lambda x: x["area"], reverse=True)
    iou = _bbox_iou([v["bbox"] for v in valid], [v["bbox"] for v in valid])
    remove = set()
    for i in range(len(valid)):
        if i in remove:
            continue
        for j in range(i + 1, len(valid)):
            if j not in remove and iou[i, j] > thr:
                remove.add(j)
    gone = {valid[i]["index"] for i in remove}
    return [d for i, d in enumerate(data) if i not in gone]


def parse_sam_json(s, repair):
    try:
        if "<answer>" in s and "</answer>" in s:
            m = re.search(r"<answer>(.*?)</answer>", s, re.DOTALL)
            if m:
                s = m.group(1).strip()
        if "```json" in s:
            m = re.search(r"```json\s*(.*?)\s*```", s, re.DOTALL)
            if m:
                s = m.group(1).strip()
            else:
                return None, "incomplete"
        else:
            return None, "no block"
        if "[" in s and "]" in s:
            s = s[s.find("[") : s.rfind("]") + 1]
        try:
            data = json.loads(s)
        except json.JSONDecodeError:
            if repair is None:
                return None, "json"
            data = repair(s)
        if not isinstance(data, list):
            return None, "not a list"
        for inst in data:
            if not isinstance(inst, dict):
                return None, "not an object"
            has_bbox, has_pos = "bbox_2d" in inst, "positive_points" in inst
            if not (has_bbox or has_pos):
                return None, "empty"
            if has_bbox and not _valid_bbox(inst):
                return None, "bbox"
            if not _valid_points(inst, "positive_points"):
                return None, "pos"
            if not _valid_points(inst, "negative_points"):
                return None, "neg"
        return _nms(data), None
    except Exception as e:
        return None, str(e)


def think2seg_rewards(contents, gt_masks, images, predictor, repair):
    """``sam_reward_func_ultra``'s ``final_reward`` for a batch (one ``try`` for all)."""
    n = len(contents)
    iou = [0.0] * n
    final = [0.0] * n
    valid = []
    for i, (c, gt) in enumerate(zip(contents, gt_masks, strict=False)):
        parsed, _ = parse_sam_json(c, repair)
        if np.all(np.asarray(gt) == 0):
            if parsed is not None and len(parsed) == 0:
                iou[i] = 1.0
            continue
        if parsed:
            valid.append((i, parsed))
    try:
        for i, instances in valid:
            predictor.set_image(np.array(images[i]))
            combined = None
            for inst in instances:
                bbox = np.array(inst["bbox_2d"]) if "bbox_2d" in inst else None
                pos = (
                    np.array(inst["positive_points"])
                    if "positive_points" in inst and len(inst["positive_points"]) > 0
                    else None
                )
                labels = np.ones(pos.shape[0]) if pos is not None else None
                if bbox is None and pos is None:
                    continue
                if bbox is not None and bbox.dtype.kind not in "biuf":
                    raise TypeError("SAM cannot take this box")  # what torch.as_tensor raises
                if pos is not None and pos.dtype.kind not in "biuf":
                    raise TypeError("SAM cannot take these points")
                if (bbox is not None and not np.isfinite(bbox.astype(float)).all()) or (
                    pos is not None and not np.isfinite(pos.astype(float)).all()
                ):
                    raise ValueError("non-finite prompt")  # rankreward's reading: see the recipe
                masks, _, _ = predictor.predict(point_coords=pos, point_labels=labels, box=bbox,
                                                multimask_output=False)  # fmt: skip
                m = masks[0]
                combined = m if combined is None else np.logical_or(combined, m)
            if combined is not None:
                gt = gt_masks[i]
                inter = np.logical_and(combined, gt).sum()
                union = np.logical_or(combined, gt).sum()
                iou[i] = float(inter / union if union > 0 else 0.0)
            else:
                iou[i] = 0.0
        final = np.clip(np.sum(np.stack([np.array(iou)]) * np.array([2]).reshape(-1, 1), axis=0),
                        0.0, 2).tolist()  # fmt: skip
    except Exception:
        pass
    return final


def think2seg_format(content, repair):
    return 1.0 if parse_sam_json(content, repair)[0] is not None else 0.0


def thk_ans_format(content):
    return (
        1.0
        if re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", content, re.DOTALL)
        else 0.0
    )
