"""Evaluation protocols: each released protocol equals the released scripts' control flow
(``released_oracle``) on generated completions, and the per-protocol rules table holds on
hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankreward.evaluation import (
    PROTOCOLS,
    BoxSegmenter,
    evaluate_coco,
    evaluate_count,
    evaluate_reasonseg,
    get_protocol,
    read_eval_answer,
)
from rankreward.metrics import coco_evaluate
from rankreward.rewards.recipes.drseg import LOOK_TO_CONFIRM, VISIONREASONER_PROMPT

from . import released_oracle as oracle

H, W = 30, 40  # the original image; the model "saw" 840x840

# ----------------------------------------------------------------------------- strategies
coord = st.one_of(
    st.integers(-50, 900),
    st.floats(-50, 900, allow_nan=False),
    st.sampled_from([True, False, None, "12", float("nan"), float("inf"), 10**400, [3]]),
)
numbers = st.lists(coord, min_size=0, max_size=6)
item = st.one_of(
    st.fixed_dictionaries({"bbox_2d": numbers, "point_2d": numbers}),
    st.fixed_dictionaries({"bbox_2d": st.lists(st.integers(0, 840), min_size=4, max_size=4),
                           "point_2d": st.lists(st.integers(0, 840), min_size=2, max_size=2)}),
    st.fixed_dictionaries({"bbox_2d": numbers}),
    st.sampled_from(["x", 3, None, [1, 2, 3, 4]]),
)  # fmt: skip


def _dump(value) -> str:
    return json.dumps(value)  # NaN and Infinity as Python writes them, which json.loads reads


answer_body = st.one_of(
    st.lists(item, max_size=3).map(_dump),
    st.sampled_from(["{}", '""', '"ab"', "{\"bbox_2d\": [1, 2, 3, 4]}", "3", "null", "[1,",
                     "not json", "[]"]),
)  # fmt: skip
completion = st.one_of(
    answer_body.map(lambda b: f"<think>t<look>l</look></think><answer>{b}</answer>"),
    answer_body.map(lambda b: f"<answer> {b} </answer><answer>[]</answer>"),
    answer_body.map(lambda b: f"no tags {b}"),
)


@st.composite
def mask(draw):
    m = np.zeros((H, W), bool)
    if draw(st.booleans()):
        x1, y1 = draw(st.integers(0, W - 1)), draw(st.integers(0, H - 1))
        m[y1 : draw(st.integers(y1, H)), x1 : draw(st.integers(x1, W))] = True
    return m


@st.composite
def reasonseg_batch(draw, with_bbox=False):
    n = draw(st.integers(1, 6))
    samples, texts = [], []
    for _ in range(n):
        s = {"image": np.zeros((H, W, 3), np.uint8), "mask": draw(mask())}
        if with_bbox:
            s["bbox"] = draw(st.lists(st.integers(0, 40), min_size=4, max_size=4))
        samples.append(s)
        texts.append(draw(completion))
    return samples, texts


SEG = BoxSegmenter()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- vs the scripts
@FAST
@given(st.text(max_size=40) | completion, st.floats(0.01, 3), st.floats(0.01, 3))
def test_reader_equals_the_released_readers(text, xf, yf):
    read = read_eval_answer(text, xf, yf)
    try:
        expected = oracle.extract(text, xf, yf)
    except Exception:
        assert read.error is not None and read.boxes == [] and read.points == []
    else:
        assert read.error is None and (read.boxes, read.points) == expected
    vr = read_eval_answer(text, xf, yf, keep_boxes=True)
    assert (vr.boxes, vr.points) == oracle.extract_vr(text, xf, yf)


@FAST
@given(reasonseg_batch())
def test_drseg_protocol_equals_the_released_script(batch):
    samples, texts = batch
    out = evaluate_reasonseg(samples, texts, SEG, seen_size=(840, 840), protocol="drseg")
    kept = [r for r in out.records if r["iou"] is not None]
    if not kept:
        assert np.isnan(out.metrics["giou"]) and out.metrics["num_samples"] == 0
        return
    giou, n = oracle.drseg_giou(samples, texts, SEG)
    assert out.metrics["giou"] == giou and out.metrics["num_samples"] == n


@FAST
@given(reasonseg_batch(with_bbox=False) | reasonseg_batch(with_bbox=True), st.booleans())
def test_visionreasoner_protocols_equal_the_released_scripts(batch, nonobj):
    samples, texts = batch
    name = "visionreasoner-nonobj" if nonobj else "visionreasoner"
    out = evaluate_reasonseg(samples, texts, SEG, seen_size=(840, 840), protocol=name)
    expected = oracle.vr_segmentation(samples, texts, SEG, nonobj=nonobj)
    for key, value in expected.items():
        assert out.metrics[key] == value, key


@FAST
@given(st.lists(st.tuples(completion, st.integers(0, 4)), min_size=1, max_size=8))
def test_count_protocol_equals_the_released_script(rows):
    samples = [{"count": c} for _, c in rows]
    texts = [t for t, _ in rows]
    out = evaluate_count(samples, texts, protocol="visionreasoner")
    expected = oracle.vr_count(samples, texts)
    assert {k: out.metrics[k] for k in expected} == pytest.approx(expected, rel=1e-15)


def _coco_gt():
    images = [{"id": i, "width": 64 + 8 * i, "height": 48} for i in range(1, 5)]
    anns = []
    rng = np.random.default_rng(0)
    for i in range(1, 4):  # image 4 has no ground truth
        for _ in range(2):
            x, y = rng.integers(0, 30, 2).tolist()
            w, h = rng.integers(4, 20, 2).tolist()
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1 + i % 2,
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})  # fmt: skip
    return {"images": images, "annotations": anns, "categories": [{"id": 1}, {"id": 2}]}


@FAST
@given(st.lists(completion, min_size=8, max_size=8))
def test_coco_protocol_equals_the_released_scripts(texts):
    pycocotools = pytest.importorskip("pycocotools")
    del pycocotools
    gt = _coco_gt()
    samples = []
    for im in gt["images"]:
        for cat in (1, 2):
            boxes = [a["bbox"] for a in gt["annotations"]
                     if a["image_id"] == im["id"] and a["category_id"] == cat]  # fmt: skip
            samples.append({"image_id": im["id"], "category_id": cat, "width": im["width"],
                            "height": im["height"], "bbox": boxes})  # fmt: skip
    out = evaluate_coco(samples, texts, gt, seen_size=(840, 840), protocol="visionreasoner")
    results = oracle.vr_coco_results(samples, texts)
    got = [r for rec in out.records for r in rec["results"]]
    assert got == results
    if results:  # pycocotools' loadRes cannot take an empty result list
        ref = _pycocotools_stats(gt, results)
        np.testing.assert_allclose(out.coco.stats, ref, rtol=0, atol=1e-12)
    # without the rows' boxes, the ground truth says which categories are present
    bare = [{k: v for k, v in s.items() if k != "bbox"} for s in samples]
    again = evaluate_coco(bare, texts, gt, seen_size=(840, 840), protocol="visionreasoner")
    assert [r for rec in again.records for r in rec["results"]] == results


def _pycocotools_stats(gt, results):
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(json.loads(json.dumps(results))), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


# ----------------------------------------------------------------------------- the rules table
def _ans(*objs) -> str:
    items = [{"bbox_2d": b, "point_2d": p} for b, p in objs]
    return f"<think>x<look>y</look></think><answer>{json.dumps(items)}</answer>"


def test_both_empty_under_each_protocol():
    empty = {"image": np.zeros((H, W, 3), np.uint8), "mask": np.zeros((H, W), bool)}
    full = {"image": np.zeros((H, W, 3), np.uint8), "mask": np.ones((H, W), bool)}
    texts = ["<answer>[]</answer>", _ans(([0, 0, 839, 839], [420, 420]))]
    rows = {
        "drseg": (1.0, ["dropped_both_empty", "scored"], 1),  # dropped, then IoU 1
        "visionreasoner": (0.5, ["both_empty_zero", "scored"], 2),
        "visionreasoner-nonobj": (1.0, ["no_object_one", "scored"], 2),
        "rankreward": (1.0, ["both_empty_one", "scored"], 2),
    }
    for name, (giou, rules, n) in rows.items():
        out = evaluate_reasonseg([empty, full], texts, SEG, seen_size=(840, 840), protocol=name)
        assert out.metrics["giou"] == giou, name
        assert [r["rule"] for r in out.records] == rules, name
        assert out.metrics["num_samples"] == n, name
    out = evaluate_reasonseg([empty, full], texts, SEG, seen_size=(840, 840),
                             protocol="visionreasoner-nonobj")  # fmt: skip
    assert out.metrics["n_acc"] == 1.0


def test_unreadable_answer_under_each_protocol():
    gt = np.zeros((H, W), bool)
    gt[0:10, 0:10] = True
    sample = {"image": np.zeros((H, W, 3), np.uint8), "mask": gt}
    bad_point = '<answer>[{"bbox_2d": [0, 0, 200, 280], "point_2d": ["a", 2]}]</answer>'
    drseg = evaluate_reasonseg([sample], [bad_point], SEG, seen_size=(840, 840))
    assert drseg.records[0]["rule"] == "penalty" and drseg.records[0]["union"] == 100
    assert drseg.metrics == {"giou": 0.0, "ciou": 0.0, "num_samples": 1, "num_dropped": 0,
                             "num_penalty": 1}  # fmt: skip
    vr = evaluate_reasonseg([sample], [bad_point], SEG, seen_size=(840, 840),
                            protocol="visionreasoner")  # fmt: skip
    # the box survives (bbox hit: [0,0,10,10] vs the mask's inclusive box [0,0,9,9]) but its
    # mask is empty, as in the released code's box-only branch
    assert vr.records[0]["rule"] == "points_unreadable" and vr.records[0]["iou"] == 0.0
    assert vr.records[0]["objects"] == [{"bbox_2d": [0, 0, 10, 10], "point_2d": None}]
    assert vr.metrics["bbox_accuracy"] == 1.0
    count = evaluate_count([{"count": 1}], [bad_point])
    assert count.metrics["accuracy"] == 1.0  # the box is counted
    ours = evaluate_count([{"count": 1}], [bad_point], protocol="rankreward")
    assert ours.metrics["accuracy"] == 0.0


def test_released_rounding_and_coco_scores():
    # int(v * W / 840 + 0.5): 419 * 100 / 840 = 49.88 -> 50; -3 * 100/840 + .5 = 0.14 -> 0
    read = read_eval_answer(_ans(([-3, 10, 419, 839], [1, 1])), 100 / 840, 50 / 840)
    assert read.boxes == [[0, 1, 50, 50]] and read.points == [[0, 0]]
    gt = {"images": [{"id": 1, "width": 100, "height": 50}], "categories": [{"id": 1}, {"id": 2}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50],
                           "area": 2500, "iscrowd": 0}]}  # fmt: skip
    samples = [{"image_id": 1, "category_id": c, "width": 100, "height": 50} for c in (1, 2)]
    texts = [_ans(([0, 0, 420, 840], [1, 1]), ([840, 0, 420, 840], [1, 1]))] * 2
    out = evaluate_coco(samples, texts, gt, seen_size=(840, 840))
    assert out.records[0]["results"][0]["score"] == 0.5  # 50 * 50 / (100 * 50)
    assert out.records[0]["results"][1]["bbox"] == [100, 0, -50, 50]  # unclamped
    assert out.records[1]["results"][0]["score"] == 0.0  # no category-2 ground truth
    assert out.records[1]["rule"] == "absent_category_zero_score"
    with pytest.raises(ValueError, match="negative size"):
        coco_evaluate(gt, out.records[0]["results"])


def test_protocol_names_and_settings():
    assert set(PROTOCOLS) == {"drseg", "visionreasoner", "visionreasoner-nonobj", "rankreward"}
    assert get_protocol(None, "reasonseg").name == "drseg"
    assert get_protocol("drseg").template is LOOK_TO_CONFIRM
    assert get_protocol("visionreasoner").template is VISIONREASONER_PROMPT
    assert get_protocol("visionreasoner").generation_kwargs() == {
        "max_new_tokens": 2048, "do_sample": False}  # fmt: skip
    with pytest.raises(ValueError, match="no coco evaluation"):
        get_protocol("visionreasoner-nonobj", "coco")
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("paper")
    with pytest.raises(ValueError, match="compat='strict'"):
        evaluate_count([{"count": 1}], ["x"], compat="strict")
    assert (
        evaluate_count([{"count": 0}], ["x"], compat="strict", protocol="rankreward").metrics[
            "accuracy"
        ]
        == 1.0
    )


def test_cli_reads_a_released_parquet_set_under_each_protocol(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    from rankreward.evaluation.cli import main

    gt = np.zeros((H, W), bool)
    gt[5:20, 10:30] = True
    rows = {"image": [Image.new("RGB", (W, H))] * 3, "text": ["The cup.", "a dog?", "x"],
            "mask": [gt.tolist(), np.zeros((H, W), bool).tolist(), gt.tolist()],
            "image_id": ["a", "b", "c"], "ann_id": [1, 2, 3], "img_width": [W] * 3,
            "img_height": [H] * 3}  # fmt: skip
    features = datasets.Features({
        "image": datasets.Image(), "text": datasets.Value("string"),
        "mask": datasets.Sequence(datasets.Sequence(datasets.Value("bool"))),
        "image_id": datasets.Value("string"), "ann_id": datasets.Value("int64"),
        "img_width": datasets.Value("int64"), "img_height": datasets.Value("int64"),
    })  # fmt: skip
    path = tmp_path / "reasonseg_test.parquet"
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
    texts = [_ans(([210, 140, 630, 560], [420, 350])), "<answer>[]</answer>", "no answer"]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"completion": t}) + "\n" for t in texts))
    samples = [{"image": np.zeros((H, W, 3), np.uint8), "mask": m}
               for m in (gt, np.zeros((H, W), bool), gt)]  # fmt: skip
    for protocol in ("paper", "visionreasoner", "visionreasoner-nonobj", "rankreward"):
        out_dir = tmp_path / protocol
        argv = ["--task", "reasonseg", "--dataset", str(path), "--completions", str(preds),
                "--segmenter", "box", "--protocol", protocol, "--output-dir", str(out_dir)]  # fmt: skip
        assert main(argv) == 0
        res = json.loads((out_dir / "results.json").read_text())
        name = "drseg" if protocol == "paper" else protocol
        assert res["protocols"] == {"reasonseg": name}
        expected = evaluate_reasonseg(samples, texts, SEG, seen_size=(840, 840), protocol=name)
        assert res["reasonseg"] == pytest.approx(expected.metrics)
        records = [json.loads(x) for x in (out_dir / "records-reasonseg.jsonl").open()]
        assert [r["rule"] for r in records] == [r["rule"] for r in expected.records]
    with pytest.raises(SystemExit, match="has no count evaluation"):
        main(["--task", "count", "--dataset", str(path), "--completions", str(preds),
              "--protocol", "drseg", "--output-dir", str(tmp_path / "x")])  # fmt: skip
