"""dense_mask_iou against a plain numpy oracle and pycocotools (encode + iou), on odd sizes and
shared ground truths; s_measure against Seg-R1's published S-measure; read_mask's formats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import dense_mask_iou, mask_iou, mask_to_rle, read_mask, s_measure

from ..rewards.mask_oracles import Smeasure


@st.composite
def masks_and_truths(draw):
    h, w = draw(st.integers(1, 23)), draw(st.integers(1, 29))  # sizes that are not whole words
    n, g = draw(st.integers(1, 9)), draw(st.integers(1, 4))
    kind = st.sampled_from(["random", "blob", "empty", "full"])

    def one(k):
        if k == "random":
            return draw(hnp.arrays(np.bool_, (h, w)))
        m = np.zeros((h, w), bool)
        if k == "blob":
            r0, c0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            m[r0 : r0 + draw(st.integers(1, h)), c0 : c0 + draw(st.integers(1, w))] = True
        return m if k != "full" else ~m

    pred = np.stack([one(draw(kind)) for _ in range(n)])
    gt = np.stack([one(draw(kind)) for _ in range(g)])
    index = np.array(draw(st.lists(st.integers(0, g - 1), min_size=n, max_size=n)))
    return pred, gt, index


def _oracle(pred, gt, index):
    out = []
    for p, k in zip(pred, index, strict=True):
        inter = np.logical_and(p, gt[k]).sum()
        union = np.logical_or(p, gt[k]).sum()
        out.append(inter / union if union else 0.0)
    return np.array(out)


@settings(max_examples=300, deadline=None)
@given(masks_and_truths())
def test_dense_mask_iou_equals_the_oracle(case):
    pred, gt, index = case
    np.testing.assert_array_equal(dense_mask_iou(pred, gt, index), _oracle(pred, gt, index))
    np.testing.assert_array_equal(
        dense_mask_iou(pred.astype(np.uint8) * 7, gt, index), _oracle(pred, gt, index)
    )
    rles = [mask_to_rle(m) for m in gt]
    np.testing.assert_array_equal(dense_mask_iou(pred, rles, index), _oracle(pred, gt, index))


@settings(max_examples=100, deadline=None)
@given(masks_and_truths())
def test_dense_mask_iou_equals_pycocotools(case):
    mask_utils = pytest.importorskip("pycocotools.mask")
    pred, gt, index = case
    enc = [mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for m in pred]
    genc = [mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for m in gt]
    coco = np.array([mask_utils.iou([enc[k]], [genc[j]], [0])[0, 0] for k, j in enumerate(index)])
    np.testing.assert_allclose(dense_mask_iou(pred, gt, index), coco, rtol=0, atol=1e-15)
    paired = np.repeat(gt[:1], len(pred), axis=0)
    np.testing.assert_array_equal(mask_iou(pred, [mask_to_rle(m) for m in paired], pairwise=False),
                                  dense_mask_iou(pred, paired))  # fmt: skip


def test_dense_mask_iou_torch_and_errors():
    torch = pytest.importorskip("torch")
    p = np.zeros((2, 5, 5), bool)
    p[0, :2] = True
    g = np.ones((1, 5, 5), bool)
    assert dense_mask_iou(torch.from_numpy(p), torch.from_numpy(g), [0, 0]).tolist() == [0.4, 0.0]
    with pytest.raises(ValueError, match="pass index="):
        dense_mask_iou(p, g)
    with pytest.raises(ValueError, match=r"index must lie in \[0, 1\)"):
        dense_mask_iou(p, g, [0, 1])
    with pytest.raises(ValueError, match=r"gt must have shape \(G, 5, 5\)"):
        dense_mask_iou(p, np.ones((1, 4, 5)), [0, 0])
    with pytest.raises(ValueError, match=r"gt\[0\] has size \[4, 4\]"):
        dense_mask_iou(p, [mask_to_rle(np.ones((4, 4)))], [0, 0])


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))), st.data())
def test_s_measure_equals_the_published_one(gt, data):
    import warnings

    pred = data.draw(st.one_of(hnp.arrays(np.bool_, gt.shape).map(lambda a: a.astype(float)),
                               hnp.arrays(np.float64, gt.shape, elements=st.floats(0, 1))))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the published code's 0/0 on degenerate splits
        want = Smeasure(0.5).cal_sm(pred, gt.astype(np.float64))
    got = s_measure(pred, gt)
    assert got == pytest.approx(float(want), abs=1e-12) or (np.isnan(want) and got == 0)


def test_read_mask_errors_name_the_sample(tmp_path):
    with pytest.raises(
        ValueError, match=r"sample 3: gt has size \[2, 2\] but the image is \[3, 3\]"
    ):
        read_mask(np.ones((2, 2)), (3, 3), "sample 3: gt")
    with pytest.raises(ValueError, match="cannot read the mask file"):
        read_mask(str(tmp_path / "missing.png"), None, "sample 0")
    with pytest.raises(ValueError, match="an RLE dict, a polygon list or a PNG path"):
        read_mask(b"nothing", None, "sample 0")
    with pytest.raises(ValueError, match="non-finite"):
        read_mask(np.full((2, 2), np.nan), None, "sample 0")
    with pytest.raises(ValueError, match="sample 1"):
        read_mask({"size": [2, 2], "counts": "!!!"}, (2, 2), "sample 1")
