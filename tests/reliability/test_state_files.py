"""Normalizer state files: atomic, versioned, pickle-free; every damaged file is rejected with a
clear error and leaves the live normalizer unchanged; a save killed midway never leaves a file
that loads as valid but wrong."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from rankreward import RankNormalizer
from rankreward.normalize import AutoCommitNormalizer, load_state, save_state
from rankreward.normalize import normalizer as normalizer_module


def filled(seed: int = 0) -> RankNormalizer:
    norm = RankNormalizer.paper(window=256)
    rng = np.random.default_rng(seed)
    norm.update(rng.random((300, 3)))
    norm.stage(rng.random((5, 3)))
    return norm


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a
    )


def test_file_is_a_plain_npz_with_a_version(tmp_path):
    path = tmp_path / "n.npz"
    filled().save(path)
    with np.load(path, allow_pickle=False) as data:  # loads without pickle
        assert int(data["version"]) == normalizer_module.STATE_VERSION
        assert all(data[k].dtype != object for k in data.files)
    assert zipfile.is_zipfile(path)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_file_is_rejected_and_live_state_kept(tmp_path, fraction):
    path = tmp_path / "n.npz"
    filled(1).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    live = filled(2)
    before = live.state_dict()
    with pytest.raises(ValueError, match="cannot read normalizer state"):
        live.load(path)
    assert same_state(live.state_dict(), before)


def test_byte_flips_never_load_as_valid_but_wrong(tmp_path):
    """Every single-byte corruption either raises ValueError or loads the original state
    (a flip in a field numpy ignores, such as a timestamp); never a different window."""
    path = tmp_path / "n.npz"
    original = filled(3)
    original.save(path)
    good = path.read_bytes()
    want = original.state_dict()
    rng = np.random.default_rng(0)
    outcomes = {"rejected": 0, "harmless": 0}
    for pos in rng.choice(len(good), size=300, replace=False):
        bad = bytearray(good)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        live = RankNormalizer.paper(window=256)
        try:
            live.load(path)
        except ValueError:
            outcomes["rejected"] += 1
            continue
        assert same_state(live.state_dict(), want), f"flip at byte {pos} loaded a wrong state"
        outcomes["harmless"] += 1
    assert outcomes["rejected"] > 250


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("version", np.array(99), "version 99"),
        ("window", np.array(4096), "window=4096"),
        ("values", np.zeros((10, 2)), r"shape \(n, 3\)"),
        ("values", np.full((4, 3), np.nan), "non-finite"),
        ("staged", np.zeros((2, 5)), r"shape \(n, 3\)"),
    ],
)
def test_wrong_version_or_shape_file(tmp_path, key, value, match):
    path = tmp_path / "n.npz"
    state = filled().state_dict()
    state[key] = value
    save_state(state, path)
    live = filled(4)
    before = live.state_dict()
    with pytest.raises(ValueError, match=match):
        live.load(path)
    assert same_state(live.state_dict(), before)


def test_missing_key_file(tmp_path):
    path = tmp_path / "n.npz"
    state = filled().state_dict()
    del state["values"]
    save_state(state, path)
    with pytest.raises(ValueError, match="missing keys"):
        filled().load(path)


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_save_killed_midway_keeps_previous_file(tmp_path, monkeypatch, where):
    path = tmp_path / "n.npz"
    old = filled(5)
    old.save(path)
    old_bytes = path.read_bytes()
    new = filled(6)

    real_savez = np.savez

    def partial_savez(f, **arrays):  # write some bytes, then die
        buf = io.BytesIO()
        real_savez(buf, **arrays)
        f.write(buf.getvalue()[:100])
        raise Boom("killed")

    def die(*args, **kwargs):
        raise Boom("killed")

    target = {"savez": (normalizer_module.np, "savez", partial_savez),
              "fsync": (normalizer_module.os, "fsync", die),
              "replace": (normalizer_module.os, "replace", die)}[where]  # fmt: skip
    monkeypatch.setattr(*target)
    with pytest.raises(Boom):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["n.npz"]  # no temp file left behind
    check = RankNormalizer.paper(window=256)
    check.load(path)
    assert same_state(check.state_dict(), old.state_dict())


def test_first_save_killed_leaves_no_file(tmp_path, monkeypatch):
    def die(*a, **k):
        raise Boom("killed")

    monkeypatch.setattr(normalizer_module.os, "replace", die)
    with pytest.raises(Boom):
        filled().save(tmp_path / "n.npz")
    assert list(tmp_path.iterdir()) == []


def test_wrappers_write_the_same_file(tmp_path):
    norm = filled(7)
    wrapped = AutoCommitNormalizer(filled(7), 4)
    norm.save(tmp_path / "a.npz")
    wrapped.save(tmp_path / "b.npz")
    b = load_state(tmp_path / "b.npz")
    assert int(b.pop("commits")) == 0  # the wrapper adds its step count, nothing else
    assert same_state(load_state(tmp_path / "a.npz"), b)
    plain = RankNormalizer.paper(window=256)
    plain.load(tmp_path / "b.npz")  # a plain normalizer reads a wrapper's file


def test_a_state_path_may_hold_other_braces(tmp_path):
    # only {step} is substituted: "run_{date}" is the user's folder name, not a format field
    from rankreward.normalize import LocalWindows

    windows = LocalWindows(
        commit_every=2, state_file=str(tmp_path / "run_{date}" / "step_{step}.npz")
    )
    windows.rank_and_stage({"/iou": [0.5, 0.7]}, n_samples=2)
    assert (tmp_path / "run_{date}" / "step_1.npz").exists()
