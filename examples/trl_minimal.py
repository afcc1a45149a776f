"""The smallest complete GRPO run with a ranked rankreward reward (TRL + Qwen2.5-VL).

python examples/trl_minimal.py --tiny                 # offline: a tiny random model, 2 steps
python examples/trl_minimal.py --data train.jsonl     # image, question, solution per line
"""

import argparse
import json

import torch
from datasets import Dataset
from PIL import Image
from trl import GRPOConfig, GRPOTrainer

from rankreward.adapters.trl import trl_rewards
from rankreward.rewards.recipes.drseg import build_messages


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="Qwen/Qwen2.5-VL-3B-Instruct")
    p.add_argument("--data", help="JSON Lines: image (a path), question, solution (Dr. Seg JSON)")
    p.add_argument("--tiny", action="store_true", help="a tiny random model and synthetic shapes")
    p.add_argument("--output-dir", default="runs/minimal")
    p.add_argument("--max-steps", type=int, default=2)
    args = p.parse_args(argv)

    if args.tiny:  # offline: build a tiny Qwen2.5-VL and its processor (no torchvision needed)
        from rankreward.testing.synthetic import synthetic_shapes
        from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl, load_image_only_processor

        model = str(build_tiny_qwen2_5_vl(f"{args.output_dir}/tiny-model"))
        processor = load_image_only_processor(model)
        rows = synthetic_shapes(8, 56, seed=0)
    else:
        from transformers import AutoProcessor

        model, processor = args.model, AutoProcessor.from_pretrained(args.model)
        with open(args.data) as f:
            rows = [json.loads(line) for line in f]
        for row in rows:
            row["image"] = Image.open(row["image"]).convert("RGB")

    # the prompt the paper trains with (Look-to-Confirm); TRL passes the image column to the
    # reward, which reads each image's size from it (frame="rel1000" for Qwen3-VL answers)
    dataset = Dataset.from_list(
        [
            {
                "prompt": build_messages(r["question"]),
                "image": r["image"],
                "solution": r["solution"],
            }
            for r in rows
        ]
    )
    rewards = trl_rewards("drseg")  # functions + callbacks; the solution column checked at start

    on_gpu = torch.cuda.is_available() and not args.tiny
    config = GRPOConfig(
        output_dir=args.output_dir,
        max_steps=args.max_steps,
        num_generations=4,
        per_device_train_batch_size=4,
        max_completion_length=24 if args.tiny else 1024,
        learning_rate=1e-6,
        beta=0.01,
        logging_steps=1,
        report_to="none",
        bf16=on_gpu,  # TRL's default is bf16: not on a CPU
        use_cpu=not on_gpu,
    )
    trainer = GRPOTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        **rewards.trainer_kwargs(),
    )
    trainer.train()
    last = next(e for e in reversed(trainer.state.log_history) if "drseg/x1" in e)
    print({k: round(v, 4) for k, v in last.items() if k.startswith("drseg/") and "/" not in k[6:]})


if __name__ == "__main__":
    main()
