"""A mask reward with SAM2 in the loop through TRL's own GRPOTrainer: a tiny Qwen2.5-VL and a tiny
SAM2 (both built, saved and reloaded), the seg-r1 preset's functions and callback; the
segmenter encodes each distinct image of a step once and the breakdown is logged."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seg-r1", "think2seg-rs"])
def test_tiny_grpo_step_with_sam2_in_the_loop(tmp_path, name):
    pytest.importorskip("trl")
    import datasets
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from rankreward.adapters.trl import RankNormalizerCallback, preset_reward_funcs
    from rankreward.segment import Sam2Segmenter, build_tiny_sam2
    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl, load_image_only_processor

    torch.manual_seed(0)
    model = build_tiny_qwen2_5_vl(tmp_path / "tiny-model", seed=0)
    seg = Sam2Segmenter(build_tiny_sam2(tmp_path / "tiny-sam2"), device="cpu")
    column = "gt_mask" if name == "seg-r1" else "GT_mask"
    rows = synthetic_shapes(4, 56, 0, with_masks=True)
    ds = datasets.Dataset.from_list([
        {"prompt": [{"role": "user", "content": [{"type": "image"},
                                                 {"type": "text", "text": "Segment the shape."}]}],
         "image": r["image"], column: r["mask"].tolist()}
        for r in rows
    ])  # fmt: skip
    funcs, reward = preset_reward_funcs(name, distributed=False, segmenter=seg, ground_truth_key=column,
                                        **({"compat": "strict"} if name == "think2seg-rs" else {}))  # fmt: skip
    calls = []
    original = reward.score
    # a random tiny policy never answers in the format; two of each group's completions are
    # replaced by a well-formed answer so the segmenter runs on TRL's own image column
    good = ("<think>r</think><bbox>[4,4,40,40]</bbox><points>[[20,20]]</points><labels>[1]</labels>"
            if name == "seg-r1" else '<think>r</think><answer>```json [{"bbox_2d": [4, 4, 40, 40], '
            '"positive_points": [[20, 20], [10, 10]]}] ```</answer>')  # fmt: skip

    def recording(completions, ground_truth, tasks=None, context=None, **kwargs):
        completions = [good, good, *list(completions)[2:]]
        out = original(completions, ground_truth, tasks, context, **kwargs)
        calls.append((len(out["reward"]), context))
        return out

    reward.score = recording
    config = GRPOConfig(output_dir=str(tmp_path / "run"), max_steps=2, num_generations=4,
                        per_device_train_batch_size=4, max_completion_length=16, logging_steps=1,
                        report_to="none", use_cpu=True, bf16=False, save_strategy="no",
                        learning_rate=1e-4, disable_tqdm=True)  # fmt: skip
    trainer = GRPOTrainer(model=str(model), reward_funcs=funcs, args=config, train_dataset=ds,
                          processing_class=load_image_only_processor(model),
                          callbacks=[RankNormalizerCallback(reward)])  # fmt: skip
    trainer.train()
    assert calls and all(n == 4 for n, _ in calls)  # one scoring per step for all parts
    assert all(isinstance(c.get("image", c.get("images")), list) for _, c in calls)
    assert seg.encodes == len(calls)  # 4 completions of one image: one encode each step
    logged = next(e for e in trainer.state.log_history if any(k.startswith(f"{name}/") for k in e))
    first = reward.components[0].name
    assert np.isfinite(logged[f"{name}/{first}"])
