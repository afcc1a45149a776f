"""The validated RLE layer and the run-length IoU kernels: against decode-and-count and against
pycocotools (bit for bit), malformed RLE rejected by name, and hang probes in subprocesses
(pycocotools loops forever on counts that overshoot the mask)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import ReasonSegIoU, mask_iou, rle_area, rle_to_mask
from rankreward.metrics.rle import (
    rle_batch,
    rle_counts,
    rle_intersection_union,
    rle_iou_paired,
    rle_iou_pairwise,
)

pytest.importorskip("pycocotools")
from pycocotools import mask as mask_api


def _encode(m: np.ndarray, compressed: bool = True) -> dict:
    rle = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
    if compressed:
        return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    flat = m.ravel(order="F").astype(np.int64)
    change = (
        np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]]))) if flat.size else []
    )
    counts = np.diff(np.concatenate([[0], change])).tolist() if flat.size else []
    return {"size": list(m.shape), "counts": counts}


def _for_pycocotools(r: dict) -> dict:
    if isinstance(r["counts"], str):
        return {"size": r["size"], "counts": r["counts"].encode()}
    return mask_api.frPyObjects(r, *r["size"])


def _oracle(p: np.ndarray, g: np.ndarray, crowd: bool = False) -> float:
    inter = int(np.logical_and(p, g).sum())
    union = int(p.sum()) if crowd else int(np.logical_or(p, g).sum())
    return inter / union if inter else 0.0


masks = st.tuples(st.integers(1, 9), st.integers(1, 9)).flatmap(
    lambda hw: st.tuples(
        st.integers(0, 5).flatmap(lambda n: hnp.arrays(np.bool_, (n, *hw))),
        st.integers(0, 5).flatmap(lambda n: hnp.arrays(np.bool_, (n, *hw))),
    )
)


@settings(max_examples=200, deadline=None)
@given(pair=masks, compressed=st.booleans(), crowd_seed=st.integers(0, 2**16))
def test_kernels_equal_decode_and_count(pair, compressed, crowd_seed):
    p, g = pair
    pr = [_encode(m, compressed) for m in p]
    gr = [_encode(m, not compressed) for m in g]
    crowd = np.random.default_rng(crowd_seed).random(len(g)) < 0.3
    dt, gt = rle_batch(pr), rle_batch(gr)
    for k, m in enumerate(p):
        np.testing.assert_array_equal(rle_to_mask(pr[k]), m)
        assert rle_area(pr[k]) == int(m.sum())
    got = rle_iou_pairwise(dt, gt, crowd)
    want = np.array([[_oracle(a, b, c) for b, c in zip(g, crowd, strict=True)] for a in p]).reshape(
        len(p), len(g)
    )
    np.testing.assert_array_equal(got, want)
    if len(p) and len(g):  # pycocotools' own numbers, bit for bit
        ref = mask_api.iou(
            [_for_pycocotools(r) for r in pr],
            [_for_pycocotools(r) for r in gr],
            crowd.astype(np.uint8).tolist(),
        )
        np.testing.assert_array_equal(got, np.asarray(ref).reshape(len(p), len(g)))
    n = min(len(p), len(g))
    paired = rle_iou_paired(rle_batch(pr[:n]), rle_batch(gr[:n]))
    np.testing.assert_array_equal(paired, [_oracle(p[k], g[k]) for k in range(n)])
    inter, union = rle_intersection_union(rle_batch(pr[:n]), rle_batch(gr[:n]))
    assert inter.tolist() == [int((p[k] & g[k]).sum()) for k in range(n)]
    assert union.tolist() == [int((p[k] | g[k]).sum()) for k in range(n)]


def test_mask_iou_on_rle_equals_pycocotools_on_real_sized_masks():
    rng = np.random.default_rng(0)
    ms = []
    for _ in range(40):
        m = np.zeros((427, 640), bool)
        for _ in range(int(rng.integers(0, 4))):
            y, x = rng.integers(0, 400), rng.integers(0, 600)
            m[y : y + rng.integers(5, 200), x : x + rng.integers(5, 300)] = True
        ms.append(m)
    rles = [_encode(m) for m in ms]
    raw = [{"size": r["size"], "counts": r["counts"].encode()} for r in rles]
    want = np.asarray(mask_api.iou(raw[:20], raw[20:], [0] * 20))
    np.testing.assert_array_equal(mask_iou(rles[:20], rles[20:]), want)
    np.testing.assert_array_equal(mask_iou(rles[:20], rles[20:], pairwise=False), np.diag(want))


BAD = [
    ({"size": [2, 2], "counts": [1, 2]}, "sum to 3, not height \\* width = 4"),
    ({"size": [2, 2], "counts": [1, 2, 9]}, "sum to 12"),
    ({"size": [2, 2], "counts": [5, -1]}, "negative run length"),
    ({"size": [2, 2], "counts": "12"}, "sum to 3"),
    ({"size": [2, 2], "counts": "1~"}, "outside COCO's RLE alphabet"),
    ({"size": [2, 2], "counts": "1P"}, "ends in the middle"),
    ({"size": [2, 2], "counts": "0@"}, "negative run length"),
    ({"size": [2], "counts": "4"}, "size must be \\[height, width\\]"),
    ({"size": [2, -2], "counts": "4"}, "size must be"),
    ({"counts": "4"}, "no 'size'"),
    ({"size": [2, 2]}, "no 'counts'"),
    ({"size": [2, 2], "counts": [1.5, 2.5]}, "flat list of integers"),
    ({"size": [2, 2], "counts": 4}, "string or a list"),
]


@pytest.mark.parametrize("rle, message", BAD)
def test_malformed_rle_names_the_entry(rle, message):
    good = {"size": [2, 2], "counts": [4]}
    with pytest.raises(ValueError, match=r"rle\[1\]: .*" + message):
        rle_batch([good, rle])
    with pytest.raises(ValueError, match=message):
        rle_counts(rle)
    with pytest.raises(ValueError, match=message):
        mask_iou([good], [rle])


def test_different_sizes_raise_instead_of_minus_one():
    a = {"size": [2, 2], "counts": [0, 4]}
    b = {"size": [4, 1], "counts": [0, 4]}
    with pytest.raises(ValueError, match="one size"):
        mask_iou([a], [b])
    with pytest.raises(ValueError, match="pair 0: mask sizes differ"):
        mask_iou([a], [b], pairwise=False)


def test_rle_to_mask_is_deterministic_and_rejects_short_counts():
    with pytest.raises(ValueError, match="sum to"):
        rle_to_mask({"size": [30, 30], "counts": [10, 5]})
    rle = _encode(np.eye(30, dtype=bool))
    assert all((rle_to_mask(rle) == np.eye(30, dtype=bool)).all() for _ in range(3))


HANG_PROBES = {
    "mask_iou": "mask_iou([bad], [good])",
    "mask_iou_paired": "mask_iou([bad], [good], pairwise=False)",
    "reasonseg": "ReasonSegIoU().update([bad], [good])",
    "rle_to_mask": "rle_to_mask(bad)",
    "coco_segm": (
        "coco_evaluate({'images': [{'id': 1, 'height': 40, 'width': 40}], 'categories': "
        "[{'id': 1}], 'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, "
        "'segmentation': good, 'area': 100, 'iscrowd': 0}]}, [{'image_id': 1, "
        "'category_id': 1, 'segmentation': bad, 'score': 0.5}], iou_type='segm')"
    ),
}


@pytest.mark.parametrize("name", sorted(HANG_PROBES))
def test_malformed_rle_never_hangs(name):
    """Counts that overshoot H*W (pycocotools' IoU loops forever on them): each entry point
    raises ValueError, checked in a subprocess with a timeout so a hang fails the test."""
    code = textwrap.dedent(f"""
        from rankreward.metrics import ReasonSegIoU, coco_evaluate, mask_iou, rle_to_mask
        good = {{"size": [40, 40], "counts": [100, 100, 1400]}}
        bad = {{"size": [40, 40], "counts": [100, 100, 4000000000]}}
        try:
            {HANG_PROBES[name]}
        except ValueError as e:
            print("ValueError", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ValueError") and "sum to" in out.stdout, out.stdout


def test_reasonseg_accepts_validated_rle():
    a = _encode(np.eye(5, dtype=bool))
    b = _encode(np.ones((5, 5), bool), compressed=False)
    acc = ReasonSegIoU()
    acc.update([a], [b])
    assert acc.compute()["giou"] == pytest.approx(5 / 25)
