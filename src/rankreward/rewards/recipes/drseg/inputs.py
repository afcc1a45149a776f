"""Dr. Seg ground truths: a JSON string as datasets store it (or a list of ``{"bbox_2d",
"point_2d"}`` dicts) -> object rows. Ground truth is data, not model output: anything malformed
raises ``ValueError`` rather than scoring 0. A GRPO batch repeats each ground truth once per
rollout, so each distinct string is parsed once (an LRU cache)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .parser import parse_objects

__all__ = ["packed_ground_truth", "parse_ground_truth"]


@functools.lru_cache(maxsize=8192)
def _packed_ground_truth_str(text: str | bytes, max_objects: int) -> np.ndarray:
    # A GRPO batch repeats each ground truth once per rollout: parse each string once.
    packed = np.concatenate(_parse_ground_truth(text, max_objects), axis=1)
    packed.flags.writeable = False
    return packed


def packed_ground_truth(ground_truth: Any, max_objects: int) -> np.ndarray:
    """Ground truth as one ``(N, 6)`` array of (x1, y1, x2, y2, px, py) rows."""
    if isinstance(ground_truth, (str, bytes)):
        return _packed_ground_truth_str(ground_truth, max_objects)
    return np.concatenate(_parse_ground_truth(ground_truth, max_objects), axis=1)


def parse_ground_truth(ground_truth: Any, max_objects: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth objects (a JSON string as datasets store it, or a list of ``{"bbox_2d",
    "point_2d"}`` dicts) -> ``(boxes (N, 4), points (N, 2))``. Ground truth is data, not model
    output: anything malformed raises ``ValueError`` rather than scoring 0.

    Examples:
        >>> b, p = parse_ground_truth('[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]')
        >>> b.shape, p.shape
        ((1, 4), (1, 2))
    """
    if isinstance(ground_truth, (str, bytes)):
        packed = _packed_ground_truth_str(ground_truth, max_objects)
        return packed[:, :4], packed[:, 4:]
    return _parse_ground_truth(ground_truth, max_objects)


def _parse_ground_truth(ground_truth: Any, max_objects: int) -> tuple[np.ndarray, np.ndarray]:
    data = ground_truth
    if isinstance(ground_truth, (str, bytes)):
        try:
            data = json.loads(ground_truth)
        except ValueError as e:
            raise ValueError(f"ground truth is not valid JSON: {e}") from None
    if isinstance(data, Mapping):
        data = [data]
    if isinstance(data, tuple):
        data = list(data)
    boxes, points, problems, _ = parse_objects(data, strict=True, max_objects=max_objects)
    if boxes is None:
        raise ValueError("invalid ground truth: " + "; ".join(map(str, problems)))
    return boxes, points
