"""Group advantages of a multi-component reward, exact to the trainers' formulas, and how much
of the advantage each component drives.

The problem every GRPO trainer has with a reward summed from several components: group
standardisation of the sum lets the component with the widest within-group spread set the
advantage. The trainers ship two answers, restated here from their code (TRL 1.16
``GRPOTrainer._generate_and_score_completions``):

- ``"grpo"`` (TRL ``multi_objective_aggregation="sum_then_normalize"``, the default; verl's and
  ms-swift's ``grpo`` estimators): ``r_i = sum_k w_k R_ki`` (a component that does not apply,
  NaN, adds nothing), ``A_i = (r_i - mean_g r) / (std_g r + eps)`` within each group ``g``
  (``scale="group"``), over the whole batch's std (``"batch"``), or not divided (``"none"``).
- ``"gdpo"`` (TRL ``normalize_then_sum``, GDPO): each component standardised within its group,
  ``z_ki = (R_ki - mean_g R_k) / (std_g R_k + eps)``, then ``r_i = sum_k w_k z_ki`` and
  ``A_i = (r_i - mean r) / (std r + eps)`` over the batch.
- ``convention="verl"`` restates verl 0.9.1's ``compute_grpo_outcome_advantage`` and
  ``compute_gdpo_outcome_advantage`` instead: ``eps = 1e-6``; a group of one has mean 0 and
  std 1 (its advantage is its reward); GDPO's final step is verl's token-level
  ``masked_whiten`` (each sample weighted by its response length, ``lengths``; unbiased
  variance, ``1e-8`` inside the square root); there is no ``"batch"`` scale and no n/a
  value (NaN counts as 0, as a missing score would in verl's reward tensor).
- The rank window (this library): each ranked component is its rank in a window of past
  values before either of the above, so every component is already on one 0..1 scale
  (pass the ranks as the component values: they are what the reward sums).

Means ignore NaN; ``std`` is the sample standard deviation (Bessel's correction) of the
non-NaN values, NaN for fewer than two (TRL's ``nanstd``); ``eps = 1e-4``. A sample where no
component applies is unscorable: it is left out of every mean and std and its advantage is 0.
A group of one has std 0 under ``"grpo"`` (TRL's ``num_generations == 1`` branch).

Numpy in, numpy out; torch in, torch out (computed in float64 on the host, returned in the
input's dtype and device). O(N K) for N samples and K components.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._arrays import is_torch

__all__ = [
    "AGGREGATIONS",
    "CONVENTIONS",
    "EPS",
    "SCALES",
    "VERL_EPS",
    "advantage_contributions",
    "advantage_shares",
    "group_advantages",
    "zero_spread_fractions",
]

#: The trainers' aggregations of a multi-component reward (see the module docs).
AGGREGATIONS = ("grpo", "gdpo")
#: How ``"grpo"`` divides the centred reward: by the group's std, the batch's, or not at all.
SCALES = ("group", "batch", "none")
#: The trainers' epsilon in ``(x - mean) / (std + EPS)`` (TRL's; verl's is `VERL_EPS`).
EPS = 1e-4
#: verl's epsilon in its GRPO and GDPO advantages.
VERL_EPS = 1e-6
#: Whose arithmetic `group_advantages` restates.
CONVENTIONS = ("trl", "verl")


def _host(values: Any) -> np.ndarray:
    if is_torch(values):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, np.float64)


def _like(result: np.ndarray, template: Any) -> Any:
    """``result`` as ``template``'s kind: a torch tensor of its dtype and device, else numpy."""
    if is_torch(template):
        import torch

        dtype = template.dtype if template.is_floating_point() else torch.float32
        return torch.as_tensor(result, dtype=dtype, device=template.device)
    return result


