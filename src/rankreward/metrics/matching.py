"""Minimum-cost assignment (the Hungarian problem) for one matrix or many small ones at once.

A GRPO step produces thousands of small matching problems (each rollout's predictions against
its ground truths). `scipy.optimize.linear_sum_assignment` solves one per Python call; here a
Numba kernel solves a whole padded batch in one call, in parallel threads for large batches.

The solver is a port of scipy's own (Crouse's shortest augmenting path with dual potentials,
``rectangular_lsap.cpp``): O(r^2 c) for an r x c problem with r <= c (the transpose is solved
when r > c). It reproduces scipy's tie-breaking, so it returns the same pairs as
`scipy.optimize.linear_sum_assignment`, not only the same total cost; the tests check both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba as nb
import numpy as np

from .._arrays import format_index, is_torch, namespace, to_numpy
from .._parallel import launch

__all__ = ["MATCHERS", "greedy_match", "hungarian_match", "hungarian_match_padded", "match_boxes"]


@nb.njit(cache=True, inline="always")
def _cost(c, i, j, transposed):
    return c[j, i] if transposed else c[i, j]


@nb.njit(cache=True)
def _solve_one(c, nrows, ncols, out_col):
    """Solve ``c[:nrows, :ncols]``; ``out_col[i]`` gets row i's column (or -1).

    A line-by-line port of scipy's ``rectangular_lsap.cpp`` (Crouse's shortest augmenting path),
    including its tie-breaking: the column scan order, the preference for a free column among
    equal path costs, and the solution of constant matrices. So the pairs, not only the total,
    equal scipy's; the Dr. Seg reward's mean matched IoU depends on which optimal pairs are taken.
    """
    for i in range(nrows):
        out_col[i] = -1
    if nrows == 0 or ncols == 0:
        return
    transposed = ncols < nrows
    nr = ncols if transposed else nrows
    nc = nrows if transposed else ncols
    u = np.zeros(nr)
    v = np.zeros(nc)
    spc = np.empty(nc)  # shortest path costs
    path = np.full(nc, -1, np.int64)
    col4row = np.full(nr, -1, np.int64)
    row4col = np.full(nc, -1, np.int64)
    sr = np.zeros(nr, np.bool_)
    sc = np.zeros(nc, np.bool_)
    remaining = np.empty(nc, np.int64)
    for cur_row in range(nr):
        # augmenting_path()
        min_val = 0.0
        num_remaining = nc
        for it in range(nc):
            remaining[it] = nc - it - 1
        sr[:] = False
        sc[:] = False
        spc[:] = np.inf
        i = cur_row
        sink = -1
        while sink == -1:
            index = -1
            lowest = np.inf
            sr[i] = True
            for it in range(num_remaining):
                j = remaining[it]
                r = min_val + _cost(c, i, j, transposed) - u[i] - v[j]
                if r < spc[j]:
                    path[j] = i
                    spc[j] = r
                if spc[j] < lowest or (spc[j] == lowest and row4col[j] == -1):
                    lowest = spc[j]
                    index = it
            min_val = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            sc[j] = True
            num_remaining -= 1
            remaining[index] = remaining[num_remaining]
        # update dual variables
        u[cur_row] += min_val
        for i in range(nr):
            if sr[i] and i != cur_row:
                u[i] += min_val - spc[col4row[i]]
        for j in range(nc):
            if sc[j]:
                v[j] -= min_val - spc[j]
        # augment the previous solution
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            j, col4row[i] = col4row[i], j
            if i == cur_row:
                break
    for i in range(nr):
        if transposed:
            out_col[col4row[i]] = i
        else:
            out_col[i] = col4row[i]


@nb.njit(cache=True)
def _solve_batch_serial(costs, nrows, ncols, out_col):
    for b in range(costs.shape[0]):
        _solve_one(costs[b], nrows[b], ncols[b], out_col[b])


@nb.njit(cache=True, parallel=True)
def _solve_batch_parallel(costs, nrows, ncols, out_col):
    for b in nb.prange(costs.shape[0]):
        _solve_one(costs[b], nrows[b], ncols[b], out_col[b])


def _check_costs(costs: np.ndarray, nrows: np.ndarray, ncols: np.ndarray) -> None:
    finite = np.isfinite(costs)
    if finite.all():
        return
    # Only the region inside each problem's size matters; padding may hold anything.
    m = np.arange(costs.shape[1])[None, :, None] < nrows[:, None, None]
    n = np.arange(costs.shape[2])[None, None, :] < ncols[:, None, None]
    bad = ~finite & m & n
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(
            f"cost{format_index(idx)} is {costs[idx]}; costs must be finite "
            "(use a large finite cost for forbidden pairs)"
        )


def _numeric(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy array of real numbers (bool, integer or float); anything else (strings,
    complex numbers, objects) raises ``TypeError`` as scipy's solver does, before any kernel."""
    arr = np.asarray(to_numpy(x))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def hungarian_match_padded(costs: Any, nrows: Any = None, ncols: Any = None) -> np.ndarray:
    """Solve a padded batch ``(B, M, N)``; returns ``(B, M)`` int64 column per row, -1 if none.

    ``nrows[b]`` / ``ncols[b]`` give problem b's size (default: the full M / N); entries outside
    it are ignored. O(sum r^2 c) in one compiled call, parallel over problems for large batches.

    Examples:
        >>> cols = hungarian_match_padded(np.array([[[4.0, 1.0], [2.0, 0.0]]]))
        >>> cols.tolist()
        [[1, 0]]
    """
    costs = np.ascontiguousarray(_numeric(costs, "costs"), dtype=np.float64)
    if costs.ndim != 3:
        raise ValueError(f"costs must have shape (B, M, N), got {costs.shape}")
    b, m, n = costs.shape
    nrows = np.full(b, m, np.int64) if nrows is None else np.asarray(to_numpy(nrows), np.int64)
    ncols = np.full(b, n, np.int64) if ncols is None else np.asarray(to_numpy(ncols), np.int64)
    for name, sizes, limit in (("nrows", nrows, m), ("ncols", ncols, n)):
        if sizes.shape != (b,):
            raise ValueError(f"{name} must have shape ({b},), got {sizes.shape}")
        if sizes.size and (sizes.min() < 0 or sizes.max() > limit):
            raise ValueError(f"{name} must lie in 0..{limit}, got {sizes.min()}..{sizes.max()}")
    _check_costs(costs, nrows, ncols)
    out = np.empty((b, m), np.int64)
    launch("matching", b, _solve_batch_serial, _solve_batch_parallel, costs, nrows, ncols, out)
    return out


