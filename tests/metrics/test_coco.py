"""coco_evaluate and DetectionAP against pycocotools itself: stats, precision, recall and scores
identical (to 1e-12) on synthetic sets with every hard case, and clear errors on bad input."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pycocotools")
from pycocotools import mask as mask_api
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from rankreward.metrics import DetectionAP, coco_evaluate
from rankreward.testing.synthetic import synthetic_coco, synthetic_coco_segm


def pycoco(gt, dets, iou_type="bbox", **params):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        res = coco.loadRes(copy.deepcopy(dets))
        ev = COCOeval(coco, res, iou_type)
        for key, value in params.items():
            setattr(ev.params, key, value)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev, out.getvalue()


def assert_same(ev, result):
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=1e-12)
    for key, mine in (("precision", result.precision), ("recall", result.recall),
                      ("scores", result.scores)):  # fmt: skip
        assert mine.shape == ev.eval[key].shape, key
        np.testing.assert_allclose(mine, ev.eval[key], rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("seed", range(4))
def test_bbox_identical_to_pycocotools(seed):
    rng = np.random.default_rng(seed)
    gt, dets = synthetic_coco(
        40, 5, rng, dets_per_image=int(rng.choice([20, 130])), tie_decimals=[1, 2, None][seed % 3]
    )
    ev, printed = pycoco(gt, dets)
    result = coco_evaluate(gt, dets)
    assert_same(ev, result)
    # the printed table is pycocotools' (its output also has progress lines)
    for line in result.summary().splitlines():
        assert line in printed


def test_parameters_identical_to_pycocotools():
    gt, dets = synthetic_coco(30, 4, np.random.default_rng(11), dets_per_image=40)
    ev, _ = pycoco(gt, dets, maxDets=[1, 5, 20], iouThrs=np.array([0.3, 0.5, 0.75]))
    assert_same(ev, coco_evaluate(gt, dets, max_dets=(1, 5, 20), iou_thresholds=[0.3, 0.5, 0.75]))
    ev, _ = pycoco(gt, dets, useCats=0)
    assert_same(ev, coco_evaluate(gt, dets, use_categories=False))
    ranges = [[0, 1e10], [0, 50**2], [50**2, 150**2], [150**2, 1e10]]
    ev, _ = pycoco(gt, dets, areaRng=ranges)
    assert_same(ev, coco_evaluate(gt, dets, area_ranges=[tuple(r) for r in ranges]))


def test_edge_cases_identical():
    """No ground truth in an image, a category never detected, a category with only crowd
    ground truth, a detection-only category, a ground truth with id 0, exact score ties."""
    gt = {
        "images": [{"id": i} for i in (5, 1, 9)],
        "categories": [{"id": c} for c in (1, 2, 3, 4)],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 3, "image_id": 5, "category_id": 1, "bbox": [0, 0, 200, 100], "area": 2e4, "iscrowd": 0},
            {"id": 4, "image_id": 5, "category_id": 2, "bbox": [5, 5, 30, 30], "area": 900, "iscrowd": 0},
            {"id": 5, "image_id": 5, "category_id": 3, "bbox": [0, 0, 50, 50], "area": 2500,
             "iscrowd": 1},
        ],
    }  # fmt: skip
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [21, 20, 40, 40], "score": 0.5},
        {"image_id": 5, "category_id": 1, "bbox": [0, 0, 190, 100], "score": 0.5},
        {"image_id": 5, "category_id": 3, "bbox": [0, 0, 20, 20], "score": 0.9},
        {"image_id": 5, "category_id": 3, "bbox": [10, 10, 20, 20], "score": 0.8},
        {"image_id": 9, "category_id": 4, "bbox": [1, 1, 5, 5], "score": 0.3},
        {"image_id": 9, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5},
    ]
    ev, _ = pycoco(gt, dets)
    result = coco_evaluate(gt, dets)
    assert_same(ev, result)
    per_cat = result.per_category_ap()
    assert per_cat[2] == 0.0 and per_cat[3] == -1.0 and per_cat[4] == -1.0


def _segm_set(rng, n_images=12, size=48):
    images = [{"id": i + 1, "height": size, "width": size} for i in range(n_images)]
    anns, dets = [], []
    for im in images:
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, size - 12, 2)
            w, h = rng.uniform(4, 20, 2)
            poly = [x, y, x + w, y, x + w * 0.7, y + h, x, y + h * 0.8]
            crowd = rng.random() < 0.2
            rle = mask_api.merge(mask_api.frPyObjects([poly], size, size))
            seg = [poly]
            if crowd:  # crowd regions come as uncompressed RLE
                m = mask_api.decode(rle)
                flat = m.ravel(order="F")
                change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
                counts = np.diff(np.concatenate([[0], change])).tolist()
                seg = {"size": [size, size], "counts": counts}
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": 1,
                         "segmentation": seg, "area": float(mask_api.area(rle)),
                         "bbox": mask_api.toBbox(rle).tolist(), "iscrowd": int(crowd)})  # fmt: skip
            for _ in range(int(rng.integers(0, 3))):
                jit = (np.array(poly) + rng.normal(0, 2, 8)).clip(0, size - 1).tolist()
                d = mask_api.merge(mask_api.frPyObjects([jit], size, size))
                d["counts"] = d["counts"].decode()
                dets.append({"image_id": im["id"], "category_id": 1, "segmentation": d,
                             "score": float(np.round(rng.random(), 1))})  # fmt: skip
    return {"images": images, "categories": [{"id": 1}], "annotations": anns}, dets


def test_segm_identical_to_pycocotools():
    gt, dets = _segm_set(np.random.default_rng(0))
    ev, _ = pycoco(gt, dets, "segm")
    assert_same(ev, coco_evaluate(gt, dets, iou_type="segm"))


@pytest.mark.parametrize("det_bbox", [False, True])
def test_segm_real_format_identical_to_pycocotools(det_bbox, tmp_path):
    """Results as real files hold them (compressed RLE strings, detectron2's extra ``bbox``),
    polygons and uncompressed crowd RLE in the ground truth, 1000+ predictions per category
    (256+ used to overflow pycocotools' ``mask.area`` on NumPy 2), read from JSON files."""
    import json

    gt, dets = synthetic_coco_segm(
        150, 2, np.random.default_rng(7), dets_per_image=16, det_bbox=det_bbox,
        image_size=(200, 300),
    )  # fmt: skip
    assert min(np.bincount([d["category_id"] for d in dets])[1:]) > 1000
    assert any(a["iscrowd"] for a in gt["annotations"])
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(dets))
    ev, _ = pycoco(gt, dets, "segm")
    result = coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json", iou_type="segm")
    assert_same(ev, result)


def test_segm_area_follows_load_res_first_result_rule():
    """pycocotools' loadRes looks at the first result: with a ``bbox`` there, every result's
    area is its box's w * h (APs/APm/APl change); without, the mask's pixel count."""
    gt, dets = synthetic_coco_segm(60, 1, np.random.default_rng(3), det_bbox=True)
    with_box = coco_evaluate(gt, dets, iou_type="segm")
    assert_same(pycoco(gt, dets, "segm")[0], with_box)
    no_box = [{k: v for k, v in d.items() if k != "bbox"} for d in dets]
    without = coco_evaluate(gt, no_box, iou_type="segm")
    assert_same(pycoco(gt, no_box, "segm")[0], without)
    assert with_box.stats[0] == without.stats[0] and not np.array_equal(
        with_box.stats, without.stats
    )
    del dets[5]["bbox"]
    with pytest.raises(ValueError, match=r"predictions\[5\] has no 'bbox'"):
        coco_evaluate(gt, dets, iou_type="segm")


def test_segm_size_mismatch_and_bad_rle_raise():
    gt, dets = synthetic_coco_segm(4, 1, np.random.default_rng(0), image_size=(20, 30))
    dets[2]["segmentation"] = {"size": [30, 20], "counts": "0" + "?" * 3}
    with pytest.raises(ValueError, match=r"predictions\[2\]"):
        coco_evaluate(gt, dets, iou_type="segm")
    gt, dets = synthetic_coco_segm(4, 1, np.random.default_rng(0), image_size=(20, 30))
    dets[1]["segmentation"] = {"size": [20, 30], "counts": [5, 5]}
    with pytest.raises(ValueError, match=r"predictions\[1\]: RLE counts sum to 10"):
        coco_evaluate(gt, dets, iou_type="segm")


def test_per_image_arrays_and_paths(tmp_path):
    import json

    gt, dets = synthetic_coco(10, 3, np.random.default_rng(2), dets_per_image=15)
    per_image: dict = {}
    for d in dets:
        p = per_image.setdefault(d["image_id"], {"boxes": [], "scores": [], "labels": []})
        p["boxes"].append(d["bbox"])
        p["scores"].append(d["score"])
        p["labels"].append(d["category_id"])
    want = coco_evaluate(gt, dets)
    np.testing.assert_array_equal(coco_evaluate(gt, per_image).precision, want.precision)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    np.testing.assert_array_equal(
        coco_evaluate(tmp_path / "gt.json", str(tmp_path / "dt.json")).stats, want.stats
    )


def test_detection_ap_equals_coco_evaluate():
    gt, dets = synthetic_coco(25, 4, np.random.default_rng(5), dets_per_image=30)
    halves = [DetectionAP(box_format="xywh"), DetectionAP(box_format="xywh")]
    whole = DetectionAP(box_format="xyxy")
    for n, im in enumerate(gt["images"]):
        g = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
        d = [x for x in dets if x["image_id"] == im["id"]]
        gb = np.array([a["bbox"] for a in g]).reshape(-1, 4)
        db = np.array([x["bbox"] for x in d]).reshape(-1, 4)
        args = (
            [x["score"] for x in d],
            [x["category_id"] for x in d],
        )
        halves[n % 2].update(
            im["id"], db, *args, gb, [a["category_id"] for a in g], [a["iscrowd"] for a in g]
        )
        to_xyxy = lambda b: np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)  # noqa: E731
        whole.update(im["id"], to_xyxy(db), *args, to_xyxy(gb), [a["category_id"] for a in g],
                     [a["iscrowd"] for a in g])  # fmt: skip
    halves[0].merge(halves[1])
    want = coco_evaluate(gt, dets)
    got = halves[0].compute()
    np.testing.assert_array_equal(got.stats, want.stats)
    np.testing.assert_array_equal(got.precision, want.precision)
    # xyxy input goes through a float conversion; the numbers agree to rounding
    np.testing.assert_allclose(whole.compute().stats, want.stats, atol=1e-3)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g, d: g["annotations"][1].update(bbox=[0, 0, -3, 4]), r"annotations'\]\[1\] bbox"),
        (lambda g, d: g["annotations"][0].pop("area"), r"annotations'\]\[0\] has no 'area'"),
        (lambda g, d: d[2].pop("score"), r"predictions\[2\] has no 'score'"),
        (
            lambda g, d: d[3].update(image_id=999),
            r"predictions\[3\] refers to unknown image id 999",
        ),
        (lambda g, d: d[0].update(category_id=77), r"predictions\[0\] refers to unknown category"),
        (lambda g, d: d[1].update(score=float("nan")), r"predictions\[1\] has a non-finite score"),
        (lambda g, d: d[1].update(bbox=[1, 2, 3]), r"predictions\[1\] bbox"),
    ],
)
def test_bad_input_names_the_entry(mutate, message):
    gt, dets = synthetic_coco(5, 2, np.random.default_rng(0), dets_per_image=5, empty_rate=0)
    mutate(gt, dets)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, dets)


