"""The verl adapter called by verl's own reward managers (needs verl; scripts/test.sh runs this
file in .venv-verl, where verl 0.9 is installed with its dependencies)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

verl = pytest.importorskip(
    "verl", reason="verl is not installed here; scripts/test.sh runs this file in .venv-verl"
)
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo.reward import get_custom_reward_fn  # noqa: E402

from rankreward.adapters._shared import reset_shared_rewards  # noqa: E402
from rankreward.normalize import AutoCommitNormalizer, RankNormalizer  # noqa: E402
from rankreward.rewards.recipes.drseg import DrSegReward  # noqa: E402
from rankreward.testing.synthetic import synthetic_batch  # noqa: E402
from rankreward.testing.tiny_vlm import build_tiny_tokenizer  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "verl_reward.py"


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture(autouse=True)
def _fresh():
    reset_shared_rewards()
    yield
    reset_shared_rewards()


def _load(name: str, **reward_kwargs):
    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": str(EXAMPLE),
                    "name": name,
                    "reward_kwargs": reward_kwargs,
                }
            }
        }
    )
    return get_custom_reward_fn(config)


def _dataproto(tokenizer, texts, gts) -> DataProto:
    """A rollout batch as verl builds it: left-padded prompts, right-padded responses."""
    pad = tokenizer.pad_token_id
    prompt_ids = [tokenizer("<|im_start|>user\nfind it<|im_end|>\n")["input_ids"] for _ in texts]
    resp_ids = [tokenizer(t)["input_ids"] for t in texts]
    p_len = max(map(len, prompt_ids))
    r_len = max(map(len, resp_ids))
    prompts = torch.full((len(texts), p_len), pad)
    responses = torch.full((len(texts), r_len), pad)
    mask = torch.zeros((len(texts), p_len + r_len), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompt_ids, resp_ids, strict=True)):
        prompts[i, p_len - len(p) :] = torch.tensor(p)
        responses[i, : len(r)] = torch.tensor(r)
        mask[i, p_len - len(p) : p_len + len(r)] = 1
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array(["drseg"] * len(texts), dtype=object),
            "reward_model": np.array([{"ground_truth": g} for g in gts], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(texts))], dtype=object),
        },
    )


def _expected(steps, every):
    reward = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), every))
    return [reward.score(texts, gts) for texts, gts in steps]


def _steps(n_steps=2, per_step=12, seed=0):
    rng = np.random.default_rng(seed)
    return [synthetic_batch(per_step, rng, max_objects=6) for _ in range(n_steps)]


def test_legacy_naive_manager(tokenizer):
    from verl.workers.reward_manager.naive import NaiveRewardManager

    steps = _steps()
    fn = _load("compute_score", commit_every=12, share="local")
    manager = NaiveRewardManager(tokenizer, num_examine=0, compute_score=fn)
    for (texts, gts), want in zip(steps, _expected(steps, 12), strict=True):
        data = _dataproto(tokenizer, texts, gts)
        out = manager(data, return_dict=True)
        lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[1] :].sum(-1)
        got = out["reward_tensor"][torch.arange(len(texts)), lengths - 1]
        np.testing.assert_allclose(got.numpy(), want["reward"].astype(np.float32))
        info = out["reward_extra_info"]
        np.testing.assert_array_equal(info["x1"], want["x1"])
        np.testing.assert_array_equal(info["x2_rank"], want["x2_rank"])
        np.testing.assert_array_equal(info["r2"], want["x2_rank"])  # the 0.1 name, kept a release
        np.testing.assert_array_equal(info["format"], want["format"])


def test_reward_loop_manager_concurrent_samples(tokenizer):
    """verl 0.9's reward loop scores samples concurrently in executor threads; within a step
    every sample ranks against the same snapshot, so the order does not matter."""
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

    steps = _steps(seed=1)
    fn = _load("compute_score", commit_every=12, share="local")
    manager = NaiveRewardManager(OmegaConf.create({}), tokenizer, fn)
    for (texts, gts), want in zip(steps, _expected(steps, 12), strict=True):
        data = _dataproto(tokenizer, texts, gts)

        singles = [data[i : i + 1] for i in range(len(texts))]
        results = manager.loop.run_until_complete(
            asyncio.gather(*(manager.run_single(one) for one in singles))
        )
        got = [r["reward_score"] for r in results]
        np.testing.assert_array_equal(got, want["reward"])
        assert [r["reward_extra_info"]["r1"] for r in results] == want["x1_rank"].tolist()


def test_batch_manager(tokenizer):
    from verl.workers.reward_manager.batch import BatchRewardManager

    steps = _steps(seed=2)
    fn = _load("compute_score_batch", commit_every=12, share="local")
    manager = BatchRewardManager(tokenizer, num_examine=0, compute_score=fn)
    for (texts, gts), want in zip(steps, _expected(steps, 12), strict=True):
        data = _dataproto(tokenizer, texts, gts)
        out = manager(data, return_dict=True)
        np.testing.assert_array_equal(out["reward_extra_info"]["score"], want["reward"])


def test_missing_commit_every_is_a_clear_error(tokenizer):
    fn = _load("compute_score")
    with pytest.raises(ValueError, match="commit_every is required"):
        fn(data_source="drseg", solution_str="x", ground_truth="[]", extra_info={})


def test_batch_manager_with_a_ranked_preset(tokenizer):
    """A recipe preset through verl's batch manager: its total on the last token, every
    component (NaN where it does not apply) in ``reward_extra_info``."""
    from verl.workers.reward_manager.batch import BatchRewardManager

    from rankreward.rewards import preset
    from rankreward.testing.recipe_batches import segzero_batch

    fn = _load("compute_score_batch", commit_every=8, share="local", preset="seg-zero",
               ranked=True)  # fmt: skip
    manager = BatchRewardManager(tokenizer, num_examine=0, compute_score=fn)
    reference = preset("seg-zero", True)
    for step in range(2):
        texts, gts = segzero_batch(8, np.random.default_rng(step), malformed=0.3)
        decoded = [tokenizer.decode(tokenizer(t)["input_ids"]) for t in texts]
        out = manager(_dataproto(tokenizer, texts, gts), return_dict=True)
        want = reference.score(decoded, gts)
        reference.commit()
        info = out["reward_extra_info"]
        np.testing.assert_array_equal(info["score"], want["reward"])
        np.testing.assert_array_equal(info["iou_rank"], want["iou_rank"])
        assert set(info) == {"score", *reference.logged_keys}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _v1_config(path: Path, manager: str, actor: str):
    return OmegaConf.create(
        {
            "actor_rollout_ref": {"model": {"path": str(path), "tokenizer_path": None}},
            "reward": {
                "num_workers": 2,
                "custom_reward_function": {
                    "path": str(EXAMPLE),
                    "name": "compute_score",
                    "reward_kwargs": {"commit_every": 12, "share": "auto", "actor_name": actor},
                },
                "reward_manager": {
                    "source": "register",
                    "name": manager,
                    "module": {"path": None, "name": None},
                },
                "reward_model": {"enable": False},
            },
        }
    )


@pytest.mark.parametrize("manager", ["naive", "remote"])
def test_v1_reward_loop_workers_share_one_window(tokenizer, tmp_path, ray_local, manager):
    """verl 0.9's V1 reward loop, as its RewardLoopManager drives it: two RewardLoopWorker
    actors score halves of each step concurrently (threads with "naive", separate Ray
    processes with "remote"); one Ray named window, so every reward equals one process."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    tokenizer.save_pretrained(tmp_path / "tok")
    config = _v1_config(tmp_path / "tok", manager, f"v1-{manager}")
    workers = [ray_local.remote(RewardLoopWorker).remote(config) for _ in range(2)]
    steps = _steps(seed=1)
    for (texts, gts), want in zip(steps, _expected(steps, 12), strict=True):
        data = _dataproto(tokenizer, texts, gts)
        halves = ray_local.get([w.compute_score_batch.remote(part)
                                for w, part in zip(workers, (data[0:6], data[6:12]), strict=True)])  # fmt: skip
        got = [one["reward_score"] for half in halves for one in half]
        np.testing.assert_array_equal(got, want["reward"])
        extra = [one["reward_extra_info"]["x1"] for half in halves for one in half]
        np.testing.assert_array_equal(extra, want["x1"])


