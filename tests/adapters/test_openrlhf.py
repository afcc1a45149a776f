"""The OpenRLHF adapter, loaded and called by OpenRLHF's own SingleTurnAgentExecutor.

openrlhf pins flash-attn (no CPU build), so scripts/test.sh installs it with ``--no-deps`` plus
the few pure-Python modules its reward path imports; without it the executor tests skip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rankreward.adapters._shared import reset_shared_rewards
from rankreward.adapters.openrlhf import OpenRLHFReward, reward_func_from_env, split_response
from rankreward.normalize import AutoCommitNormalizer, RankNormalizer
from rankreward.rewards.recipes.drseg import DrSegReward, build_prompt
from rankreward.testing.synthetic import synthetic_batch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "openrlhf_reward.py"


@pytest.fixture(autouse=True)
def _fresh():
    reset_shared_rewards()
    yield
    reset_shared_rewards()


@pytest.mark.parametrize(
    ("query", "prompt", "want"),
    [
        # chat template, image placeholder expanded in the decoded query
        (
            "<|im_start|>user\n<|image_pad|><|image_pad|>q<|im_end|>\n<|im_start|>assistant\nA<|im_end|>",
            "<|im_start|>user\n<|image_pad|>q<|im_end|>\n<|im_start|>assistant\n",
            "A",
        ),
        # two assistant turns in the prompt: the response follows the second
        (
            "<|im_start|>assistant\nold<|im_end|><|im_start|>assistant\nnew<|im_end|><|endoftext|>",
            "<|im_start|>assistant\nold<|im_end|><|im_start|>assistant\n",
            "new",
        ),
        # the response itself contains the marker: only the prompt's markers count
        (
            "<|im_start|>assistant\nX <|im_start|>assistant\n Y",
            "<|im_start|>assistant\n",
            "X <|im_start|>assistant\n Y",
        ),
        ("plain prompt: answer", "plain prompt: ", "answer"),  # no template: prefix
        ("unrelated", "nothing alike", "unrelated"),
    ],
)
def test_split_response(query, prompt, want):
    assert split_response(query, prompt) == want


def test_env_configuration():
    fn = reward_func_from_env({"RANKREWARD_COMMIT_EVERY": "64", "RANKREWARD_LENIENT": "1"})
    assert fn.commit_every == 64 and fn.options["strict"] is False
    with pytest.raises(ValueError, match="commit_every is required"):
        reward_func_from_env({})(["q"], ["p"], ['[{"bbox_2d": [0, 0, 1, 1], "point_2d": [0, 0]}]'])


def test_batch_call_matches_drseg_reward():
    texts, gts = synthetic_batch(10, np.random.default_rng(0), max_objects=5)
    prompt = "<|im_start|>assistant\n"
    fn = OpenRLHFReward(commit_every=10, share="local")
    out = fn([prompt + t + "<|im_end|>" for t in texts], [prompt] * 10, gts)
    want = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), 10)).score(texts, gts)
    np.testing.assert_allclose(out["rewards"].numpy(), want["reward"].astype(np.float32))
    np.testing.assert_allclose(out["scores"].numpy(), (want["reward"] / 8).astype(np.float32))
    np.testing.assert_allclose(out["extra_logs"]["drseg_x1"].numpy(), want["x1"], rtol=1e-6)
    with pytest.raises(ValueError, match="queries"):
        fn(["a"], [], [])


class _FakeEngine:
    """Stands in for a vLLM engine actor: returns a fixed response per prompt index."""

    def __init__(self, tokenizer, responses: dict[str, str]):
        self.tokenizer = tokenizer
        self.responses = responses

    async def generate(self, prompt_token_ids, params, multi_modal_data=None):
        prompt = self.tokenizer.decode(prompt_token_ids)
        text = self.responses[prompt] + "<|im_end|>"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        out = SimpleNamespace(token_ids=ids, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


def test_openrlhf_executor_loads_and_calls_the_file(monkeypatch):
    agent = pytest.importorskip(
        "openrlhf.utils.agent", reason="openrlhf is not installed (scripts/test.sh installs it)"
    )
    from rankreward.testing.tiny_vlm import build_tiny_tokenizer

    n = 12
    monkeypatch.setenv("RANKREWARD_COMMIT_EVERY", str(n))
    monkeypatch.setenv("RANKREWARD_SHARE", "local")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(EXAMPLE))
    tok = build_tiny_tokenizer()
    texts, gts = synthetic_batch(n, np.random.default_rng(4), max_objects=4)
    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "content": build_prompt(f"object {i}")}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for i in range(n)
    ]
    engine = _FakeEngine(tok, dict(zip(prompts, texts, strict=True)))
    params = SimpleNamespace(max_tokens=4096, logprobs=None)

    async def run():
        # OpenRLHF runs many executions at once; their reward calls overlap in threads
        return await asyncio.gather(
            *(
                executor.execute(p, g, params, 8192, tok, engine)
                for p, g in zip(prompts, gts, strict=True)
            )
        )

    outputs = asyncio.run(run())
    want = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), n)).score(texts, gts)
    got = np.array([float(o["reward"][0]) for o in outputs])
    np.testing.assert_allclose(got, want["reward"].astype(np.float32))
    logs = outputs[0]["extra_logs"]
    assert {"drseg_x1", "drseg_x1_rank", "drseg_format", "drseg_num_problems"} <= set(logs)
    assert float(outputs[0]["scores"][0]) == pytest.approx(want["reward"][0] / 8)
