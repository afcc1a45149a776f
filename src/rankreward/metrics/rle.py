"""Validated COCO run-length encodings and IoU computed on the runs themselves.

Every RLE that enters rankreward goes through `rle_counts` (one mask) or `RLEBatch` (many):
the compressed string (COCO's 6-bit, delta-coded ``counts``) or the uncompressed counts list is
decoded to int64 run lengths, and the result is checked before any kernel sees it:

- ``size`` is present and is two non-negative integers ``[H, W]``;
- every run is a non-negative integer and the runs sum to exactly ``H * W``;
- a compressed string uses only COCO's alphabet (``'0'`` to ``'o'``) and ends on a complete
  value.

A bad RLE raises ``ValueError`` naming the entry. pycocotools takes such input as it comes and
then loops forever (its run walk never ends on counts that overshoot the mask) or decodes
uninitialised memory (counts that fall short): checking up front is the only safe place.

The IoU kernels walk two run lists side by side (no decode to pixels): O(runs_a + runs_b) per
pair, with a bounding-box test first so that pairs that cannot overlap cost O(1). Values equal
pycocotools' ``maskUtils.iou`` bit for bit (``I / U`` in float64 from integer counts; a crowd
column divides by the detection's area instead of the union).

Runs alternate background and foreground and start with background; masks are column-major
(COCO's Fortran order), so pixel ``p`` is at row ``p % H``, column ``p // H``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from .._parallel import launch

__all__ = [
    "RLEBatch",
    "rle_batch",
    "rle_counts",
    "rle_decode",
    "rle_intersection_union",
    "rle_iou_lists",
    "rle_iou_paired",
    "rle_iou_pairwise",
]

_MAX_SIDE = 1 << 20  # 2^20 per side: H * W stays far inside int64


# ----------------------------------------------------------------------------- decoding
@nb.njit(cache=True)
def _decode_string(s, out):
    """COCO's compressed counts (LEB128-like 5-bit groups, delta-coded after the second run)
    into ``out``. Returns the number of runs, or a negative error code:
    -1 a byte outside '0'..'o', -2 a value cut short, -3 a value too long, -4 a negative run."""
    m = 0
    p = 0
    n = s.shape[0]
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                return -2
            c = np.int64(s[p]) - 48
            if c < 0 or c > 63:
                return -1
            if k > 11:
                return -3
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += out[m - 2]
        if x < 0:
            return -4
        out[m] = x
        m += 1
    return m


_DECODE_ERRORS = {
    -1: "has a character outside COCO's RLE alphabet ('0'..'o')",
    -2: "ends in the middle of a run length",
    -3: "has a run length too long to be a mask run",
    -4: "decodes to a negative run length",
}


def _size(rle: Mapping, where: str) -> tuple[int, int]:
    size = rle.get("size")
    if size is None:
        raise ValueError(f"{where}: RLE has no 'size' ([height, width])")
    try:
        h, w = (int(v) for v in size)
        ok = [float(v) for v in size] == [h, w]
    except (TypeError, ValueError):
        ok = False
    if not ok or h < 0 or w < 0 or h > _MAX_SIDE or w > _MAX_SIDE:
        raise ValueError(f"{where}: RLE size must be [height, width] integers >= 0, got {size!r}")
    return h, w


def rle_counts(rle: Any, where: str = "rle") -> tuple[int, int, np.ndarray]:
    """``(H, W, runs)`` of one COCO RLE dict, validated (see the module docstring).

    ``counts`` may be the compressed string (str or bytes) or the uncompressed list of run
    lengths. O(len(counts)).

    Examples:
        >>> rle_counts({"size": [2, 2], "counts": [1, 2, 1]})[2].tolist()
        [1, 2, 1]
        >>> rle_counts({"size": [2, 2], "counts": "12"})  # 1 + 2 != 4
        Traceback (most recent call last):
        ...
        ValueError: rle: RLE counts sum to 3, not height * width = 4
    """
    if not isinstance(rle, Mapping):
        raise ValueError(f"{where}: a COCO RLE must be a dict with 'size' and 'counts'")
    h, w = _size(rle, where)
    if "counts" not in rle:
        raise ValueError(f"{where}: RLE has no 'counts'")
    counts = rle["counts"]
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: RLE counts {_DECODE_ERRORS[-1]}") from None
    if isinstance(counts, (bytes, bytearray)):
        raw = np.frombuffer(bytes(counts), np.uint8)
        runs = np.empty(len(raw), np.int64)
        m = _decode_string(raw, runs)
        if m < 0:
            raise ValueError(f"{where}: RLE counts {_DECODE_ERRORS[int(m)]}")
        runs = runs[:m]
    else:
        runs = _count_list(counts, where)
    total = int(runs.sum())
    if total != h * w:
        raise ValueError(f"{where}: RLE counts sum to {total}, not height * width = {h * w}")
    return h, w, runs


def _count_list(counts: Any, where: str) -> np.ndarray:
    if isinstance(counts, np.ndarray):
        arr = counts.reshape(-1)
    elif isinstance(counts, Sequence):
        arr = np.asarray(counts) if counts else np.zeros(0, np.int64)
    else:
        raise ValueError(
            f"{where}: RLE counts must be a string or a list of run lengths, got "
            f"{type(counts).__name__}"
        )
    if arr.ndim != 1 or (arr.dtype.kind not in "iub" and not _integral_floats(arr)):
        raise ValueError(f"{where}: RLE counts must be a flat list of integers")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise ValueError(f"{where}: RLE counts has a negative run length")
    return arr


def _integral_floats(arr: np.ndarray) -> bool:
    return (
        arr.dtype.kind == "f"
        and bool(np.isfinite(arr).all())
        and bool((arr == np.round(arr)).all())
    )


# ----------------------------------------------------------------------------- batches
@dataclass
class RLEBatch:
    """Many validated RLEs as flat arrays, the layout the kernels read.

    Attributes:
        runs: every mask's run lengths, concatenated (int64).
        start: ``(n + 1,)`` offsets into ``runs``.
        hw: ``(n, 2)`` heights and widths.
        area: ``(n,)`` foreground pixel counts.
        bbox: ``(n, 4)`` ``x0, y0, x1, y1`` inclusive pixel bounds of the foreground (a superset
            box when a run spans columns), ``-1`` for an empty mask; only the IoU prefilter
            reads it.
    """

    runs: np.ndarray
    start: np.ndarray
    hw: np.ndarray
    area: np.ndarray
    bbox: np.ndarray

    def __len__(self) -> int:
        return len(self.area)


@nb.njit(cache=True)
def _area_bbox(runs, start, hw, area, bbox):
    for r in range(start.shape[0] - 1):
        h = hw[r, 0]
        pos = 0
        a = 0
        x0 = y0 = np.int64(1) << 62
        x1 = y1 = np.int64(-1)
        for j in range(start[r], start[r + 1]):
            n = runs[j]
            if (j - start[r]) % 2 == 1 and n > 0:
                a += n
                c0 = pos // h
                c1 = (pos + n - 1) // h
                x0 = min(x0, c0)
                x1 = max(x1, c1)
                if c0 != c1:
                    y0 = 0
                    y1 = h - 1
                else:
                    y0 = min(y0, pos - c0 * h)
                    y1 = max(y1, pos + n - 1 - c0 * h)
            pos += n
        area[r] = a
        if a == 0:
            bbox[r, 0] = bbox[r, 1] = bbox[r, 2] = bbox[r, 3] = -1
        else:
            bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3] = x0, y0, x1, y1


@nb.njit(cache=True)
def _decode_many(buf, bstart, out, rstart, err):
    """`_decode_string` for many strings at once: string k is ``buf[bstart[k]:bstart[k+1]]``,
    its runs go to ``out[rstart[k]:]`` (room for one run per byte); ``rstart[k+1]`` becomes
    the end of its runs and ``err[k]`` an error code (0 if fine)."""
    for k in range(bstart.shape[0] - 1):
        m = _decode_string(buf[bstart[k] : bstart[k + 1]], out[rstart[k] :])
        if m < 0:
            err[k] = m
            m = 0
        rstart[k + 1] = rstart[k] + m


def rle_batch(rles: Sequence[Any], what: str = "rle") -> RLEBatch:
    """Validate and flatten a list of RLE dicts (the rules of `rle_counts`, each entry named in
    the error). Compressed strings are decoded in one Numba pass. O(total runs).

    Examples:
        >>> b = rle_batch([{"size": [2, 2], "counts": [1, 2, 1]}, {"size": [2, 2], "counts": "4"}])
        >>> b.area.tolist(), b.bbox.tolist()
        ([2, 0], [[0, 0, 1, 1], [-1, -1, -1, -1]])
    """
    n = len(rles)
    sizes: list[Any] = []
    strings: list[bytes] = []
    str_rows: list[int] = []
    lists: dict[int, np.ndarray] = {}
    for k, r in enumerate(rles):
        if not isinstance(r, Mapping) or "counts" not in r or "size" not in r:
            rle_counts(r, f"{what}[{k}]")  # raises, naming what is missing
        sizes.append(r["size"])
        c = r["counts"]
        if isinstance(c, bytes):
            strings.append(c)
            str_rows.append(k)
        elif isinstance(c, str) and c.isascii():
            strings.append(c.encode("ascii"))
            str_rows.append(k)
        else:
            lists[k] = rle_counts(r, f"{what}[{k}]")[2]
    hw = _sizes(sizes, rles, what)
    # compressed strings: one decode pass for all of them
    lengths = np.fromiter((len(b) for b in strings), np.int64, len(strings))
    bstart = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(lengths, out=bstart[1:])
    buf = np.frombuffer(b"".join(strings), np.uint8)
    dec = np.empty(len(buf), np.int64)
    rstart = np.zeros(len(strings) + 1, np.int64)
    err = np.zeros(len(strings), np.int64)
    if strings:
        _decode_many(buf, bstart, dec, rstart, err)
        bad = np.flatnonzero(err)
        if len(bad):
            k = str_rows[int(bad[0])]
            raise ValueError(f"{what}[{k}]: RLE counts {_DECODE_ERRORS[int(err[bad[0]])]}")
    if not lists:  # all compressed (result files): the decoded runs are already in order
        start, runs = rstart, dec[: rstart[-1]]
        nruns = np.diff(start)
    else:
        nruns = np.zeros(n, np.int64)
        rows = np.asarray(str_rows, np.int64)
        nruns[rows] = np.diff(rstart)
        for k, r in lists.items():
            nruns[k] = len(r)
        start = np.zeros(n + 1, np.int64)
        np.cumsum(nruns, out=start[1:])
        runs = np.empty(int(start[-1]), np.int64)
        if strings:
            _scatter(dec, rstart, start, rows, runs)
        for k, r in lists.items():
            runs[start[k] : start[k + 1]] = r
    area = np.zeros(n, np.int64)
    bbox = np.zeros((n, 4), np.int64)
    total = np.add.reduceat(runs, start[:-1]) if len(runs) else np.zeros(n, np.int64)
    total = np.where(nruns > 0, total, 0)
    wrong = np.flatnonzero(total != hw[:, 0] * hw[:, 1])
    if len(wrong):
        k = int(wrong[0])
        raise ValueError(
            f"{what}[{k}]: RLE counts sum to {int(total[k])}, not height * width = "
            f"{int(hw[k, 0] * hw[k, 1])}"
        )
    _area_bbox(runs, start, hw, area, bbox)
    return RLEBatch(runs, start, hw, area, bbox)


@nb.njit(cache=True)
def _scatter(dec, rstart, start, rows, runs):
    for i in range(rows.shape[0]):
        k = rows[i]
        runs[start[k] : start[k + 1]] = dec[rstart[i] : rstart[i + 1]]


def _sizes(sizes: list[Any], rles: Sequence[Any], what: str) -> np.ndarray:
    """``(n, 2)`` int64 sizes, checked all at once; the first bad one is named."""
    try:
        arr = np.asarray(sizes, dtype=np.float64).reshape(len(sizes), 2) if sizes else None
    except (TypeError, ValueError):
        arr = None
    if arr is None and not sizes:
        return np.zeros((0, 2), np.int64)
    if (
        arr is None
        or not np.isfinite(arr).all()
        or (arr != np.round(arr)).any()
        or (arr < 0).any()
        or (arr > _MAX_SIDE).any()
    ):
        for k, r in enumerate(rles):
            _size(r, f"{what}[{k}]")
    return arr.astype(np.int64)


# ----------------------------------------------------------------------------- IoU kernels
@nb.njit(cache=True, inline="always")
def _intersection(runs, a0, a1, b0, b1):
    """Foreground pixels common to two run lists (same H, W), walking both at once."""
    ia = a0
    ib = b0
    ra = runs[ia]
    rb = runs[ib]
    inter = 0
    while True:
        c = min(ra, rb)
        if (ia - a0) % 2 == 1 and (ib - b0) % 2 == 1:
            inter += c
        ra -= c
        rb -= c
        while ra == 0:
            ia += 1
            if ia >= a1:
                return inter
            ra = runs[ia]
        while rb == 0:
            ib += 1
            if ib >= b1:
                return inter
            rb = runs[ib]


@nb.njit(cache=True, inline="always")
def _pair_iou(runs, start, area, bbox, d, g, crowd):
    """pycocotools' value for detection ``d`` against ground truth ``g``."""
    if area[d] == 0 or area[g] == 0:
        return 0.0
    if (
        bbox[d, 0] > bbox[g, 2]
        or bbox[g, 0] > bbox[d, 2]
        or bbox[d, 1] > bbox[g, 3]
        or bbox[g, 1] > bbox[d, 3]
    ):
        return 0.0
    i = _intersection(runs, start[d], start[d + 1], start[g], start[g + 1])
    if i == 0:
        return 0.0
    u = area[d] if crowd else area[d] + area[g] - i
    return np.float64(i) / np.float64(u)


