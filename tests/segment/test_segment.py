"""The segmenter layer: the contract's prompt shapes, SAM2's two-stage form (every prompt's mask
equals the prompt decoded alone, the image encoded once), no channel swap, and segment_batch
keying images by their pixels."""

from __future__ import annotations

import numpy as np
import pytest

from rankreward.segment import (
    BoxSegmenter,
    Prompts,
    Sam2Segmenter,
    build_tiny_sam2,
    check_prompts,
    image_key,
    segment_batch,
)

from .fake import FakeSegmenter, FakeTwoStage


@pytest.fixture(scope="module")
def sam(tmp_path_factory):
    pytest.importorskip("transformers")
    return Sam2Segmenter(build_tiny_sam2(tmp_path_factory.mktemp("sam2"), seed=3), device="cpu")


def _image(seed=0, h=40, w=56):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_every_prompt_decodes_as_it_would_alone(sam):
    """Boxes with 0, 1 and 2 labelled points, points-only prompts and padding in one call: each
    mask equals that prompt decoded by itself (the decoder groups prompts by shape)."""
    img = _image()
    p = Prompts.from_objects([
        ([4, 4, 30, 20], None, None),
        ([10, 5, 50, 35], [[20, 20]], [1]),
        (None, [[12, 12], [40, 30]], [1, 0]),
        ([0, 0, 55, 39], [[5, 5], [30, 30]], [1, 0]),
        (None, [[7, 9]], [1]),
    ])  # fmt: skip
    emb = sam.encode(img)
    together = sam.decode(emb, p.boxes, p.points, p.labels)
    assert together.shape == (5, 40, 56) and together.dtype == bool
    sam.batch_prompts = True
    batched = sam.decode(emb, p.boxes, p.points, p.labels)
    sam.batch_prompts = False
    for k in range(5):
        alone = sam.decode(emb, p.boxes[k : k + 1], p.points[k : k + 1], p.labels[k : k + 1])
        np.testing.assert_array_equal(together[k], alone[0])
        assert (batched[k] != alone[0]).mean() < 0.01  # rounding may flip a boundary pixel
    assert sam.encodes == 1


def test_two_stage_equals_the_one_pass_forward(sam):
    """encode + decode gives what one ``Sam2Model`` forward with the pixels gives (the path
    the evaluation used before the encoder was split off)."""
    import torch
    import torch.nn.functional as F

    img = _image(1)
    masks = sam(img, [[5, 5, 30, 20]], [[10, 10]])
    with torch.no_grad():
        out = sam.model(pixel_values=sam._pixels(img), input_boxes=torch.tensor([[[5 * 128 / 56, 5 * 128 / 40, 30 * 128 / 56, 20 * 128 / 40]]]),
                        input_points=torch.tensor([[[[10 * 128 / 56, 10 * 128 / 40]]]]),
                        input_labels=torch.ones((1, 1, 1), dtype=torch.long), multimask_output=False)  # fmt: skip
    logits = F.interpolate(
        out.pred_masks[0].float(), size=(40, 56), mode="bilinear", align_corners=False
    )
    np.testing.assert_array_equal(masks[0], (logits[0, 0] > 0).numpy())


def test_the_model_sees_rgb(sam):
    """Channel 0 of the encoder input is the image's red channel (no BGR swap)."""
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 255
    x = sam._pixels(img)
    assert float(x[0, 0].mean()) > 2 and float(x[0, 2].mean()) < -1.5


def test_segment_batch_encodes_each_distinct_image_once():
    seg = FakeTwoStage()
    imgs = [_image(s) for s in (0, 1)]
    batch = [imgs[k % 2].copy() for k in range(8)]  # 8 objects, 2 pictures
    prompts = [Prompts.from_objects([([1, 1, 9, 9], [[3, 3]], [1])]) for _ in batch]
    prompts[3] = Prompts.empty()
    out = segment_batch(seg, batch, prompts)
    assert seg.encodes == 2 and seg.decodes == 2
    assert [m.shape[0] for m in out] == [1, 1, 1, 0, 1, 1, 1, 1]
    one = FakeSegmenter()
    again = segment_batch(one, batch, prompts)
    assert one.calls == 2 and all((a == b).all() for a, b in zip(out, again, strict=True))
    assert image_key(batch[0]) == image_key(imgs[0]) != image_key(imgs[1])


def test_contract_errors_name_the_shape():
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        check_prompts(img, [[1, 2, 3]], None)
    with pytest.raises(ValueError, match="one row per prompt"):
        check_prompts(img, [[0, 0, 1, 1]], [[[0, 0]], [[1, 1]]])
    with pytest.raises(ValueError, match="labels"):
        check_prompts(img, None, [[[0, 0], [1, 1]]], [[1]])
    with pytest.raises(ValueError, match="finite"):
        check_prompts(img, [[0, np.nan, 1, 1]], None)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        BoxSegmenter()(np.zeros((4, 4)), [[0, 0, 1, 1]], None)
    # a padded point's coordinates are ignored; a points-only prompt has a NaN box row
    _, b, _p, lab = check_prompts(img, None, [[[0, 0], [np.nan, np.nan]]], [[1, -1]])
    assert np.isnan(b).all() and lab.tolist() == [[1, -1]]


def test_a_segmenter_of_the_wrong_shape_is_named():
    def broken(image, boxes, points, labels=None):
        return np.zeros((1, 2, 2), bool)

    with pytest.raises(ValueError, match=r"returned masks \(1, 2, 2\) for 2 prompts"):
        segment_batch(broken, [np.zeros((4, 4, 3), np.uint8)],
                      [Prompts.from_objects([([0, 0, 1, 1], None, None)] * 2)])  # fmt: skip


def test_default_device_reads_local_rank(monkeypatch):
    import torch

    from rankreward.segment import default_device

    if not torch.cuda.is_available():
        assert default_device() == "cpu"
        return
    monkeypatch.setenv("LOCAL_RANK", "x")
    with pytest.raises(ValueError, match="LOCAL_RANK"):
        default_device()
