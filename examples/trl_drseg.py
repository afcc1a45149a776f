"""Dr. Seg GRPO training with TRL: the Look-to-Confirm prompt and the distribution-ranked reward.

Real use (the paper's defaults: 8 generations per prompt, lr 1e-6, KL beta 1e-2)::

    python examples/trl_drseg.py --model Qwen/Qwen2.5-VL-7B-Instruct \\
        --dataset /data/multiobject_7k.parquet --output-dir runs/drseg

    # a hub dataset, vLLM generation on the training GPUs (4 GPUs, see docs/training.md)
    accelerate launch --num_processes 4 examples/trl_drseg.py \\
        --dataset Ricky06662/VisionReasoner_multi_object_7k_840 --use-vllm --vllm-mode colocate

Offline smoke run on CPU (a tiny random Qwen2.5-VL and synthetic shapes; what
``bash scripts/demo.sh`` runs)::

    python examples/trl_drseg.py --tiny

The dataset is VisionReasoner MultiObject style: an ``image`` (path or image), a ``question``
(``problem`` and ``text`` are accepted too) and a ``solution``: the JSON list of ground-truth
``{"bbox_2d": [x1, y1, x2, y2], "point_2d": [x, y]}`` objects in the image's pixel coordinates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from rankreward.arguments import HelpFormatter

QUESTION_KEYS = ("question", "problem", "text")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--model", default=None,
                   help="local path or hub id of a Qwen2.5-VL checkpoint (default: "
                        "Qwen/Qwen2.5-VL-7B-Instruct; with --tiny: a tiny random one)")  # fmt: skip
    p.add_argument("--dataset",
                   help="parquet/JSONL file, `datasets` directory or hub dataset id "
                        "(image, question, solution)")  # fmt: skip
    p.add_argument("--split", default="train", help="split of a hub dataset")
    p.add_argument(
        "--output-dir", default="runs/trl_drseg", help="checkpoints, logs and normalizer state"
    )
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="resume from a checkpoint directory (or the latest in --output-dir)")  # fmt: skip
    p.add_argument(
        "--tiny",
        action="store_true",
        help="offline CPU smoke run: tiny random model, synthetic data",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="optimizer steps (default: 3 with --tiny, else 600)",
    )
    p.add_argument(
        "--num-generations", type=int, default=None, help="rollouts per prompt (paper: 8)"
    )
    p.add_argument(
        "--per-device-batch", type=int, default=None, help="completions per device per micro-step"
    )
    p.add_argument(
        "--gradient-accumulation", type=int, default=1, help="micro-steps per optimizer step"
    )
    p.add_argument("--learning-rate", type=float, default=1e-6, help="paper: 1e-6")
    p.add_argument("--beta", type=float, default=1e-2, help="KL coefficient (paper: 1e-2)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (paper: 1)")
    p.add_argument(
        "--max-completion-length",
        type=int,
        default=None,
        help="tokens (default 1024; 24 with --tiny)",
    )
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reward", choices=("drseg", "visionreasoner"), default="drseg",
                   help="the paper's reward or its baseline (VisionReasoner's)")  # fmt: skip
    p.add_argument("--no-look", action="store_true", help="ablation: drop the look part")
    p.add_argument("--template", default=None,
                   help="the prompt template, with {question} (default: the paper's "
                        "Look-to-Confirm prompt; the demo's tiny model uses the bare question)")  # fmt: skip
    p.add_argument("--tiny-family", choices=("qwen2.5-vl", "qwen3-vl"), default="qwen2.5-vl",
                   help="with --tiny: which tiny model to build")  # fmt: skip
    p.add_argument("--frame", choices=("auto", "absolute", "rel1000", "rel1"), default="auto",
                   help="the policy's answer coordinates; auto: from the model family "
                        "(Qwen2.5-VL absolute, Qwen2-VL/Qwen3-VL rel1000)")  # fmt: skip
    p.add_argument("--accuracy", choices=("ranked", "raw", "visionreasoner"), default="ranked",
                   help="ablation: ranked x1..x3 (paper), raw x1..x3, or the baseline's accuracy")  # fmt: skip
    p.add_argument("--no-rank", action="store_const", const="raw", dest="accuracy",
                   help="ablation: raw x1..x3 instead of their ranks (= --accuracy raw)")  # fmt: skip
    v = p.add_argument_group("vLLM generation (GPU; TRL's GRPOConfig options)")
    v.add_argument("--use-vllm", action="store_true", help="generate with vLLM")
    v.add_argument("--vllm-mode", choices=("colocate", "server"), default="colocate",
                   help="colocate: vLLM inside each training process; server: a separate "
                        "`trl vllm-serve` process")  # fmt: skip
    v.add_argument("--vllm-server-host", default="0.0.0.0", help="server mode: host")
    v.add_argument("--vllm-server-port", type=int, default=8000, help="server mode: port")
    v.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3,
                   help="colocate mode: GPU memory fraction for vLLM")  # fmt: skip
    v.add_argument("--vllm-tensor-parallel-size", type=int, default=1,
                   help="colocate mode: tensor parallel size")  # fmt: skip
    p.add_argument("--verbose", action="store_true",
                   help="print TRL's log dictionary at every step and the libraries' warnings "
                        "and loading bars (default: the step progress bar, then a summary)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # the default now
    return p.parse_args(argv)


def load_rows(path: str, split: str = "train") -> Any:
    """A `datasets.Dataset` from a parquet/JSONL file, a saved dataset directory or a hub
    dataset id (``owner/name``, loaded with ``datasets.load_dataset`` when the hub is
    reachable)."""
    import datasets

    p = Path(path)
    if p.is_dir():
        ds = datasets.load_from_disk(str(p))
        return ds[split] if isinstance(ds, datasets.DatasetDict) else ds
    kind = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}.get(p.suffix)
    if kind is not None:
        if not p.exists():
            raise SystemExit(f"--dataset {path}: no such file")
        return datasets.load_dataset(kind, data_files=str(p), split="train")
    if path.count("/") == 1 and not p.exists():
        try:
            return datasets.load_dataset(path, split=split)
        except Exception as e:  # offline, unknown id, no such split: say which
            raise SystemExit(f"--dataset {path}: could not load it from the hub ({e})") from e
    raise SystemExit(
        f"--dataset {path}: expected .parquet, .jsonl/.json, a datasets directory or a hub id"
    )


def to_prompts(ds: Any, template: str | None = None) -> Any:
    """Add the Look-to-Confirm conversational prompt and the image's size; keep the image and
    solution columns."""
    from rankreward.rewards.recipes.drseg import LOOK_TO_CONFIRM, build_messages

    columns = ds.column_names
    key = next((k for k in QUESTION_KEYS if k in columns), None)
    if key is None or "solution" not in columns or "image" not in columns:
        raise SystemExit(
            f"the dataset needs image, question and solution columns; it has {columns}"
        )
    keep = {"image", "solution"}

    def prompt(row: dict) -> dict:
        # image_size (width, height): what a relative answer frame maps answers with
        messages = build_messages(row[key], template or LOOK_TO_CONFIRM)
        return {"prompt": messages, "image_size": list(row["image"].size)}

    return ds.map(prompt, remove_columns=[c for c in columns if c not in keep])


def latest_checkpoint(output_dir: Path) -> Path | None:
    cks = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return cks[-1] if cks else None


def summarise(log_history: list[dict[str, Any]]) -> list[str]:
    """One line per logged step: mean reward and each component's mean."""
    lines = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        parts = {k.split("/")[-2] if k.endswith("/mean") else k: v for k, v in entry.items()}
        comps = " ".join(
            f"{name}={parts[key]:.3f}"
            for name, key in (
                ("format", "drseg_format"),
                ("look", "drseg_look"),
                ("accuracy", "drseg_accuracy"),
                ("non_repeat", "drseg_non_repeat"),
                ("x1", "drseg/x1"),
                ("x2", "drseg/x2"),
                ("x3", "drseg/x3"),
            )
            if key in parts
        )
        lines.append(f"step {entry.get('step', '?'):>3}: reward={entry['reward']:.3f} {comps}")
    return lines


