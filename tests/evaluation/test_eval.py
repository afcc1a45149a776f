"""Evaluation plumbing with known completions: gIoU/cIoU, COCO AP and counting against values
computed by hand, coordinates mapped back from the 840x840 frame, SAM2 on a tiny random model,
and the --tiny command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.evaluation import (
    BoxSegmenter,
    evaluate_coco,
    evaluate_count,
    evaluate_reasonseg,
    rescale_objects,
)

ROOT = Path(__file__).resolve().parents[2]


def answer(*objects) -> str:
    objs = [{"bbox_2d": list(b), "point_2d": list(p)} for b, p in objects]
    return f"<think>x<look>y</look></think><answer>{json.dumps(objs)}</answer>"


def test_rescale_maps_each_axis():
    boxes, points = rescale_objects([[84, 168, 420, 504]], [[420, 840]], (840, 840), (100, 50))
    np.testing.assert_allclose(boxes, [[10, 10, 50, 30]])
    np.testing.assert_allclose(points, [[50, 50]])
    same = rescale_objects([[1, 2, 3, 4]], [[1, 1]], None, (100, 50))
    np.testing.assert_array_equal(same[0], [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="seen_size"):
        rescale_objects([[1, 2, 3, 4]], [[1, 1]], (0, 840), (100, 50))


def test_reasonseg_by_hand():
    image = np.zeros((50, 100, 3), np.uint8)  # W=100, H=50, seen at 840x840
    gt1 = np.zeros((50, 100), bool)
    gt1[10:30, 10:50] = True  # 800 px
    gt2 = np.zeros((50, 100), bool)
    gt2[0:5, 0:10] = True  # 50 px
    samples = [{"image": image, "mask": gt1, "question": "a"},
               {"image": image, "mask": gt2, "question": "b"}]  # fmt: skip
    # box [10, 10, 50, 30] in original pixels, inclusive: 41 x 21 = 861 px, covering gt1
    completions = [answer(([84, 168, 420, 504], [250, 336])), "no answer at all"]
    out = evaluate_reasonseg(samples, completions, BoxSegmenter(), seen_size=(840, 840))
    assert out.metrics["giou"] == pytest.approx((800 / 861 + 0.0) / 2)
    assert out.metrics["ciou"] == pytest.approx(800 / (861 + 50))
    assert out.records[0]["objects"][0]["bbox_2d"] == [10.0, 10.0, 50.0, 30.0]
    assert out.records[0]["iou"] == pytest.approx(800 / 861)
    assert out.records[1]["iou"] == 0.0 and out.records[1]["problems"]


def test_count_by_hand():
    samples = [{"count": 2, "question": "a"}, {"count": 3, "question": "b"},
               {"count": 0, "question": "c"}]  # fmt: skip
    completions = [
        answer(([0, 0, 1, 1], [0, 0]), ([2, 2, 3, 3], [2, 2])),
        answer(([0, 0, 1, 1], [0, 0])),
        "<think></think><answer>[]</answer>",
    ]
    out = evaluate_count(samples, completions)
    assert out.metrics == {"accuracy": pytest.approx(2 / 3), "mae": pytest.approx(2 / 3),
                           "rmse": pytest.approx((4 / 3) ** 0.5), "num_samples": 3}  # fmt: skip
    assert [r["pred_count"] for r in out.records] == [2, 1, 0]


def test_coco_by_hand():
    gt = {
        "images": [{"id": 1, "width": 200, "height": 100}, {"id": 2, "width": 200, "height": 100}],
        "categories": [{"id": 5, "name": "cup"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [20, 10, 40, 30], "area": 1200,
             "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 5, "bbox": [0, 0, 50, 50], "area": 2500,
             "iscrowd": 0},
        ],
    }  # fmt: skip
    samples = [
        {"image_id": 1, "category_id": 5, "width": 200, "height": 100, "question": "cup"},
        {"image_id": 2, "category_id": 5, "width": 200, "height": 100, "question": "cup"},
    ]
    # image 1: exactly the ground truth box (seen at 840x840: x * 4.2, y * 8.4); image 2: a miss
    completions = [
        answer(([84, 84, 252, 336], [168, 210])),
        answer(([672, 672, 756, 756], [700, 700])),
    ]
    out = evaluate_coco(samples, completions, gt, seen_size=(840, 840))
    # one TP then one FP at equal score: precision 1 up to recall 0.5 -> 51 of 101 points
    assert out.metrics["AP"] == pytest.approx(51 / 101, abs=1e-12)
    assert out.metrics["AP50"] == pytest.approx(51 / 101, abs=1e-12)
    assert out.metrics["AR100"] == pytest.approx(0.5)
    assert "Average Precision" in out.coco.summary()


def test_sam2_segmenter_on_a_tiny_model(tmp_path):
    pytest.importorskip("transformers")
    from rankreward.evaluation import Sam2Segmenter, build_tiny_sam2

    seg = Sam2Segmenter(build_tiny_sam2(tmp_path / "sam2"), device="cpu")  # saved and reloaded
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    masks = seg(image, [[5, 5, 30, 20], [0, 0, 59, 39]], [[10, 10], [30, 20]])
    assert masks.shape == (2, 40, 60) and masks.dtype == bool
    assert seg(image, np.zeros((0, 4)), np.zeros((0, 2))).shape == (0, 40, 60)
    assert seg(image, [[0, 0, 1, 1]], np.zeros((0, 2))).shape == (1, 40, 60)  # box only
    with pytest.raises(ValueError, match="one row per prompt"):
        seg(image, [[0, 0, 1, 1]], [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        seg(image[..., 0], [[0, 0, 1, 1]], [[0, 0]])


@pytest.mark.slow
def test_eval_script_tiny_end_to_end(tmp_path):
    out = tmp_path / "eval"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "eval_drseg.py"),
            "--tiny",
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert {"reasonseg", "coco", "count"} <= set(results)
    assert 0.0 <= results["reasonseg"]["giou"] <= 1.0
    records = (out / "records-count.jsonl").read_text().splitlines()
    assert len(records) == 6 and "completion" in json.loads(records[0])


@pytest.mark.slow
def test_eval_script_with_given_completions(tmp_path):
    """--completions bypasses generation: perfect answers score 1 through the real CLI path."""
    from PIL import Image

    from rankreward.testing.synthetic import synthetic_shapes

    rows = synthetic_shapes(3, 40, 1)
    lines, comps = [], []
    for k, r in enumerate(rows):
        r["image"].save(tmp_path / f"{k}.png")
        lines.append(
            json.dumps({"image": f"{k}.png", "question": r["question"], "count": r["count"]})
        )
        objs = json.loads(r["solution"])
        comps.append(
            json.dumps({"completion": answer(*[(o["bbox_2d"], o["point_2d"]) for o in objs])})
        )
    (tmp_path / "count.jsonl").write_text("\n".join(lines))
    (tmp_path / "comps.jsonl").write_text("\n".join(comps))
    assert Image.open(tmp_path / "0.png").size == (40, 40)
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "eval_drseg.py"),
            "--task",
            "count",
            "--dataset",
            str(tmp_path / "count.jsonl"),
            "--completions",
            str(tmp_path / "comps.jsonl"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["count"]["accuracy"] == 1.0


def test_rankreward_eval_command(tmp_path, capsys):
    """`rankreward eval` is the same command: score given completions, no model needed."""
    from rankreward.cli import main

    (tmp_path / "count.jsonl").write_text(
        json.dumps({"image": "x.png", "question": "cups", "count": 1}) + "\n"
    )
    (tmp_path / "comps.jsonl").write_text(
        json.dumps({"completion": answer(([0, 0, 4, 4], [2, 2]))}) + "\n"
    )
    code = main(["eval", "--task", "count", "--dataset", str(tmp_path / "count.jsonl"),
                 "--completions", str(tmp_path / "comps.jsonl"), "--output-dir", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "o" / "results.json").read_text())["count"]["accuracy"] == 1.0
    assert "| accuracy | 1.0000 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", "--help"])


_coord = st.floats(-50, 150, allow_nan=False, width=32)


@settings(max_examples=100, deadline=None)
@given(
    boxes=st.lists(st.tuples(_coord, _coord, _coord, _coord), max_size=4),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
)
def test_box_segmenter_against_pixel_loop(boxes, h, w):
    """Each mask pixel (r, c) is set iff floor(x1) <= c <= ceil(x2) and floor(y1) <= r <=
    ceil(y2): checked pixel by pixel."""
    import math

    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    masks = BoxSegmenter()(np.zeros((h, w, 3), np.uint8), b, np.zeros((len(b), 2)))
    assert masks.shape == (len(b), h, w)
    for k, (x1, y1, x2, y2) in enumerate(b):
        for r in range(h):
            for c in range(w):
                inside = math.floor(x1) <= c <= math.ceil(x2) and math.floor(y1) <= r <= math.ceil(
                    y2
                )
                assert masks[k, r, c] == inside


@settings(max_examples=100, deadline=None)
@given(
    objs=st.lists(st.tuples(*[st.floats(0, 840, allow_nan=False)] * 6), max_size=5),
    seen=st.tuples(st.integers(1, 2000), st.integers(1, 2000)),
    size=st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
)
def test_rescale_against_per_value_formula(objs, seen, size):
    arr = np.array(objs, dtype=np.float64).reshape(-1, 6)
    boxes, points = rescale_objects(arr[:, :4], arr[:, 4:], seen, size)
    sx, sy = size[0] / seen[0], size[1] / seen[1]
    for k, row in enumerate(objs):
        assert boxes[k].tolist() == [row[0] * sx, row[1] * sy, row[2] * sx, row[3] * sy]
        assert points[k].tolist() == [row[4] * sx, row[5] * sy]
