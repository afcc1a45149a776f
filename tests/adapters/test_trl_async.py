"""TRL's experimental async GRPO: the reward goes through that trainer's own scoring path
(``_AsyncRolloutLoop._score_group``: one group per call, reward functions run with
``asyncio.to_thread``), survives the pickling its spawned rollout process needs, and commits
by count. The trainer itself needs a vLLM server, so the loop object is built without one."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import pickle
import threading

import numpy as np
import pytest

from rankreward.adapters.trl import async_drseg_reward
from rankreward.normalize import AutoCommitNormalizer, RankNormalizer
from rankreward.rewards.recipes.drseg import DrSegReward
from rankreward.testing.synthetic import synthetic_batch

G = 4  # num_generations
STEP = 3 * G  # completions per optimizer step


def _groups(n: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    texts, gts = synthetic_batch(n * G, np.random.default_rng(seed), max_objects=4)
    return [(texts[i * G : (i + 1) * G], gts[i * G : (i + 1) * G]) for i in range(n)]


def _score_group_path():
    async_worker = pytest.importorskip("trl.experimental.async_grpo.async_rollout_worker")
    from accelerate import PartialState
    from trl.trainer.utils import get_callable_name

    PartialState()  # the worker logs through accelerate, which needs its state (one process)

    def score(reward, texts, gts):
        loop = object.__new__(async_worker._AsyncRolloutLoop)
        loop.reward_funcs = [reward]
        loop.reward_func_names = [get_callable_name(reward)]
        loop._env_reward_types = []
        loop._provides_rollout_reward = False
        group = async_worker.RolloutGroup(
            prompts=[[{"role": "user", "content": "find it"}]] * len(texts),
            reward_kwargs={"solution": list(gts)},
            completions=[[{"role": "assistant", "content": t}] for t in texts],
            completions_ids=[[0]] * len(texts),
            completions_sequences=[
                [async_worker.TrainingSequence([1, 2], [0, 1], [0.0, -0.5], rollout_id=k)]
                for k in range(len(texts))
            ],
            tool_call_counts=[0] * len(texts),
            tool_failure_counts=[0] * len(texts),
            model_version=0,
            group_id=0,
            env_rewards=[None] * len(texts),
            rollout_rewards=[None] * len(texts),
        )
        samples = asyncio.run(loop._score_group(group))
        return [s.metrics["reward"] for s in samples]

    return score


def test_async_scoring_path_equals_the_paper_step_by_step():
    score = _score_group_path()
    reward = pickle.loads(pickle.dumps(async_drseg_reward(STEP)))  # as the spawned child gets it
    reference = DrSegReward(RankNormalizer.paper())
    groups = _groups(9)
    for k, (texts, gts) in enumerate(groups):
        got = score(reward, texts, gts)
        want = reference.score(texts, gts)["reward"]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        if (k + 1) % (STEP // G) == 0:
            reference.commit()  # the paper's snapshot: once per optimizer step
    assert reward.windows.commits == 3
    np.testing.assert_array_equal(reward.normalizer.window, reference.normalizer.window)


def test_concurrent_groups_lose_nothing():
    """Groups scored from 6 threads at once (as asyncio.to_thread does): every row is staged
    exactly once and the window commits once per step's worth of rows."""
    reward = async_drseg_reward(STEP)
    groups = _groups(12, seed=3)
    barrier = threading.Barrier(6)

    def work(part):
        barrier.wait()
        for texts, gts in part:
            reward(completions=texts, solution=gts)

    threads = [threading.Thread(target=work, args=(groups[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reward.windows.commits == 12 * G // STEP
    assert len(reward.normalizer) == 128 + 12 * G and reward.normalizer.num_staged == 0


def _child(payload: bytes, groups, queue) -> None:
    reward = pickle.loads(payload)
    for texts, gts in groups:
        reward(completions=texts, solution=gts)
    queue.put((reward.windows.commits, reward.normalizer.window))


def test_reward_works_in_a_spawned_process(tmp_path):
    """What AsyncRolloutWorker does: pickle the reward, spawn, score there; per-step window
    files written from the child."""
    reward = async_drseg_reward(STEP, state_file=str(tmp_path / "step-{step}.npz"))
    groups = _groups(6, seed=5)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(pickle.dumps(reward), groups, queue))
    proc.start()
    commits, window = queue.get(timeout=240)
    proc.join(timeout=60)
    assert proc.exitcode == 0 and commits == 2
    local = AutoCommitNormalizer(RankNormalizer.paper(), STEP)
    same = DrSegReward(local)
    for texts, gts in groups:
        same(texts, solution=gts)
    np.testing.assert_array_equal(window, local.window)
    restored = DrSegReward()
    restored.load(tmp_path / "step-2.npz")
    np.testing.assert_array_equal(restored.normalizer.window, window)