def _inputs(
    rewards: Mapping[str, Any], groups: Any, weights: Mapping[str, float] | None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, Any]:
    """Names, the (N, K) float64 values, the weights (K,), group index per sample (N,) and the
    first input (the output's kind); ``ValueError`` naming what is wrong."""
    if not isinstance(rewards, Mapping) or not rewards:
        raise ValueError("rewards must be a non-empty {component: per-sample values} mapping")
    names = [str(k) for k in rewards]
    columns = []
    for name, values in rewards.items():
        column = _host(values)
        if column.ndim != 1:
            raise ValueError(f"component {name!r}: expected a 1-D array, got shape {column.shape}")
        columns.append(column)
    n = len(columns[0])
    for name, column in zip(names, columns, strict=True):
        if len(column) != n:
            raise ValueError(f"component {name!r} has {len(column)} values, the first {n}")
        if np.isinf(column).any():
            raise ValueError(f"component {name!r} has an infinite value")
    group_values = groups.detach().cpu().numpy() if is_torch(groups) else np.asarray(groups)
    if group_values.shape != (n,):
        raise ValueError(f"groups must be one id per sample ({n}), got shape {group_values.shape}")
    _, group_index = np.unique(group_values, return_inverse=True)
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"weights for unknown components {unknown}; the components: {names}")
    w = np.array([float(weights.get(name, 1.0)) for name in names])
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite")
    matrix = np.stack(columns, axis=1) if n else np.zeros((0, len(names)))
    return names, matrix, w, group_index.reshape(-1), next(iter(rewards.values()))