def test_v1_async_steps_overlapping_lose_nothing(tokenizer, tmp_path, ray_local):
    """An asynchronous mode: the next step's samples are scored while this step's are in
    flight. Every sample is staged once: after both steps the window holds exactly the values a
    single process stages for the same rows (in some arrival order), and two steps were
    committed."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    from rankreward.adapters._shared import shared_reward

    tokenizer.save_pretrained(tmp_path / "tok")
    config = _v1_config(tmp_path / "tok", "naive", "v1-async")
    workers = [ray_local.remote(RewardLoopWorker).remote(config) for _ in range(2)]
    steps = _steps(seed=2)
    data = [_dataproto(tokenizer, texts, gts) for texts, gts in steps]
    parts = [data[0][0:6], data[0][6:12], data[1][0:6], data[1][6:12]]
    ray_local.get([workers[k % 2].compute_score_batch.remote(p) for k, p in enumerate(parts)])
    shared = shared_reward(commit_every=12, share="auto", actor_name="v1-async")
    seen = DrSegReward()  # the actor's windows, read back into a local reward
    seen.windows.load_state_dict(shared.windows.state_dict())
    single = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), 12))
    for texts, gts in steps:
        single.score(texts, gts)
    got = np.sort(seen.normalizer.window, axis=0)
    np.testing.assert_array_equal(got, np.sort(single.normalizer.window, axis=0))
    assert len(seen.normalizer) == 128 + 24


def test_v1_resume_replays_the_uninterrupted_run(tokenizer, tmp_path, ray_local):
    """Resuming verl's V1 trainer: the reward workers save a window file per step
    (``state_file``); after the job dies (its Ray window actor with it), workers started with
    ``resume_from`` = the last step's file score the remaining steps exactly as the run that
    never stopped."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    tokenizer.save_pretrained(tmp_path / "tok")
    steps = _steps(n_steps=3, seed=3)
    want = _expected(steps, 12)
    state = tmp_path / "normalizer" / "step-{step}.npz"

    def workers(actor: str, **kwargs):
        config = _v1_config(tmp_path / "tok", "naive", actor)
        config.reward.custom_reward_function.reward_kwargs.update(kwargs)
        return [ray_local.remote(RewardLoopWorker).remote(config) for _ in range(2)]

    def run(pool, texts, gts):
        data = _dataproto(tokenizer, texts, gts)
        halves = ray_local.get([w.compute_score_batch.remote(part)
                                for w, part in zip(pool, (data[0:6], data[6:12]), strict=True)])  # fmt: skip
        return [one["reward_score"] for half in halves for one in half]

    first = workers("v1-before", state_file=str(state))
    for k in range(2):
        np.testing.assert_array_equal(run(first, *steps[k]), want[k]["reward"])
    assert sorted(p.name for p in state.parent.iterdir()) == ["step-1.npz", "step-2.npz"]
    for w in first:
        ray_local.kill(w)
    ray_local.kill(ray_local.get_actor("v1-before"))  # the job is gone, its window with it

    resumed = workers(
        "v1-after", state_file=str(state), resume_from=str(state.parent / "step-2.npz")
    )
    np.testing.assert_array_equal(run(resumed, *steps[2]), want[2]["reward"])
    assert (state.parent / "step-3.npz").exists()  # the step count came back from the file


