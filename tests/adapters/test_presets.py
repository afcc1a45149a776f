"""Recipe presets through every trainer adapter: verl (per-sample and batch), EasyR1 (training,
validation, checkpoints), OpenRLHF and TRL (one function per component). Each must give the
preset's own numbers, log one key per component, and commit all of a preset's windows together
every ``commit_every`` samples, however many values a component's window received."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rankreward.adapters import _shared, easyr1, openrlhf, trl, verl
from rankreward.rewards import Component, ComponentReward, LocalWindows, preset
from rankreward.rewards.rows import score_rows
from rankreward.testing.recipe_batches import perception_r1_batch, rec_batch, segzero_batch

pytestmark = pytest.mark.usefixtures("fresh_adapter_state")


def _reference(name: str, ranked: bool, batches, every: int, **options) -> list[dict]:
    """The preset scored batch by batch in one process, committed by hand every step."""
    reward = preset(name, ranked, **options)
    out, seen = [], 0
    for texts, gts in batches:
        out.append(reward.score(texts, gts))
        seen += len(texts)
        if seen % every == 0:
            reward.commit()
    return out


def test_verl_batch_and_per_sample_calls_equal_the_preset():
    every = 12
    steps = [segzero_batch(every, np.random.default_rng(s), malformed=0.3) for s in range(3)]
    want = _reference("seg-zero", True, steps, every)
    kwargs = {"commit_every": every, "share": "local", "preset": "seg-zero", "ranked": True}
    for (texts, gts), w in zip(steps, want, strict=True):
        rows = verl.compute_score_batch(["seg"] * every, texts, gts, None, **kwargs)
        np.testing.assert_array_equal([r["score"] for r in rows], w["reward"])
        np.testing.assert_array_equal([r["iou_rank"] for r in rows], w["iou_rank"])
        np.testing.assert_array_equal([r["iou"] for r in rows], w["iou"])  # NaN: no box
        assert set(rows[0]) == {"score", *preset("seg-zero", True).logged_keys}
    windows = _shared.shared_reward(**kwargs).windows
    assert windows.commits == 3 and windows.pending == 0

    _shared.reset_shared_rewards()
    for (texts, gts), w in zip(steps, want, strict=True):  # one call per rollout
        got = [verl.compute_score("seg", t, g, {}, **kwargs)["score"]
               for t, g in zip(texts, gts, strict=True)]  # fmt: skip
        np.testing.assert_array_equal(got, w["reward"])


def test_windows_commit_together_when_a_component_does_not_apply():
    """The IoU window of a step with unreadable answers gets fewer values than the step has
    samples; it must still commit at the step boundary with every other window."""
    every = 8
    kwargs = {"commit_every": every, "share": "local", "preset": "seg-zero", "ranked": True}
    texts, gts = segzero_batch(every, np.random.default_rng(0), malformed=0.5)
    readable = sum('"bbox"' in t for t in texts)
    assert 0 < readable < every
    verl.compute_score_batch(["seg"] * every, texts, gts, None, **kwargs)
    reward = _shared.shared_reward(**kwargs)
    assert reward.windows.commits == 1
    assert len(reward.window("iou")) == 128 + readable
    assert reward.window("iou").num_staged == 0


def test_verl_task_windows_from_data_source_and_context_from_extra_info(tmp_path):
    from PIL import Image

    texts, gts = rec_batch(6, np.random.default_rng(1))
    sources = ["refcoco", "refcoco+", "refcoco", "refcocog", "refcoco", "refcoco+"]
    infos = [{"image_grid_thw": (1, 43, 43), "image_size": (640, 480)} for _ in texts]
    kwargs = {"commit_every": 6, "share": "local", "preset": "vlm-r1-rec", "ranked": True,
              "task_key": "data_source"}  # fmt: skip
    rows = verl.compute_score_batch(sources, texts, gts, infos, **kwargs)
    reward = preset("vlm-r1-rec", True, task_key="source")
    want = reward.score(texts, gts, sources, context={"image_grid_thw": [(1, 43, 43)] * 6,
                                                      "image_size": [(640, 480)] * 6})  # fmt: skip
    np.testing.assert_array_equal([r["score"] for r in rows], want["reward"])
    shared = _shared.shared_reward(**kwargs)
    assert sorted(shared.windows.keys()) == [
        "refcoco+/accuracy", "refcoco/accuracy", "refcocog/accuracy"]  # fmt: skip
    assert len(shared.window("accuracy", "refcoco")) == 128 + 3
    # VLM-R1 reads the image size from the file when no size column is given
    image = tmp_path / "image.png"
    Image.new("RGB", (640, 480)).save(image)
    _shared.reset_shared_rewards()
    infos = [{"image_grid_thw": (1, 43, 43), "image_path": [str(image)]} for _ in texts]
    rows = verl.compute_score_batch(sources, texts, gts, infos, **kwargs)
    np.testing.assert_array_equal([r["score"] for r in rows], want["reward"])
    with pytest.raises(TypeError, match="image_grid_thw"):
        verl.compute_score_batch(sources, texts, gts, None, **{**kwargs, "commit_every": 7})


def test_easyr1_preset_training_validation_and_resume(tmp_path):
    n = 8
    kwargs = {"rollout_size": n, "share": "local", "checkpoint_dir": str(tmp_path),
              "preset": "perception-r1", "ranked": True}  # fmt: skip
    steps = [perception_r1_batch(n, np.random.default_rng(s), malformed=0.25) for s in range(3)]
    want = _reference("perception-r1", True, steps, n)
    for (texts, gts), w in zip(steps, want, strict=True):
        rows = [{"response": t, "response_length": 5, "ground_truth": g}
                for t, g in zip(texts, gts, strict=True)]  # fmt: skip
        got = easyr1.compute_score(rows, **kwargs)
        np.testing.assert_array_equal([r["overall"] for r in got], w["reward"])
        assert set(got[0]) == {"overall", "grounding", "grounding_rank", "format", "num_problems"}
    val_texts, val_gts = perception_r1_batch(5, np.random.default_rng(9))
    val_rows = [{"response": t, "response_length": 5, "ground_truth": g}
                for t, g in zip(val_texts, val_gts, strict=True)]  # fmt: skip
    reward = _shared.shared_reward(commit_every=n, share="local", preset="perception-r1",
                                   ranked=True, state_file=str(tmp_path / "rankreward" /
                                   "step_{step}.npz"), resume_from=None)  # fmt: skip
    assert reward.windows.commits == 3  # the adapter's own reward object
    before = reward.state_dict()["/grounding"]["values"].copy()
    easyr1.compute_score(val_rows, **kwargs)  # validation: ranks, never stages
    assert reward.window("grounding").num_staged == 0
    np.testing.assert_array_equal(reward.state_dict()["/grounding"]["values"], before)
    assert sorted(p.name for p in (tmp_path / "rankreward").iterdir()) == [
        "step_1.npz", "step_2.npz", "step_3.npz"]  # fmt: skip

    # EasyR1 resumes from global_step_2: the window of step 2 is loaded
    (tmp_path / "checkpoint_tracker.json").write_text(json.dumps({"last_global_step": 2}))
    _shared.reset_shared_rewards()
    easyr1._resume_decided.clear()
    texts, gts = steps[2]
    rows = [{"response": t, "response_length": 5, "ground_truth": g}
            for t, g in zip(texts, gts, strict=True)]  # fmt: skip
    got = easyr1.compute_score(rows, **kwargs)
    np.testing.assert_array_equal([r["overall"] for r in got], want[2]["reward"])


def test_openrlhf_preset_logs_each_component_and_scales_scores():
    texts, gts = segzero_batch(6, np.random.default_rng(3), malformed=0.3)
    fn = openrlhf.OpenRLHFReward(6, share="local", preset="seg-zero")
    prompt = "<|im_start|>assistant\n"
    out = fn([prompt + t + "<|im_end|>" for t in texts], [prompt] * 6, gts)
    want = preset("seg-zero").score(texts, gts)
    np.testing.assert_allclose(out["rewards"].numpy(), want["reward"], rtol=1e-6)
    np.testing.assert_allclose(out["scores"].numpy(), want["reward"] / 5.0, rtol=1e-6)
    assert sorted(out["extra_logs"]) == sorted(f"seg_zero_{k}" for k in
                                               preset("seg-zero").logged_keys)  # fmt: skip
    env = {
        "RANKREWARD_COMMIT_EVERY": "6",
        "RANKREWARD_PRESET": "seg-zero",
        "RANKREWARD_RANKED": "1",
    }
    assert openrlhf.reward_func_from_env(env).options["ranked"] is True


def test_trl_functions_per_component_sum_to_the_preset_and_score_once():
    funcs, reward = trl.preset_reward_funcs("seg-zero", ranked=True)
    reference = preset("seg-zero", True)
    for step in range(2):
        texts, gts = segzero_batch(8, np.random.default_rng(step), malformed=0.3)
        logged: dict[str, float] = {}
        parts = [f(texts, solution=gts, log_metric=logged.__setitem__) for f in funcs]
        want = reference.score(texts, gts)
        total = np.nansum(np.array(parts, dtype=float), axis=0)
        np.testing.assert_allclose(total, want["reward"], atol=1e-12)
        assert reward.window("iou").num_staged == np.isfinite(want["iou"]).sum()  # scored once
        assert "seg-zero/iou" in logged and "seg-zero/iou_rank" in logged  # <name>/<key>
        reward.commit()
        reference.commit()
    # a component that does not apply is None for TRL (left out of its nansum)
    assert None in parts[0]


def test_a_sample_no_component_applies_to_raises_where_trainers_cannot_skip_it():
    only_iou = ComponentReward(
        [Component("iou", lambda a, g: [None if x == "?" else 0.5 for x in a], ranked=True)],
        windows=LocalWindows(commit_every=2),
    )
    with pytest.raises(ValueError, match="no component of the reward applies to sample 1"):
        score_rows(only_iou, ["ok", "?"], [None, None])
    # one builder: no preset is the Dr. Seg reward, ranked or not
    assert _shared.shared_reward(commit_every=2, ranked=False).accuracy == "raw"


def _batch(name: str, n: int = 8):
    """(texts, ground truths, per-sample columns) in the preset's published format."""
    from rankreward.testing import recipe_batches as rb
    from rankreward.testing.synthetic import synthetic_batch

    rng = np.random.default_rng(5)
    makers = {"drseg": lambda: synthetic_batch(n, rng, max_objects=3),
              "visionreasoner": lambda: synthetic_batch(n, rng, max_objects=3),
              "seg-zero": lambda: rb.segzero_batch(n, rng, malformed=0.25, group=4),
              "vlm-r1-rec": lambda: rb.rec_batch(n, rng, group=4),
              "vlm-r1-ovd": lambda: rb.ovd_batch(n, rng, group=4),
              "visual-rft": lambda: rb.visual_rft_batch(n, rng, group=4),
              "perception-r1": lambda: rb.perception_r1_batch(n, rng, malformed=0.25, group=4)}  # fmt: skip
    texts, gts = makers[name]()
    columns = {}
    if name == "vlm-r1-rec":
        columns = {"image_grid_thw": [(1, 30, 40)] * n, "image_size": [(640, 480)] * n}
    return texts, gts, columns