@nb.njit(cache=True)
def _pairwise_serial(runs, start, area, bbox, n_d, crowd, out):
    for r in range(out.size):
        d = r // out.shape[1]
        g = r - d * out.shape[1]
        out[d, g] = _pair_iou(runs, start, area, bbox, d, n_d + g, crowd[g])


@nb.njit(cache=True, parallel=True)
def _pairwise_parallel(runs, start, area, bbox, n_d, crowd, out):
    for r in nb.prange(out.size):
        d = r // out.shape[1]
        g = r - d * out.shape[1]
        out[d, g] = _pair_iou(runs, start, area, bbox, d, n_d + g, crowd[g])


@nb.njit(cache=True)
def _paired_serial(runs, start, area, bbox, n, out):
    for k in range(n):
        out[k] = _pair_iou(runs, start, area, bbox, k, n + k, False)


@nb.njit(cache=True, parallel=True)
def _paired_parallel(runs, start, area, bbox, n, out):
    for k in nb.prange(n):
        out[k] = _pair_iou(runs, start, area, bbox, k, n + k, False)


@nb.njit(cache=True, parallel=True)
def _group_ious(d_index, g_index, gstart, dstart, iou_start, runs, start, area, bbox, crowd, out):
    """COCO's per-(category, image) IoU blocks: rows are detections, columns ground truths.
    ``d_index`` / ``g_index`` map the evaluation order to rows of the RLE batch."""
    for grp in nb.prange(gstart.shape[0] - 1):
        g0, g1 = gstart[grp], gstart[grp + 1]
        d0, d1 = dstart[grp], dstart[grp + 1]
        G = g1 - g0
        if G == 0 or d1 == d0:
            continue
        base = iou_start[grp]
        for d in range(d0, d1):
            for g in range(g0, g1):
                out[base + (d - d0) * G + (g - g0)] = _pair_iou(
                    runs, start, area, bbox, d_index[d], g_index[g], crowd[g]
                )