def quiet_console() -> None:
    """What a user should see is TRL's step progress bar and the summary: transformers' and
    TRL's deprecation warnings (about their own internals), weight-loading and dataset-map
    bars and advisory logging are switched off (``--verbose`` keeps them)."""
    import warnings

    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for category in (FutureWarning, UserWarning, DeprecationWarning):
        warnings.filterwarnings(
            "ignore", category=category, module=r"(transformers|trl|accelerate|torch)(\.|$)"
        )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


def _quiet_progress(trainer: Any) -> None:
    """Keep TRL's progress bar but not the log dictionary it prints at every step."""
    from transformers.trainer_callback import ProgressCallback

    class StepBarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepBarOnly())


def run(
    args: argparse.Namespace, *, model_path: str | Path | None = None, dataset: Any = None
) -> dict[str, Any]:
    """Build and run the GRPO trainer. ``model_path`` / ``dataset`` (rows with image, question,
    solution) replace ``--model`` / ``--dataset`` (the demo passes its warm-started tiny model
    and its synthetic split). Returns the trainer, the reward, the normalizer callback and the
    output directory."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not args.verbose:
        quiet_console()
    import datasets
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from rankreward.adapters.trl import RankNormalizerCallback, drseg_reward_funcs
    from rankreward.distributed import DistributedRankNormalizer
    from rankreward.normalize import RankNormalizer
    from rankreward.rewards.recipes.drseg import LOOK_TO_CONFIRM, DrSegReward, VisionReasonerReward
    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import (
        build_tiny_qwen2_5_vl,
        build_tiny_qwen3_vl,
        frame_of,
        load_image_only_processor,
    )

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    if args.tiny:
        build = build_tiny_qwen3_vl if args.tiny_family == "qwen3-vl" else build_tiny_qwen2_5_vl
        model_path = model_path or args.model or build(out / "tiny-model", seed=args.seed)
        if dataset is None:
            dataset = synthetic_shapes(16, 56, args.seed)
        defaults = dict(
            max_steps=3, num_generations=4, per_device_batch=4, max_completion_length=24
        )
        processor = load_image_only_processor(model_path)
    else:
        model_path = model_path or args.model or "Qwen/Qwen2.5-VL-7B-Instruct"
        if dataset is None:
            if not args.dataset:
                raise SystemExit("--dataset is required (or --tiny for the offline smoke run)")
            dataset = load_rows(args.dataset, args.split)
        defaults = dict(
            max_steps=600, num_generations=8, per_device_batch=8, max_completion_length=1024
        )
        try:
            from transformers import AutoProcessor

            processor = AutoProcessor.from_pretrained(model_path)
        except (ImportError, ValueError, OSError):  # no torchvision: image-only processor
            processor = load_image_only_processor(model_path)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not isinstance(dataset, datasets.Dataset):
        dataset = datasets.Dataset.from_list(list(dataset))
    template = args.template or LOOK_TO_CONFIRM
    ds = to_prompts(dataset, template)

    resume = None
    if args.resume:
        resume = latest_checkpoint(out) if args.resume == "latest" else Path(args.resume)
        if resume is None or not resume.exists():
            raise SystemExit(f"--resume: no checkpoint found ({args.resume}) in {out}")

    # The paper's normalizer (window 2048, 128 zeros, ties right, 1 decimal). Under `accelerate
    # launch` every process scores its own completions: the distributed wrapper all-gathers the
    # raw metrics so all ranks rank against one window (a plain normalizer in one process).
    # The answer frame: Qwen2.5-VL answers in pixels, Qwen2-VL / Qwen3-VL in 0-1000 (read from
    # the checkpoint's config.json); a relative frame maps answers with the image_size column.
    frame = args.frame
    if frame == "auto":
        try:
            frame = frame_of(model_path) if Path(str(model_path)).is_dir() else (
                "rel1000" if "qwen3" in str(model_path).lower() or "qwen2-vl" in str(model_path).lower()
                else "absolute")  # fmt: skip
        except ValueError as e:
            raise SystemExit(f"--frame auto: {e}") from None
    print(f"answer frame: {frame}", flush=True)
    if args.reward == "visionreasoner":
        reward = VisionReasonerReward(frame=frame)
    else:
        ranked = args.accuracy == "ranked"
        reward = DrSegReward(
            DistributedRankNormalizer(RankNormalizer.paper()) if ranked else None,
            look=not args.no_look,
            accuracy=args.accuracy,
            frame=frame,
            template=template,  # non_repeat rejects the template's own placeholder phrases
        )
    callback = RankNormalizerCallback(reward, resume_from=resume)
    vllm: dict[str, Any] = {}
    if args.use_vllm:
        vllm = dict(use_vllm=True, vllm_mode=args.vllm_mode)
        if args.vllm_mode == "server":
            vllm.update(vllm_server_host=args.vllm_server_host,
                        vllm_server_port=args.vllm_server_port)  # fmt: skip
        else:
            vllm.update(vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization,
                        vllm_tensor_parallel_size=args.vllm_tensor_parallel_size)  # fmt: skip
    config = GRPOConfig(
        output_dir=str(out),
        max_steps=args.max_steps,
        learning_rate=args.learning_rate if not args.tiny else max(args.learning_rate, 1e-4),
        beta=args.beta,
        num_generations=args.num_generations,
        per_device_train_batch_size=args.per_device_batch,
        gradient_accumulation_steps=args.gradient_accumulation,
        max_completion_length=args.max_completion_length,
        logging_steps=1,
        save_steps=args.save_steps or (args.max_steps if args.tiny else 100),
        report_to="none",
        bf16=torch.cuda.is_available() and not args.tiny,  # TRL defaults to bf16: not on CPU
        use_cpu=args.tiny or not torch.cuda.is_available(),
        seed=args.seed,
        temperature=args.temperature,
        disable_tqdm=False,
        log_completions=False,
        **vllm,
    )
    trainer = GRPOTrainer(
        model=str(model_path),
        reward_funcs=drseg_reward_funcs(reward),
        args=config,
        train_dataset=ds,
        processing_class=processor,
        callbacks=[callback],
    )
    if not args.verbose:
        _quiet_progress(trainer)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return {"trainer": trainer, "reward": reward, "callback": callback, "output_dir": out}


def main(argv: list[str] | None = None) -> int:
    from rankreward.adapters.trl import STATE_FILE

    args = parse_args(argv)
    start = time.time()
    result = run(args)
    trainer, reward, callback, out = (result[k] for k in ("trainer", "reward", "callback",
                                                          "output_dir"))  # fmt: skip
    final = out / STATE_FILE
    reward.normalizer.save(final)
    print("\n".join(["", "Dr. Seg training summary", *summarise(trainer.state.log_history)]))
    print(f"steps: {trainer.state.global_step}, normalizer commits: {callback.commits}, "
          f"window size: {len(reward.normalizer)}")  # fmt: skip
    ck = latest_checkpoint(out)
    print(f"checkpoint: {ck}  (normalizer state: {ck / STATE_FILE if ck else 'none'})")
    print(f"final normalizer state: {final}")
    print(f"took {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
