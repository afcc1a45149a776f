"""SAM2 as a segmenter: transformers' ``Sam2Model`` (`Sam2Segmenter`) and a tiny random one for
tests and offline runs (`build_tiny_sam2`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import check_prompts

__all__ = ["Sam2Segmenter", "build_tiny_sam2"]


class Sam2Segmenter:
    """SAM2 through transformers' ``Sam2Model``: one box + one positive point per object.

    Args:
        model: a checkpoint directory (or hub id) for ``Sam2Model.from_pretrained``, or a
            loaded ``Sam2Model``.
        device: where to run (default: CUDA if available).
        multimask: ask SAM2 for 3 candidates per prompt and keep the best-scored one.

    Pre- and post-processing follow ``Sam2Processor`` (resize to the model's square input,
    ImageNet normalisation, prompts scaled per axis; masks resized back and thresholded at 0)
    but need no torchvision, which transformers' SAM2 image processor imports.

    Complexity: one image-encoder pass per image, one decoder pass for all its objects.

    Examples:
        >>> import tempfile
        >>> seg = Sam2Segmenter(build_tiny_sam2(tempfile.mkdtemp()), device="cpu")
        >>> seg(np.zeros((32, 48, 3), np.uint8), [[0, 0, 10, 10]], [[5, 5]]).shape
        (1, 32, 48)
    """

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, model: Any, device: Any = None, multimask: bool = False) -> None:
        import torch
        from transformers import Sam2Model

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if isinstance(model, (str, Path)):
            model = Sam2Model.from_pretrained(str(model))
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.size = int(self.model.config.prompt_encoder_config.image_size)
        self.multimask = multimask

    def _pixels(self, img: np.ndarray) -> Any:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.MEAN).view(1, 3, 1, 1)
        std = torch.tensor(self.STD).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.device)

    def __call__(self, image: Any, boxes: Any, points: Any) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        img, b, p = check_prompts(image, boxes, points)
        h, w = img.shape[:2]
        if not len(b):
            return np.zeros((0, h, w), np.bool_)
        scale = np.array([self.size / w, self.size / h])
        boxes_t = torch.as_tensor(b * np.tile(scale, 2), dtype=torch.float32, device=self.device)
        points_t = torch.as_tensor(p * scale, dtype=torch.float32, device=self.device)
        with torch.no_grad():
            out = self.model(
                pixel_values=self._pixels(img),
                input_boxes=boxes_t[None],
                input_points=points_t[None, :, None, :],
                input_labels=torch.ones((1, len(b), 1), dtype=torch.long, device=self.device),
                multimask_output=self.multimask,
            )
        logits = out.pred_masks[0]  # (N, C, h', w')
        if logits.shape[1] > 1:
            best = out.iou_scores[0].argmax(dim=-1)
            logits = logits[torch.arange(len(b)), best][:, None]
        logits = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)
        return (logits[:, 0] > 0).cpu().numpy()


def build_tiny_sam2(out_dir: str | Path, *, seed: int = 0, image_size: int = 128) -> Path:
    """Save a tiny randomly initialised SAM2 (about 0.35M parameters) and return its folder.

    Its masks are meaningless; it exists so the SAM2 path (config, save, ``from_pretrained``,
    prompting, post-processing) runs offline in tests and ``--tiny`` evaluation.

    Examples:
        >>> import tempfile
        >>> path = build_tiny_sam2(tempfile.mkdtemp())
        >>> (path / "config.json").exists()
        True
    """
    import torch
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    s = image_size
    backbone = Sam2HieraDetConfig(
        hidden_size=16,
        num_attention_heads=1,
        image_size=[s, s],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[16, 32, 64, 128],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        window_size_per_stage=[4, 4, 4, 4],
        # a global block may not open a stage (its query pooling needs a window)
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[4, 4],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
        fpn_hidden_size=32,
    )
    config = Sam2Config(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(
            hidden_size=32, image_size=s, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
        ),
    )
    torch.manual_seed(seed)
    out = Path(out_dir)
    Sam2Model(config).save_pretrained(out)
    return out