def _concat(a: RLEBatch, b: RLEBatch) -> RLEBatch:
    return RLEBatch(
        runs=np.concatenate([a.runs, b.runs]),
        start=np.concatenate([a.start[:-1], b.start + a.start[-1]]),
        hw=np.concatenate([a.hw, b.hw]),
        area=np.concatenate([a.area, b.area]),
        bbox=np.concatenate([a.bbox, b.bbox]),
    )


def rle_iou_lists(dt: Sequence[Any], gt: Sequence[Any], pairwise: bool) -> np.ndarray:
    """IoU of two lists of RLE dicts (validated in one pass over both): ``(D, G)`` pairwise or
    ``(n,)`` paired. What `rankreward.metrics.mask_iou` runs on RLE input."""
    both = rle_batch([*dt, *gt], "rle")
    n_d = len(dt)
    if pairwise:
        return _pairwise(both, n_d, np.zeros(len(gt), np.bool_))
    if n_d != len(gt):
        raise ValueError(f"paired RLE lists differ in length: {n_d} and {len(gt)}")
    return _paired(both, n_d)


def _pairwise(both: RLEBatch, n_d: int, crowd: np.ndarray) -> np.ndarray:
    sizes = np.unique(both.hw, axis=0)
    if len(sizes) > 1:
        raise ValueError(f"pairwise RLE IoU needs masks of one size, got sizes {sizes.tolist()}")
    out = np.zeros((n_d, len(both) - n_d))
    if out.size:
        args = (both.runs, both.start, both.area, both.bbox, n_d, crowd, out)
        launch("rle", out.size, _pairwise_serial, _pairwise_parallel, *args)
    return out


