"""EasyR1: the reward file through EasyR1's reward-manager contract, as its source states it
(``verl/workers/reward/function.py``: ``AutoRewardManager`` loads the file as
``custom_reward_fn``, reads ``REWARD_NAME`` / ``REWARD_TYPE``, binds
``reward_function_kwargs`` with ``functools.partial`` and, in batch mode, calls it with
``{"response", "response_length", "ground_truth"}`` dicts decoded without special tokens,
puts ``overall`` on each response's last token and collects every key as a metric). EasyR1
is not on the package registry, so that contract is restated here."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from rankreward.adapters import _shared, easyr1
from rankreward.normalize import RankNormalizer
from rankreward.rewards.recipes.drseg import DrSegReward
from rankreward.testing.synthetic import synthetic_batch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "easyr1_reward.py"


pytestmark = pytest.mark.usefixtures("fresh_adapter_state")


class RewardManager:
    """EasyR1's ``AutoRewardManager`` in batch mode, restated (no torch tensors, no Ray)."""

    def __init__(self, path: Path, name: str, kwargs: dict, tokenizer) -> None:
        spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["custom_reward_fn"] = module
        spec.loader.exec_module(module)
        self.reward_name = getattr(module, "REWARD_NAME", "unknown")
        self.reward_type = getattr(module, "REWARD_TYPE", "batch")
        self.reward_fn = partial(getattr(module, name), **kwargs)
        self.tokenizer = tokenizer

    def compute_reward(self, responses: list[list[int]], ground_truths: list[str]):
        assert self.reward_type == "batch"
        inputs = [
            {"response": self.tokenizer.decode(ids, skip_special_tokens=True),
             "response_length": len(ids), "ground_truth": gt}
            for ids, gt in zip(responses, ground_truths, strict=True)
        ]  # fmt: skip
        scores = self.reward_fn(inputs)
        reward_tensor = [[0.0] * len(ids) for ids in responses]
        metrics = defaultdict(list)
        for i, score in enumerate(scores):
            reward_tensor[i][len(responses[i]) - 1] = score["overall"]
            for key, value in score.items():
                metrics[key].append(value)
        return reward_tensor, dict(metrics)


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    from rankreward.testing.tiny_vlm import build_tiny_tokenizer

    return build_tiny_tokenizer()


def _step(tokenizer, seed: int, n: int) -> tuple[list[list[int]], list[str], list[str]]:
    texts, gts = synthetic_batch(n, np.random.default_rng(seed), max_objects=4)
    ids = [tokenizer(t + "<|im_end|>", add_special_tokens=False)["input_ids"] for t in texts]
    return ids, texts, gts


def test_easyr1_manager_loads_the_file_and_steps_like_the_paper(tokenizer, tmp_path):
    n = 8
    kwargs = {"rollout_size": n, "share": "local", "checkpoint_dir": str(tmp_path)}
    train = RewardManager(EXAMPLE, "compute_score", kwargs, tokenizer)
    assert (train.reward_name, train.reward_type) == ("drseg", "batch")
    reference = DrSegReward(RankNormalizer.paper())
    for step in range(3):
        ids, texts, gts = _step(tokenizer, step, n)
        reward_tensor, metrics = train.compute_reward(ids, gts)
        want = reference.score(texts, gts)  # decode(skip_special_tokens) gives the texts back
        reference.commit()
        got = [row[len(i) - 1] for row, i in zip(reward_tensor, ids, strict=True)]
        np.testing.assert_array_equal(got, want["reward"])
        np.testing.assert_array_equal(metrics["overall"], want["reward"])
        for key in ("format", "look", "x1", "x1_rank", "x3_rank", "non_repeat", "num_problems"):
            np.testing.assert_array_equal(metrics[key], want[key])
        saved = tmp_path / easyr1.STATE_DIR / f"step_{step + 1}.npz"
        assert saved.exists()  # one commit per training call: once per step
    window = _shared.shared_reward(commit_every=n, share="local",
                                   state_file=str(tmp_path / "rankreward" / "step_{step}.npz"),
                                   ).normalizer.window  # fmt: skip
    np.testing.assert_array_equal(window, reference.normalizer.window)


