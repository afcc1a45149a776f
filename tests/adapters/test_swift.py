"""ms-swift: the plugin file through ms-swift's own plugin loading (``import_external_file``),
reward resolution (``resolve_reward_funcs``) and reward calling (``compute_rewards_per_func``
with ``GRPOSample`` rows and a trainer state), and the callback through ``callbacks_map``.

ms-swift 4.6 pins trl < 1.0, so this runs in ``.venv-swift`` (scripts/test.sh creates it;
``RANKREWARD_SWIFT=0`` skips it); in the main environment it is skipped."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("swift.rewards", reason="ms-swift is not installed (see .venv-swift)")
torch = pytest.importorskip("torch")

from swift.callbacks import callbacks_map  # noqa: E402
from swift.rewards import orms  # noqa: E402
from swift.rl_core.data import GRPOSample  # noqa: E402
from swift.rl_core.grpo_algorithm import compute_rewards_per_func  # noqa: E402
from swift.rlhf_trainers.utils import resolve_reward_funcs  # noqa: E402
from swift.utils import import_external_file  # noqa: E402

from rankreward.adapters import swift as adapter  # noqa: E402
from rankreward.normalize import RankNormalizer  # noqa: E402
from rankreward.rewards.recipes.drseg import DrSegReward  # noqa: E402
from rankreward.testing.synthetic import synthetic_batch  # noqa: E402
from rankreward.testing.tiny_vlm import build_tiny_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "swift_drseg_plugin.py"
PARTS = ["drseg_format", "drseg_look", "drseg_accuracy", "drseg_non_repeat"]


@pytest.fixture(autouse=True)
def fresh():
    adapter.reset()
    yield
    adapter.reset()


def _samples(seed: int, n: int, tokenizer) -> tuple[list[GRPOSample], list[str], list[str]]:
    texts, gts = synthetic_batch(n, np.random.default_rng(seed), max_objects=4)
    # what the trainer holds: the decoded response tokens
    decoded = [tokenizer.decode(tokenizer(t)["input_ids"], skip_special_tokens=True) for t in texts]
    samples = [
        GRPOSample(messages=[{"role": "user", "content": "<image>find it"},
                             {"role": "assistant", "content": d}],
                   extra={"solution": g})
        for d, g in zip(decoded, gts, strict=True)
    ]  # fmt: skip
    return samples, decoded, gts


def test_plugin_registers_through_swifts_loader_and_scores_each_batch_once():
    import_external_file(str(PLUGIN))
    assert set(adapter.REWARD_NAMES) <= set(orms) and adapter.CALLBACK_NAME in callbacks_map
    funcs, names = resolve_reward_funcs(["drseg", *PARTS], args=types.SimpleNamespace())
    assert names[0] == "drseg_orm"
    tokenizer = build_tiny_tokenizer()
    reference = DrSegReward(RankNormalizer.paper())
    for step in range(3):
        samples, texts, gts = _samples(step, 8, tokenizer)
        state = types.SimpleNamespace(global_step=step)
        got = compute_rewards_per_func(samples, funcs, None, torch.device("cpu"),
                                       trainer_state=state).numpy()  # fmt: skip
        want = reference.score(texts, gts)
        reference.commit()
        np.testing.assert_allclose(got[:, 0], want["reward"], rtol=0, atol=1e-6)  # float32
        # the four components sum to the whole reward
        np.testing.assert_allclose(got[:, 1:].sum(axis=1), got[:, 0], atol=1e-5)
        # one scoring per batch: 8 rows staged, not 5 x 8
        assert adapter.shared_functions().reward.normalizer.num_staged == 8
    # steps commit on the trainer's global_step, without the callback
    assert len(adapter.shared_functions().reward.normalizer) == 128 + 2 * 8


def test_callback_commits_saves_and_resumes(tmp_path):
    import_external_file(str(PLUGIN))
    funcs, _ = resolve_reward_funcs(["drseg"], args=None)
    tokenizer = build_tiny_tokenizer()
    args = types.SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint=None)
    callback = callbacks_map[adapter.CALLBACK_NAME](args, trainer=None)
    state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
    for step in range(2):
        samples, _, _ = _samples(10 + step, 6, tokenizer)
        compute_rewards_per_func(samples, funcs, None, torch.device("cpu"), trainer_state=state)
        state.global_step += 1
        callback.on_step_end(args, state, None)
    callback.on_save(args, state, None)
    saved = tmp_path / "checkpoint-2" / "rankreward_normalizer.npz"
    window = adapter.shared_functions().reward.normalizer.window.copy()
    assert saved.exists() and len(window) == 128 + 2 * 6
    adapter.reset()
    resumed = types.SimpleNamespace(output_dir=str(tmp_path),
                                    resume_from_checkpoint=str(tmp_path / "checkpoint-2"))  # fmt: skip
    callbacks_map[adapter.CALLBACK_NAME](resumed, trainer=None).on_train_begin(resumed, state, None)
    np.testing.assert_array_equal(adapter.shared_functions().reward.normalizer.window, window)
    missing = types.SimpleNamespace(resume_from_checkpoint=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="--callbacks rankreward"):
        callbacks_map[adapter.CALLBACK_NAME](missing, None).on_train_begin(missing, state, None)


def test_ablation_rows_from_the_environment():
    fns = adapter.shared_functions({"RANKREWARD_LOOK": "0", "RANKREWARD_ACCURACY": "raw"})
    assert fns.reward.look is False and fns.reward.accuracy == "raw"


def test_a_preset_registers_its_components_and_the_callback_drives_its_windows(
    monkeypatch, tmp_path
):
    from rankreward.rewards import preset
    from rankreward.testing.recipe_batches import segzero_batch

    monkeypatch.setenv("RANKREWARD_PRESET", "seg-zero")
    monkeypatch.setenv("RANKREWARD_RANKED", "1")
    import_external_file(str(PLUGIN))
    adapter.register()  # the plugin registered at its first import; now with the preset
    parts = [f"seg_zero_{c.name}" for c in preset("seg-zero").components]
    funcs, _ = resolve_reward_funcs(["seg-zero", *parts], args=types.SimpleNamespace())
    args = types.SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint=None)
    callback = callbacks_map[adapter.CALLBACK_NAME](args, trainer=None)
    reference = preset("seg-zero", True)
    state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
    for step in range(2):
        texts, gts = segzero_batch(8, np.random.default_rng(step), malformed=0.3)
        samples = [GRPOSample(messages=[{"role": "user", "content": "<image>segment it"},
                                        {"role": "assistant", "content": t}],
                              extra={"solution": g}) for t, g in zip(texts, gts, strict=True)]  # fmt: skip
        got = compute_rewards_per_func(samples, funcs, None, torch.device("cpu"),
                                       trainer_state=state).numpy()  # fmt: skip
        want = reference.score(texts, gts)
        reference.commit()
        np.testing.assert_allclose(got[:, 0], want["reward"], atol=1e-5)  # float32
        np.testing.assert_allclose(np.nansum(got[:, 1:], axis=1), got[:, 0], atol=1e-5)
        state.global_step += 1
        callback.on_step_end(args, state, None)
    reward = adapter.shared_functions().reward
    np.testing.assert_array_equal(reward.state_dict()["/iou"]["values"],
                                  reference.state_dict()["/iou"]["values"])  # fmt: skip
    callback.on_save(args, state, None)
    assert (tmp_path / "checkpoint-2" / "rankreward_normalizer.npz").exists()
