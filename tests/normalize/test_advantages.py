"""The trainers' multi-component advantages: equal to TRL 1.16's formulas (with TRL's own
``nanstd``) where TRL is installed, to a plain per-group loop everywhere; contributions add up
to the advantages, shares to 1; numpy in/out and torch in/out; user errors named."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward import advantage_shares, group_advantages, zero_spread_fractions
from rankreward.normalize import advantage_contributions
from rankreward.normalize.advantages import EPS

values = st.one_of(
    st.just(math.nan), st.floats(-5, 5, allow_nan=False), st.sampled_from([0.0, 1.0])
)


@st.composite
def batches(draw, contiguous=False):
    k = draw(st.integers(1, 4))
    if contiguous:
        g, n_groups = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        groups = np.repeat(np.arange(n_groups), g)
    else:
        groups = np.array(draw(st.lists(st.sampled_from([3, 7, 11, 40]), min_size=1, max_size=16)))
    n = len(groups)
    rewards = {f"c{j}": np.array(draw(st.lists(values, min_size=n, max_size=n))) for j in range(k)}
    weights = {f"c{j}": draw(st.sampled_from([1.0, 0.5, 2.0, 0.0])) for j in range(k)}
    return rewards, groups, weights


def _std(xs):
    return statistics.stdev(xs) if len(xs) > 1 else math.nan


def oracle(rewards, groups, weights, aggregation, scale):
    """A plain restatement: loops over samples and groups, Python statistics."""
    names = list(rewards)
    n = len(groups)
    rows = [[float(rewards[c][i]) for c in names] for i in range(n)]
    w = [weights.get(c, 1.0) for c in names]
    scorable = [not all(math.isnan(v) for v in row) for row in rows]
    members = {g: [i for i in range(n) if groups[i] == g] for g in set(groups.tolist())}
    if aggregation == "grpo":
        r = [sum(wk * v for wk, v in zip(w, row, strict=True) if not math.isnan(v)) if ok else math.nan
             for row, ok in zip(rows, scorable, strict=True)]  # fmt: skip
        batch_std = _std([x for x in r if not math.isnan(x)]) if n > 1 else 0.0
        out = []
        for i in range(n):
            kept = [r[j] for j in members[groups[i]] if not math.isnan(r[j])]
            if not scorable[i]:
                out.append(0.0)
                continue
            mean = sum(kept) / len(kept)
            std = {"group": _std(kept) if len(members[groups[i]]) > 1 else 0.0,
                   "batch": batch_std, "none": 0.0}[scale]  # fmt: skip
            a = r[i] - mean if scale == "none" else (r[i] - mean) / (std + EPS)
            out.append(0.0 if math.isnan(a) else a)
        return np.array(out)
    z = [[math.nan] * len(names) for _ in range(n)]
    for members_g in members.values():
        for k in range(len(names)):
            kept = [rows[j][k] for j in members_g if not math.isnan(rows[j][k])]
            if not kept:
                continue
            mean = sum(kept) / len(kept)
            std = _std(kept) if len(members_g) > 1 else 0.0
            for j in members_g:
                z[j][k] = (rows[j][k] - mean) / (std + EPS)
    r = [sum(wk * v for wk, v in zip(w, zi, strict=True) if not math.isnan(v)) if ok else math.nan
         for zi, ok in zip(z, scorable, strict=True)]  # fmt: skip
    kept = [x for x in r if not math.isnan(x)]
    mean = sum(kept) / len(kept) if kept else 0.0
    std = _std(kept) if n > 1 else 0.0
    out = [((x - mean) / (std + EPS)) if ok else 0.0 for x, ok in zip(r, scorable, strict=True)]
    return np.nan_to_num(np.array(out), nan=0.0)


@settings(max_examples=300, deadline=None)
@given(batch=batches(), aggregation=st.sampled_from(["grpo", "gdpo"]),
       scale=st.sampled_from(["group", "batch", "none"]))  # fmt: skip
def test_equal_to_a_plain_loop_and_the_parts_add_up(batch, aggregation, scale):
    rewards, groups, weights = batch
    got = group_advantages(rewards, groups, weights, aggregation, scale)
    np.testing.assert_allclose(got, oracle(rewards, groups, weights, aggregation, scale),
                               rtol=1e-9, atol=1e-9)  # fmt: skip
    parts = advantage_contributions(rewards, groups, weights, aggregation, scale)
    np.testing.assert_allclose(sum(parts.values()), got, rtol=1e-9, atol=1e-9)
    shares = advantage_shares(rewards, groups, weights, aggregation, scale)
    assert all(0.0 <= s <= 1.0 for s in shares.values())
    assert math.isclose(sum(shares.values()), 1.0) or not any(shares.values())
    magnitude = {k: np.abs(v).sum() for k, v in parts.items()}
    total = sum(magnitude.values())
    for k in shares:
        assert math.isclose(shares[k], magnitude[k] / total if total else 0.0, abs_tol=1e-12)


def trl_formula(rewards, weights, g, aggregation, scale):
    """TRL 1.16's ``_generate_and_score_completions`` advantage arithmetic, on its own
    ``nanstd``, for contiguous groups of ``g`` (how TRL lays out a batch)."""
    torch = pytest.importorskip("torch")
    nanstd = pytest.importorskip("trl.trainer.utils").nanstd
    per_func = torch.tensor(np.stack(list(rewards.values()), axis=1), dtype=torch.float64)
    w = torch.tensor([weights[c] for c in rewards], dtype=torch.float64)
    unscorable = torch.isnan(per_func).all(dim=1)
    if aggregation == "grpo":
        r = (per_func * w.unsqueeze(0)).nansum(dim=1)
        r[unscorable] = torch.nan
        mean = torch.nanmean(r.view(-1, g), dim=1).repeat_interleave(g, dim=0)
        if scale == "batch":
            std = nanstd(r).expand_as(r) if r.numel() > 1 else torch.zeros_like(r)
        else:
            std = (nanstd(r.view(-1, g), dim=1).repeat_interleave(g, dim=0) if g > 1
                   else torch.zeros_like(r))  # fmt: skip
        adv = r - mean
        if scale != "none":
            adv = adv / (std + 1e-4)
    else:
        grouped = per_func.view(-1, g, per_func.shape[1])
        mean_k = torch.nanmean(grouped, dim=1, keepdim=True)
        std_k = nanstd(grouped, dim=1, keepdim=True) if g > 1 else torch.zeros_like(mean_k)
        r = (((grouped - mean_k) / (std_k + 1e-4)).view(-1, per_func.shape[1]) * w).nansum(dim=1)
        r[unscorable] = torch.nan
        std = nanstd(r).expand_as(r) if r.numel() > 1 else torch.zeros_like(r)
        adv = (r - torch.nanmean(r)) / (std + 1e-4)
    return torch.nan_to_num(adv, nan=0.0).numpy()


@settings(max_examples=200, deadline=None)
@given(batch=batches(contiguous=True), aggregation=st.sampled_from(["grpo", "gdpo"]),
       scale=st.sampled_from(["group", "batch", "none"]))  # fmt: skip
def test_equal_to_trls_formula_with_trls_nanstd(batch, aggregation, scale):
    rewards, groups, weights = batch
    g = int(np.bincount(groups)[0])
    want = trl_formula(rewards, weights, g, aggregation, scale)
    got = group_advantages(rewards, groups, weights, aggregation, scale)
    # TRL's nanstd takes Bessel's factor count / (count - 1) of two integer tensors, which
    # torch divides in float32 even for float64 rewards: equal to float32 precision
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(batch=batches())
def test_zero_spread_against_a_loop(batch):
    rewards, groups, _ = batch
    got = zero_spread_fractions(rewards, groups)
    ids = sorted(set(groups.tolist()))
    for name, column in rewards.items():
        silent = 0
        for g in ids:
            kept = [
                v for v, gi in zip(column, groups, strict=True) if gi == g and not math.isnan(v)
            ]
            silent += len(kept) < 2 or max(kept) == min(kept)
        assert got[name] == silent / len(ids)


def test_numpy_in_numpy_out_and_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    rewards = {"iou": [0.2, 0.8, 0.5, 0.4], "format": [1.0, 0.0, 1.0, 1.0]}
    as_numpy = group_advantages({k: np.array(v) for k, v in rewards.items()}, [0, 0, 1, 1])
    assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.float64
    tensors = {k: torch.tensor(v, dtype=torch.float32) for k, v in rewards.items()}
    as_torch = group_advantages(tensors, torch.tensor([0, 0, 1, 1]), aggregation="gdpo")
    assert isinstance(as_torch, torch.Tensor) and as_torch.dtype == torch.float32
    parts = advantage_contributions(tensors, [0, 0, 1, 1])
    assert all(isinstance(v, torch.Tensor) for v in parts.values())
    np.testing.assert_allclose(sum(parts.values()).numpy(), as_numpy, rtol=1e-6)


def test_a_component_with_a_wide_spread_swamps_the_sum_and_gdpo_evens_it():
    """The problem the rank window and GDPO answer: a raw L1-like term in pixels against an
    IoU in 0..1."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(32), 8)
    rewards = {"iou": rng.uniform(0, 1, 256), "l1": rng.uniform(0, 200, 256)}
    grpo = advantage_shares(rewards, groups, aggregation="grpo")
    gdpo = advantage_shares(rewards, groups, aggregation="gdpo")
    assert grpo["iou"] < 0.02 and 0.4 < gdpo["iou"] < 0.6


