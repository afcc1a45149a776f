from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rankreward.metrics import CountAccuracy, ReasonSegIoU, mask_to_rle

from .conftest import back, convert


def _reference(preds, gts):
    ious, ti, tu = [], 0, 0
    for p, g in zip(preds, gts, strict=True):
        i, u = int((p & g).sum()), int((p | g).sum())
        ious.append(i / u if u else 1.0)
        ti, tu = ti + i, tu + u
    return float(np.mean(ious)), (ti / tu if tu else 1.0)


@given(
    p=hnp.arrays(np.bool_, (6, 3, 4)), g=hnp.arrays(np.bool_, (6, 3, 4)), split=st.integers(0, 6)
)
def test_reasonseg_matches_reference_and_merge(backend, p, g, split):
    giou, ciou = _reference(p, g)
    acc = ReasonSegIoU()
    acc.update(convert(p, backend), convert(g, backend))
    out = acc.compute()
    assert out["num_images"] == 6
    assert out["giou"] == pytest.approx(giou, abs=1e-12)
    assert out["ciou"] == pytest.approx(ciou, abs=1e-12)
    a, b = ReasonSegIoU(), ReasonSegIoU()
    a.update(list(p[:split]), list(g[:split]))
    b.update([mask_to_rle(m) for m in p[split:]], [mask_to_rle(m) for m in g[split:]])
    assert a.merge(b).compute() == pytest.approx(out)


def test_reasonseg_both_empty_counts_as_one():
    acc = ReasonSegIoU()
    acc.update(np.zeros((4, 4), bool), np.zeros((4, 4), bool))
    assert acc.compute() == {"giou": 1.0, "ciou": 1.0, "num_images": 1}
    assert back(acc.per_image_iou()).tolist() == [1.0]


def test_reasonseg_different_image_sizes_and_errors():
    acc = ReasonSegIoU()
    acc.update([np.ones((2, 2), bool), np.ones((3, 5), bool)], [np.ones((2, 2)), np.zeros((3, 5))])
    assert acc.compute()["giou"] == 0.5
    with pytest.raises(ValueError, match="image 0"):
        acc.update([np.ones((2, 2))], [np.ones((2, 3))])
    with pytest.raises(ValueError, match="2 predictions but 1 ground truths"):
        acc.update([np.ones((2, 2))] * 2, [np.ones((2, 2))])
    acc.reset()
    with pytest.raises(ValueError, match="before any update"):
        acc.compute()


def test_count_accuracy():
    acc = CountAccuracy()
    acc.update(np.array([1, 2, 3]), [1, 0, 3])
    other = CountAccuracy()
    other.update([5.0], [4])
    out = acc.merge(other).compute()
    assert out == {"accuracy": 0.5, "mae": 0.75, "num": 4}
    with pytest.raises(ValueError, match=r"pred_counts\[1\] = -1"):
        acc.update([1, -1], [1, 1])
    with pytest.raises(ValueError, match="whole count"):
        acc.update([1.5], [1])
    with pytest.raises(ValueError, match="2 predicted counts but 1"):
        acc.update([1, 1], [1])
