"""RayRankNormalizer: a named actor shared by processes gives the in-process results."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'rankreward[ray]')")

from rankreward.distributed import RayRankNormalizer, RayWindows  # noqa: E402
from rankreward.normalize import AutoCommitNormalizer, RankNormalizer  # noqa: E402
from rankreward.rewards import DrSegReward  # noqa: E402
from rankreward.testing.synthetic import synthetic_batch  # noqa: E402

pytestmark = pytest.mark.slow


def test_needs_ray_running():
    if ray.is_initialized():
        pytest.skip("a Ray session is up in this process")
    with pytest.raises(RuntimeError, match=r"ray\.init"):
        RayRankNormalizer("none")


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="rr-test")
    yield
    ray.shutdown()


def _rows(seed: int, n: int = 5) -> np.ndarray:
    return np.round(np.random.default_rng(seed).random((n, 3)), 1)


def test_actor_equals_in_process(ray_session):
    remote = RayRankNormalizer("equal", window=32, prefill=8)
    local = RankNormalizer.paper(window=32, prefill=8)
    for step in range(4):
        for part in range(3):
            rows = _rows(10 * step + part)
            np.testing.assert_array_equal(remote.rank_and_stage(rows), local.rank_and_stage(rows))
        assert remote.num_staged == local.num_staged
        assert remote.commit() == local.commit()
    np.testing.assert_array_equal(remote.window, local.window)
    np.testing.assert_array_equal(
        remote.update_and_rank(_rows(99)), local.update_and_rank(_rows(99))
    )
    assert len(remote) == len(local)
    torch = pytest.importorskip("torch")
    t = torch.as_tensor(_rows(5))
    out = remote.rank(t)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), local.rank(_rows(5)))
    remote.kill()


def test_state_round_trip_and_config_guard(ray_session, tmp_path):
    remote = RayRankNormalizer("state", commit_every=4, window=16, prefill=2)
    for seed in range(3):
        remote.rank_and_stage(_rows(seed, 2))
    remote.save(tmp_path / "s.npz")
    local = AutoCommitNormalizer(RankNormalizer.paper(window=16, prefill=2), 4)
    local.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(local.window, remote.window)
    assert local.num_staged == remote.info()["staged"] == 2
    with pytest.raises(ValueError, match="already exists with configuration"):
        RayRankNormalizer("state", commit_every=8, window=16, prefill=2)
    remote.kill()


@ray.remote
def _score_in_worker(name: str, seeds: list[int]) -> list[list[float]]:
    """Runs in a Ray worker process: attach to the named actor by name and score."""
    norm = RayRankNormalizer(name, commit_every=6, window=64, prefill=4)
    return [norm.rank_and_stage(_rows(s, 1)).ravel().tolist() for s in seeds]


def test_processes_share_one_window(ray_session):
    owner = RayRankNormalizer("shared", commit_every=6, window=64, prefill=4)
    # two worker processes one after the other: exactly the in-process sequence
    a = ray.get(_score_in_worker.remote("shared", list(range(0, 9))))
    b = ray.get(_score_in_worker.remote("shared", list(range(9, 20))))
    local = AutoCommitNormalizer(RankNormalizer.paper(window=64, prefill=4), 6)
    want = [local.rank_and_stage(_rows(s, 1)).ravel().tolist() for s in range(20)]
    assert a + b == want
    np.testing.assert_array_equal(owner.window, local.window)
    # concurrently: every row lands exactly once, commits by count
    seeds = [list(range(100 + 10 * k, 110 + 10 * k)) for k in range(4)]
    ray.get([_score_in_worker.remote("shared", s) for s in seeds])
    info = owner.info()
    assert info["commits"] == (20 + 40) // 6
    state = owner.state_dict()
    assert len(state["values"]) - 4 + len(state["staged"]) == 60
    owner.kill()


def test_drseg_reward_through_the_actor(ray_session):
    texts, gts = synthetic_batch(24, np.random.default_rng(3), max_objects=5)
    remote = DrSegReward(RayRankNormalizer("reward", commit_every=8))
    local = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), 8))
    for i in range(0, 24, 4):
        assert remote(texts[i : i + 4], ground_truth=gts[i : i + 4]) == local(
            texts[i : i + 4], ground_truth=gts[i : i + 4]
        )
    remote.normalizer.kill()


@ray.remote
def _easyr1_actor(inputs: list[dict], kwargs: dict) -> list[dict]:
    """An EasyR1 reward-manager actor: its own process, the reward file's function."""
    from rankreward.adapters import easyr1

    return easyr1.compute_score(inputs, **kwargs)


