"""The offline Dr. Seg demo: a tiny policy learns where things are, and GRPO with the ranked
Dr. Seg reward improves it on held-out images. ``bash scripts/demo.sh`` runs it.

Everything is built in code and runs on 2 CPU cores in a few minutes:

1. a tiny Qwen2.5-VL (random weights) and synthetic images of coloured shapes with known boxes,
   points, masks and counts, split into a training and a held-out set. The images carry
   position in their pixels (``synthetic_shapes(position_ramp=True)``: the background's red
   channel ramps with x, green with y): Qwen2.5-VL carries position only in attention, never in
   the token values, so a two-layer model cannot otherwise read out *where* a patch is;
2. a supervised warm start (`rankreward.testing.warm_start`, examples encoded once) on the full
   Look-to-Confirm answer (reasoning, a ``<look>`` block, then boxes and points), so that the
   policy localises roughly before GRPO, as a real Qwen2.5-VL-Instruct does;
3. GRPO through TRL's ``GRPOTrainer`` with the Dr. Seg reward (format, look, ranked accuracy,
   non_repeat), exactly as ``examples/trl_drseg.py`` trains a real model;
4. the paper-style evaluation (`rankreward.evaluation`, the Dr. Seg protocol: sampled answers
   at temperature 1, its reader and rules, a box segmenter) on the held-out set before and
   after GRPO: gIoU, cIoU, the share of answers with IoU > 0.5, counting accuracy and the mean
   reward (raw accuracy, comparable across runs), beside a trivial baseline that answers the
   training set's mean box on every image.

The prompt is the bare question (``--template "{question}"``): the tiny model does not learn to
localise behind the paper's 250-token Look-to-Confirm prompt within the CPU budget. The answer
format is the paper's; real checkpoints keep the released prompt (``--paper-prompt`` here).

``--ablation`` is the paper's ablation in miniature: from each seed's warm start, GRPO with
(a) the Dr. Seg reward, (b) raw instead of ranked accuracy, (c) no look term and (d) the
VisionReasoner baseline reward; it writes ``ablation.md``, ``ablation.json`` and
``ablation.png`` (about 12 minutes per seed on 2 cores).

    python examples/demo_drseg.py --output-dir runs/demo --seed 0
    python examples/demo_drseg.py --output-dir runs/ablation --ablation --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trl_drseg

from rankreward.arguments import HelpFormatter

#: per-step columns of the table: (label, TRL log key)
STEP_COLUMNS = (
    ("reward", "reward"),
    ("format", "rewards/drseg_format/mean"),
    ("look", "rewards/drseg_look/mean"),
    ("x1", "drseg/x1"),
    ("x2", "drseg/x2"),
    ("x3", "drseg/x3"),
    ("x1_rank", "drseg/x1_rank"),
    ("x2_rank", "drseg/x2_rank"),
    ("x3_rank", "drseg/x3_rank"),
    ("non_repeat", "rewards/drseg_non_repeat/mean"),
)
#: the held-out metrics of the before/after table, in its order
EVAL_KEYS = ("giou", "ciou", "iou_above_half", "count_accuracy", "reward")
#: the ablation's arms: name -> trl_drseg options
ARMS = {
    "drseg": [],
    "raw accuracy": ["--accuracy", "raw"],
    "no look": ["--no-look"],
    "visionreasoner": ["--reward", "visionreasoner"],
}
BARE_TEMPLATE = "{question}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)  # fmt: skip
    p.add_argument("--output-dir", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=2048, help="synthetic training images")
    p.add_argument("--eval-size", type=int, default=64, help="held-out images")
    p.add_argument("--eval-answers", type=int, default=4,
                   help="sampled answers per held-out image (the Dr. Seg protocol samples)")  # fmt: skip
    p.add_argument("--warm-steps", type=int, default=1500, help="supervised warm-start steps")
    p.add_argument("--grpo-steps", type=int, default=300, help="GRPO optimizer steps")
    p.add_argument("--num-generations", type=int, default=8, help="completions per prompt")
    p.add_argument("--prompts-per-step", type=int, default=4, help="prompts per GRPO step")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="GRPO learning rate")
    p.add_argument("--beta", type=float, default=0.01, help="GRPO KL coefficient")
    p.add_argument("--temperature", type=float, default=1.0, help="GRPO sampling temperature")
    p.add_argument("--max-completion-length", type=int, default=112)
    p.add_argument("--paper-prompt", action="store_true",
                   help="the released Look-to-Confirm prompt instead of the bare question "
                        "(the tiny model does not localise behind it within the budget)")  # fmt: skip
    p.add_argument("--compare-raw", action="store_true",
                   help="also train with raw (unranked) accuracy from the same warm start")  # fmt: skip
    p.add_argument("--ablation", action="store_true",
                   help="the ablation in miniature: four rewards x --seeds (not the default run)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="--ablation's seeds")
    args = p.parse_args(argv)
    for name in ("train_size", "eval_size", "eval_answers", "grpo_steps", "num_generations",
                 "prompts_per_step", "max_completion_length"):  # fmt: skip
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warm_steps < 0:
        p.error(f"--warm-steps must be at least 0, got {args.warm_steps}")
    from rankreward.rewards.recipes.drseg import LOOK_TO_CONFIRM

    args.template = LOOK_TO_CONFIRM if args.paper_prompt else BARE_TEMPLATE
    return args


def _quiet() -> None:
    """What a user should see is the progress bars and the tables, not library chatter."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    trl_drseg.quiet_console()