def test_validation_calls_rank_without_touching_the_window(tokenizer):
    n = 6
    kwargs = {"rollout_size": n, "share": "local", "resume": False}
    train = RewardManager(EXAMPLE, "compute_score", kwargs, tokenizer)
    for step in range(2):
        train.compute_reward(*_step(tokenizer, step, n)[::2])
    reward = _shared.shared_reward(commit_every=n, share="local")
    before = reward.normalizer.window.copy()
    ids, texts, gts = _step(tokenizer, 9, 10)  # a validation batch: another size
    _, metrics = train.compute_reward(ids, gts)
    np.testing.assert_array_equal(reward.normalizer.window, before)
    assert reward.normalizer.num_staged == 0
    expected = DrSegReward(RankNormalizer.paper())
    expected.normalizer.load_state_dict(reward.normalizer.state_dict())
    np.testing.assert_array_equal(
        metrics["overall"], expected.score(texts, gts, stage=False)["reward"]
    )


def test_resume_follows_easyr1s_checkpoint_tracker(tokenizer, tmp_path):
    n = 5
    kwargs = {"rollout_size": n, "share": "local", "checkpoint_dir": str(tmp_path)}
    first = RewardManager(EXAMPLE, "compute_score", kwargs, tokenizer)
    windows = []
    for step in range(3):
        first.compute_reward(*_step(tokenizer, step, n)[::2])
        windows.append(_shared.shared_reward(
            commit_every=n, share="local",
            state_file=str(tmp_path / "rankreward" / "step_{step}.npz")).normalizer.window.copy())  # fmt: skip
    # EasyR1 saved global_step_2 and the job died; the restarted job resumes from step 2
    (tmp_path / easyr1.TRACKER).write_text(json.dumps({"last_global_step": 2}))
    _shared.reset_shared_rewards()
    easyr1._resume_decided.clear()
    assert easyr1.resume_file(tmp_path) == tmp_path / "rankreward" / "step_2.npz"
    again = RewardManager(EXAMPLE, "compute_score", kwargs, tokenizer)
    ids, texts, gts = _step(tokenizer, 2, n)
    _, metrics = again.compute_reward(ids, gts)
    resumed = DrSegReward()
    resumed.load(tmp_path / "rankreward" / "step_2.npz")
    np.testing.assert_array_equal(metrics["overall"], resumed.score(texts, gts)["reward"])
    assert len(windows[1]) == 128 + 2 * n
    # a tracker pointing at a step whose window was never saved is an error, not a new window
    (tmp_path / easyr1.TRACKER).write_text(json.dumps({"last_global_step": 7}))
    with pytest.raises(FileNotFoundError, match="global_step_7"):
        easyr1.resume_file(tmp_path)


def test_bad_configuration_and_inputs_raise():
    good = [{"response": "x", "response_length": 1, "ground_truth": "[]"}]
    with pytest.raises(ValueError, match="rollout_size"):
        easyr1.compute_score(good, rollout_size=0)
    with pytest.raises(ValueError, match=r"reward_inputs\[0\]"):
        easyr1.compute_score([{"response": "x"}], rollout_size=1, share="local")
    with pytest.raises(TypeError, match="list of"):
        easyr1.compute_score("x", rollout_size=1, share="local")
    out = easyr1.compute_score(good, rollout_size=1, share="local", resume=False)
    assert out[0]["format"] == 0.0 and out[0]["num_problems"] >= 1  # a reason, not a crash


def test_released_prompt_template_for_easyr1_renders_the_released_prompt():
    jinja2 = pytest.importorskip("jinja2")
    from rankreward.rewards.recipes.drseg import build_prompt

    template = (ROOT / "examples" / "easyr1_look_to_confirm.jinja").read_text().strip()
    for question in ("The Red Cup.", "..a dog?.", "where is the cat"):
        # EasyR1's dataset renders format_prompt with content=the question
        assert jinja2.Template(template).render(content=question) == build_prompt(question)
