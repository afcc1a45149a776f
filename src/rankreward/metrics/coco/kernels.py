"""The Numba kernels of the COCO evaluation: box IoUs per (category, image) group, greedy
matching per IoU threshold in pycocotools' loop order, and the per-category accumulation."""

from __future__ import annotations

import numba as nb
import numpy as np


# ----------------------------------------------------------------------------- kernels
@nb.njit(cache=True)
def _bbox_iou_group(db, gb, crowd, out):
    """pycocotools' ``bbIou`` (maskApi.c) for one group, same float64 operations in the same
    order: rows are detections, columns ground truths (xywh)."""
    for g in range(gb.shape[0]):
        ga = gb[g, 2] * gb[g, 3]
        for d in range(db.shape[0]):
            da = db[d, 2] * db[d, 3]
            w = min(db[d, 0] + db[d, 2], gb[g, 0] + gb[g, 2]) - max(db[d, 0], gb[g, 0])
            if w <= 0:
                out[d, g] = 0.0
                continue
            h = min(db[d, 1] + db[d, 3], gb[g, 1] + gb[g, 3]) - max(db[d, 1], gb[g, 1])
            if h <= 0:
                out[d, g] = 0.0
                continue
            i = w * h
            u = da if crowd[g] else da + ga - i
            out[d, g] = i / u


@nb.njit(cache=True, parallel=True)
def _bbox_ious(gstart, dstart, g_box, d_box, g_crowd, iou_start, ious):
    for grp in nb.prange(gstart.shape[0] - 1):
        g0, g1 = gstart[grp], gstart[grp + 1]
        d0, d1 = dstart[grp], dstart[grp + 1]
        if g1 == g0 or d1 == d0:
            continue
        block = ious[iou_start[grp] : iou_start[grp] + (d1 - d0) * (g1 - g0)]
        _bbox_iou_group(
            d_box[d0:d1], g_box[g0:g1], g_crowd[g0:g1], block.reshape((d1 - d0, g1 - g0))
        )


@nb.njit(cache=True, parallel=True)
def _match_groups(
    gstart, dstart, iou_start, ious, g_area, g_crowd, g_id, d_area, thr, area_rng, matched, ignored
):
    """pycocotools' ``evaluateImg`` for every (category, image) group and area range.

    Writes ``matched[a, t, j]`` (matched to a ground truth with a non-zero id) and
    ``ignored[a, t, j]`` for every kept detection j (in score order within its group).
    """
    T = thr.shape[0]
    A = area_rng.shape[0]
    for grp in nb.prange(gstart.shape[0] - 1):
        g0, g1 = gstart[grp], gstart[grp + 1]
        d0, d1 = dstart[grp], dstart[grp + 1]
        G, D = g1 - g0, d1 - d0
        if D == 0:
            continue
        if G:
            iou = ious[iou_start[grp] : iou_start[grp] + D * G].reshape((D, G))
        else:
            iou = np.zeros((D, 0))
        g_ign = np.empty(G, np.bool_)
        order = np.empty(G, np.int64)
        taken = np.zeros(G, np.bool_)
        for a in range(A):
            lo, hi = area_rng[a, 0], area_rng[a, 1]
            # ground truths sorted by ignore flag, stably: non-ignored first
            n = 0
            for pas in range(2):
                for g in range(G):
                    ig = g_crowd[g0 + g] or g_area[g0 + g] < lo or g_area[g0 + g] > hi
                    if ig == (pas == 1):
                        order[n] = g
                        g_ign[n] = ig
                        n += 1
            for t in range(T):
                taken[:] = False
                for d in range(D):
                    best = min(thr[t], 1 - 1e-10)
                    m = -1
                    for gi in range(G):
                        g = order[gi]
                        if taken[gi] and not g_crowd[g0 + g]:
                            continue
                        if m > -1 and not g_ign[m] and g_ign[gi]:
                            break
                        if iou[d, g] < best:
                            continue
                        best = iou[d, g]
                        m = gi
                    j = d0 + d
                    if m == -1:
                        matched[a, t, j] = False
                        ignored[a, t, j] = d_area[j] < lo or d_area[j] > hi
                    else:
                        taken[m] = True
                        gid = g_id[g0 + order[m]]
                        matched[a, t, j] = gid != 0
                        ignored[a, t, j] = g_ign[m] or (
                            gid == 0 and (d_area[j] < lo or d_area[j] > hi)
                        )


@nb.njit(cache=True, parallel=True)
def _accumulate(
    cat_start, d_score, d_pos, matched, ignored, npig, max_dets, rec_thr, prec, rec, sc
):
    """pycocotools' ``accumulate`` for every category (in parallel)."""
    K = cat_start.shape[0] - 1
    A, T = matched.shape[0], matched.shape[1]
    R = rec_thr.shape[0]
    for k in nb.prange(K):
        c0, c1 = cat_start[k], cat_start[k + 1]
        for m in range(max_dets.shape[0]):
            keep = np.empty(c1 - c0, np.int64)
            n = 0
            for j in range(c0, c1):
                if d_pos[j] < max_dets[m]:
                    keep[n] = j
                    n += 1
            keep = keep[:n]
            order = keep[np.argsort(-d_score[keep], kind="mergesort")]
            s_sorted = d_score[order]
            for a in range(A):
                if npig[k, a] == 0:
                    continue
                for t in range(T):
                    tp = 0.0
                    fp = 0.0
                    rc = np.empty(n)
                    pr = np.empty(n)
                    for i in range(n):
                        j = order[i]
                        if not ignored[a, t, j]:
                            if matched[a, t, j]:
                                tp += 1.0
                            else:
                                fp += 1.0
                        rc[i] = tp / npig[k, a]
                        pr[i] = tp / (fp + tp + np.spacing(1))
                    rec[t, k, a, m] = rc[n - 1] if n else 0.0
                    for i in range(n - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    inds = np.searchsorted(rc, rec_thr, side="left")
                    for r in range(R):
                        if inds[r] < n:
                            prec[t, r, k, a, m] = pr[inds[r]]
                            sc[t, r, k, a, m] = s_sorted[inds[r]]
                        else:
                            prec[t, r, k, a, m] = 0.0
                            sc[t, r, k, a, m] = 0.0
