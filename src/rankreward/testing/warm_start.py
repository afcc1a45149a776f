"""A short supervised warm start for the tiny Qwen2.5-VL, so that GRPO has something to improve.

A randomly initialised policy never writes a parsable answer: every completion scores the same,
GRPO's group advantages are all zero and nothing is learned. Real Dr. Seg training starts from
Qwen2.5-VL-Instruct, which already writes boxes; this gives the tiny model the same starting
point on the synthetic shapes: teacher-forced Look-to-Confirm completions with the true boxes
and points, for a few hundred steps, on the CPU.

Needs the ``trl`` extra (transformers) and torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..rewards.recipes.drseg.prompt import LOOK_TO_CONFIRM, build_messages

__all__ = ["target_completion", "warm_start"]


def target_completion(row: dict[str, Any]) -> str:
    """The completion the warm start teaches for a synthetic-shapes row: a short reasoning
    with one look block, then the true objects. O(objects).

    Examples:
        >>> row = {"category": "red circle", "solution": '[{"bbox_2d": [1, 2, 9, 9], "point_2d": [5, 5]}]'}
        >>> target_completion(row)
        '<think>I see one red circle. <look>red circle</look> It matches.</think><answer>[{"bbox_2d": [1, 2, 9, 9], "point_2d": [5, 5]}]</answer>'
    """
    objects = json.loads(row["solution"])
    count = {1: "one", 2: "two", 3: "three"}.get(len(objects), str(len(objects)))
    return (
        f"<think>I see {count} {row['category']}. <look>{row['category']}</look> It matches."
        f"</think><answer>{json.dumps(objects)}</answer>"
    )


def warm_start(
    model_dir: str | Path,
    rows: Sequence[dict[str, Any]],
    out_dir: str | Path,
    *,
    steps: int = 300,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    seed: int = 0,
    template: str = LOOK_TO_CONFIRM,
    progress: bool = True,
) -> tuple[Path, list[float]]:
    """Fine-tune the model in ``model_dir`` on `target_completion` of ``rows`` (teacher forcing,
    loss on the completion tokens only), save it with its processor to ``out_dir`` and return
    that directory and the loss per step.

    Prompts are built both ways the library builds them (the training prompt, with its leading
    newline, and the evaluation prompt), so the policy answers either.

    Every example is encoded once (image processing included); the steps then only pad and
    stack. Complexity: ``steps`` forward and backward passes of ``batch_size`` sequences.

    Example:
        ```python
        model_dir = build_tiny_qwen2_5_vl("runs/tiny")
        warm, losses = warm_start(model_dir, synthetic_shapes(64, 56, 0), "runs/warm", steps=200)
        ```
    """
    import numpy as np
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from .tiny_vlm import load_image_only_processor

    if not rows:
        raise ValueError("warm_start needs at least one row")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    processor = load_image_only_processor(model_dir)
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "right"
    end = tokenizer.eos_token  # <|im_end|>: the policy learns to stop

    def prompt(row: dict[str, Any], stage: str) -> str:
        msgs = build_messages(row["question"], template, stage=stage)  # type: ignore[arg-type]
        return processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    # every example encoded once (the image processor is the slow part), batches padded here;
    # a prompt's length in tokens (image tokens included) depends only on its text and the
    # image's size, so it is measured once per distinct pair
    pad = tokenizer.pad_token_id
    examples, prompt_lengths = [], {}
    for row in rows:
        for stage in ("train", "eval"):
            p = prompt(row, stage)
            enc = processor(text=[p + target_completion(row) + end], images=[row["image"]],
                            return_tensors="pt")  # fmt: skip
            key = (p, row["image"].size)
            if key not in prompt_lengths:
                prompt_lengths[key] = processor(text=[p], images=[row["image"]],
                                                return_tensors="pt")["input_ids"].shape[1]  # fmt: skip
            examples.append((enc["input_ids"][0], enc["pixel_values"], enc["image_grid_thw"],
                             prompt_lengths[key]))  # fmt: skip

    def collate(batch: list) -> dict[str, Any]:
        width = max(len(b[0]) for b in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for k, (tokens, _, _, n_prompt) in enumerate(batch):
            ids[k, : len(tokens)] = tokens
            mask[k, : len(tokens)] = 1
            labels[k, n_prompt : len(tokens)] = tokens[n_prompt:]  # the completion only
        return {"input_ids": ids, "attention_mask": mask, "labels": labels,
                "pixel_values": torch.cat([b[1] for b in batch]),
                "image_grid_thw": torch.cat([b[2] for b in batch])}  # fmt: skip

    optim = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0 - s / max(steps, 1))
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the trl extra
        tqdm = None
    bar = tqdm(range(steps), desc="warm start", disable=not progress) if tqdm else range(steps)
    losses: list[float] = []
    model.train()
    for _ in bar:
        pick = rng.choice(len(examples), size=min(batch_size, len(examples)), replace=False)
        loss = model(**collate([examples[k] for k in pick])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if tqdm is not None and hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.padding_side = "left"
    processor.save_pretrained(out)
    return out, losses