def _check_paired_sizes(both: RLEBatch, n: int) -> None:
    dh, gh = both.hw[:n], both.hw[n:]
    bad = np.flatnonzero((dh != gh).any(axis=1))
    if len(bad):
        k = int(bad[0])
        raise ValueError(f"pair {k}: mask sizes differ, {dh[k].tolist()} and {gh[k].tolist()}")


def _paired(both: RLEBatch, n: int) -> np.ndarray:
    _check_paired_sizes(both, n)
    out = np.zeros(n)
    if n:
        args = (both.runs, both.start, both.area, both.bbox, n, out)
        launch("rle", n, _paired_serial, _paired_parallel, *args)
    return out


def rle_iou_pairwise(dt: RLEBatch, gt: RLEBatch, iscrowd: Any = None) -> np.ndarray:
    """``(D, G)`` IoU of every detection mask against every ground-truth mask (one size).
    ``iscrowd[g]`` divides by the detection's area instead of the union (COCO's crowd rule).
    O(D G) box tests plus O(runs) per overlapping pair; parallel over pairs when large."""
    crowd = np.zeros(len(gt), np.bool_) if iscrowd is None else np.asarray(iscrowd, np.bool_)
    if crowd.shape != (len(gt),):
        raise ValueError(f"iscrowd must have shape ({len(gt)},), got {crowd.shape}")
    return _pairwise(_concat(dt, gt), len(dt), crowd)