def test_detection_ap_validation():
    ap = DetectionAP()
    with pytest.raises(ValueError, match=r"pred_boxes must have shape \(N, 4\)"):
        ap.update(1, [[0, 0, 1]], [0.5], [1], [[0, 0, 1, 1]], [1])
    with pytest.raises(ValueError, match="negative width"):
        ap.update(1, [[5, 5, 1, 1]], [0.5], [1], [[0, 0, 1, 1]], [1])
    with pytest.raises(ValueError, match="disagree"):
        ap.update(1, [[0, 0, 1, 1]], [0.5, 0.4], [1], [[0, 0, 1, 1]], [1])
    ap.update(1, [[0, 0, 1, 1]], [0.5], [1], [[0, 0, 1, 1]], [1])
    with pytest.raises(ValueError, match="already added"):
        ap.update(1, [[0, 0, 1, 1]], [0.5], [1], [[0, 0, 1, 1]], [1])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"iou_thresholds": [0.5, 1.5]}, "iou_thresholds"),
        ({"iou_thresholds": []}, "iou_thresholds"),
        ({"max_dets": (0, 10, 100)}, "max_dets"),
        ({"max_dets": (10, 1, 100)}, "max_dets"),
        ({"max_dets": (1, 10, 10)}, "max_dets"),
        ({"max_dets": (1.5, 10, 100)}, "max_dets"),
        ({"area_ranges": [(10, 5)] * 4}, "area_ranges"),
    ],
)
def test_detection_ap_validates_parameters_like_coco_evaluate(params, message):
    gt, dets = synthetic_coco(2, 1, np.random.default_rng(0), dets_per_image=3)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, dets, **params)
    with pytest.raises(ValueError, match=message):
        DetectionAP(**params)


