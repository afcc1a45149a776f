"""The device check: what a lent GPU measures, in one JSON file (no network, at most 8 minutes).

1. The rank window: ``RankNormalizer(backend="torch")`` on the GPU against ``backend="numba"``
   on the CPU, one ``update_and_rank`` of B = 65,536 values against a window of W = 1M (3
   metrics), both checked equal first.
2. A mask reward with SAM2 in the loop at real size: a SAM2.1-L-shaped ``Sam2Model`` (random
   weights, built from its config: no checkpoint download) on the GPU, the ``think2seg-rs``
   preset over P = 4 images x G = 8 completions (1024x1024 input), against the released design
   (one image-encoder pass per completion, one decoder call per object); encoder calls, wall
   time and peak GPU memory.

``python benchmarks/gpu_check.py --out gpu.json`` (``--config tiny --window 65536`` runs the same
on a CPU in seconds: the test suite does, so the script never rots).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segment import batch, released_think2seg


def _sync(torch) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def rank_check(window: int, batch_size: int, device: str) -> dict:
    import torch

    from rankreward.normalize import RankNormalizer

    rng = np.random.default_rng(0)
    fill = rng.random((window, 3))
    values = rng.random((batch_size, 3))
    out = {}
    ranks = {}
    for backend, dev in (("numba", None), ("torch", device)):
        norm = RankNormalizer(3, window=window, backend=backend, device=dev)
        if backend == "torch":
            norm.update_and_rank(torch.as_tensor(fill, device=dev))
            norm.commit()
            q = torch.as_tensor(values, device=dev)
        else:
            norm.update_and_rank(fill)
            norm.commit()
            q = values
        norm.rank(q)  # warm-up (JIT, CUDA context)
        times = []
        for _ in range(5):
            _sync(torch)
            t = time.perf_counter()
            r = norm.rank(q)
            _sync(torch)
            times.append(time.perf_counter() - t)
        ranks[backend] = np.asarray(r.cpu() if hasattr(r, "cpu") else r)
        out[f"{backend}_seconds"] = float(np.median(times))
    np.testing.assert_array_equal(ranks["numba"], ranks["torch"])
    out.update(window=window, batch=batch_size, device=device,
               speedup=out["numba_seconds"] / out["torch_seconds"])  # fmt: skip
    return out


def large_sam2(path: Path, image_size: int) -> Path:
    """A SAM2.1-L-shaped model (Hiera-L: 144 channels, blocks 2-6-36-4), random weights."""
    import torch
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig, Sam2VisionConfig

    backbone = Sam2HieraDetConfig(
        hidden_size=144, num_attention_heads=2, image_size=[image_size, image_size],
        blocks_per_stage=[2, 6, 36, 4], embed_dim_per_stage=[144, 288, 576, 1152],
        num_attention_heads_per_stage=[2, 4, 8, 16], window_size_per_stage=[8, 4, 16, 8],
        global_attention_blocks=[23, 33, 43], window_positional_embedding_background_size=[7, 7],
    )  # fmt: skip
    s = image_size
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[1152, 576, 288, 144],
                              backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]])  # fmt: skip
    torch.manual_seed(0)
    Sam2Model(Sam2Config(vision_config=vision)).save_pretrained(path)
    return path


def mask_check(config: str, device: str, prompts: int, group: int) -> dict:
    import torch

    from rankreward.rewards import preset
    from rankreward.segment import Sam2Segmenter, build_tiny_sam2

    folder = Path(tempfile.mkdtemp())
    path = large_sam2(folder, 1024) if config == "large" else build_tiny_sam2(folder)
    seg = Sam2Segmenter(path, device=device)
    params = sum(p.numel() for p in seg.model.parameters())
    images, texts, truths = batch(
        prompts, group, 1024 if config == "large" else 256, np.random.default_rng(0)
    )
    texts = texts["think2seg-rs"]
    reward = preset("think2seg-rs", segmenter=seg, compat="strict")
    reward.score(texts, truths, context={"image": images}, stage=False)  # warm-up
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runs = {}
    for name, fn in (("rankreward", lambda: reward.score(texts, truths, context={"image": images}, stage=False)),
                     ("released", lambda: released_think2seg(seg, texts, images, truths))):  # fmt: skip
        before = seg.encodes
        _sync(torch)
        t = time.perf_counter()
        fn()
        _sync(torch)
        runs[name] = {"seconds": time.perf_counter() - t, "encoder_calls": seg.encodes - before}
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return {"config": config, "parameters": params, "device": device, "prompts": prompts, "group": group,
            **{f"{k}_{m}": v for k, r in runs.items() for m, v in r.items()},
            "speedup": runs["released"]["seconds"] / runs["rankreward"]["seconds"],
            "peak_gpu_gib": peak}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--config", choices=("large", "tiny"), default="large")
    p.add_argument("--window", type=int, default=1 << 20)
    p.add_argument("--batch", type=int, default=65536)
    p.add_argument("--group", type=int, default=8)
    args = p.parse_args(argv)
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    result = {
        "device": torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "rank": rank_check(args.window, args.batch, device),
        "mask_reward": mask_check(args.config, device, 4, args.group),
    }
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