def test_easyr1_training_and_validation_actors_share_one_window(ray_session):
    """EasyR1's two reward actors (training, validation) are separate processes with the same
    configuration: training calls move the shared window, validation calls only read it."""
    n = 8
    kwargs = {"rollout_size": n, "share": "ray", "actor_name": "easyr1-test", "resume": False}

    def inputs(seed: int, size: int) -> tuple[list[dict], list[str], list[str]]:
        texts, gts = synthetic_batch(size, np.random.default_rng(seed), max_objects=4)
        rows = [{"response": t, "response_length": 1, "ground_truth": g}
                for t, g in zip(texts, gts, strict=True)]  # fmt: skip
        return rows, texts, gts

    local = DrSegReward(AutoCommitNormalizer(RankNormalizer.paper(), n))
    for step in range(3):
        rows, texts, gts = inputs(step, n)
        got = ray.get(_easyr1_actor.remote(rows, kwargs))
        assert [r["overall"] for r in got] == local(texts, ground_truth=gts)
        val_rows, val_texts, val_gts = inputs(50 + step, 5)  # the validation actor
        val = ray.get(_easyr1_actor.remote(val_rows, kwargs))
        want = local.score(val_texts, val_gts, stage=False)["reward"].tolist()
        assert [r["overall"] for r in val] == want
    shared = RayWindows("easyr1-test", commit_every=n)
    seen = DrSegReward()
    seen.windows.load_state_dict(shared.state_dict())
    np.testing.assert_array_equal(seen.normalizer.window, local.normalizer.window)
    assert len(seen.normalizer) == 128 + 3 * n  # no validation row entered it
    shared.kill()


@ray.remote
def _verl_worker(texts: list[str], gts: list[str], kwargs: dict) -> list[dict]:
    """A verl reward-loop worker: its own process, the reward file's batch function."""
    from rankreward.adapters import verl

    return verl.compute_score_batch(["seg"] * len(texts), texts, gts, None, **kwargs)


def test_preset_windows_shared_by_processes_commit_by_samples(ray_session):
    """Two verl worker processes score halves of each step of the ranked Seg-Zero preset; one
    actor holds every component's window and commits them all every ``commit_every`` samples
    (the IoU window gets fewer values: unreadable answers have none)."""
    from rankreward.rewards import RayWindows, preset
    from rankreward.testing.recipe_batches import segzero_batch

    every = 10
    kwargs = {"commit_every": every, "share": "ray", "preset": "seg-zero", "ranked": True,
              "actor_name": "segzero-test"}  # fmt: skip
    local = preset("seg-zero", True)
    for step in range(3):
        texts, gts = segzero_batch(every, np.random.default_rng(step), malformed=0.3)
        first = ray.get(_verl_worker.remote(texts[:6], gts[:6], kwargs))
        second = ray.get(_verl_worker.remote(texts[6:], gts[6:], kwargs))
        want = local.score(texts, gts)  # one step ranks against one snapshot
        local.commit()
        assert [r["score"] for r in first + second] == want["reward"].tolist()
    shared = RayWindows("segzero-test", commit_every=every)
    assert shared.commits == 3 and shared.pending == 0
    state, want_state = shared.state_dict(), local.state_dict()
    for key in ("/iou", "/box_l1", "/point_l1"):
        np.testing.assert_array_equal(state[key]["values"], want_state[key]["values"])
    with pytest.raises(ValueError, match="already exists"):
        RayWindows("segzero-test", commit_every=every + 1)
    shared.kill()


def test_default_preset_actors_follow_the_configuration(ray_session):
    from rankreward.adapters import _shared

    _shared.reset_shared_rewards()
    ranked = _shared.shared_reward(commit_every=4, share="ray", preset="seg-zero", ranked=True)
    _shared.reset_shared_rewards()  # another worker process, same settings: the same actor
    again = _shared.shared_reward(commit_every=4, share="ray", preset="seg-zero", ranked=True)
    other = _shared.shared_reward(commit_every=8, share="ray", preset="seg-zero", ranked=True)
    assert ranked.windows.name == again.windows.name != other.windows.name
    assert ranked.windows.name.startswith("rankreward-seg-zero-")
    _shared.reset_shared_rewards()
    for windows in (ranked.windows, other.windows):
        windows.kill()
