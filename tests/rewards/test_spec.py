"""Reward spec: the Dr. Seg preset equals DrSegReward exactly step after step, the
VisionReasoner preset equals VisionReasonerReward, frames round-trip, not-applicable values
never enter a window or a sum, per-task windows stay separate, state restores exactly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.normalize import RankNormalizer
from rankreward.rewards import Component, ComponentReward, from_pixels, preset, to_pixels
from rankreward.rewards.recipes.drseg import DrSegReward, VisionReasonerReward
from rankreward.testing.synthetic import synthetic_batch


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_drseg_preset_equals_drseg_reward(seed, sizes):
    rng = np.random.default_rng(seed)
    spec, reference = preset("drseg"), DrSegReward()
    # one object: the same type, parts, logged keys, owner (so state files) and name
    assert type(spec) is type(reference)
    assert spec.parts == reference.parts == ["format", "look", "accuracy", "non_repeat"]
    assert spec.logged_keys == reference.logged_keys and spec.owner == reference.owner
    for n in sizes:  # one optimizer step per batch
        texts, gts = synthetic_batch(n, rng, max_objects=6)
        a, b = spec.score(texts, gts), reference.score(texts, gts)
        assert set(a) == set(b)
        for key in [*spec.logged_keys, "reward"]:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert spec.metrics(a) == reference.metrics(b)
        spec.commit()
        reference.commit()
    np.testing.assert_array_equal(spec.window("accuracy").window, reference.normalizer.window)
    sa, sb = spec.state_dict(), reference.state_dict()
    assert sorted(sa) == sorted(sb) == ["/accuracy", "__counts__", "__owner__"]
    np.testing.assert_array_equal(sa["/accuracy"]["values"], sb["/accuracy"]["values"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_visionreasoner_preset_equals_the_baseline(seed):
    texts, gts = synthetic_batch(16, np.random.default_rng(seed), max_objects=6)
    assert preset("visionreasoner")(texts, ground_truth=gts) == VisionReasonerReward()(
        texts, ground_truth=gts
    )


def test_unranked_drseg_preset_is_the_raw_ablation():
    texts, gts = synthetic_batch(12, np.random.default_rng(3), max_objects=6)
    assert preset("drseg", ranked=False)(texts, ground_truth=gts) == DrSegReward(accuracy="raw")(
        texts, ground_truth=gts
    )
    with pytest.raises(ValueError, match="unknown preset"):
        preset("seg-zero-ish")


sizes = st.tuples(st.integers(1, 4000), st.integers(1, 4000))
coords = st.lists(st.floats(-10, 5000, allow_nan=False), min_size=4, max_size=4)


@given(coords, st.sampled_from(["absolute", "rel1000", "rel1"]), sizes, sizes | st.none())
def test_frames_round_trip(box, frame, image, seen):
    b = np.array([box])
    back = from_pixels(to_pixels(b, frame, image, seen_size=seen), frame, image, seen_size=seen)
    np.testing.assert_allclose(back, b, rtol=1e-12, atol=1e-9)


def test_frames_by_hand_and_torch():
    torch = pytest.importorskip("torch")
    t = torch.tensor([[500, 500]], dtype=torch.float32)
    out = to_pixels(t, "rel1000", (640, 480))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.tolist() == [[320.0, 240.0]]
    assert to_pixels(np.array([[0.5, 0.25]]), "rel1", (640, 480)).tolist() == [[320.0, 120.0]]
    with pytest.raises(ValueError, match="x, y pairs"):
        to_pixels(np.zeros((2, 3)), "rel1", (10, 10))
    with pytest.raises(ValueError, match="image_size"):
        to_pixels(np.zeros((1, 2)), "rel1", (0, 10))
    with pytest.raises(ValueError, match="frame must be"):
        to_pixels(np.zeros((1, 2)), "pixels", (10, 10))


def _count_iou_reward(**kwargs) -> ComponentReward:
    """A mixed-task reward: 'iou' applies to detection samples, 'count' to counting ones."""

    def iou(answers, gts):
        return [a["iou"] if "iou" in a else None for a in answers]

    def count(answers, gts):
        return [float(a["n"] == g) if "n" in a else None for a, g in zip(answers, gts, strict=True)]

    return ComponentReward(
        [Component("iou", iou, ranked=True), Component("count", count, weight=2.0)],
        reader=lambda t: {"iou": float(t[4:])} if t.startswith("iou ") else {"n": int(t[2:])},
        make_window=lambda: RankNormalizer(num_metrics=1, window=64, ties="right"),
        **kwargs,
    )


@given(st.lists(st.one_of(st.floats(0, 1).map(lambda x: f"iou {x}"),
                          st.integers(0, 5).map(lambda n: f"n {n}")), min_size=1, max_size=12))  # fmt: skip
def test_not_applicable_values_never_enter_a_window_or_a_sum(texts):
    reward = _count_iou_reward()
    gts = [3] * len(texts)
    out = reward.score(texts, gts)
    detection = np.array([t.startswith("iou") for t in texts])
    assert np.isnan(out["iou"][~detection]).all() and np.isnan(out["count"][detection]).all()
    want = np.where(detection, out.get("iou_rank", np.zeros(len(texts))), 2.0 * out["count"])
    np.testing.assert_array_equal(out["reward"], want)
    assert reward.window("iou").num_staged == int(detection.sum())


def test_per_task_windows_stay_separate():
    reward = _count_iou_reward(task_key="task")
    texts = ["iou 0.9", "iou 0.1", "iou 0.5"]
    reward(texts, ground_truth=[0, 0, 0], task=["refcoco", "coco", "refcoco"])
    reward.commit()
    assert sorted(reward.window("iou", "refcoco").window[:, 0].tolist()) == [0.5, 0.9]
    assert reward.window("iou", "coco").window[:, 0].tolist() == [0.1]
    with pytest.raises(TypeError, match="task_key"):
        reward(texts, ground_truth=[0, 0, 0])


def test_no_applicable_component_is_none_and_bad_values_raise():
    only_iou = ComponentReward([Component("iou", lambda a, g: [None] * len(a), ranked=True)])
    assert only_iou(["x", "y"], ground_truth=[0, 0]) == [None, None]
    bad = ComponentReward([Component("iou", lambda a, g: [float("inf")] * len(a))])
    with pytest.raises(ValueError, match="returned inf"):
        bad(["x"], ground_truth=[0])
    short = ComponentReward([Component("iou", lambda a, g: [1.0])])
    with pytest.raises(ValueError, match="returned"):
        short(["x", "y"], ground_truth=[0, 0])
    with pytest.raises(ValueError, match="unique"):
        ComponentReward([Component("a", len), Component("a", len)])


def test_state_round_trip_and_pickling_continue_identically():
    texts, gts = synthetic_batch(10, np.random.default_rng(7), max_objects=6)
    first = preset("drseg")
    first(texts, ground_truth=gts)
    first.commit()
    restored = preset("drseg")
    restored.load_state_dict(first.state_dict())
    copy = pickle.loads(pickle.dumps(first))  # presets pickle (TRL's async GRPO spawns)
    more, more_gts = synthetic_batch(10, np.random.default_rng(8), max_objects=6)
    want = first(more, ground_truth=more_gts)
    assert restored(more, ground_truth=more_gts) == want
    assert copy(more, ground_truth=more_gts) == want


def test_each_component_is_logged_over_the_samples_it_applies_to():
    logged = {}
    reward = _count_iou_reward()
    reward(["iou 0.5", "n 3", "n 1"], ground_truth=[3, 3, 3],
           log_metric=lambda k, v: logged.__setitem__(k, v))  # fmt: skip
    # an empty window ranks at its empty_rank, 0.5
    # one scheme: <reward name>/<key> ("custom" for a reward of component functions)
    assert logged == {"custom/iou": 0.5, "custom/iou_rank": 0.5, "custom/count": 0.5,
                      "custom/num_problems": 0.0}  # fmt: skip


def test_save_load_and_the_trl_callback(tmp_path):
    """A preset through TRL's callback: committed once per optimizer step, saved into each
    checkpoint, restored on resume: the resumed reward continues identically."""
    from types import SimpleNamespace

    from rankreward.adapters.trl import STATE_FILE, RankNormalizerCallback

    reward = preset("seg-zero", ranked=True)
    callback = RankNormalizerCallback(reward)
    args = SimpleNamespace(output_dir=str(tmp_path))
    state = SimpleNamespace(global_step=0, is_world_process_zero=True)
    truth = "<box>(10,10),(50,50)</box><points>(20,20),(40,40)</points>"
    texts = [f'<think>t</think><answer>{{"bbox": [{x}, 10, 50, 50], "points_1": [20, 20], '
             f'"points_2": [40, 40]}}</answer>' for x in (10, 20, 30)]  # fmt: skip
    for _ in range(2):
        reward(texts, ground_truth=[truth] * 3)
        state.global_step += 1
        callback.on_step_end(args, state, None)
    callback.on_save(args, state, None)
    assert callback.commits == 2 and len(reward.window("iou")) == 128 + 6
    resumed = preset("seg-zero", ranked=True)
    RankNormalizerCallback(resumed, resume_from=tmp_path / "checkpoint-2").on_train_begin(
        args, state, None
    )
    assert (tmp_path / "checkpoint-2" / STATE_FILE).exists()
    assert resumed(texts, ground_truth=[truth] * 3) == reward(texts, ground_truth=[truth] * 3)
    for name in ("iou", "box_l1", "point_l1"):
        np.testing.assert_array_equal(resumed.window(name).window, reward.window(name).window)


def test_staging_without_commits_warns_once():
    import warnings

    from rankreward.normalize import RankNormalizer
    from rankreward.rewards import LocalWindows

    windows = LocalWindows(lambda: RankNormalizer(num_metrics=1, window=4, prefill=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windows.rank_and_stage({"/iou": np.arange(9.0)}, n_samples=9)  # one big step: fine
        windows.commit()
        for _ in range(63):
            windows.rank_and_stage({"/iou": np.arange(1.0)}, n_samples=1)
    with pytest.warns(RuntimeWarning, match="'/iou' staged without commit"):
        windows.rank_and_stage({"/iou": np.arange(1.0)}, n_samples=1)  # the 64th call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windows.rank_and_stage({"/iou": np.arange(2.0)}, n_samples=2)  # once is enough