def _group_stats(values: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, ...]:
    """Per group and column: the nan-mean, the sample nan-std (NaN below two values) and the
    count of non-NaN values; values (N, C)."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    count = np.zeros((n_groups, values.shape[1]))
    total = np.zeros((n_groups, values.shape[1]))
    np.add.at(count, group, present)
    np.add.at(total, group, filled)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = np.where(present, values - mean[group], 0.0)
        square = np.zeros_like(total)
        np.add.at(square, group, dev**2)
        std = np.sqrt(square / (count - 1))
    std = np.where(count > 1, std, np.nan)
    return mean, std, count


def _nan_std(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(np.std(kept, ddof=1)) if len(kept) > 1 else float("nan")


def _verl_grpo(values: np.ndarray, group: np.ndarray, n_groups: int, scale: bool) -> tuple:
    """verl's per-group centring of (N, C) values: ``(x - mean) / (std + eps)`` with the
    sample std; a group of one has mean 0 and std 1. Returns (centred, divisor per sample)."""
    sizes = np.bincount(group, minlength=n_groups)
    mean, std, _ = _group_stats(values, group, n_groups)
    mean = np.where(sizes[:, None] > 1, mean, 0.0)
    std = np.where(sizes[:, None] > 1, std, 1.0)
    divisor = std[group] + VERL_EPS if scale else np.ones_like(values)
    return values - mean[group], divisor


def _verl_contributions(matrix: np.ndarray, w: np.ndarray, group: np.ndarray, aggregation: str,
                        scale: str, lengths: np.ndarray) -> np.ndarray:  # fmt: skip
    if scale == "batch":
        raise ValueError("verl has no batch scale: scale must be 'group' or 'none'")
    values = np.nan_to_num(matrix, nan=0.0)
    n_groups = int(group.max()) + 1
    if aggregation == "grpo":  # verl sums the components into its one score first
        # each weighted component centred as verl centres the score (a group of one: not at
        # all), over the divisor of the summed score
        weighted = values * w
        share, _ = _verl_grpo(weighted, group, n_groups, scale=False)
        total = weighted.sum(axis=1, keepdims=True)
        _, divisor = _verl_grpo(total, group, n_groups, scale == "group")
        return share / divisor
    centred, divisor = _verl_grpo(values, group, n_groups, scale == "group")
    a = w * centred / divisor  # (N, K): each dimension's GRPO advantage, weighted
    mass = float(lengths.sum())
    if mass <= 1:
        raise ValueError("verl's whitening needs more than one response token in the batch")
    mean = (lengths[:, None] * a).sum(axis=0) / (mass + 1e-8)  # verl's masked_mean
    total = a.sum(axis=1)
    total_mean = mean.sum()
    var = (lengths * (total - total_mean) ** 2).sum() / (mass + 1e-8) * mass / (mass - 1)
    return (a - mean) / np.sqrt(var + 1e-8)


def _contributions(
    matrix: np.ndarray, w: np.ndarray, group: np.ndarray, aggregation: str, scale: str,
    convention: str = "trl", lengths: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Per-sample, per-component contributions c (N, K) whose row sums are the advantages."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if convention == "verl":
        if len(matrix) == 0:
            return np.zeros_like(matrix)
        n = len(matrix)
        lengths = np.ones(n) if lengths is None else np.asarray(lengths, np.float64)
        if lengths.shape != (n,) or (lengths < 1).any() or not np.isfinite(lengths).all():
            raise ValueError(f"lengths must be one response length >= 1 per sample ({n})")
        return _verl_contributions(matrix, w, group, aggregation, scale, lengths)
    n, _ = matrix.shape
    if n == 0:
        return np.zeros_like(matrix)
    scorable = ~np.isnan(matrix).all(axis=1)
    n_groups = int(group.max()) + 1
    sizes = np.bincount(group, minlength=n_groups)
    if aggregation == "grpo":
        terms = np.where(np.isnan(matrix), 0.0, matrix) * w  # nansum: n/a adds nothing
        total = np.where(scorable, terms.sum(axis=1), np.nan)
        terms[~scorable] = np.nan  # unscorable rows stay out of the means
        mean_k, _, _ = _group_stats(terms, group, n_groups)
        centred = terms - mean_k[group]
        if scale == "group":
            _, std, _ = _group_stats(total[:, None], group, n_groups)
            std = np.where(sizes[:, None] > 1, std, 0.0)[group, 0]  # a group of one: std 0
        elif scale == "batch":
            std = np.full(n, _nan_std(total) if n > 1 else 0.0)
        else:
            std = np.zeros(n)
        contrib = centred if scale == "none" else centred / (std + EPS)[:, None]
    else:
        mean, std_k, _ = _group_stats(matrix, group, n_groups)
        std_k = np.where(sizes[:, None] > 1, std_k, 0.0)  # TRL: num_generations == 1 -> zeros
        z = (matrix - mean[group]) / (std_k[group] + EPS)
        terms = np.where(np.isnan(z), 0.0, z) * w  # nansum over the normalised components
        total = np.where(scorable, terms.sum(axis=1), np.nan)
        std = _nan_std(total) if n > 1 else 0.0
        kept = terms[scorable]
        centred = terms - (kept.mean(axis=0) if len(kept) else 0.0)
        contrib = centred / (std + EPS)
    contrib[~scorable] = 0.0
    return np.nan_to_num(contrib, nan=0.0)


def _split(rewards: Mapping[str, Any], groups: Any, weights: Mapping[str, float] | None,
           aggregation: str, scale: str, convention: str, lengths: Any) -> tuple:  # fmt: skip
    """The public entry points' common path: checked inputs -> (names, contributions (N, K),
    the first input, whose kind the outputs take)."""
    names, matrix, w, group, first = _inputs(rewards, groups, weights)
    lengths = None if lengths is None else _host(lengths)
    return names, _contributions(matrix, w, group, aggregation, scale, convention, lengths), first


def advantage_contributions(
    rewards: Mapping[str, Any],
    groups: Any,
    weights: Mapping[str, float] | None = None,
    aggregation: str = "grpo",
    scale: str = "group",
    *,
    convention: str = "trl",
    lengths: Any = None,
) -> dict[str, Any]:
    """Each component's additive part of every sample's advantage under ``aggregation``:
    ``{component: c_k}`` with ``sum_k c_k[i]`` the advantage of sample ``i``
    (`group_advantages`). Both aggregations are linear in the components after their own
    normalisation, so the split is exact: under ``"grpo"`` ``c_ki = w_k (R_ki - mean_g R_k) /
    (std_g r + eps)``, under ``"gdpo"`` ``c_ki = w_k (z_ki - mean z_k) / (std r + eps)`` (NaN
    components as 0, means over scorable samples). O(N K).

    Examples:
        >>> c = advantage_contributions({"iou": [0.2, 0.8], "format": [1.0, 1.0]}, [0, 0])
        >>> [round(float(v), 4) for v in c["iou"]], [float(v) for v in c["format"]]
        ([-0.7069, 0.7069], [0.0, 0.0])
    """
    names, contrib, first = _split(
        rewards, groups, weights, aggregation, scale, convention, lengths
    )
    return {name: _like(contrib[:, k], first) for k, name in enumerate(names)}


def group_advantages(
    rewards: Mapping[str, Any],
    groups: Any,
    weights: Mapping[str, float] | None = None,
    aggregation: str = "grpo",
    scale: str = "group",
    *,
    convention: str = "trl",
    lengths: Any = None,
) -> Any:
    """The advantages a trainer computes from per-component rewards (see the module docs).

    Args:
        rewards: ``{component: per-sample values}`` (NaN where a component does not apply):
            the terms the reward sums, ranks for ranked components.
        groups: one group id per sample (the prompt each completion answers); ids need not
            be contiguous or sorted.
        weights: per component (missing ones weigh 1), TRL's ``reward_weights``.
        aggregation: ``"grpo"`` (sum, then normalise) or ``"gdpo"`` (normalise each, then sum).
        scale: ``"grpo"``'s divisor: ``"group"`` (TRL's default), ``"batch"`` or ``"none"``;
            ``"gdpo"`` always re-standardises over the batch.
        convention: ``"trl"`` (TRL 1.16) or ``"verl"`` (verl 0.9.1; see the module docs).
        lengths: per-sample response lengths, for verl's token-level GDPO whitening
            (default 1 each).

    Returns the (N,) advantages, numpy or torch like ``rewards``. O(N K).

    Examples:
        >>> adv = group_advantages({"iou": [0.2, 0.8, 0.5, 0.5], "format": [1, 1, 0, 1]},
        ...                        groups=[0, 0, 1, 1])
        >>> [round(float(a), 3) for a in adv]
        [-0.707, 0.707, -0.707, 0.707]
    """
    _, contrib, first = _split(rewards, groups, weights, aggregation, scale, convention, lengths)
    return _like(contrib.sum(axis=1), first)


def advantage_shares(
    rewards: Mapping[str, Any],
    groups: Any,
    weights: Mapping[str, float] | None = None,
    aggregation: str = "grpo",
    scale: str = "group",
    *,
    convention: str = "trl",
    lengths: Any = None,
) -> dict[str, float]:
    """Each component's share of the advantage magnitude under ``aggregation``: with
    ``c_ki`` the component's part of sample ``i``'s advantage (`advantage_contributions`),
    ``share_k = sum_i |c_ki| / sum_k sum_i |c_ki|`` (all 0 when no component moves any
    advantage). Shares sum to 1; a component with share 0.01 barely steers the policy,
    whatever its weight. O(N K).

    Examples:
        >>> shares = advantage_shares({"iou": [0.20, 0.25, 0.6, 0.62],
        ...                            "format": [0.0, 1.0, 1.0, 0.0]}, groups=[0, 0, 1, 1])
        >>> {k: round(v, 3) for k, v in shares.items()}
        {'iou': 0.033, 'format': 0.967}
    """
    names, contrib, _ = _split(rewards, groups, weights, aggregation, scale, convention, lengths)
    magnitude = np.abs(contrib).sum(axis=0)
    total = float(magnitude.sum())
    return {
        name: (float(m) / total if total > 0 else 0.0)
        for name, m in zip(names, magnitude, strict=True)
    }


def zero_spread_fractions(rewards: Mapping[str, Any], groups: Any) -> dict[str, float]:
    """Per component, the fraction of groups in which it carries no signal: fewer than two
    samples it applies to, or all of them equal. O(N K).

    Examples:
        >>> zero_spread_fractions({"iou": [0.2, 0.8, 0.5, 0.5], "format": [1, 1, 1, 0]},
        ...                       groups=[0, 0, 1, 1])
        {'iou': 0.5, 'format': 0.5}
    """
    names, matrix, _, group, _ = _inputs(rewards, groups, None)
    if len(group) == 0:
        return {name: 0.0 for name in names}
    n_groups = int(group.max()) + 1
    present = ~np.isnan(matrix)
    low = np.full((n_groups, len(names)), np.inf)
    high = np.full((n_groups, len(names)), -np.inf)
    np.minimum.at(low, group, np.where(present, matrix, np.inf))
    np.maximum.at(high, group, np.where(present, matrix, -np.inf))
    count = np.zeros((n_groups, len(names)))
    np.add.at(count, group, present)
    silent = (count < 2) | (high <= low)
    return {name: float(silent[:, k].mean()) for k, name in enumerate(names)}
