"""DistributedRankNormalizer with 2 CPU processes (gloo): both ranks get exactly the ranks one
process computes over the concatenated batch, the windows stay identical, a rank that repeats
its batch through TRL's reward functions still enters every collective, and a bad input on one
rank raises on every rank instead of hanging the other."""

from __future__ import annotations

import datetime
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from rankreward.adapters.trl import (  # noqa: E402
    RewardFunctions,
    drseg_reward_funcs,
    preset_reward_funcs,
)
from rankreward.distributed import DistributedRankNormalizer  # noqa: E402
from rankreward.normalize import RankNormalizer  # noqa: E402
from rankreward.rewards import preset  # noqa: E402
from rankreward.rewards.recipes.drseg import DrSegReward  # noqa: E402
from rankreward.testing.recipe_batches import segzero_batch  # noqa: E402
from rankreward.testing.synthetic import synthetic_batch  # noqa: E402

WORLD = 2
STEPS = 4


def _batch(step: int, rank: int) -> np.ndarray:
    """Rank r's raw rows at a step: sizes differ per rank and step; values tie often."""
    rng = np.random.default_rng(100 * step + rank)
    n = 3 + rank + step
    return np.round(rng.random((n, 3)), 1)


def _texts(step: int) -> tuple[list[str], list[str]]:
    return synthetic_batch(10, np.random.default_rng(7 + step), max_objects=6)


def _split(step: int, rank: int) -> slice:
    return slice(0, 6) if rank == 0 else slice(6, 10)  # unequal shares


def _segzero(step: int, rank: int) -> tuple[list[str], list[str]]:
    malformed = 1.0 if (step, rank) == (0, 1) else 0.3
    return segzero_batch(5 + rank, np.random.default_rng(10 * step + rank), malformed)


