"""Vectorized perception metrics: boxes, points, counts, matching, masks, polygons, accumulators.

numpy in gives numpy out; torch in (CPU or CUDA) gives torch out on the same device. Pairwise
functions broadcast leading dimensions: ``(..., M, 4)`` with ``(..., N, 4)`` gives ``(..., M, N)``.
"""

from .accumulators import CountAccuracy, ReasonSegIoU
from .boxes import (
    box_area,
    box_convert,
    box_iou,
    box_l1,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
)
from .coco import COCOResult, DetectionAP, ap_per_image, coco_evaluate
from .masks import (
    dense_mask_iou,
    mask_intersection_union,
    mask_iou,
    mask_to_rle,
    polygon_iou,
    polygon_to_mask,
    polygon_to_rle,
    read_mask,
    rle_area,
    rle_to_mask,
    s_measure,
)
from .matching import MATCHERS, greedy_match, hungarian_match, hungarian_match_padded, match_boxes
from .points import count_score, point_distance, point_score, points_in_boxes

__all__ = [
    "MATCHERS",
    "COCOResult",
    "CountAccuracy",
    "DetectionAP",
    "ReasonSegIoU",
    "ap_per_image",
    "box_area",
    "box_convert",
    "box_iou",
    "box_l1",
    "coco_evaluate",
    "complete_box_iou",
    "count_score",
    "dense_mask_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "greedy_match",
    "hungarian_match",
    "hungarian_match_padded",
    "mask_intersection_union",
    "mask_iou",
    "mask_to_rle",
    "match_boxes",
    "point_distance",
    "point_score",
    "points_in_boxes",
    "polygon_iou",
    "polygon_to_mask",
    "polygon_to_rle",
    "read_mask",
    "rle_area",
    "rle_to_mask",
    "s_measure",
]
