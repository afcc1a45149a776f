"""COCO-style detection and segmentation AP with pycocotools' exact numbers, vectorised.

`coco_evaluate` reproduces ``COCOeval.evaluate(); accumulate(); summarize()`` rule for rule:

- ground truth ``ignore`` is ``iscrowd``; a crowd region may match many detections and its IoU
  is intersection / detection area; area ranges filter ground truths by their ``area`` field
  and unmatched detections by their own area (bounds inclusive);
- detections are ordered by score with a stable sort (so ties keep file order within an image,
  then image-id order across images) and cut to ``max(max_dets)`` per image and category;
- greedy matching per IoU threshold, preferring non-ignored ground truths, in pycocotools' loop
  order; the IoU formula is computed with the same float64 operations, so threshold ties fall
  the same way;
- precision is interpolated at 101 recall points with the monotone envelope; -1 marks
  "no ground truth"; pycocotools' quirk that a ground truth with ``id == 0`` never counts as
  matched is kept, so numbers stay identical.

Instead of Python loops over images and categories, annotations become flat arrays grouped by
(category, image); one Numba pass matches every group (in parallel) and a second accumulates
every category (in parallel). `DetectionAP` streams per-image arrays into the same kernels.

The package, by concern: `result` (COCOResult, the summary), `inputs` (checks, flattening,
segm RLEs), `kernels` (Numba matching and accumulation), `evaluate` (`coco_evaluate`,
`ap_per_image`), `streaming` (`DetectionAP`).
"""

from .evaluate import ap_per_image, coco_evaluate
from .result import COCOResult
from .streaming import DetectionAP

__all__ = ["COCOResult", "DetectionAP", "ap_per_image", "coco_evaluate"]
