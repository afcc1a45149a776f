"""The offline Dr. Seg demo: warm start, GRPO with the ranked reward, held-out evaluation before
and after, a table, ``summary.json`` and a plot. ``bash scripts/demo.sh`` runs it.

Everything is built in code and runs on 2 CPU cores in a few minutes:

1. a tiny Qwen2.5-VL (random weights) and synthetic images of coloured shapes with known boxes,
   points, masks and counts, split into a training and a held-out set;
2. a short supervised warm start (`rankreward.testing.warm_start`) so the policy writes the
   Look-to-Confirm format with rough boxes (a random policy never parses, every completion ties
   and GRPO has nothing to learn from);
3. GRPO through TRL's ``GRPOTrainer`` with the Dr. Seg reward (format, look, ranked accuracy,
   non_repeat), exactly as ``examples/trl_drseg.py`` trains a real model;
4. the paper-style evaluation (`rankreward.evaluation`, the Dr. Seg protocol: sampled answers,
   its reader and rules, a box segmenter) on the held-out set before and after GRPO: mean
   reward (raw accuracy, comparable across runs), gIoU, cIoU and counting accuracy.

``--compare-raw`` also trains from the same warm start with raw (unranked) x1..x3 and plots both.

    python examples/demo_drseg.py --output-dir runs/demo --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trl_drseg

#: per-step columns of the table: (label, TRL log key)
STEP_COLUMNS = (
    ("reward", "reward"),
    ("format", "rewards/drseg_format/mean"),
    ("look", "rewards/drseg_look/mean"),
    ("x1", "drseg/x1"),
    ("x2", "drseg/x2"),
    ("x3", "drseg/x3"),
    ("r1", "drseg/r1"),
    ("r2", "drseg/r2"),
    ("r3", "drseg/r3"),
    ("non_repeat", "rewards/drseg_non_repeat/mean"),
)
EVAL_KEYS = ("reward", "giou", "ciou", "count_accuracy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--output-dir", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=256, help="synthetic training images")
    p.add_argument("--eval-size", type=int, default=32, help="held-out images")
    p.add_argument("--eval-answers", type=int, default=4,
                   help="sampled answers per held-out image (the Dr. Seg protocol samples)")  # fmt: skip
    p.add_argument("--warm-steps", type=int, default=300, help="supervised warm-start steps")
    p.add_argument("--grpo-steps", type=int, default=100, help="GRPO optimizer steps")
    p.add_argument("--num-generations", type=int, default=8, help="completions per prompt")
    p.add_argument("--prompts-per-step", type=int, default=2, help="prompts per GRPO step")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="GRPO learning rate")
    p.add_argument("--max-completion-length", type=int, default=112)
    p.add_argument("--compare-raw", action="store_true",
                   help="also train with raw (unranked) accuracy from the same warm start")  # fmt: skip
    return p.parse_args(argv)


def _quiet() -> None:
    """What a user should see is TRL's progress bar and the table, not library chatter."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


def evaluate(model_dir: Path, rows: list[dict[str, Any]], max_new_tokens: int, *, samples: int,
             seed: int) -> dict[str, Any]:  # fmt: skip
    """The held-out evaluation under the Dr. Seg protocol: the released evaluation samples
    (temperature 1.0, top_p 1.0, top_k 0), here ``samples`` answers per image from a fixed seed,
    scored with its reader, penalty and drop rules (box segmenter)."""
    import numpy as np
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from rankreward.drseg import DrSegReward
    from rankreward.evaluation import (
        BoxSegmenter,
        evaluate_count,
        evaluate_reasonseg,
        generate_completions,
        get_protocol,
    )
    from rankreward.testing.tiny_vlm import load_image_only_processor

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    processor = load_image_only_processor(model_dir)
    # no resize: the tiny model sees the 56x56 image its answers refer to
    proto = dataclasses.replace(get_protocol("drseg"), max_new_tokens=max_new_tokens,
                                seen_size=None, batch_size=32)  # fmt: skip
    repeated = [r for r in rows for _ in range(samples)]
    torch.manual_seed(seed)
    texts = generate_completions(model.eval(), processor, [r["image"] for r in repeated],
                                 [r["question"] for r in repeated], protocol=proto,
                                 progress=False)  # fmt: skip
    seg = evaluate_reasonseg(repeated, texts, BoxSegmenter(), protocol="drseg")
    count = evaluate_count(repeated, texts, protocol="visionreasoner")
    # the Dr. Seg reward with raw x1..x3: ranks move with the window, raw values compare runs
    scored = DrSegReward(accuracy="raw").score(texts, [r["solution"] for r in repeated])
    return {
        "reward": float(np.mean(scored["reward"])),
        "giou": seg.metrics["giou"],
        "ciou": seg.metrics["ciou"],
        "count_accuracy": count.metrics["accuracy"],
        "format": float(np.mean(scored["format"])),
        "num_samples": len(rows),
        "answers_per_sample": samples,
        "num_penalty": seg.metrics["num_penalty"],
        "example": texts[0],
    }


