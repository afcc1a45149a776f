"""Mask rewards with SAM2 in the loop: the library's design against the released one.

A GRPO-shaped batch (P prompts x G completions, G = 4, 8, 12) through the ``think2seg-rs`` and
``seg-r1`` presets with a tiny random SAM2 (transformers' ``Sam2Model``, built from a config) on
CPU, against the released designs run on the same segmenter:

- Think2Seg-RS: one ``set_image`` (image-encoder pass) per completion, then one ``predict``
  (decoder call) per object, sequentially;
- Seg-R1: one ``set_image`` per box of every completion (its ``SAMWrapper.predict`` sets the
  image on every call), one ``predict`` each.

The library encodes each distinct image once per batch and decodes all of an image's prompts
with one decoder call per prompt (``batch_prompts=True``: per prompt shape). The default and
the released design produce the same masks (checked first; batched decoding within 1e-3 IoU,
boundary pixels rounded differently); the table
gives encoder calls and wall time, as ratios in one run. The tiny SAM2's encoder is a small
fraction of a real SAM2.1's cost, so the wall-time ratio on real weights is larger; the
device check (``scripts/gpu_check.sh``) measures a real-size configuration.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, fmt_time, replace_section, time_interleaved

from rankreward.rewards import preset
from rankreward.rewards.recipes.segr1 import read_segr1
from rankreward.rewards.recipes.think2seg import parse_sam_json
from rankreward.segment import Sam2Segmenter, build_tiny_sam2

THINK2SEG = ('<think>r</think><answer>```json [{{"bbox_2d": [{x}, {y}, {x2}, {y2}], "positive_points": '
             '[[{cx}, {cy}], [{x}, {y}]]}}, {{"bbox_2d": [4, 4, 60, 60], "positive_points": [[20, 20], '
             '[30, 30]]}}] ```</answer>')  # fmt: skip
SEGR1 = ("<think>r</think><bbox>[{x},{y},{x2},{y2}]</bbox><bbox>[4,4,60,60]</bbox>"
         "<points>[[{cx},{cy}],[20,20],[100,100]]</points><labels>[1,1,0]</labels>")  # fmt: skip


def batch(prompts: int, group: int, size: int, rng: np.random.Generator):
    images, texts, truths = [], {"think2seg-rs": [], "seg-r1": []}, []
    for _ in range(prompts):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        gt = np.zeros((size, size), bool)
        gt[size // 4 : size // 2, size // 4 : size // 2] = True
        for _ in range(group):
            x, y = (int(v) for v in rng.integers(0, size // 2, 2))
            w = dict(
                x=x, y=y, x2=x + size // 3, y2=y + size // 3, cx=x + size // 6, cy=y + size // 6
            )
            texts["think2seg-rs"].append(THINK2SEG.format(**w))
            texts["seg-r1"].append(SEGR1.format(**w))
            images.append(img.copy())  # TRL hands every completion its own image object
            truths.append(gt)
    return images, texts, truths


def released_think2seg(seg: Sam2Segmenter, texts, images, truths) -> list[float]:
    out = []
    for text, img, gt in zip(texts, images, truths, strict=True):
        objects, _ = parse_sam_json(text)
        emb = seg.encode(img)  # set_image per completion
        mask = np.zeros(img.shape[:2], bool)
        for obj in objects:
            m = seg.decode(emb, [obj["bbox_2d"]], [obj["positive_points"]], [[1, 1]])
            mask |= m[0]
        out.append(float((mask & gt).sum() / max((mask | gt).sum(), 1)))
    return out


def released_segr1(seg: Sam2Segmenter, texts, images, truths) -> list[float]:
    out = []
    for text, img, gt in zip(texts, images, truths, strict=True):
        a = read_segr1(text)
        mask = np.zeros(img.shape[:2], bool)
        for b in a.boxes:
            inside = ((a.points[:, 0] >= b[0]) & (a.points[:, 0] <= b[2])
                      & (a.points[:, 1] >= b[1]) & (a.points[:, 1] <= b[3]))  # fmt: skip
            emb = seg.encode(img)  # SAMWrapper.predict sets the image on every call
            pts, lab = a.points[inside], a.labels[inside]
            m = seg.decode(emb, [b], [pts] if len(pts) else None, [lab] if len(pts) else None)
            mask |= m[0]
        out.append(float((mask & gt).sum() / max((mask | gt).sum(), 1)))
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short budget")
    parser.add_argument("--budget", type=float, default=None, help="seconds per comparison")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    budget = args.budget or (0.5 if args.quick else 4.0)
    prompts, size = (2, 128) if args.quick else (4, 256)
    groups = (4,) if args.quick else (4, 8, 12)
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # one reward worker's share of the machine, as in a trainer
    path = build_tiny_sam2(tempfile.mkdtemp())
    seg = Sam2Segmenter(path, device="cpu")
    fast = Sam2Segmenter(path, device="cpu", batch_prompts=True)
    rng = np.random.default_rng(0)
    rows = []
    bar = tqdm(total=2 * len(groups), desc="bench_segment", unit="case")
    for name, released in (("think2seg-rs", released_think2seg), ("seg-r1", released_segr1)):
        kw = {"compat": "strict"} if name == "think2seg-rs" else {}
        reward = preset(name, segmenter=seg, **kw)
        batched = preset(name, segmenter=fast, **kw)
        iou = "mask_iou" if name == "think2seg-rs" else "iou"
        for group in groups:
            images, texts, truths = batch(prompts, group, size, rng)
            ours = reward.score(texts[name], truths, context={"image": images}, stage=False)
            np.testing.assert_allclose(
                ours[iou], released(seg, texts[name], images, truths), atol=0
            )
            before = seg.encodes
            reward.score(texts[name], truths, context={"image": images}, stage=False)
            ours_encodes = seg.encodes - before
            before = seg.encodes
            released(seg, texts[name], images, truths)
            their_encodes = seg.encodes - before

            # the loop's values bound now (time_interleaved runs at once; ruff's B023 cannot tell)
            def ours_fn(r=reward, x=texts[name], g=truths, im=images):
                return r.score(x, g, context={"image": im}, stage=False)

            def theirs_fn(f=released, x=texts[name], g=truths, im=images):
                return f(seg, x, im, g)

            def batched_fn(r=batched, x=texts[name], g=truths, im=images):
                return r.score(x, g, context={"image": im}, stage=False)

            t = time_interleaved(
                {"ours": ours_fn, "released": theirs_fn, "batched": batched_fn}, budget
            )
            rows.append(
                (
                    name,
                    prompts,
                    group,
                    ours_encodes,
                    their_encodes,
                    t["ours"],
                    t["released"],
                    t["batched"],
                )
            )
            bar.update()
    bar.close()
    lines = [
        f"Tiny SAM2 ({size}x{size} images, CPU, 1 thread); P = {prompts} prompts x G completions.",
        "",
        "| preset | P x G | encoder calls: rankreward | released design | rankreward | released | speed-up"
        " | rankreward, batch_prompts=True | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p, g, oe, te, to, tt, tb in rows:
        lines.append(
            f"| {name} | {p} x {g} | {oe} | {te} | {fmt_time(to)} | {fmt_time(tt)} | {tt / to:.1f}x"
            f" | {fmt_time(tb)} | {tt / tb:.1f}x |"
        )
    table = "\n".join(lines)
    replace_section(args.out, "bench_segment", table)
    print(table)
    return table


if __name__ == "__main__":
    main()
