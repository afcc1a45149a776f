"""One reward object and one windows contract (issue 34): `DrSegReward()` is `preset("drseg")`,
every window host keeps the `Windows` protocol, old state files still load, and the answer frame
is mapped by one arithmetic."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.normalize import LocalWindows
from rankreward.normalize.windows import Windows, WindowSpec
from rankreward.rewards import (
    AnswerReader,
    Component,
    ComponentReward,
    DrSegReward,
    VisionReasonerReward,
    preset,
)
from rankreward.testing.synthetic import synthetic_batch

DATA = Path(__file__).parent.parent / "data" / "state"


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.booleans())
def test_visionreasoner_is_one_object(seed, ranked):
    a, b = preset("visionreasoner", ranked=ranked), VisionReasonerReward(ranked=ranked)
    assert type(a) is type(b) and a.parts == b.parts == ["format", "non_repeat", "accuracy"]
    assert a.logged_keys == b.logged_keys and a.owner == b.owner and a.name == "visionreasoner"
    texts, gts = synthetic_batch(12, np.random.default_rng(seed), max_objects=5)
    x, y = a.score(texts, gts), b.score(texts, gts)
    assert set(x) == set(y)
    for key in [*a.logged_keys, "reward"]:
        np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    assert a.metrics(x) == b.metrics(y)


def test_renamed_keys_warn_and_forward():
    texts, gts = synthetic_batch(6, np.random.default_rng(0), max_objects=3)
    for accuracy, new in (("ranked", "x1_rank"), ("raw", "x1")):
        out = DrSegReward(accuracy=accuracy).score(texts, gts)
        with pytest.warns(FutureWarning, match=f"'r1' is now '{new}'"):
            old = out["r1"]
        np.testing.assert_array_equal(old, out[new])
    out = VisionReasonerReward().score(texts, gts)
    with pytest.warns(FutureWarning):
        assert out["r2"].tolist() == [0.0] * 6
    with pytest.raises(KeyError):
        out["nothing"]


def test_strict_warns_and_forwards():
    with pytest.warns(FutureWarning, match="compat='lenient'"):
        reward = DrSegReward(strict=False)
    assert reward.compat == "lenient"


def test_service_takes_drseg_reward_like_the_preset(tmp_path):
    from rankreward.serve import RewardService

    texts, gts = synthetic_batch(8, np.random.default_rng(4), max_objects=4)
    answers = []
    for make, folder in ((DrSegReward, "a"), (lambda: preset("drseg"), "b")):
        service = RewardService(make(), name="drseg", state_dir=tmp_path / folder)
        first = service.score({"completions": texts, "ground_truth": gts})
        assert service.commit()["step"] == 1
        second = service.score({"completions": texts, "ground_truth": gts})
        service.save()
        resumed = RewardService(make(), name="drseg", state_dir=tmp_path / folder)
        assert resumed.step_now() == 1 and resumed.resumed_from is not None
        assert resumed.state()["windows"] == service.state()["windows"]
        again = resumed.score({"completions": texts, "ground_truth": gts, "stage": False})
        answers.append((first, second, again))
    assert answers[0] == answers[1]
    assert answers[0][1]["rewards"] == answers[0][2]["rewards"]  # resumed mid-step exactly


def _pair_reward(windows=None):
    """Two components ranked together in one 2-metric window."""
    return ComponentReward(
        [
            Component("a", lambda ans, g: [float(len(x)) for x in ans], ranked=True, window="w"),
            Component(
                "b", lambda ans, g: [float(x.count("1")) for x in ans], ranked=True, window="w"
            ),
        ],
        windows=windows,
    )


class _InProcessActor:
    """A Ray actor handle whose calls run in this process (``.remote`` calls the body)."""

    def __init__(self, body):
        self.body = body

    def __getattr__(self, name):
        method = getattr(self.body, name)
        return type("Remote", (), {"remote": staticmethod(method)})


class _NoRay:
    @staticmethod
    def get(value):
        return value


def _in_process_ray_windows(spec=None, commit_every=None):
    """`RayWindows` talking to its actor body in this process (the same code path as a real
    actor, minus Ray's transport)."""
    from rankreward.distributed.ray_actor import RayWindows, _WindowsHost

    config = {"kind": "windows", "spec": (spec or WindowSpec()).to_dict(),
              "commit_every": commit_every, "state_file": None, "resume_from": None}  # fmt: skip
    windows = object.__new__(RayWindows)
    windows.name, windows.commit_every, windows.owner = "in-process", commit_every, None
    windows._ray, windows._actor = _NoRay(), _InProcessActor(_WindowsHost(config))
    return windows


def test_a_shared_two_metric_window_is_the_same_through_local_and_ray_windows():
    rng = np.random.default_rng(2)
    local = _pair_reward()
    remote = _pair_reward(_in_process_ray_windows())
    assert isinstance(local.windows, Windows) and isinstance(remote.windows, Windows)
    for _ in range(4):
        texts = ["".join(rng.choice(list("0123"), rng.integers(1, 9))) for _ in range(6)]
        a, b = local(texts, ground_truth=[None] * 6), remote(texts, ground_truth=[None] * 6)
        assert a == b
        assert local.commit() == remote.commit() == 6  # rows, each holding both metrics
    sa, sb = local.state_dict(), remote.state_dict()
    assert sorted(sa) == sorted(sb) == ["/w", "__counts__", "__owner__"]
    np.testing.assert_array_equal(sa["/w"]["values"], sb["/w"]["values"])
    assert sa["/w"]["values"].shape == (128 + 24, 2)
    assert remote.windows.sizes() == local.windows.sizes() == {"/w": (152, 0)}


@pytest.mark.slow
def test_a_shared_two_metric_window_through_a_real_ray_actor():
    ray = pytest.importorskip("ray")
    from rankreward.distributed.ray_actor import RayWindows

    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        windows = RayWindows("rankreward-test-pair")
        local, remote = _pair_reward(), _pair_reward(windows)
        texts = ["0101", "1", "222", "11111"]
        assert local(texts, ground_truth=[None] * 4) == remote(texts, ground_truth=[None] * 4)
        local.commit(), remote.commit()
        np.testing.assert_array_equal(
            local.state_dict()["/w"]["values"], remote.state_dict()["/w"]["values"]
        )
        windows.kill()
    finally:
        ray.shutdown()


def test_a_failed_load_changes_nothing():
    reward = preset("seg-zero", ranked=True, task_key="task")
    gt = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
    text = '<think>t</think><answer>{"bbox": [0, 0, 9, 9], "points_1": [2, 2], "points_2": [5, 5]}</answer>'
    reward([text] * 2, ground_truth=[gt] * 2, task=["a", "b"])
    reward.commit()
    before = reward.state_dict()
    state = reward.state_dict()
    state["b/iou"] = dict(state["b/iou"], values=np.full((3, 1), np.nan))  # the last key is bad
    state["a/iou"] = dict(state["a/iou"], values=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        reward.load_state_dict(state)
    after = reward.state_dict()
    assert sorted(after) == sorted(before)
    for key in before:
        if key.startswith(("a/", "b/")):
            np.testing.assert_array_equal(after[key]["values"], before[key]["values"])
    assert after["__counts__"] == before["__counts__"]


@pytest.mark.parametrize("name", ["drseg_reward_0.1.npz", "drseg_preset_0.1.npz"])
def test_state_files_of_the_earlier_release_load(name):
    """Kept files written by rankreward 0.1 (`DrSegReward.save`: one normalizer's state;
    ``preset("drseg").save``: one window per column), each after two steps and three staged
    rows: both resume the one object exactly, and rank a probe batch as 0.1 did."""
    probe = json.loads((DATA / "drseg_0.1_probe.json").read_text())
    texts, gts = synthetic_batch(probe["n"], np.random.default_rng(probe["seed"]),
                                 max_objects=probe["max_objects"])  # fmt: skip
    for reward in (DrSegReward(), preset("drseg")):
        reward.load(DATA / name)
        window = reward.normalizer
        assert len(window) == 128 + 13 and window.num_staged == 3
        assert reward.score(texts, gts, stage=False)["reward"].tolist() == probe["reward"]
    counted = LocalWindows(commit_every=4, resume_from=DATA / name)  # resumed before its reward
    reward = preset("drseg", windows=counted)
    assert reward.score(texts, gts, stage=False)["reward"].tolist() == probe["reward"]


def test_a_normalizer_file_for_a_reward_of_another_layout_is_refused():
    with pytest.raises(ValueError, match="single-normalizer state file"):
        preset("seg-zero", ranked=True).load(DATA / "drseg_reward_0.1.npz")
    windows = LocalWindows(resume_from=DATA / "drseg_reward_0.1.npz")
    with pytest.raises(ValueError, match="single-normalizer state file"):
        windows.rank_and_stage({"/x": np.zeros(1)}, 1)  # its layout is not known yet


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 4000), st.sampled_from(["rel1000", "rel1"]))
def test_reader_and_drseg_recipe_map_every_coordinate_to_the_same_bits(width, height, frame):
    """`AnswerReader` and the Dr. Seg recipe share rankreward.frames' arithmetic: every integer
    coordinate 0..1000 (rel1000; its thousandths for rel1) lands on the same float64."""
    from rankreward.rewards.recipes.drseg import DrSegRecipe

    values = np.arange(1001, dtype=np.float64)
    if frame == "rel1":
        values = values / 1000.0
    rows = np.stack([values, values, values, values, values, values], axis=1)
    recipe = DrSegRecipe(frame=frame)
    mapped = recipe._to_pixels(rows, np.array([0]), np.array([len(rows)]),
                               {"image_size": [(width, height)]})  # fmt: skip
    reader = AnswerReader(frame=frame)
    for k in (0, 1, 333, 500, 999, 1000):
        v = values[k]
        text = json.dumps([{"bbox_2d": [v, v, v, v], "point_2d": [v, v]}])
        answer = reader.read(f"<answer>{text}</answer>", (width, height))
        np.testing.assert_array_equal(answer.boxes[0], mapped[k, :4])
        np.testing.assert_array_equal(answer.points[0], mapped[k, 4:])
    # and the one public map gives the same bits for the whole range
    from rankreward.frames import to_pixels

    np.testing.assert_array_equal(to_pixels(rows, frame, (width, height)), mapped)


def test_no_deprecated_warning_on_the_new_paths():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        texts, gts = synthetic_batch(4, np.random.default_rng(1))
        reward = DrSegReward()
        out = reward.score(texts, gts)
        reward.metrics(out), reward.logged_keys, [out[k] for k in reward.logged_keys]
