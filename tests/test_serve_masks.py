"""The reward service hosts the segmenter of a mask preset: a reward worker without a GPU sends
completions, masks and images (each distinct image once, or a path under --image-root) and gets
what the in-process preset gives."""

from __future__ import annotations

import numpy as np
import pytest

from rankreward.adapters.remote import RemoteReward
from rankreward.rewards import preset
from rankreward.segment import BoxSegmenter
from rankreward.segment.transport import mask_counts, pack_images, unpack_images

from .test_service import server

TEXT = "<think>r</think><bbox>[2,2,{x},12]</bbox><points>[[4,4]]</points><labels>[1]</labels>"


def _batch(n=8):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2)]
    gt = np.zeros((24, 32), bool)
    gt[2:13, 2:15] = True
    texts = [TEXT.format(x=6 + k) for k in range(n)]
    return texts, [gt] * n, [images[k % 2].copy() for k in range(n)]


def test_pack_sends_each_distinct_image_once_and_masks_as_rle():
    _, gts, images = _batch()
    column, table = pack_images(images)
    assert len(table) == 2 and column == [0, 1] * 4
    for got, want in zip(unpack_images(column, table), images, strict=True):
        np.testing.assert_array_equal(got, want)
    from rankreward.metrics import read_mask

    np.testing.assert_array_equal(read_mask(mask_counts(gts[0]), (24, 32)), gts[0])
    np.testing.assert_array_equal(read_mask(mask_counts(~gts[0])), ~gts[0])


def test_unpack_refuses_paths_outside_the_root(tmp_path):
    with pytest.raises(ValueError, match="leaves the image root"):
        unpack_images(["../etc/passwd"], None, tmp_path)
    with pytest.raises(ValueError, match="need the service's --image-root"):
        unpack_images(["a.png"], None, None)
    with pytest.raises(ValueError, match="sample 0: index 3 is not in images_b64"):
        unpack_images([3], [], None)


@pytest.mark.slow
def test_a_worker_without_a_segmenter_scores_through_the_service(tmp_path):
    from PIL import Image

    texts, gts, images = _batch()
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    local = preset("seg-r1", True, segmenter=BoxSegmenter())
    want = local.score(texts, gts, context={"image": images})
    with server("--preset", "seg-r1", "--ranked", "--segmenter", "box", "--image-root",
                str(tmp_path)) as (url, _):  # fmt: skip
        remote = RemoteReward(url)
        got = remote.score(texts, gts, {"image": images})
        np.testing.assert_array_equal(got["reward"], want["reward"])
        np.testing.assert_array_equal(got["iou"], want["iou"])
        by_path = remote.score(texts[:1], gts[:1], {"image": ["a.png"]}, stage=False)
        assert by_path["reward"][0] == pytest.approx(
            local.score(texts[:1], gts[:1], context={"image": images[:1]}, stage=False)["reward"][0]
        )
        with pytest.raises(
            ValueError, match=r"HTTP 422: .image.: sample 0: .* leaves the image root"
        ):
            remote.score(texts[:1], gts[:1], {"image": ["../x.png"]}, stage=False)


@pytest.mark.slow
def test_the_service_hosts_a_sam2(tmp_path):
    pytest.importorskip("transformers")
    from rankreward.segment import Sam2Segmenter, build_tiny_sam2

    texts, gts, images = _batch(4)
    local = preset(
        "seg-r1", segmenter=Sam2Segmenter(build_tiny_sam2(tmp_path / "sam2"), device="cpu")
    )
    want = local.score(texts, gts, context={"image": images})
    with server("--preset", "seg-r1", "--segmenter", "tiny") as (url, _):
        got = RemoteReward(url).score(texts, gts, {"image": images})
    np.testing.assert_array_equal(got["reward"], want["reward"])


def test_a_mask_preset_without_a_segmenter_is_refused():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "rankreward.cli", "serve", "--preset", "seg-r1"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode != 0 and "needs segmenter=" in run.stderr
