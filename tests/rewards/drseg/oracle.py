"""The one-completion-at-a-time Python rules as the oracle of the batch scanner.

`parse_completion` and `non_repeat_problems` are the readable spec; `DrSegReward.score` runs the
compiled batch scanner (`rankreward.rewards.recipes.drseg.scan`). `assert_batch_matches` checks that the two
agree on every field a user sees, problem strings included, and on the parsed coordinates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rankreward.rewards.recipes.drseg import (
    DrSegReward,
    batch_accuracy,
    non_repeat_problems,
    parse_completion,
    parse_ground_truth,
)
from rankreward.rewards.recipes.drseg.parser import DEFAULT_MAX_CHARS
from rankreward.rewards.recipes.drseg.scan import NEEDS_ANSWER, scan_batch

GT = '[{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}, {"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'


def python_breakdown(
    text: str, *, strict: bool = True, max_chars: int = DEFAULT_MAX_CHARS, max_objects: int = 120
) -> dict[str, Any]:
    """What the reward reports for one completion, computed with the Python rules only."""
    p = parse_completion(text, strict=strict, max_objects=max_objects, max_chars=max_chars)
    nr = non_repeat_problems(text) if len(text) <= max_chars else p.problems[:1]
    return {
        "structure": p.structure,
        "answer_items": p.answer_items,
        "look": p.look,
        "non_repeat": 0.0 if nr else 1.0,
        "num_pred": p.num_objects,
        "problems": [str(x) for x in p.problems] + [str(x) for x in nr if x not in p.problems],
        "objects": (p.boxes, p.points) if p.objects_ok else None,
    }


def assert_batch_matches(
    texts: list[str],
    *,
    strict: bool = True,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_objects: int = 120,
    gt: str = GT,
) -> None:
    reward = DrSegReward(
        compat="strict" if strict else "lenient", max_chars=max_chars, max_objects=max_objects
    )
    b = reward.score(texts, [gt] * len(texts))
    found = scan_batch(texts, max_chars=max_chars, max_objects=max_objects)
    gt_objects = parse_ground_truth(gt, max_objects)
    for k, text in enumerate(texts):
        want = python_breakdown(text, strict=strict, max_chars=max_chars, max_objects=max_objects)
        for name in ("structure", "answer_items", "look", "non_repeat", "num_pred"):
            assert b[name][k] == want[name], (name, text)
        assert reward.last_problems[k] == want["problems"], text
        assert b["num_problems"][k] == len(want["problems"])
        x = batch_accuracy([want["objects"]], [gt_objects], reward.config)[0]
        assert [b["x1"][k], b["x2"][k], b["x3"][k]] == x.tolist(), text
        if found.canonical[k]:  # read by the kernel: the exact coordinates json + float give
            assert want["objects"] is not None, text
            rows = found.coords[found.row[k] : found.row[k] + found.num_kept[k]]
            boxes, points = want["objects"]
            assert np.array_equal(rows[:, :4], boxes) and np.array_equal(rows[:, 4:], points)
            assert np.array_equal(np.signbit(rows[:, :4]), np.signbit(boxes)), text
        elif want["objects"] is not None:
            assert found.status[k] & NEEDS_ANSWER, text