def _pairs(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(cols >= 0)
    return rows, cols[rows]


def _like(x: np.ndarray, ref: Any) -> Any:
    if is_torch(ref):
        torch = namespace(ref)
        return torch.from_numpy(x).to(ref.device)
    return x


def hungarian_match(cost: Any, sizes: Any = None) -> tuple[Any, Any] | list[tuple[Any, Any]]:
    """Minimum-total-cost assignment of rows to columns, like `linear_sum_assignment`.

    * one ``(M, N)`` matrix: returns ``(row_ind, col_ind)``, rows ascending, ``min(M, N)`` pairs;
    * a list of matrices of different sizes: returns a list of such pairs;
    * a padded ``(B, M, N)`` array with ``sizes`` of shape ``(B, 2)`` (rows, cols per problem;
      default the full size): returns a list of pairs.

    torch tensors are solved on the host (there is no GPU kernel: the problems are tiny) and the
    indices come back as int64 tensors on the input's device. Costs must be finite.
    O(r^2 c) per problem with r = min(M, N), c = max(M, N).

    Examples:
        >>> rows, cols = hungarian_match(np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]))
        >>> rows.tolist(), cols.tolist()
        ([0, 1, 2], [1, 0, 2])
        >>> [c.tolist() for _, c in hungarian_match([np.eye(2), np.ones((1, 3))])]
        [[1, 0], [0]]
    """
    if isinstance(cost, Sequence) and not isinstance(cost, (str, bytes)):
        mats = [_numeric(c, f"cost[{k}]") for k, c in enumerate(cost)]
        for k, c in enumerate(mats):
            if c.ndim != 2:
                raise ValueError(f"cost[{k}] must have shape (M, N), got {c.shape}")
        if not mats:
            return []
        m = max(c.shape[0] for c in mats)
        n = max(c.shape[1] for c in mats)
        padded = np.zeros((len(mats), m, n))
        for k, c in enumerate(mats):
            padded[k, : c.shape[0], : c.shape[1]] = c
        nr = np.array([c.shape[0] for c in mats], np.int64)
        nc = np.array([c.shape[1] for c in mats], np.int64)
        cols = hungarian_match_padded(padded, nr, nc)
        refs = list(cost)
        return [
            tuple(_like(x, refs[k]) for x in _pairs(cols[k, : nr[k]])) for k in range(len(mats))
        ]
    shape = tuple(cost.shape) if hasattr(cost, "shape") else np.shape(cost)
    if len(shape) == 2:
        cols = hungarian_match_padded(_numeric(cost, "cost")[None])[0]
        return tuple(_like(x, cost) for x in _pairs(cols))
    if len(shape) == 3:
        if sizes is None:
            nr = nc = None
        else:
            s = np.asarray(to_numpy(sizes), np.int64)
            if s.shape != (shape[0], 2):
                raise ValueError(f"sizes must have shape ({shape[0]}, 2), got {s.shape}")
            nr, nc = s[:, 0], s[:, 1]
        cols = hungarian_match_padded(cost, nr, nc)
        limit = np.full(shape[0], shape[1]) if nr is None else nr
        return [tuple(_like(x, cost) for x in _pairs(cols[k, : limit[k]])) for k in range(shape[0])]
    raise ValueError(f"cost must have shape (M, N) or (B, M, N), or be a list; got {shape}")


# ----------------------------------------------------------------------------- box matchers
#: The matchers `match_boxes` offers, as the published perception recipes use them.
MATCHERS = ("hungarian", "greedy_iou", "greedy_confidence")


def greedy_match(
    ious: Any,
    *,
    scores: Any = None,
    threshold: float = 0.5,
    inclusive: bool = True,
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of predictions (rows) to ground truths (columns).

    * ``scores=None`` (**greedy by IoU**, VLM-R1's ``weighted_sum``): repeatedly take the free
      pair of largest IoU (ties: the first in row-major order) until it falls below
      ``threshold``.
    * ``scores`` given (**greedy by confidence**, Visual-RFT): predictions in descending score
      order (ties keep input order), each takes the free ground truth of largest IoU (ties: the
      first; an IoU must exceed 0); it is kept only if that IoU passes ``threshold``.

    ``inclusive`` says whether an IoU equal to ``threshold`` passes (VLM-R1: yes, Visual-RFT:
    no). Returns ``(prediction, ground truth)`` pairs in the order they were made. NaN IoUs
    never match. O(P G min(P, G)).

    Examples:
        >>> ious = np.array([[0.6, 0.7], [0.9, 0.1]])
        >>> greedy_match(ious)
        [(1, 0), (0, 1)]
        >>> greedy_match(ious, scores=[0.9, 0.1], threshold=0.5, inclusive=False)
        [(0, 1), (1, 0)]
    """
    iou = np.asarray(ious, np.float64)
    if iou.ndim != 2:
        raise ValueError(f"ious must have shape (P, G), got {iou.shape}")
    P, G = iou.shape
    free_p, free_g = list(range(P)), list(range(G))
    pairs: list[tuple[int, int]] = []

    def passes(v: float) -> bool:
        return v >= threshold if inclusive else v > threshold

    if scores is None:
        while free_p and free_g:
            best, bp, bg = -np.inf, -1, -1
            for i in free_p:
                for j in free_g:
                    if iou[i, j] > best:
                        best, bp, bg = iou[i, j], i, j
            if bp < 0 or not passes(best):
                break
            pairs.append((bp, bg))
            free_p.remove(bp)
            free_g.remove(bg)
        return pairs
    s = np.asarray(scores, np.float64).reshape(-1)
    if s.shape != (P,):
        raise ValueError(f"scores must have shape ({P},), got {s.shape}")
    for i in sorted(range(P), key=lambda k: -s[k]):
        best, bg = 0.0, -1
        for j in free_g:
            if iou[i, j] > best:
                best, bg = iou[i, j], j
        if bg >= 0 and passes(best):
            pairs.append((i, bg))
            free_g.remove(bg)
    return pairs


def match_boxes(
    ious: Any,
    method: str = "hungarian",
    *,
    scores: Any = None,
    pred_labels: Any = None,
    gt_labels: Any = None,
    threshold: float = 0.5,
    inclusive: bool = True,
) -> list[tuple[int, int]]:
    """Match predictions to ground truths by IoU with one of `MATCHERS`, optionally
    **label-constrained** (a prediction can only match a ground truth of its label: pass both
    label sequences). ``hungarian`` maximises the total IoU (`hungarian_match`, scipy's pairs)
    and keeps the pairs passing ``threshold``; the greedy ones are `greedy_match`
    (``greedy_confidence`` needs ``scores``). O(P G min(P, G)).

    Examples:
        >>> ious = np.array([[0.6, 0.7], [0.9, 0.1]])
        >>> match_boxes(ious), match_boxes(ious, "greedy_iou")
        ([(0, 1), (1, 0)], [(1, 0), (0, 1)])
        >>> match_boxes(ious, pred_labels=["cat", "dog"], gt_labels=["dog", "dog"])
        [(1, 0)]
    """
    if method not in MATCHERS:
        raise ValueError(f"method must be one of {MATCHERS}, got {method!r}")
    iou = np.array(ious, np.float64)
    if iou.ndim != 2:
        raise ValueError(f"ious must have shape (P, G), got {iou.shape}")
    if (pred_labels is None) != (gt_labels is None):
        raise ValueError("pass both pred_labels and gt_labels for label-constrained matching")
    if pred_labels is not None:
        pl, gl = list(pred_labels), list(gt_labels)
        if (len(pl), len(gl)) != iou.shape:
            raise ValueError(f"{len(pl)} and {len(gl)} labels for ious of shape {iou.shape}")
        same = np.array([[a == b for b in gl] for a in pl], bool).reshape(iou.shape)
        iou = np.where(same, iou, -np.inf)  # never chosen, never passes
    if method == "greedy_iou":
        return greedy_match(iou, threshold=threshold, inclusive=inclusive)
    if method == "greedy_confidence":
        if scores is None:
            raise ValueError("greedy_confidence needs scores")
        return greedy_match(iou, scores=scores, threshold=threshold, inclusive=inclusive)
    if not iou.size:
        return []
    rows, cols = hungarian_match(-np.where(np.isfinite(iou), iou, -1.0))
    kept = []
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        v = iou[i, j]
        if v >= threshold if inclusive else v > threshold:
            kept.append((i, j))
    return kept