@pytest.mark.parametrize("aggregation", ["grpo", "gdpo"])
@pytest.mark.parametrize("scale", ["group", "none"])
def test_group_advantages_equal_verls_own_estimators(aggregation, scale):
    """rankreward.group_advantages(convention="verl") against verl 0.9.1's
    compute_grpo_outcome_advantage / compute_gdpo_outcome_advantage, called as verl's trainer
    calls them (token-level rewards at each response's last token, uid groups, a group of one
    included, varied response lengths)."""
    from verl.trainer.ppo.core_algos import (
        compute_gdpo_outcome_advantage,
        compute_grpo_outcome_advantage,
    )

    from rankreward import group_advantages

    rng = np.random.default_rng(7)
    groups = np.array([0, 0, 0, 0, 5, 5, 5, 9, 3, 3, 3, 3])  # 9: a group of one
    n, width, prompt = len(groups), 6, 3
    rewards = {"format": rng.integers(0, 2, n).astype(float), "iou": rng.uniform(0, 1, n),
               "l1": rng.uniform(0, 50, n)}  # fmt: skip
    weights = {"format": 1.0, "iou": 2.0, "l1": 0.5}
    lengths = rng.integers(1, width + 1, n)
    mask = torch.zeros(n, width)
    for i, length in enumerate(lengths):
        mask[i, :length] = 1
    norm = scale == "group"
    if aggregation == "grpo":
        total = sum(weights[k] * v for k, v in rewards.items())
        token = torch.zeros(n, width)
        token[torch.arange(n), torch.tensor(lengths - 1)] = torch.tensor(total, dtype=torch.float32)
        want, _ = compute_grpo_outcome_advantage(token, mask, groups, norm_adv_by_std_in_grpo=norm)
    else:
        attention = torch.cat([torch.ones(n, prompt), mask], dim=1).long()
        config = {"gdpo_reward_keys": list(rewards), "gdpo_reward_weights": list(weights.values())}
        want, _ = compute_gdpo_outcome_advantage(
            torch.zeros(n, width), mask, groups, norm_adv_by_std_in_grpo=norm, config=config,
            non_tensor_batch={k: v.astype(np.float32) for k, v in rewards.items()},
            batch={"prompts": torch.zeros(n, prompt), "attention_mask": attention},
        )  # fmt: skip
    got = group_advantages(rewards, groups, weights, aggregation, scale, convention="verl",
                           lengths=lengths)  # fmt: skip
    np.testing.assert_allclose(want[:, 0].numpy(), got, rtol=1e-4, atol=1e-5)  # verl: float32
