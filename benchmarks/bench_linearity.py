"""Hostile completions cost linear time: each preset and `DrSegReward` scoring one completion
that repeats a tag or bracket (what a policy looping on a token writes) at 40, 160 and 640 KB.
`DrSegReward` runs with its character cap raised to 1,000,000 so that 640 KB is read, not
rejected unread as the default 200,000-character cap would.

A size-growth check, not a timing test: the table shows microseconds per KB at each size
and the growth from the smallest to the largest (16x the text; linear work stays near 1x per
KB, quadratic work grows about 16x). Run: ``python benchmarks/bench_linearity.py [--sizes ...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, replace_section

from rankreward.rewards import DrSegReward, preset
from rankreward.testing.recipe_batches import perception_r1_batch, rec_batch, segzero_batch
from rankreward.testing.synthetic import synthetic_batch

#: Repeated pieces: unclosed tags, brackets, fences, box tokens; "é" sends the ASCII
#: scanners' rows to the readable (Python) path.
SOUPS = ("<answer>", "é<answer>", "<think></think><answer>{[", "é{", "é[", "é```json",
         "é<|box_start|>(", 'é{"bbox": [')  # fmt: skip


def rewards() -> dict[str, tuple[object, str, dict]]:
    rng = np.random.default_rng(0)
    rec_context = {"image_grid_thw": [[1, 28, 28]], "image_size": [(392, 392)]}
    return {
        "DrSegReward": (DrSegReward(max_chars=1_000_000), synthetic_batch(1, rng)[1][0], {}),
        "seg-zero": (preset("seg-zero"), segzero_batch(1, rng)[1][0], {}),
        "perception-r1": (preset("perception-r1"), perception_r1_batch(1, rng)[1][0], {}),
        "vlm-r1-rec": (preset("vlm-r1-rec"), rec_batch(1, rng)[1][0], rec_context),
        "vlm-r1-ovd": (preset("vlm-r1-ovd"), '```json\n[{"bbox_2d": [0, 0, 9, 9], "label": "a"}]\n```', {}),
        "visual-rft": (preset("visual-rft", math_verify=False),
                       "<answer>[{'Position': [0, 0, 9, 9], 'Confidence': 1}]</answer>", {}),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 160, 640], help="KB")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    rows = []
    for name, (reward, gt, context) in rewards().items():
        worst = (0.0, "", [])
        for soup in SOUPS:
            # warm up (Numba compiles on first use) on a short text of the same shape
            reward.score([soup * 50], [gt], context=context, stage=False)
            per_kb = []
            for kb in args.sizes:
                text = soup * (kb * 1000 // len(soup))
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    reward.score([text], [gt], context=context, stage=False)
                    best = min(best, time.perf_counter() - start)
                per_kb.append(best / kb)
            growth = per_kb[-1] / max(per_kb[0], 1e-9)
            if per_kb[-1] >= worst[0]:
                worst = (per_kb[-1], soup, per_kb)
        _, soup, per_kb = worst
        cells = " | ".join(f"{t * 1e6:.0f}" for t in per_kb)
        growth = per_kb[-1] / max(per_kb[0], 1e-9)
        rows.append(f"| {name} | `{soup}` | {cells} | {growth:.1f}x |")
        print(rows[-1], flush=True)
    sizes = " | ".join(f"µs/KB at {kb} KB" for kb in args.sizes)
    table = (
        "### Hostile completions: linear time\n\n"
        f"| reward | slowest repeated piece | {sizes} | growth per KB |\n"
        "|---|---|" + "---:|" * (len(args.sizes) + 1) + "\n" + "\n".join(rows) + "\n\n"
        "One completion repeating the piece up to the size (best of 3, after a warm-up); the "
        "slowest of the pieces in "
        "`benchmarks/bench_linearity.py` for each reward. Growth per KB near 1x is linear "
        "(quadratic work would grow with the text).\n"
    )
    replace_section(args.out, "bench_linearity", table)
    return table


if __name__ == "__main__":
    main()
