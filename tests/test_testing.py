"""rankreward.testing: the synthetic data's position ramp and the pre-encoded warm start."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PIL")


def test_position_ramp_puts_position_into_the_pixels():
    """With position_ramp the background's red channel grows with x and green with y, the
    objects keep their boxes and masks, and the same seed draws the same scene either way."""
    from rankreward.testing.synthetic import synthetic_shapes

    plain = synthetic_shapes(6, 56, 3, with_masks=True)
    ramp = synthetic_shapes(6, 56, 3, with_masks=True, position_ramp=True)
    for a, b in zip(plain, ramp, strict=True):
        assert a["solution"] == b["solution"] and a["question"] == b["question"]
        assert all((ma == mb).all() for ma, mb in zip(a["masks"], b["masks"], strict=True))
        px = np.asarray(b["image"], np.int64)
        background = ~b["mask"]
        ys, xs = np.nonzero(background)
        # on the background, red is the x ramp and green the y ramp, exactly
        assert (px[ys, xs, 0] == np.round(xs * 255 / 55)).all()
        assert (px[ys, xs, 1] == np.round(ys * 255 / 55)).all()
        assert (px[ys, xs, 2] == 128).all()
        # object pixels: 65% the shape's colour, 35% the ramp
        colour = np.asarray(a["image"], np.float64)
        yo, xo = np.nonzero(b["mask"])
        expected = 0.65 * colour[yo, xo, 0] + 0.35 * xo * 255 / 55
        assert np.abs(px[yo, xo, 0] - expected).max() <= 0.5 + 1e-9
        assert b["count"] == len(json.loads(b["solution"]))


@pytest.mark.slow
def test_warm_start_fits_the_target_and_reloads(tmp_path):
    """The pre-encoded warm start trains on the completion tokens, saves a model and processor
    that load through the real loading path, and fits four examples it sees repeatedly."""
    pytest.importorskip("transformers")
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl, load_image_only_processor
    from rankreward.testing.warm_start import warm_start

    rows = synthetic_shapes(4, 56, 0, position_ramp=True)
    model_dir = build_tiny_qwen2_5_vl(tmp_path / "tiny", seed=0)
    out, losses = warm_start(model_dir, rows, tmp_path / "warm", steps=40, batch_size=8,
                             template="{question}", progress=False)  # fmt: skip
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(out, dtype=torch.float32)
    assert load_image_only_processor(out) is not None and model.config.model_type
