"""Synthetic Dr. Seg completions and ground truths (valid, malformed and adversarial, mixed) for
tests and benchmarks. Deterministic for a given generator."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = [
    "SHAPE_COLOURS",
    "synthetic_batch",
    "synthetic_coco",
    "synthetic_coco_segm",
    "synthetic_shapes",
]


def _objects(rng: np.random.Generator, n: int, size: int = 840) -> list[dict]:
    out = []
    for _ in range(n):
        x, y = rng.integers(0, size - 60, 2)
        w, h = rng.integers(8, 200, 2)
        x2, y2 = min(int(x + w), size - 1), min(int(y + h), size - 1)
        out.append(
            {
                "bbox_2d": [int(x), int(y), x2, y2],
                "point_2d": [int((x + x2) // 2), int((y + y2) // 2)],
            }
        )
    return out


def _jitter(rng: np.random.Generator, objs: list[dict]) -> list[dict]:
    out = []
    for o in objs:
        b = (np.array(o["bbox_2d"]) + rng.normal(0, 8, 4)).round().astype(int).tolist()
        p = (np.array(o["point_2d"]) + rng.normal(0, 20, 2)).round().astype(int).tolist()
        out.append({"bbox_2d": b, "point_2d": p})
    return out


_REASONING = [
    "The question asks for the object on the left.",
    "I compare the two candidates by colour.",
    "The red one is closer to the table.",
    "The shape matches the description.",
    "There is a second instance behind it.",
]


def synthetic_batch(
    n: int, rng: np.random.Generator, max_objects: int = 20
) -> tuple[list[str], list[str]]:
    """``n`` completions with ground truths: about 70% well-formed answers of 1..max_objects
    objects (jittered, reordered, some missing or extra), 30% malformed or adversarial."""
    completions, gts = [], []
    for _ in range(n):
        gt = _objects(rng, int(rng.integers(1, max_objects + 1)))
        gts.append(json.dumps(gt))
        pred = _jitter(rng, gt)
        rng.shuffle(pred)
        k = int(rng.integers(0, 4))
        if k == 0 and len(pred) > 1:
            pred = pred[:-1]
        elif k == 1:
            pred = pred + _objects(rng, 1)
        think = " ".join(rng.choice(_REASONING, int(rng.integers(1, 5))))
        look = "<look>the red handle</look>" if rng.random() < 0.8 else ""
        kind = rng.random()
        if kind < 0.7:
            text = (
                f"<think>{think} {look} {think[:20]}</think>\n<answer>{json.dumps(pred)}</answer>"
            )
        elif kind < 0.75:
            text = f"<think>{think}</think><answer>{json.dumps(pred)[:-3]}</answer>"  # broken JSON
        elif kind < 0.8:
            bad = [dict(o, bbox_2d=o["bbox_2d"][:3]) for o in pred]
            text = f"<think>{think}{look}</think><answer>{json.dumps(bad)}</answer>"
        elif kind < 0.85:
            text = f"{think} <answer>{json.dumps(pred)}</answer> trailing"  # no think
        elif kind < 0.9:
            text = "<think>[your reasoning text] <look> [your visual focus] </look></think><answer>[]</answer>"
        elif kind < 0.95:
            text = "<think>" + "<look>" * int(rng.integers(10, 2000)) + think  # unclosed tags
        else:
            text = f"<think>{think}. {think}. {think}.</think><answer>```json\n{json.dumps(pred)}\n```</answer>"
        completions.append(text)
    return completions, gts


def synthetic_coco(
    n_images: int,
    n_categories: int,
    rng: np.random.Generator,
    *,
    max_gt: int = 15,
    dets_per_image: int = 100,
    crowd_rate: float = 0.05,
    empty_rate: float = 0.05,
    tie_decimals: int | None = 2,
    image_size: int = 640,
) -> tuple[dict, list[dict]]:
    """A COCO ground-truth dict and bbox results with the hard cases of COCO evaluation.

    Ground truths: 1..max_gt per image (``empty_rate`` of images have none), sizes spanning
    the small/medium/large area ranges, ``crowd_rate`` of them crowd regions, ``area`` equal to
    the box area. Detections: ``dets_per_image`` per image (more than 100 is allowed), about a
    third jittered copies of ground truths and the rest random, scores rounded to
    ``tie_decimals`` so ties are common, some on categories without ground truth.
    """
    images = [{"id": int(i), "height": image_size, "width": image_size}
              for i in rng.permutation(np.arange(1, n_images + 1) * 3)]  # fmt: skip
    categories = [{"id": int(c), "name": f"c{c}"} for c in range(1, n_categories + 1)]
    anns: list[dict] = []
    dets: list[dict] = []

    def random_boxes(n: int) -> np.ndarray:
        side = np.exp(rng.uniform(np.log(4), np.log(image_size * 0.6), size=(n, 2)))
        xy = rng.uniform(0, image_size - side)
        return np.round(np.concatenate([xy, side], axis=1), 2)

    for im in images:
        n_gt = 0 if rng.random() < empty_rate else int(rng.integers(1, max_gt + 1))
        gt_boxes = random_boxes(n_gt)
        gt_cats = rng.integers(1, n_categories + 1, size=n_gt)
        for b, c in zip(gt_boxes, gt_cats, strict=True):
            anns.append({
                "id": len(anns) + 1,
                "image_id": im["id"],
                "category_id": int(c),
                "bbox": b.tolist(),
                "area": float(b[2] * b[3]),
                "iscrowd": int(rng.random() < crowd_rate),
            })  # fmt: skip
        n_copy = min(n_gt * 3, dets_per_image // 3) if n_gt else 0
        pick = rng.integers(0, max(n_gt, 1), size=n_copy)
        copies = gt_boxes[pick] if n_gt else np.zeros((0, 4))
        jitter = rng.normal(0, 0.08, size=copies.shape) * np.repeat(copies[:, 2:], 2, axis=1)
        copies = np.round(np.abs(copies + jitter), 2)
        boxes = np.concatenate([copies, random_boxes(dets_per_image - n_copy)])
        cats = np.concatenate([gt_cats[pick] if n_gt else np.zeros(0, int),
                               rng.integers(1, n_categories + 1, size=dets_per_image - n_copy)])  # fmt: skip
        scores = rng.random(dets_per_image)
        if tie_decimals is not None:
            scores = np.round(scores, tie_decimals)
        for b, c, s in zip(boxes, cats, scores, strict=True):
            dets.append({"image_id": im["id"], "category_id": int(c), "bbox": b.tolist(),
                         "score": float(s)})  # fmt: skip
    gt = {"images": images, "categories": categories, "annotations": anns}
    return gt, dets


def _polygon(rng: np.random.Generator, x: float, y: float, w: float, h: float) -> list[float]:
    """A star-shaped polygon of 6-12 vertices inside the box (x, y, w, h)."""
    k = int(rng.integers(6, 13))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.5, 1.0, k)
    px = x + w / 2 + np.cos(ang) * rad * w / 2
    py = y + h / 2 + np.sin(ang) * rad * h / 2
    return np.round(np.stack([px, py], 1).reshape(-1), 2).tolist()


def synthetic_coco_segm(
    n_images: int,
    n_categories: int,
    rng: np.random.Generator,
    *,
    max_gt: int = 8,
    dets_per_image: int = 20,
    crowd_rate: float = 0.05,
    image_size: tuple[int, int] = (120, 160),
    det_bbox: bool = False,
    tie_decimals: int | None = 2,
) -> tuple[dict, list[dict]]:
    """A COCO segm ground truth and results in the formats real files use.

    Ground truths: polygons (``area`` = the rasterised mask's pixel count, as COCO's own
    annotations), crowd regions as uncompressed RLE (``counts`` a list). Results: compressed
    RLE strings (``counts`` a str, what ``pycocotools.mask.encode`` + ``decode("ascii")`` and
    detectron2 write), about half jittered copies of ground truths, scores tied at
    ``tie_decimals``; ``det_bbox`` adds a detectron2-style ``bbox`` (the mask's box) to every
    result, which changes the result areas under pycocotools' ``loadRes`` rule.
    """
    from pycocotools import mask as mask_api

    h_img, w_img = image_size
    images = [{"id": int(i), "height": h_img, "width": w_img}
              for i in rng.permutation(np.arange(1, n_images + 1) * 2)]  # fmt: skip
    categories = [{"id": int(c), "name": f"c{c}"} for c in range(1, n_categories + 1)]
    anns: list[dict] = []
    dets: list[dict] = []

    def box() -> tuple[float, float, float, float]:
        w = float(np.exp(rng.uniform(np.log(3), np.log(w_img * 0.7))))
        h = float(np.exp(rng.uniform(np.log(3), np.log(h_img * 0.7))))
        return float(rng.uniform(0, w_img - w)), float(rng.uniform(0, h_img - h)), w, h

    for im in images:
        polys = []
        for _ in range(int(rng.integers(0, max_gt + 1))):
            poly = _polygon(rng, *box())
            cat = int(rng.integers(1, n_categories + 1))
            polys.append((poly, cat))
            rle = mask_api.merge(mask_api.frPyObjects([poly], h_img, w_img))
            seg: Any = [poly]
            crowd = bool(rng.random() < crowd_rate)
            if crowd:
                flat = mask_api.decode(rle).ravel(order="F")
                change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
                seg = {
                    "size": [h_img, w_img],
                    "counts": np.diff(np.concatenate([[0], change])).tolist(),
                }
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": cat,
                         "segmentation": seg, "area": float(mask_api.area(rle)),
                         "bbox": mask_api.toBbox(rle).tolist(), "iscrowd": int(crowd)})  # fmt: skip
        for k in range(dets_per_image):
            if polys and k % 2 == 0:
                poly, cat = polys[int(rng.integers(0, len(polys)))]
                poly = (np.asarray(poly) + rng.normal(0, 1.5, len(poly))).tolist()
            else:
                poly, cat = _polygon(rng, *box()), int(rng.integers(1, n_categories + 1))
            rle = mask_api.merge(mask_api.frPyObjects([poly], h_img, w_img))
            score = float(rng.random())
            det = {"image_id": im["id"], "category_id": cat,
                   "segmentation": {"size": [h_img, w_img], "counts": rle["counts"].decode("ascii")},
                   "score": score if tie_decimals is None else round(score, tie_decimals)}  # fmt: skip
            if det_bbox:
                det["bbox"] = mask_api.toBbox(rle).tolist()
            dets.append(det)
    return {"images": images, "categories": categories, "annotations": anns}, dets


SHAPE_COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (40, 60, 220),
    "yellow": (230, 210, 40),
}


def synthetic_shapes(
    n: int,
    size: int,
    seed: int | np.random.Generator,
    *,
    with_masks: bool = False,
    position_ramp: bool = False,
) -> list[dict[str, Any]]:
    """Coloured squares or circles on small images: one colour and shape per image, 1-2
    objects, with the Dr. Seg ``solution`` JSON (boxes and centre points).

    Each row has ``image`` (PIL), ``question``, ``solution``, ``count`` and ``category``
    (``"red circle"``); with ``with_masks`` also ``mask``, the (size, size) bool union mask and
    ``masks``, one per object (the rasterised shapes, so a perfect segmenter scores IoU 1).
    ``seed``: an int or a ``numpy.random.Generator`` (as the other generators here take).

    ``position_ramp`` puts position into the pixels (CoordConv-style): the background's red
    channel ramps with x and its green channel with y, and object pixels are 65% their colour,
    35% the ramp. Qwen2.5-VL carries position only in attention (M-RoPE on queries and keys),
    never in the token values, so a two-layer model cannot read out *where* the patch it
    attends to is; with the ramp it can, and the tiny demo model learns to localise.

    Examples:
        >>> row = synthetic_shapes(1, 32, 0, with_masks=True)[0]
        >>> row["mask"].shape, row["count"] == len(json.loads(row["solution"]))
        ((32, 32), True)
    """
    from .._extras import require

    require("PIL", "trl", "synthetic_shapes (images)")
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)  # an int, or a Generator used as is
    rows = []
    ramp = None
    if position_ramp:
        axis = np.linspace(0, 255, size)
        ramp = np.empty((size, size, 3))
        ramp[..., 0] = axis[None, :]  # red grows with x
        ramp[..., 1] = axis[:, None]  # green grows with y
        ramp[..., 2] = 128.0
    for _ in range(n):
        img = Image.new("RGB", (size, size), (245, 245, 245))
        draw = ImageDraw.Draw(img)
        colour = str(rng.choice(list(SHAPE_COLOURS)))
        shape = str(rng.choice(["square", "circle"]))
        objects, masks = [], []
        for _ in range(int(rng.integers(1, 3))):
            w, h = (int(v) for v in rng.integers(size // 6, size // 3, 2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            box = [x, y, x + w - 1, y + h - 1]
            (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=SHAPE_COLOURS[colour])
            objects.append({"bbox_2d": box, "point_2d": [x + w // 2, y + h // 2]})
            if with_masks:
                m = Image.new("1", (size, size), 0)
                (ImageDraw.Draw(m).rectangle if shape == "square" else ImageDraw.Draw(m).ellipse)(
                    box, fill=1
                )
                masks.append(np.array(m, dtype=bool))
        if ramp is not None:  # the shapes' pixels blended with the ramp, the rest the ramp
            drawn = np.asarray(img, np.float64)
            shape_px = (drawn != 245).any(axis=2, keepdims=True)
            mixed = np.where(shape_px, 0.65 * drawn + 0.35 * ramp, ramp)
            img = Image.fromarray(np.round(mixed).astype(np.uint8))
        row = {
            "image": img,
            "question": f"the {colour} {shape}",
            "solution": json.dumps(objects),
            "count": len(objects),
            "category": f"{colour} {shape}",
        }
        if with_masks:
            row["masks"] = masks
            row["mask"] = np.logical_or.reduce(masks)
        rows.append(row)
    return rows
