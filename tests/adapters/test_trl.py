from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rankreward.adapters.trl import STATE_FILE, RankNormalizerCallback, RewardFunctions
from rankreward.rewards.recipes.drseg import DrSegReward
from rankreward.testing.synthetic import synthetic_batch

ROOT = Path(__file__).resolve().parents[2]


def test_reward_functions_share_one_scoring_and_sum_to_the_reward():
    rng = np.random.default_rng(0)
    completions, gts = synthetic_batch(16, rng)
    reward = DrSegReward()
    shared = RewardFunctions(reward)
    logged, extra = {}, {}
    funcs = shared.all()
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    parts = [
        f(
            chat,
            solution=gts,
            log_metric=logged.__setitem__,
            log_extra=extra.__setitem__,
            trainer_state=None,
        )
        for f in funcs
    ]
    assert reward.normalizer.num_staged == 16, "scored once, not once per function"
    total = np.sum(parts, axis=0)
    np.testing.assert_allclose(total, DrSegReward().score(completions, gts)["reward"])
    assert {"drseg/x1", "drseg/x3_rank", "drseg/num_problems"} <= set(logged)
    assert len(extra["drseg_problems"]) == 16
    with pytest.raises(TypeError, match="solution"):
        funcs[0](completions)


def test_callback_commits_saves_and_restores(tmp_path):
    reward = DrSegReward()
    cb = RankNormalizerCallback(reward)
    completions, gts = synthetic_batch(8, np.random.default_rng(1))
    reward(completions, gts)
    args = SimpleNamespace(output_dir=str(tmp_path))
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    cb.on_step_end(args, state, None)
    cb.on_step_end(args, state, None)  # nothing staged: a no-op
    assert cb.commits == 1 and len(reward.normalizer) == 136
    cb.on_save(args, state, None)
    restored = DrSegReward()
    RankNormalizerCallback(restored, resume_from=tmp_path / "checkpoint-1").on_train_begin(
        args, state, None
    )
    np.testing.assert_array_equal(restored.normalizer.window, reward.normalizer.window)
    with pytest.raises(FileNotFoundError, match=STATE_FILE):
        RankNormalizerCallback(restored, resume_from=tmp_path).on_train_begin(args, state, None)


def _example():
    spec = importlib.util.spec_from_file_location("trl_drseg", ROOT / "examples" / "trl_drseg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_training_runs_and_resumes(tmp_path, capsys):
    pytest.importorskip("trl")
    example = _example()
    out = tmp_path / "run"
    assert (
        example.main(["--tiny", "--output-dir", str(out), "--max-steps", "2", "--save-steps", "2"])
        == 0
    )
    text = capsys.readouterr().out
    assert "step   1: reward=" in text and "step   2: reward=" in text and "accuracy=" in text
    saved = out / "checkpoint-2" / STATE_FILE
    assert (out / "checkpoint-2" / "model.safetensors").exists()
    assert example.main(["--tiny", "--output-dir", str(out), "--max-steps", "3", "--resume"]) == 0
    text = capsys.readouterr().out
    assert "steps: 3" in text
    final, before = DrSegReward(), DrSegReward()
    final.load(out / STATE_FILE)
    before.load(saved)
    # the resumed run continued from the checkpoint's window
    assert len(final.normalizer) == 128 + 3 * 4
    np.testing.assert_array_equal(
        final.normalizer.window[: len(before.normalizer)], before.normalizer.window
    )


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 1, 0, 2)])
def test_identical_consecutive_batches_are_each_scored_once(order):
    """A collapsed policy hands TRL the same batch twice: each is staged (was memoised on
    content, so the second was dropped and a distributed rank skipped its collective)."""
    completions, gts = synthetic_batch(8, np.random.default_rng(1))
    reward = DrSegReward()
    funcs = RewardFunctions(reward).all()
    for step in range(3):
        for i in order:
            funcs[i](completions, solution=gts)
        assert reward.normalizer.num_staged == 8 * (step + 1)
    # a function used alone scores every call
    reward2 = DrSegReward()
    acc = RewardFunctions(reward2).function("accuracy")
    acc(completions, solution=gts)
    acc(completions, solution=gts)
    assert reward2.normalizer.num_staged == 16


@pytest.mark.slow
def test_tiny_qwen3_vl_grpo_with_the_rel1000_reward(tmp_path, monkeypatch, capsys):
    # the 2026 stack: a tiny Qwen3-VL (built, saved, reloaded) trained by TRL's GRPOTrainer with
    # the Dr. Seg reward in Qwen3-VL's 0-1000 frame; the logged raw metrics are the reward's
    pytest.importorskip("trl")
    from rankreward.rewards import DrSegReward
    from rankreward.rewards.recipes.drseg import reward as drseg_reward

    calls = []
    original = drseg_reward.DrSegReward.score

    def recording(self, completions, ground_truth, tasks=None, context=None, *, stage=True):
        out = original(self, completions, ground_truth, tasks, context, stage=stage)
        calls.append((list(completions), list(ground_truth), dict(context or {}), out))
        return out

    monkeypatch.setattr(drseg_reward.DrSegReward, "score", recording)
    example = _example()
    args = example.parse_args(["--tiny", "--tiny-family", "qwen3-vl", "--output-dir",
                               str(tmp_path / "run"), "--max-steps", "1"])  # fmt: skip
    result = example.run(args)
    assert "answer frame: rel1000" in capsys.readouterr().out
    assert type(result["trainer"].model).__name__ == "Qwen3VLForConditionalGeneration"
    assert result["reward"].recipe.frame == "rel1000"
    assert calls, "the reward was never called"
    texts, gts, context, out = calls[0]
    assert [list(s) for s in context["image_size"]] == [[56, 56]] * len(texts)
    fresh = DrSegReward(frame="rel1000", accuracy="raw").score(
        [t if isinstance(t, str) else t[0]["content"] for t in texts],
        gts,
        context={"image_size": context["image_size"]},
    )
    for key in ("x1", "x2", "x3"):
        np.testing.assert_array_equal(out[key], fresh[key])
    logged = next(e for e in result["trainer"].state.log_history if "drseg/x1" in e)
    assert logged["drseg/x1"] == pytest.approx(float(np.mean(out["x1"])), abs=1e-6)


def test_an_older_trl_is_refused_with_a_clear_message(monkeypatch):
    """On Python 3.10 pip resolves TRL 1.14, whose GRPOTrainer fails with Qwen-VL under
    transformers 5; building the TRL reward functions says so instead of failing mid-step."""
    from importlib import metadata

    from rankreward.adapters import trl as adapter

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "1.14.2" if name == "trl" else real(name))
    with pytest.raises(ImportError, match=r"needs TRL >= 1.15 .*found TRL 1.14.2"):
        adapter.drseg_reward_funcs()
    with pytest.raises(ImportError, match=r"Python 3\.11"):
        adapter.preset_reward_funcs("seg-zero")
    monkeypatch.setattr(metadata, "version", real)
    assert len(adapter.drseg_reward_funcs()) == 4
