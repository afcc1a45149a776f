"""Batched generation the way an evaluation protocol's released script generates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..rewards.recipes.drseg.prompt import build_messages
from .protocols import EvalProtocol, get_protocol

__all__ = ["generate_completions"]


def generate_completions(
    model: Any,
    processor: Any,
    images: Sequence[Any],
    questions: Sequence[str],
    *,
    protocol: str | EvalProtocol = "drseg",
    seen_size: tuple[int, int] | str | None = "protocol",
    batch_size: int | None = None,
    max_new_tokens: int | None = None,
    template: str | None = None,
    progress: bool = True,
    return_seen_sizes: bool = False,
) -> list[str] | tuple[list[str], list[tuple[int, int]]]:
    """Completions for (image, question) pairs with a protocol's prompt and decoding.

    The protocol (`rankreward.evaluation.protocols`) gives the prompt (Look-to-Confirm for
    ``"drseg"``, VisionReasoner's for ``"visionreasoner"``), the evaluation question
    preprocessing (``lower().strip('."?!')``), the decoding (``"drseg"``: sampling at
    temperature 1, top_p 1, top_k 0, up to 3000 new tokens; ``"visionreasoner"``: greedy, 2048),
    the batch size (16) and the image size the model sees (840x840, PIL BILINEAR). Any of
    ``seen_size`` (``None`` keeps the image), ``batch_size``, ``max_new_tokens`` and
    ``template`` overrides it. Prompts are left-padded so a batch generates together.

    Sampling draws from torch's global generator: seed it (``torch.manual_seed``) for a
    repeatable run.

    ``return_seen_sizes=True`` also returns, per image, the (width, height) in pixels that the
    vision encoder saw after the processor's own resize (its ``image_grid_thw`` times the patch
    size: multiples of 28 for Qwen2.5-VL, of 32 for Qwen3-VL). An ``"absolute"``-frame answer
    refers to that size (pass it as ``seen_size``); a ``"rel1000"`` answer (Qwen3-VL) does not
    depend on it.

    Example:
        ```python
        model = AutoModelForImageTextToText.from_pretrained("runs/drseg/checkpoint-600")
        processor = AutoProcessor.from_pretrained("runs/drseg/checkpoint-600")
        texts = generate_completions(model, processor, [image], ["the red cup"])
        ```

    Complexity: one ``generate`` call per batch.
    """
    import torch
    from PIL import Image

    from .tasks import image_array

    proto = get_protocol(protocol)
    size = proto.seen_size if seen_size == "protocol" else seen_size
    batch = batch_size or proto.batch_size
    if batch < 1:
        raise ValueError(f"batch_size must be positive, got {batch}")
    gen = proto.generation_kwargs()
    if max_new_tokens is not None:
        gen["max_new_tokens"] = max_new_tokens
    prompt = template or proto.template
    resample = Image.BILINEAR if proto.resample == "bilinear" else Image.BICUBIC
    if len(images) != len(questions):
        raise ValueError(f"{len(images)} images but {len(questions)} questions")
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the trl extra
        tqdm = None
    starts = range(0, len(images), batch)
    bar = tqdm(starts, desc="generate", unit="batch", disable=not progress) if tqdm else starts
    device = next(model.parameters()).device
    out: list[str] = []
    seen: list[tuple[int, int]] = []
    for start in bar:
        pil = []
        for image in images[start : start + batch]:
            img = Image.fromarray(image_array(image))
            pil.append(img.resize(tuple(size), resample) if size else img)
        texts = [
            processor.apply_chat_template(
                build_messages(q, prompt, stage="eval"), tokenize=False, add_generation_prompt=True
            )
            for q in questions[start : start + batch]
        ]
        inputs = processor(text=texts, images=pil, padding=True, return_tensors="pt").to(device)
        if return_seen_sizes:
            seen.extend(_encoder_sizes(processor, inputs, pil))
        with torch.no_grad():
            ids = model.generate(**inputs, **gen)
        new = ids[:, inputs["input_ids"].shape[1] :]
        out.extend(
            tokenizer.batch_decode(
                new, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
        )
    return (out, seen) if return_seen_sizes else out


def _encoder_sizes(processor: Any, inputs: Any, images: Sequence[Any]) -> list[tuple[int, int]]:
    """(width, height) each image had in the vision encoder: the processor's patch grid times
    its patch size, or the image's own size when the processor reports no grid."""
    grid = inputs.get("image_grid_thw") if hasattr(inputs, "get") else None
    patch = getattr(getattr(processor, "image_processor", None), "patch_size", None)
    if grid is None or patch is None or len(grid) != len(images):
        return [tuple(img.size) for img in images]
    if isinstance(patch, dict):  # some processors give {"height": p, "width": p}
        patch = patch.get("height", next(iter(patch.values())))
    return [(int(w) * int(patch), int(h) * int(patch)) for _, h, w in grid.tolist()]
