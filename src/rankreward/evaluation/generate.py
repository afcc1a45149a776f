"""Batched generation with the Look-to-Confirm prompt, the way the paper evaluates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..drseg.prompt import LOOK_TO_CONFIRM, build_messages

__all__ = ["generate_completions"]


def generate_completions(
    model: Any,
    processor: Any,
    images: Sequence[Any],
    questions: Sequence[str],
    *,
    seen_size: tuple[int, int] | None = (840, 840),
    batch_size: int = 8,
    max_new_tokens: int = 1024,
    template: str = LOOK_TO_CONFIRM,
    progress: bool = True,
) -> list[str]:
    """Greedy completions for (image, question) pairs, ``batch_size`` at a time.

    Each image is resized to ``seen_size`` (the paper's 840x840; ``None`` keeps it) before it
    reaches the processor, so the answer's coordinates live in that frame (`rescale_objects`
    maps them back). Prompts are left-padded so a batch generates together.

    Example::

        model = AutoModelForImageTextToText.from_pretrained("runs/drseg/checkpoint-600")
        processor = AutoProcessor.from_pretrained("runs/drseg/checkpoint-600")
        texts = generate_completions(model, processor, [image], ["the red cup"], batch_size=8)
    """
    import torch
    from PIL import Image

    from .tasks import image_array

    if len(images) != len(questions):
        raise ValueError(f"{len(images)} images but {len(questions)} questions")
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the trl extra
        tqdm = None
    starts = range(0, len(images), batch_size)
    bar = tqdm(starts, desc="generate", unit="batch", disable=not progress) if tqdm else starts
    device = next(model.parameters()).device
    out: list[str] = []
    for start in bar:
        pil = []
        for image in images[start : start + batch_size]:
            img = Image.fromarray(image_array(image))
            pil.append(img.resize(seen_size, Image.BICUBIC) if seen_size else img)
        texts = [
            processor.apply_chat_template(
                build_messages(q, template), tokenize=False, add_generation_prompt=True
            )
            for q in questions[start : start + batch_size]
        ]
        inputs = processor(text=texts, images=pil, padding=True, return_tensors="pt").to(device)
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new = ids[:, inputs["input_ids"].shape[1] :]
        out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return out
