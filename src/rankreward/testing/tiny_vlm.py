"""Tiny, randomly initialised Qwen2.5-VL and Qwen3-VL models and their processors, built
offline in code.

Used by ``examples/trl_drseg.py --tiny`` and the tests: nothing is downloaded. The tokenizer is a
byte-level BPE trained on a few strings, with Qwen's special tokens and a Qwen-style chat
template. Everything is saved to a directory and loaded back with the ``from_pretrained`` calls a
real checkpoint goes through.

There is no torchvision here, so the processor uses the PIL image processor and has no video
processor (``image_only_processor_class()``); a real checkpoint on such a machine needs the same.
Needs the ``trl`` extra (transformers, tokenizers, pillow) and torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "CHAT_TEMPLATE",
    "FAMILY_FRAMES",
    "SPECIAL_TOKENS",
    "build_tiny_qwen2_5_vl",
    "build_tiny_qwen3_vl",
    "frame_of",
    "image_only_processor_class",
    "load_image_only_processor",
]

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

#: Qwen2-VL's chat template (images as vision_start, image_pad, vision_end).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "<think> The red square is on the left. <look> red square edge </look> It matches. </think>",
    '<answer>[{"bbox_2d": [10, 20, 30, 40], "point_2d": [20, 30]}]</answer>',
    "Please find the object with bboxs and points. Compare the difference between objects.",
    '0123456789 [ ] { } , : " bbox_2d point_2d think answer look circle square triangle',
    "red green blue yellow left right top bottom small large the a of in is",
]


def _corpus() -> list[str]:
    """The strings the tiny tokenizer learns its merges from: the fixed sentences above, the two
    released prompts, the synthetic shapes' words and every number below 100 (so a prompt is a
    few hundred tokens, not a thousand bytes, and a coordinate one or two tokens)."""
    from ..rewards.recipes.drseg.prompt import LOOK_TO_CONFIRM, VISIONREASONER_PROMPT

    words = [f"the {c} {s}" for c in ("red", "green", "blue", "yellow")
             for s in ("square", "circle")]  # fmt: skip
    prompts = [
        t.format(question=w) for t in (LOOK_TO_CONFIRM, VISIONREASONER_PROMPT) for w in words
    ]
    numbers = ", ".join(f"{n}" for n in range(100))
    answers = [f'[{{"bbox_2d": [{n}, {n + 1}, {n + 2}, {n + 3}], "point_2d": [{n}, {n}]}}]'
               for n in range(0, 100, 3)]  # fmt: skip
    return _CORPUS + prompts * 3 + [numbers] * 20 + answers + [f"I see one {w}." for w in words]


def _processor_class() -> Any:
    from transformers import Qwen2_5_VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL's processor without a video processor (which needs torchvision)."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            kwargs.pop("video_processor", None)
            self.image_token = "<|image_pad|>"
            self.video_token = "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2_5_VLProcessor


def _qwen3_processor_class() -> Any:
    from transformers import Qwen3VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
        """Qwen3-VL's processor without a video processor (which needs torchvision)."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            kwargs.pop("video_processor", None)
            ids = tokenizer.convert_tokens_to_ids
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id, self.video_token_id = ids(self.image_token), ids(self.video_token)
            self.vision_start_token, self.vision_end_token = "<|vision_start|>", "<|vision_end|>"
            self.vision_start_token_id = ids(self.vision_start_token)
            self.vision_end_token_id = ids(self.vision_end_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen3VLProcessor


_CLASSES: dict[str, Any] = {}


def image_only_processor_class(family: str = "qwen2.5-vl") -> Any:
    """The processor class of ``family`` (``"qwen2.5-vl"`` or ``"qwen3-vl"``) without a video
    processor, registered with AutoProcessor for its config (once). Needs transformers."""
    return _registered(family)


def _registered(family: str = "qwen2.5-vl") -> Any:
    """The image-only processor classes, registered with AutoProcessor once (needs
    transformers); returns ``family``'s."""
    if not _CLASSES:
        from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen3VLConfig

        for name, config, make in (("qwen2.5-vl", Qwen2_5_VLConfig, _processor_class),
                                   ("qwen3-vl", Qwen3VLConfig, _qwen3_processor_class)):  # fmt: skip
            _CLASSES[name] = make()
            try:
                AutoProcessor.register(config, _CLASSES[name], exist_ok=True)
            except TypeError:  # older transformers without exist_ok
                AutoProcessor.register(config, _CLASSES[name])
    if family not in _CLASSES:
        raise ValueError(f"family must be one of {sorted(_CLASSES)}, got {family!r}")
    return _CLASSES[family]


#: The answer frame of each model family (``config.json``'s ``model_type``): Qwen2.5-VL answers
#: in pixels of the image it saw, Qwen2-VL and Qwen3-VL in 0-1000 coordinates.
FAMILY_FRAMES = {"qwen2_5_vl": "absolute", "qwen2_vl": "rel1000", "qwen3_vl": "rel1000",
                 "qwen3_vl_moe": "rel1000"}  # fmt: skip


def frame_of(model_path: str | Path) -> str:
    """The answer frame of a checkpoint from its ``config.json`` ``model_type``
    (`FAMILY_FRAMES`); ``ValueError`` naming the type when it is not known (pass the frame
    yourself then).

    Examples:
        >>> import json, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
        >>> frame_of(d)
        'rel1000'
    """
    import json

    path = Path(model_path) / "config.json"
    if not path.exists():
        raise ValueError(f"{path}: no config.json to read the model family from; pass --frame")
    kind = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    if kind not in FAMILY_FRAMES:
        raise ValueError(f"{path}: model_type {kind!r} has no known answer frame; pass --frame "
                         f"(known: {FAMILY_FRAMES})")  # fmt: skip
    return FAMILY_FRAMES[kind]


def build_tiny_tokenizer(vocab_size: int = 800) -> Any:
    """A byte-level BPE tokenizer with the Qwen special tokens and chat template, trained in
    code on a few strings (no download). Byte-level, so any text round-trips through it.

    Examples:
        >>> tok = build_tiny_tokenizer()
        >>> tok.decode(tok("<think>a cup</think>")["input_ids"])
        '<think>a cup</think>'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_qwen2_5_vl(
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 56,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 1,
    vision_hidden_size: int = 32,
) -> Path:
    """Build, save and return the directory of a tiny random Qwen2.5-VL with its processor.

    By default about 0.2M parameters: 2 text layers of hidden size 64, a 1-block vision tower.
    Images are resized to at most ``image_size`` pixels a side (a few dozen patches).
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    hidden, heads = hidden_size, 4
    if hidden % (heads * 16):
        raise ValueError(f"hidden_size must be a multiple of 64, got {hidden}")
    half_head = hidden // heads // 2  # mrope sections must sum to half the head dimension
    mrope = [half_head // 4, (half_head - half_head // 4) // 2]
    mrope.append(half_head - sum(mrope))
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": num_layers,
            "num_attention_heads": heads,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "rope_parameters": {
                "rope_type": "default",
                "mrope_section": mrope,
                "rope_theta": 10000.0,
            },
            "tie_word_embeddings": True,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": vision_depth,
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_heads": 2,
            "out_hidden_size": hidden,  # must equal the text hidden size
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": list(range(vision_depth)),
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=28 * 28, max_pixels=image_size * image_size, patch_size=14, merge_size=2
    )
    processor = _registered("qwen2.5-vl")(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    return out


def build_tiny_qwen3_vl(
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 64,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 1,
    vision_hidden_size: int = 32,
) -> Path:
    """Build, save and return the directory of a tiny random Qwen3-VL with its processor (the
    same tokenizer as `build_tiny_qwen2_5_vl`; 16-pixel patches, interleaved M-RoPE, one
    DeepStack level). About 0.2M parameters; images are resized to at most ``image_size``
    pixels a side. Its answers are meant in Qwen3-VL's 0-1000 frame (`frame_of` says
    ``"rel1000"``).
    """
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    heads = 4
    if hidden_size % (heads * 16):
        raise ValueError(f"hidden_size must be a multiple of 64, got {hidden_size}")
    head_dim = hidden_size // heads
    half = head_dim // 2  # the M-RoPE sections (t, h, w) cover half the head dimension
    sections = [half // 2, half // 4, half - half // 2 - half // 4]
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": heads,
            "num_key_value_heads": 2,
            "head_dim": head_dim,
            "max_position_embeddings": 2048,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": sections,
                "mrope_interleaved": True,
            },
            "tie_word_embeddings": True,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": vision_depth,
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_heads": 2,
            "out_hidden_size": hidden_size,  # must equal the text hidden size
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [0],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=32 * 32,
                                               max_pixels=image_size * image_size,
                                               patch_size=16, merge_size=2)  # fmt: skip
    processor = _registered("qwen3-vl")(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    return out


def load_image_only_processor(path: str | Path) -> Any:
    """Load a saved processor through ``AutoProcessor`` with the image-only class registered."""
    from transformers import AutoProcessor

    _registered()
    return AutoProcessor.from_pretrained(path)