def score(rows: list[dict[str, Any]], texts: list[str], template: str) -> dict[str, Any]:
    """Held-out metrics of ``texts`` (one per row of ``rows``) under the Dr. Seg protocol."""
    import numpy as np

    from rankreward.evaluation import BoxSegmenter, evaluate_count, evaluate_reasonseg
    from rankreward.rewards.recipes.drseg import DrSegReward

    seg = evaluate_reasonseg(rows, texts, BoxSegmenter(), protocol="drseg")
    count = evaluate_count(rows, texts, protocol="visionreasoner")
    kept = [r["iou"] for r in seg.records if r["iou"] is not None]
    # the Dr. Seg reward with raw x1..x3: ranks move with the window, raw values compare runs
    scored = DrSegReward(accuracy="raw", template=template).score(
        texts, [r["solution"] for r in rows]
    )
    return {
        "giou": seg.metrics["giou"],
        "ciou": seg.metrics["ciou"],
        "iou_above_half": float(np.mean([v > 0.5 for v in kept])) if kept else 0.0,
        "count_accuracy": count.metrics["accuracy"],
        "reward": float(np.mean(scored["reward"])),
        "format": float(np.mean(scored["format"])),
        "num_answers": len(texts),
        "num_penalty": seg.metrics["num_penalty"],
        "example": texts[0],
    }


