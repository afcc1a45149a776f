"""A short tour of RankNormalizer in the paper's per-step setting (what `scripts/demo.sh` runs).

Simulates GRPO steps whose three raw reward metrics live on very different scales (an IoU in
0..1, a count fit that is usually 1, a point score skewed towards 0), ranks every micro-batch
against the window as it stood at the start of the step, commits once per step, checkpoints
mid-run and shows that the resumed run gives identical ranks.

    python examples/normalizer_demo.py --steps 20 --out-dir runs/normalizer_demo
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from rankreward import RankNormalizer


def raw_metrics(rng: np.random.Generator, n: int, step: int) -> np.ndarray:
    """Three metrics with the skews of the paper's x1 (IoU), x2 (count fit), x3 (point score)."""
    skill = min(1.0, 0.2 + step / 40)  # the policy improves over time
    iou = np.clip(rng.beta(2 + 6 * skill, 4, size=n), 0, 1)
    count_fit = np.where(rng.random(n) < 0.6 + 0.3 * skill, 1.0, rng.choice([0.5, 0.67], n))
    point = np.clip(rng.exponential(0.15 + 0.5 * skill, size=n), 0, 1)
    return np.stack([iou, count_fit, point], axis=1)


def run(steps: int, micro_batches: int, rollouts: int, seed: int, ckpt_dir: Path) -> dict:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the test extra

        def tqdm(x, **_):
            return x

    rng = np.random.default_rng(seed)
    norm = RankNormalizer.paper()
    batches = [[raw_metrics(rng, rollouts, s) for _ in range(micro_batches)] for s in range(steps)]
    history = []
    for step, step_batches in enumerate(tqdm(batches, desc="steps", unit="step")):
        ranks = [norm.rank_and_stage(mb) for mb in step_batches]  # one snapshot per step
        norm.commit()  # the trainer's optimizer step
        raw = np.concatenate(step_batches)
        r = np.concatenate(ranks)
        history.append((raw.mean(0), r.mean(0), raw.std(0), r.std(0)))
        if step == steps // 2:
            norm.save(ckpt_dir / "normalizer.npz")
            resume_from = step

    # Resume from the mid-run checkpoint and replay the remaining steps.
    resumed = RankNormalizer.paper()
    resumed.load(ckpt_dir / "normalizer.npz")
    straight = RankNormalizer.paper()
    for step_batches in batches[: resume_from + 1]:
        for mb in step_batches:
            straight.stage(mb)
        straight.commit()
    identical = True
    for step_batches in batches[resume_from + 1 :]:
        for mb in step_batches:
            identical &= np.array_equal(resumed.rank_and_stage(mb), straight.rank_and_stage(mb))
        resumed.commit()
        straight.commit()
    return {"history": history, "identical": bool(identical), "norm": norm,
            "resume_from": resume_from}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="GRPO steps to simulate")
    parser.add_argument("--micro-batches", type=int, default=4, help="reward calls per step")
    parser.add_argument("--rollouts", type=int, default=64, help="completions per micro-batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where the normalizer checkpoint goes (default: a temp dir)")  # fmt: skip
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out_dir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        result = run(args.steps, args.micro_batches, args.rollouts, args.seed, out)
        names = ("x1 IoU", "x2 count", "x3 point")
        print(f"\n{result['norm']!r}")
        print(
            "\nstep | raw mean (x1 x2 x3)    | raw std            | rank mean          | rank std"
        )
        for i, (raw_m, rank_m, raw_s, rank_s) in enumerate(result["history"]):
            fmt = lambda a: " ".join(f"{v:5.2f}" for v in a)  # noqa: E731
            print(f"{i:4d} | {fmt(raw_m)}      | {fmt(raw_s)} | {fmt(rank_m)} | {fmt(rank_s)}")
        last = result["history"][-1]
        print(
            "\nRaw std per metric:",
            {n: round(float(v), 3) for n, v in zip(names, last[2], strict=True)},
        )
        print(
            "Rank std per metric:",
            {n: round(float(v), 3) for n, v in zip(names, last[3], strict=True)},
        )
        print(f"Checkpoint after step {result['resume_from']} -> {out / 'normalizer.npz'}")
        print("Resumed run gives identical ranks:", result["identical"])
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
