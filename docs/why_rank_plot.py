"""Draw docs/img/why_rank.png: how raw reward components of different scales drive GRPO
advantages, and how distribution ranking evens them out.

Simulated Dr. Seg rollouts: x1 mean matched IoU (in a narrow band around 0.7, as for a
trained detector), x2 count fit (often exactly 0 or 1), x3 point score (continuous, wide). For every GRPO
group of 8 the advantage is the group z-score of the summed reward; a component's share of it
is cov(component, sum) / var(sum) within the group (the shares add up to 1).

    python docs/why_rank_plot.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rankreward import RankNormalizer

NAMES = ("x1 IoU", "x2 count fit", "x3 point score")


def simulate(rng: np.random.Generator, groups: int, size: int = 8) -> np.ndarray:
    """(groups, size, 3) raw metrics: each prompt has its own difficulty."""
    difficulty = rng.uniform(0.3, 0.8, size=(groups, 1))
    # a trained detector's matched IoU sits in a narrow band: tiny raw differences
    iou = np.clip(0.7 + 0.1 * (difficulty - 0.55) + rng.normal(0, 0.03, (groups, size)), 0, 1)
    count = np.where(rng.random((groups, size)) < difficulty + 0.1, 1.0,
                     rng.choice([0.0, 0.5], size=(groups, size)))  # fmt: skip
    point = np.clip(rng.beta(2, 2, (groups, size)) * difficulty * 1.4, 0, 1)
    return np.stack([iou, count, point], axis=-1)


def shares(x: np.ndarray) -> np.ndarray:
    """Mean over groups of each component's share of the summed reward's variance."""
    total = x.sum(-1)
    tc = total - total.mean(1, keepdims=True)
    var = (tc**2).mean(1)
    keep = var > 1e-12
    cov = ((x - x.mean(1, keepdims=True)) * tc[..., None]).mean(1)
    return (cov[keep] / var[keep, None]).mean(0)


def main() -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    norm = RankNormalizer.paper()
    norm.update(simulate(rng, 256).reshape(-1, 3))  # a warm window, as after a few steps
    raw = simulate(rng, 400)
    ranked = np.stack([norm.rank(g) for g in raw])
    spread_raw = raw.std(1).mean(0)
    spread_rank = ranked.std(1).mean(0)
    share_raw, share_rank = shares(raw), shares(ranked)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    pos = np.arange(3)
    for ax, (a, b, title) in zip(axes, [
        (spread_raw, spread_rank, "within-group spread (std) of each component"),
        (share_raw, share_rank, "share of the GRPO advantage driven by each component"),
    ], strict=True):  # fmt: skip
        ax.bar(pos - 0.2, a, 0.4, label="raw metrics", color="#c44e52")
        ax.bar(pos + 0.2, b, 0.4, label="ranked (Dr. Seg)", color="#4c72b0")
        ax.set_xticks(pos, NAMES)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[1].axhline(1 / 3, color="gray", ls="--", lw=1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out = Path(__file__).resolve().parent / "img" / "why_rank.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    for name, r, k in zip(NAMES, share_raw, share_rank, strict=True):
        print(f"{name:16s} raw share {r:.2f}  ranked share {k:.2f}")
    return out


if __name__ == "__main__":
    print(main())