def test_user_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="component 'b' has 1 values"):
        group_advantages({"a": [1.0, 2.0], "b": [1.0]}, [0, 0])
    with pytest.raises(ValueError, match=r"weights for unknown components \['c'\]"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], weights={"c": 1.0})
    with pytest.raises(ValueError, match="aggregation must be one of"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], aggregation="ppo")
    with pytest.raises(ValueError, match="scale must be one of"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], scale="token")
    with pytest.raises(ValueError, match="groups must be one id per sample"):
        group_advantages({"a": [1.0, 2.0]}, [0])
    with pytest.raises(ValueError, match="component 'a' has an infinite value"):
        advantage_shares({"a": [1.0, math.inf]}, [0, 0])
    with pytest.raises(ValueError, match="non-empty"):
        zero_spread_fractions({}, [])


@settings(max_examples=150, deadline=None)
@given(batch=batches(), aggregation=st.sampled_from(["grpo", "gdpo"]),
       scale=st.sampled_from(["group", "none"]), data=st.data())  # fmt: skip
def test_verls_convention_splits_exactly_too(batch, aggregation, scale, data):
    """verl's arithmetic (tested against verl's own estimators in tests/adapters/test_verl.py):
    the per-component parts add up to its advantages; a group of one keeps its reward."""
    rewards, groups, weights = batch
    n = len(groups)
    lengths = np.array(data.draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)))
    if aggregation == "gdpo" and lengths.sum() <= 1:
        with pytest.raises(ValueError, match="more than one response token"):
            group_advantages(rewards, groups, weights, aggregation, scale, convention="verl",
                             lengths=lengths)  # fmt: skip
        return
    got = group_advantages(rewards, groups, weights, aggregation, scale, convention="verl",
                           lengths=lengths)  # fmt: skip
    parts = advantage_contributions(rewards, groups, weights, aggregation, scale,
                                    convention="verl", lengths=lengths)  # fmt: skip
    np.testing.assert_allclose(sum(parts.values()), got, rtol=1e-9, atol=1e-9)
    if aggregation == "grpo":
        for i in range(n):
            if (groups == groups[i]).sum() == 1:
                total = sum(weights[k] * np.nan_to_num(v[i]) for k, v in rewards.items())
                expect = total / (1 + 1e-6) if scale == "group" else total
                assert math.isclose(got[i], expect, rel_tol=1e-9, abs_tol=1e-12)


def test_verls_convention_refuses_what_verl_does_not_have():
    with pytest.raises(ValueError, match="verl has no batch scale"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], scale="batch", convention="verl")
    with pytest.raises(ValueError, match="lengths must be one response length"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], convention="verl", lengths=[1])
    with pytest.raises(ValueError, match="convention must be one of"):
        group_advantages({"a": [1.0, 2.0]}, [0, 0], convention="openrlhf")