def rle_iou_paired(dt: RLEBatch, gt: RLEBatch) -> np.ndarray:
    """``(n,)`` IoU of ``dt[k]`` with ``gt[k]``. O(runs) per pair; parallel when large."""
    if len(dt) != len(gt):
        raise ValueError(f"paired RLE lists differ in length: {len(dt)} and {len(gt)}")
    return _paired(_concat(dt, gt), len(dt))


@nb.njit(cache=True)
def _paired_inter(runs, start, area, bbox, n, inter):
    for k in range(n):
        if area[k] and area[n + k]:
            inter[k] = _intersection(runs, start[k], start[k + 1], start[n + k], start[n + k + 1])


def rle_intersection_union(dt: RLEBatch, gt: RLEBatch) -> tuple[np.ndarray, np.ndarray]:
    """Paired intersection and union pixel counts, ``(n,)`` int64 each. O(runs) per pair."""
    if len(dt) != len(gt):
        raise ValueError(f"paired RLE lists differ in length: {len(dt)} and {len(gt)}")
    both = _concat(dt, gt)
    _check_paired_sizes(both, len(dt))
    inter = np.zeros(len(dt), np.int64)
    if len(dt):
        _paired_inter(both.runs, both.start, both.area, both.bbox, len(dt), inter)
    return inter, dt.area + gt.area - inter


def rle_decode(h: int, w: int, runs: np.ndarray) -> np.ndarray:
    """Boolean ``(H, W)`` mask of validated runs. O(H W)."""
    values = np.zeros(len(runs), np.bool_)
    values[1::2] = True
    return np.repeat(values, runs).reshape(w, h).T.copy()