def evaluate(model_dir: Path, rows: list[dict[str, Any]], args: argparse.Namespace,
             seed: int) -> dict[str, Any]:  # fmt: skip
    """The held-out evaluation under the Dr. Seg protocol: the released evaluation samples
    (temperature 1.0, top_p 1.0, top_k 0), here ``--eval-answers`` answers per image from a
    fixed seed, scored with its reader, penalty and drop rules (box segmenter)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from rankreward.evaluation import generate_completions, get_protocol
    from rankreward.testing.tiny_vlm import load_image_only_processor

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    processor = load_image_only_processor(model_dir)
    # no resize: the tiny model sees the 56x56 image its answers refer to
    proto = dataclasses.replace(get_protocol("drseg"), max_new_tokens=args.max_completion_length,
                                seen_size=None, batch_size=64, template=args.template)  # fmt: skip
    repeated = [r for r in rows for _ in range(args.eval_answers)]
    torch.manual_seed(seed)
    texts = generate_completions(model.eval(), processor, [r["image"] for r in repeated],
                                 [r["question"] for r in repeated], protocol=proto,
                                 progress=False)  # fmt: skip
    out = score(repeated, texts, args.template)
    out["num_samples"] = len(rows)
    return out


def mean_box_baseline(train: list[dict[str, Any]], rows: list[dict[str, Any]],
                      template: str) -> dict[str, Any]:  # fmt: skip
    """The trivial baseline: every held-out image answered with one object, the training
    set's mean box and its centre, whatever the image shows."""
    import numpy as np

    from rankreward.testing.warm_start import target_completion

    objects = [o for r in train for o in json.loads(r["solution"])]
    box = np.mean([o["bbox_2d"] for o in objects], axis=0).round().astype(int).tolist()
    point = [(box[0] + box[2]) // 2, (box[1] + box[3]) // 2]
    answer = json.dumps([{"bbox_2d": box, "point_2d": point}])
    texts = [target_completion({"category": r["category"], "solution": answer}) for r in rows]
    out = score(rows, texts, template)
    out.update(num_samples=len(rows), box=box)
    return out


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


def thin(steps: list[dict[str, float]], rows: int = 12) -> list[dict[str, float]]:
    """About ``rows`` evenly spaced steps (first and last included), each the mean of the
    steps since the previous one shown: a readable table of a long run."""
    if len(steps) <= rows:
        return steps
    edges = [round(k * len(steps) / rows) for k in range(rows + 1)]
    out = []
    for lo, hi in itertools.pairwise(edges):
        chunk = steps[lo:hi]
        keys = {k for s in chunk for k in s} - {"step"}
        row = {"step": chunk[-1]["step"]}
        row.update({k: sum(s[k] for s in chunk if k in s) / sum(k in s for s in chunk)
                    for k in keys})  # fmt: skip
        out.append(row)
    return out


def table(steps: list[dict[str, float]], baseline: dict, before: dict, after: dict) -> str:
    labels = [c for c, _ in STEP_COLUMNS]
    lines = ["| step (mean since previous row) | " + " | ".join(labels) + " |",
             "|---:|" + "---:|" * len(labels)]  # fmt: skip
    for s in thin(steps):
        lines.append(f"| {s['step']} | " + " | ".join(f"{s.get(k, float('nan')):.3f}"
                                                     for k in labels) + " |")  # fmt: skip
    lines += [
        "",
        "| held-out | mean-box baseline | warm start (before GRPO) | after GRPO |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {k} | {baseline[k]:.4f} | {before[k]:.4f} | {after[k]:.4f} |"
              for k in EVAL_KEYS]  # fmt: skip
    return "\n".join(lines)


def plot(runs: dict[str, list[dict[str, float]]], path: Path, title: str,
         held_out: dict[str, dict[str, Any]] | None = None) -> None:  # fmt: skip
    """Each component's mean per GRPO step (faint) and its 20-step moving average (bold), and,
    in the last panel, the held-out gIoU and IoU > 0.5 of ``held_out`` (label -> metrics)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = ["reward", "format", "look", "x1", "x2", "x3", "non_repeat"]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6))
    for ax, name in zip(axes.flat, names, strict=False):
        for k, (run, steps) in enumerate(runs.items()):
            xs = np.array([s["step"] for s in steps if name in s])
            ys = np.array([s[name] for s in steps if name in s])
            if not len(xs):
                continue
            colour = f"C{k}"
            ax.plot(xs, ys, color=colour, lw=0.6, alpha=0.35)
            width = min(20, len(ys))  # the per-step means are noisy: show the trend
            smooth = np.convolve(ys, np.ones(width) / width, mode="valid")
            ax.plot(xs[width - 1 :], smooth, color=colour, lw=1.8, label=run)
        ax.set_title(name)
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    last = axes.flat[-1]
    if held_out:
        labels = list(held_out)
        pos = np.arange(len(labels))
        last.bar(pos - 0.2, [held_out[k]["giou"] for k in labels], 0.4, label="gIoU")
        last.bar(pos + 0.2, [held_out[k]["iou_above_half"] for k in labels], 0.4,
                 label="IoU > 0.5")  # fmt: skip
        last.set_xticks(pos, labels, fontsize=8)
        last.set_title("held-out")
        last.legend(fontsize=8)
        last.grid(axis="y", alpha=0.3)
    else:
        last.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grpo(args: argparse.Namespace, seed: int, warm: Path, rows: list[dict], out: Path,
         options: list[str]) -> Any:  # fmt: skip
    """GRPO from ``warm`` through ``examples/trl_drseg.py``; the final model in ``out/final``."""
    train_args = trl_drseg.parse_args([
        "--tiny", "--output-dir", str(out), "--seed", str(seed),
        "--max-steps", str(args.grpo_steps), "--num-generations", str(args.num_generations),
        "--per-device-batch", str(args.num_generations * args.prompts_per_step),
        "--max-completion-length", str(args.max_completion_length),
        "--learning-rate", str(args.learning_rate), "--beta", str(args.beta),
        "--temperature", str(args.temperature), "--save-steps", str(args.grpo_steps),
        "--template", args.template, *options,
    ])  # fmt: skip
    train_rows = [{k: r[k] for k in ("image", "question", "solution")} for r in rows]
    result = trl_drseg.run(train_args, model_path=warm, dataset=train_rows)
    result["trainer"].save_model(str(out / "final"))
    return result


def prepare(args: argparse.Namespace, seed: int, out: Path) -> dict[str, Any]:
    """Data, the tiny model and its warm start for one seed, with the held-out evaluation of
    the warm start and of the mean-box baseline."""
    import torch

    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl
    from rankreward.testing.warm_start import warm_start

    torch.manual_seed(seed)
    rows = synthetic_shapes(args.train_size + args.eval_size, 56, seed, with_masks=True,
                            position_ramp=True)  # fmt: skip
    train, held_out = rows[: args.train_size], rows[args.train_size :]
    print(f"[demo] seed {seed}: {len(train)} training and {len(held_out)} held-out synthetic "
          f"images (56x56, position in the pixels)")  # fmt: skip
    prompt = "the released Look-to-Confirm prompt" if args.paper_prompt else "the bare question"
    print(f"[demo] warm start: {args.warm_steps} supervised steps on the Look-to-Confirm answer, "
          f"prompt: {prompt}", flush=True)  # fmt: skip
    random_dir = build_tiny_qwen2_5_vl(out / "tiny-model", seed=seed)
    t = time.time()
    warm, losses = warm_start(random_dir, train, out / "warm-start", steps=args.warm_steps,
                              seed=seed, template=args.template)  # fmt: skip
    warm_seconds = time.time() - t
    before = evaluate(warm, held_out, args, seed)
    baseline = mean_box_baseline(train, held_out, args.template)
    print(f"[demo] warm start: loss {losses[0]:.2f} -> {losses[-1]:.2f} ({warm_seconds:.0f} s); "
          f"held-out gIoU {before['giou']:.4f} (mean-box baseline {baseline['giou']:.4f})")  # fmt: skip
    return {"train": train, "held_out": held_out, "warm": warm, "losses": losses,
            "before": before, "baseline": baseline, "warm_seconds": warm_seconds}  # fmt: skip


def run_demo(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    start = time.time()
    base = prepare(args, args.seed, out)
    print(f"[demo] GRPO: {args.grpo_steps} steps, {args.prompts_per_step} prompts x "
          f"{args.num_generations} completions, lr {args.learning_rate:g}, beta {args.beta:g}, "
          f"Dr. Seg reward (ranked accuracy)", flush=True)  # fmt: skip
    t = time.time()
    ranked = grpo(args, args.seed, base["warm"], base["train"], out / "grpo", [])
    grpo_seconds = time.time() - t
    runs = {"ranked": step_means(ranked["trainer"].state.log_history)}
    after = evaluate(out / "grpo" / "final", base["held_out"], args, args.seed)
    summary: dict[str, Any] = {
        "baseline": base["baseline"],
        "before": base["before"],
        "after": after,
        "steps": runs["ranked"],
    }
    if args.compare_raw:
        print("[demo] GRPO again from the same warm start with raw (unranked) accuracy")
        raw = grpo(args, args.seed, base["warm"], base["train"], out / "grpo-raw",
                   ARMS["raw accuracy"])  # fmt: skip
        runs["raw"] = step_means(raw["trainer"].state.log_history)
        summary["raw"] = {"after": evaluate(out / "grpo-raw" / "final", base["held_out"], args,
                                            args.seed), "steps": runs["raw"]}  # fmt: skip
    summary["settings"] = {k: v for k, v in vars(args).items() if k != "seeds"}
    summary["warm_start_loss"] = {"first": base["losses"][0], "last": base["losses"][-1]}
    summary["seconds"] = {"warm_start": round(base["warm_seconds"], 1),
                          "grpo": round(grpo_seconds, 1), "total": round(time.time() - start, 1)}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    held = {"mean box": base["baseline"], "warm start": base["before"], "after GRPO": after}
    if "raw" in summary:
        held["raw, after"] = summary["raw"]["after"]
    plot(runs, out / "reward_components.png", "Dr. Seg GRPO on the tiny model: mean per step",
         held)  # fmt: skip
    print()
    print(table(runs["ranked"], base["baseline"], base["before"], after))
    if "raw" in summary:
        r = summary["raw"]["after"]
        print(f"\nraw accuracy instead of ranked, after GRPO: gIoU {r['giou']:.4f}, "
              f"IoU > 0.5 {r['iou_above_half']:.4f}, count accuracy {r['count_accuracy']:.4f}")  # fmt: skip
    if not args.paper_prompt:
        print("\nprompt: the bare question (the tiny model does not localise behind the released "
              "250-token prompt within the CPU budget; real checkpoints keep it)")  # fmt: skip
    print(f"\n[demo] summary: {out / 'summary.json'}  plot: {out / 'reward_components.png'}  "
          f"({summary['seconds']['total']:.0f} s)")  # fmt: skip
    return summary


def _mean_sd(values: list[float]) -> str:
    import numpy as np

    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{float(np.mean(values)):.3f} ± {sd:.3f}"


def ablation_table(results: dict[str, list[dict[str, Any]]]) -> str:
    """One row per arm: mean ± sd over the seeds of each held-out metric."""
    keys = ("giou", "iou_above_half", "ciou", "count_accuracy")
    head = "| arm | seeds | " + " | ".join(keys) + " | gIoU - warm start | seeds above warm start |"
    lines = [head, "|---|---:|" + "---:|" * (len(keys) + 2)]
    warm = [r["giou"] for r in results["warm start"]]
    for arm, runs in results.items():
        cells = [_mean_sd([r[k] for r in runs]) for k in keys]
        gains = [r["giou"] - w for r, w in zip(runs, warm, strict=True)]
        better = f"{sum(g > 0 for g in gains)} of {len(gains)}"
        lines.append(f"| {arm} | {len(runs)} | " + " | ".join(cells)
                     + f" | {_mean_sd(gains)} | {better} |")  # fmt: skip
    return "\n".join(lines)


def ablation_plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Held-out gIoU and IoU > 0.5 per arm (bars: mean over seeds, dots: seeds), and each
    arm's gIoU gain over its own seed's warm start (the paired view: seeds differ more than
    arms do)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    arms = list(results)
    warm = [r["giou"] for r in results["warm start"]]
    panels = [
        ("held-out gIoU", arms, lambda arm: [r["giou"] for r in results[arm]]),
        ("held-out share with IoU > 0.5", arms, lambda arm: [r["iou_above_half"] for r in results[arm]]),
        ("gIoU gain over the same seed's warm start", [a for a in arms if a in ARMS],
         lambda arm: [r["giou"] - w for r, w in zip(results[arm], warm, strict=True)]),
    ]  # fmt: skip
    for ax, (label, names, values_of) in zip(axes, panels, strict=True):
        for x, arm in enumerate(names):
            values = values_of(arm)
            ax.bar(x, np.mean(values), color="#4c72b0" if arm in ARMS else "#bbb", alpha=0.8)
            ax.scatter([x] * len(values), values, color="k", s=12, zorder=3)
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=9)
        ax.set_ylabel(label)
        ax.axhline(0, color="k", lw=0.5)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Ablation in miniature: GRPO from each seed's warm start "
                 "(bars: mean over seeds, dots: seeds)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_ablation(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    start = time.time()
    results: dict[str, list[dict[str, Any]]] = {"mean-box baseline": [], "warm start": []}
    results.update({arm: [] for arm in ARMS})
    steps: dict[str, dict[str, Any]] = {}
    for seed in args.seeds:
        seed_dir = out / f"seed{seed}"
        base = prepare(args, seed, seed_dir)
        results["mean-box baseline"].append(base["baseline"])
        results["warm start"].append(base["before"])
        for arm, options in ARMS.items():
            print(f"[ablation] seed {seed}, arm {arm}: {args.grpo_steps} GRPO steps", flush=True)
            arm_dir = seed_dir / arm.replace(" ", "-")
            result = grpo(args, seed, base["warm"], base["train"], arm_dir, options)
            steps.setdefault(arm, {})[seed] = step_means(result["trainer"].state.log_history)
            after = evaluate(arm_dir / "final", base["held_out"], args, seed)
            results[arm].append(after)
            print(f"[ablation] seed {seed}, arm {arm}: held-out gIoU {base['before']['giou']:.4f}"
                  f" -> {after['giou']:.4f}", flush=True)  # fmt: skip
    text = ablation_table(results)
    summary = {
        "arms": {
            arm: [{k: r[k] for k in EVAL_KEYS} for r in runs] for arm, runs in results.items()
        },
        "seeds": args.seeds,
        "steps": steps,
        "settings": vars(args),
        "seconds": round(time.time() - start, 1),
    }
    (out / "ablation.json").write_text(json.dumps(summary, indent=2))
    (out / "ablation.md").write_text(
        f"Held-out metrics, mean ± sd over seeds {args.seeds} ({args.grpo_steps} GRPO steps from"
        f" each seed's warm start):\n\n{text}\n"
    )
    ablation_plot(results, out / "ablation.png")
    print()
    print(text)
    print(
        f"\n[ablation] {out / 'ablation.md'}  {out / 'ablation.png'}  ({summary['seconds']:.0f} s)"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.ablation:
        run_ablation(args, out)
    else:
        run_demo(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