def step_means(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Per GRPO step: the mean reward and each component's mean, from TRL's log."""
    steps = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        row = {"step": int(entry["step"])}
        row.update({label: float(entry[key]) for label, key in STEP_COLUMNS if key in entry})
        steps.append(row)
    return steps


def table(steps: list[dict[str, float]], before: dict, after: dict) -> str:
    labels = [c for c, _ in STEP_COLUMNS]
    lines = ["| step | " + " | ".join(labels) + " |", "|---:|" + "---:|" * len(labels)]
    for s in steps:
        lines.append(f"| {s['step']} | " + " | ".join(f"{s.get(k, float('nan')):.3f}"
                                                     for k in labels) + " |")  # fmt: skip
    lines += ["", "| held-out | before GRPO | after GRPO |", "|---|---:|---:|"]
    lines += [f"| {k} | {before[k]:.4f} | {after[k]:.4f} |" for k in EVAL_KEYS]
    return "\n".join(lines)


def plot(runs: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["reward", "format", "look", "x1", "x2", "x3", "non_repeat"]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True)
    for ax, name in zip(axes.flat, names, strict=False):
        for run, steps in runs.items():
            xs = [s["step"] for s in steps if name in s]
            ax.plot(xs, [s[name] for s in steps if name in s], label=run, lw=1.5)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes.flat[-1].axis("off")
    axes.flat[0].legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("GRPO step")
    fig.suptitle("Dr. Seg GRPO on the tiny model: mean per step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grpo(args: argparse.Namespace, warm: Path, rows: list[dict], out: Path, accuracy: str) -> Any:
    train_args = trl_drseg.parse_args([
        "--tiny", "--output-dir", str(out), "--seed", str(args.seed),
        "--max-steps", str(args.grpo_steps), "--num-generations", str(args.num_generations),
        "--per-device-batch", str(args.num_generations * args.prompts_per_step),
        "--max-completion-length", str(args.max_completion_length),
        "--learning-rate", str(args.learning_rate), "--accuracy", accuracy, "--quiet",
        "--save-steps", str(args.grpo_steps),
    ])  # fmt: skip
    train_rows = [{k: r[k] for k in ("image", "question", "solution")} for r in rows]
    return trl_drseg.run(train_args, model_path=warm, dataset=train_rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet()
    import torch

    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl
    from rankreward.testing.warm_start import warm_start

    start = time.time()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    rows = synthetic_shapes(args.train_size + args.eval_size, 56, args.seed, with_masks=True)
    train, held_out = rows[: args.train_size], rows[args.train_size :]
    print(f"[demo] {len(train)} training and {len(held_out)} held-out synthetic images (56x56)")
    print(f"[demo] warm start: {args.warm_steps} supervised steps")

    random_dir = build_tiny_qwen2_5_vl(out / "tiny-model", seed=args.seed)
    warm, losses = warm_start(random_dir, train, out / "warm-start", steps=args.warm_steps,
                              seed=args.seed)  # fmt: skip
    before = evaluate(
        warm, held_out, args.max_completion_length, samples=args.eval_answers, seed=args.seed
    )
    print(f"[demo] warm start: loss {losses[0]:.2f} -> {losses[-1]:.2f}; held-out gIoU "
          f"{before['giou']:.4f}")  # fmt: skip

    runs: dict[str, Any] = {}
    print(f"[demo] GRPO: {args.grpo_steps} steps, {args.prompts_per_step} prompts x "
          f"{args.num_generations} completions, Dr. Seg reward (ranked accuracy)")  # fmt: skip
    ranked = grpo(args, warm, train, out / "grpo", "ranked")
    runs["ranked"] = step_means(ranked["trainer"].state.log_history)
    final = out / "grpo" / "final"
    ranked["trainer"].save_model(str(final))
    after = evaluate(
        final, held_out, args.max_completion_length, samples=args.eval_answers, seed=args.seed
    )
    summary: dict[str, Any] = {"before": before, "after": after, "steps": runs["ranked"]}
    if args.compare_raw:
        print("[demo] GRPO again from the same warm start with raw (unranked) accuracy")
        raw = grpo(args, warm, train, out / "grpo-raw", "raw")
        runs["raw"] = step_means(raw["trainer"].state.log_history)
        raw_final = out / "grpo-raw" / "final"
        raw["trainer"].save_model(str(raw_final))
        summary["raw"] = {"after": evaluate(raw_final, held_out, args.max_completion_length,
                                           samples=args.eval_answers, seed=args.seed),
                          "steps": runs["raw"]}  # fmt: skip

    summary["settings"] = vars(args)
    summary["warm_start_loss"] = {"first": losses[0], "last": losses[-1]}
    summary["seconds"] = round(time.time() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(runs, out / "reward_components.png")
    print()
    print(table(runs["ranked"], before, after))
    if "raw" in summary:
        r = summary["raw"]["after"]
        print(f"\nraw accuracy instead of ranked, after GRPO: gIoU {r['giou']:.4f}, "
              f"cIoU {r['ciou']:.4f}, count accuracy {r['count_accuracy']:.4f}")  # fmt: skip
    print(f"\n[demo] summary: {out / 'summary.json'}  plot: {out / 'reward_components.png'}  "
          f"({summary['seconds']:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