def test_non_integer_labels_are_errors_not_truncated():
    ap = DetectionAP()
    with pytest.raises(ValueError, match=r"pred_labels\[0\]: labels must be integers, got 1.7"):
        ap.update(1, [[0, 0, 1, 1]], [0.5], [1.7], [[0, 0, 1, 1]], [1])
    ap.update(1, [[0, 0, 1, 1]], [0.5], np.array([1.0]), [[0, 0, 1, 1]], [1])  # 1.0 is 1
    assert ap.compute().stats[0] == pytest.approx(1.0)
    gt, dets = synthetic_coco(2, 1, np.random.default_rng(0), dets_per_image=3)
    dets[1]["category_id"] = 1.7
    with pytest.raises(ValueError, match="must be integers"):
        coco_evaluate(gt, dets)


@st.composite
def tiny_coco(draw):
    """Few images on a coarse grid: IoU ties, score ties, crowd, empty images, tiny maxDets."""
    n_img = draw(st.integers(1, 4))
    coord = st.integers(0, 6).map(lambda v: v * 8.0)
    size = st.integers(0, 5).map(lambda v: v * 8.0)
    anns, dets = [], []
    for img in range(1, n_img + 1):
        for _ in range(draw(st.integers(0, 4))):
            w, h = draw(size), draw(size)
            anns.append({"id": len(anns) + 1, "image_id": img,
                         "category_id": draw(st.integers(1, 2)),
                         "bbox": [draw(coord), draw(coord), w, h], "area": w * h,
                         "iscrowd": int(draw(st.integers(0, 5)) == 0)})  # fmt: skip
        for _ in range(draw(st.integers(0, 5))):
            dets.append({"image_id": img, "category_id": draw(st.integers(1, 2)),
                         "bbox": [draw(coord), draw(coord), draw(size), draw(size)],
                         "score": draw(st.sampled_from([0.1, 0.5, 0.9]))})  # fmt: skip
    if not dets:  # pycocotools' loadRes cannot take an empty list
        dets.append({"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 8.0, 8.0], "score": 0.5})
    gt = {"images": [{"id": i} for i in range(1, n_img + 1)],
          "categories": [{"id": 1}, {"id": 2}], "annotations": anns}  # fmt: skip
    return gt, dets


@settings(max_examples=150, deadline=None)
@given(data=tiny_coco(), max_dets=st.sampled_from([(1, 10, 100), (1, 2, 3)]))
def test_hypothesis_tiny_sets_identical(data, max_dets):
    gt, dets = data
    ev, _ = pycoco(
        gt, dets, maxDets=list(max_dets), areaRng=[[0, 1e10], [0, 100], [100, 900], [900, 1e10]]
    )
    ranges = [(0, 1e10), (0, 100), (100, 900), (900, 1e10)]
    assert_same(ev, coco_evaluate(gt, dets, max_dets=max_dets, area_ranges=ranges))


@pytest.mark.slow
def test_a_thousand_images_identical_to_pycocotools():
    """A realistic size: 1000 images, 20 categories, crowd regions, >100 detections on some
    images, tied scores; every array equal to pycocotools' to 1e-12."""
    rng = np.random.default_rng(2024)
    gt, dets = synthetic_coco(1000, 20, rng, dets_per_image=110, tie_decimals=2)
    ev, _ = pycoco(gt, dets)
    assert_same(ev, coco_evaluate(gt, dets))


@st.composite
def _image_problem(draw):
    """One image: ground truths and scored detections in 1-3 categories, ties and negative
    sizes included, as (gt rows, det rows) of (cat, x, y, w, h[, score])."""
    n_cat = draw(st.integers(1, 3))
    coord = st.integers(0, 60)
    size = st.integers(-5, 40)
    gts = [(draw(st.integers(0, n_cat - 1)), draw(coord), draw(coord), draw(st.integers(1, 40)),
            draw(st.integers(1, 40))) for _ in range(draw(st.integers(1, 5)))]  # fmt: skip
    cats = sorted({g[0] for g in gts})
    dets = [(draw(st.sampled_from(cats)), draw(coord), draw(coord), draw(size), draw(size),
             draw(st.sampled_from([1.0, 0.5, 0.9]))) for _ in range(draw(st.integers(0, 6)))]  # fmt: skip
    return gts, dets


@settings(max_examples=60, deadline=None)
@given(st.lists(_image_problem(), min_size=1, max_size=6), st.sampled_from([None, 0.5, 0.75]))
def test_ap_per_image_equals_one_evaluation_per_image(problems, iou):
    from rankreward.metrics import ap_per_image

    want = []
    for gts, dets in problems:
        gt = {"images": [{"id": 0}], "categories": [{"id": c} for c in sorted({g[0] for g in gts})],
              "annotations": [{"id": k + 1, "image_id": 0, "category_id": c, "bbox": [x, y, w, h],
                               "area": float(w * h), "iscrowd": 0}
                              for k, (c, x, y, w, h) in enumerate(gts)]}  # fmt: skip
        res = [{"image_id": 0, "category_id": c, "bbox": [x, y, w, h], "score": s}
               for c, x, y, w, h, s in dets]  # fmt: skip
        stats = coco_evaluate(gt, res, negative_sizes="allow").stats if res else None
        want.append(-1.0 if stats is None else stats[0 if iou is None else 1 if iou == 0.5 else 2])
    g = np.array([(i, *r) for i, (gts, _) in enumerate(problems) for r in gts], float).reshape(
        -1, 6
    )
    d = np.array([(i, *r) for i, (_, dets) in enumerate(problems) for r in dets], float).reshape(
        -1, 7
    )
    got = ap_per_image(g[:, 0], g[:, 1], g[:, 2:6], g[:, 4] * g[:, 5], d[:, 0], d[:, 1], d[:, 2:6],
                       d[:, 6], len(problems), iou=iou)  # fmt: skip
    for i, (_, dets) in enumerate(problems):
        if dets:  # without detections COCOeval still scores 0 for present categories
            assert got[i] == want[i], (i, problems[i])
        else:
            assert got[i] == 0.0


def test_ap_per_image_rejects_bad_shapes_and_values():
    from rankreward.metrics import ap_per_image

    one, box = np.zeros(1), np.array([[0.0, 0.0, 5.0, 5.0]])
    with pytest.raises(ValueError, match=r"g_box must have shape \(1, 4\)"):
        ap_per_image(one, one, np.zeros((1, 3)), one, one, one, box, np.ones(1), 1)
    with pytest.raises(ValueError, match=r"d_img must lie in 0..0"):
        ap_per_image(one, one, box, one, one + 1, one, box, np.ones(1), 1)
    with pytest.raises(ValueError, match="finite"):
        ap_per_image(one, one, box, one, one, one, box * np.nan, np.ones(1), 1)
    with pytest.raises(ValueError, match="category has no ground truth"):
        ap_per_image(one, one, box, one, one, one + 1, box, np.ones(1), 1)