@pytest.mark.parametrize("ranked", [False, True])
@pytest.mark.parametrize(
    "name",
    sorted(
        set(__import__("rankreward.rewards").rewards.PRESETS)
        - set(__import__("rankreward.rewards").rewards.MASK_PRESETS)
    ),
)
def test_every_preset_through_verl_openrlhf_and_trl(name, ranked):
    if name == "visual-rft":
        pytest.importorskip("math_verify")
    texts, gts, columns = _batch(name)
    n = len(texts)
    want = preset(name, ranked).score(texts, gts, context=columns)
    reward = preset(name, ranked)
    keys = {"score", *reward.logged_keys, *reward.renamed_keys}  # 0.1 key names until 0.3.0
    # verl: columns arrive in extra_info
    infos = [{k: v[i] for k, v in columns.items()} for i in range(n)]
    rows = verl.compute_score_batch(["src"] * n, texts, gts, infos, commit_every=n, share="local",
                                    preset=name, ranked=ranked)  # fmt: skip
    assert set(rows[0]) == keys
    np.testing.assert_array_equal([r["score"] for r in rows], want["reward"])
    # TRL: one function per component; their sum is the reward
    funcs, _ = trl.preset_reward_funcs(name, ranked, distributed=False)
    parts = np.array([f(texts, solution=gts, **columns) for f in funcs], dtype=float)
    np.testing.assert_allclose(np.nansum(parts, axis=0), want["reward"], rtol=0, atol=1e-12)
    # OpenRLHF: labels only, so a preset that needs other columns says which
    _shared.reset_shared_rewards()  # the same configuration would share verl's (committed) windows
    fn = openrlhf.OpenRLHFReward(n, share="local", preset=name, ranked=ranked)
    prompt = "<|im_start|>assistant\n"
    queries = [prompt + t + "<|im_end|>" for t in texts]
    if columns:
        with pytest.raises(TypeError, match="image_grid_thw"):
            fn(queries, [prompt] * n, gts)
        return
    out = fn(queries, [prompt] * n, gts)
    np.testing.assert_allclose(out["rewards"].numpy(), want["reward"].astype(np.float32))
