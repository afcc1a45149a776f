"""Draw docs/img/rank_any_reward.png: which component of Seg-Zero's reward drives the GRPO
advantage, scored as published (raw, thresholded) and ranked (the Dr. Seg idea).

Simulated rollouts: for each of 300 prompts a ground-truth box and points, and a group of 8
answers whose boxes and points are jittered by a per-prompt amount (some prompts are easy, some
hard), 10 % of them breaking the think/answer format. Both rewards are computed by the presets
themselves (`preset("seg-zero")` and `preset("seg-zero", ranked=True)` after a 64-prompt warm-up
of the windows). A component's share of the advantage is cov(component, total) / var(total)
within the group (the shares add up to 1).

    python docs/rank_any_reward_plot.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from rankreward.rewards import preset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from why_rank_plot import shares  # the same per-group advantage-share measure

NAMES = ("iou", "thinking_format", "segmentation_format", "point_l1", "box_l1")


def group(rng: np.random.Generator, size: int = 8) -> tuple[list[str], list[str]]:
    """One prompt's ground truth and its group of answers."""
    x1, y1 = rng.integers(0, 500, 2)
    x2, y2 = x1 + rng.integers(40, 300), y1 + rng.integers(40, 300)
    p = [[x1 + (x2 - x1) // 3, y1 + (y2 - y1) // 3], [x2 - (x2 - x1) // 3, y2 - (y2 - y1) // 3]]
    truth = f"<box>({x1},{y1}),({x2},{y2})</box><points>({p[0][0]},{p[0][1]}),({p[1][0]},{p[1][1]})</points>"
    spread = rng.uniform(2, 40)  # how hard this prompt is
    texts = []
    for _ in range(size):
        box = [int(v + rng.normal(0, spread)) for v in (x1, y1, x2, y2)]
        pts = [[int(v + rng.normal(0, 3 * spread)) for v in q] for q in p]
        answer = json.dumps({"bbox": box, "points_1": pts[0], "points_2": pts[1]})
        think = "<think>I compare the objects.</think>" if rng.random() > 0.1 else ""
        texts.append(f"{think}<answer>{answer}</answer>")
    return texts, [truth] * size


def run(groups: int = 300, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw, ranked = preset("seg-zero"), preset("seg-zero", ranked=True)
    for _ in range(64):  # warm windows, as after a few steps
        ranked.score(*group(rng))
    ranked.commit()
    parts_raw, parts_ranked = [], []
    for _ in range(groups):
        texts, truths = group(rng)
        # one fixed window: rank without staging (shares of one step, not of a moving window)
        a, b = raw.score(texts, truths), ranked.score(texts, truths, stage=False)
        parts_raw.append(np.stack([a[n] for n in NAMES], -1))
        parts_ranked.append(np.stack([np.nan_to_num(b.get(n + "_rank", b[n])) for n in NAMES], -1))
    return {"raw": shares(np.array(parts_raw)), "ranked": shares(np.array(parts_ranked))}


def main() -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = run()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    pos = np.arange(len(NAMES))
    ax.bar(pos - 0.2, result["raw"], 0.4, label="as published (thresholded terms)")
    ax.bar(pos + 0.2, result["ranked"], 0.4, label="ranked (IoU, box L1, point distance)")
    ax.set_xticks(pos, [n.replace("_", "\n") for n in NAMES])  # two lines: no collisions
    ax.set_ylabel("share of the advantage")
    ax.set_title("Seg-Zero's reward: what drives the GRPO advantage")
    ax.axhline(0, color="k", lw=0.5)
    top = max(result["raw"].max(), result["ranked"].max())
    for k in range(len(NAMES)):
        if result["raw"][k] == 0 and result["ranked"][k] == 0:  # say why a slot is empty
            ax.text(pos[k], 0.03 * top, "no spread\nwithin groups", ha="center", va="bottom",
                    fontsize=8, color="0.35")  # fmt: skip
    ax.set_ylim(0, top * 1.35)  # headroom: the legend sits above the bars
    ax.legend(fontsize=9, loc="upper right", ncol=2)
    fig.tight_layout()
    out = Path(__file__).resolve().parent / "img" / "rank_any_reward.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    for name in result:
        print(name, dict(zip(NAMES, result[name].round(3).tolist(), strict=True)))
    return out


if __name__ == "__main__":
    main()