def _small() -> RankNormalizer:
    return RankNormalizer.paper(window=32, prefill=8)


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        norm = DistributedRankNormalizer(_small())
        results = {}
        for step in range(STEPS):
            results[f"staged{step}"] = norm.rank_and_stage(_batch(step, rank))
            # torch in, torch out (float32 stays float32)
            t = torch.as_tensor(_batch(step, rank), dtype=torch.float32)
            out = norm.rank(t)
            assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
            results[f"torch{step}"] = out.numpy()
            norm.commit()
        results["window"] = norm.window
        results["update_and_rank"] = norm.update_and_rank(_batch(9, rank))
        results["empty"] = norm.rank(_batch(5, 0) if rank == 0 else np.zeros((0, 3)))

        reward = DrSegReward(DistributedRankNormalizer(RankNormalizer.paper()))
        for step in range(2):
            texts, gts = _texts(step)
            part = _split(step, rank)
            results[f"reward{step}"] = np.array(reward(texts[part], ground_truth=gts[part]))
            reward.commit()

        # TRL's four reward functions per step; rank 1's policy has collapsed and hands the
        # same batch every step (was memoised on content: rank 1 skipped the all-gather that
        # rank 0 entered, and the job hung)
        trl_reward = DrSegReward(DistributedRankNormalizer(RankNormalizer.paper()))
        funcs = RewardFunctions(trl_reward).all()
        for step in range(3):
            texts, gts = _texts(0 if rank == 1 else step)
            part = _split(step, rank)
            for f in funcs:
                f(texts[part], solution=gts[part])
            trl_reward.commit()
        results["trl_window"] = trl_reward.normalizer.window

        # a ranked preset through TRL's per-component functions: rank 1's answers are all
        # unreadable at step 0, so it has no IoU to rank there yet must enter the collective
        funcs, preset_reward = preset_reward_funcs("seg-zero", ranked=True)
        for step in range(2):
            texts, gts = _segzero(step, rank)
            parts = [f(texts, solution=gts) for f in funcs]
            results[f"preset{step}"] = np.nansum(np.array(parts, dtype=float), axis=0)
            preset_reward.commit()
        results["preset_iou"] = preset_reward.state_dict()["/iou"]["values"]

        # the documented wiring with a plain DrSegReward, and a plain ranked preset called as
        # TRL calls a reward function: shared across ranks by default (were per-GPU windows)
        plain = DrSegReward()
        plain_funcs = drseg_reward_funcs(plain)
        plain_preset = preset("seg-zero", ranked=True)
        for step in range(2):
            texts, gts = _texts(step)
            part = _split(step, rank)
            for f in plain_funcs:
                f(texts[part], solution=gts[part])
            plain.commit()
            seg_texts, seg_gts = _segzero(step, rank)
            plain_preset(seg_texts, ground_truth=seg_gts)
            plain_preset.commit()
        results["plain_window"] = plain.normalizer.window
        results["plain_preset_iou"] = plain_preset.state_dict()["/iou"]["values"]
        per_task = preset("seg-zero", ranked=True, task_key="task")
        try:
            per_task(seg_texts, ground_truth=seg_gts, task=["a"] * len(seg_texts))
            results["task_error"] = np.array("none")
        except ValueError as e:
            results["task_error"] = np.array(str(e))

        # one rank sends NaN: both must raise ValueError, neither may hang
        bad = _batch(0, rank)
        if rank == 1:
            bad[0, 1] = np.nan
        try:
            norm.rank(bad)
            results["error"] = np.array("none")
        except ValueError as e:
            results["error"] = np.array(str(e))
        # one rank sends text: it raises TypeError, the other ValueError, neither hangs
        try:
            norm.rank([["a", "b", "c"]] if rank == 0 else _batch(0, rank))
            results["type_error"] = np.array("none")
        except (TypeError, ValueError) as e:
            results["type_error"] = np.array(f"{type(e).__name__}: {e}")
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **results)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tmp_path):
    ctx = mp.start_processes(
        _worker,
        args=(str(tmp_path / "rendezvous"), str(tmp_path)),
        nprocs=WORLD,
        start_method="spawn",
        join=False,
    )
    while not ctx.join(timeout=120):
        pass
    got = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(WORLD)]

    single = _small()
    for step in range(STEPS):
        full = np.concatenate([_batch(step, r) for r in range(WORLD)])
        want = single.rank_and_stage(full)
        want_t = single.rank(full.astype(np.float32)).astype(np.float32)
        start = 0
        for r in range(WORLD):
            n = len(_batch(step, r))
            np.testing.assert_array_equal(got[r][f"staged{step}"], want[start : start + n])
            np.testing.assert_array_equal(got[r][f"torch{step}"], want_t[start : start + n])
            start += n
        single.commit()
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["window"], single.window)
    full = np.concatenate([_batch(9, r) for r in range(WORLD)])
    want = single.update_and_rank(full)
    np.testing.assert_array_equal(
        np.concatenate([got[0]["update_and_rank"], got[1]["update_and_rank"]]), want
    )
    np.testing.assert_array_equal(got[0]["empty"], single.rank(_batch(5, 0)))
    assert got[1]["empty"].shape == (0, 3)

    reward = DrSegReward()
    for step in range(2):
        texts, gts = _texts(step)
        want = np.array(reward(texts, ground_truth=gts))
        reward.commit()
        np.testing.assert_array_equal(
            np.concatenate([got[r][f"reward{step}"] for r in range(WORLD)]), want
        )

    # every TRL batch staged once on both ranks, identical windows, the same as one process
    single_trl = DrSegReward()
    for step in range(3):
        rows = [_texts(0 if r == 1 else step) for r in range(WORLD)]
        texts = [t for r, (ts, _) in enumerate(rows) for t in ts[_split(step, r)]]
        gts = [g for r, (_, gs) in enumerate(rows) for g in gs[_split(step, r)]]
        single_trl(texts, ground_truth=gts)
        single_trl.commit()
    assert len(single_trl.normalizer) == 128 + 3 * 10
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["trl_window"], single_trl.normalizer.window)

    single_preset = preset("seg-zero", True)
    for step in range(2):
        batches = [_segzero(step, r) for r in range(WORLD)]
        want = single_preset.score([t for ts, _ in batches for t in ts],
                                   [g for _, gs in batches for g in gs])["reward"]  # fmt: skip
        single_preset.commit()
        got_step = np.concatenate([got[r][f"preset{step}"] for r in range(WORLD)])
        np.testing.assert_allclose(got_step, want, atol=1e-12)
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["preset_iou"],
                                      single_preset.state_dict()["/iou"]["values"])  # fmt: skip

    single_plain = DrSegReward()
    for step in range(2):
        texts, gts = _texts(step)
        single_plain(texts, ground_truth=gts)
        single_plain.commit()
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["plain_window"], single_plain.normalizer.window)
        np.testing.assert_array_equal(got[r]["plain_preset_iou"],
                                      single_preset.state_dict()["/iou"]["values"])  # fmt: skip
        assert "task_key='task'" in str(got[r]["task_error"])

    assert "NaN" in str(got[1]["error"])
    assert "rank(s) [1]" in str(got[0]["error"])
    assert str(got[0]["type_error"]).startswith("TypeError: values must be real numbers")
    assert str(got[1]["type_error"]).startswith("ValueError: rank(s) [0]")


def test_without_a_process_group_it_is_the_plain_normalizer():
    assert not dist.is_initialized()
    norm = DistributedRankNormalizer(_small())
    plain = _small()
    rows = _batch(0, 0)
    np.testing.assert_array_equal(norm.rank_and_stage(rows), plain.rank_and_stage(rows))
    assert norm.world_size == 1 and norm.commit() == plain.commit()
