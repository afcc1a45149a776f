"""Benchmark: values ranked per second by RankNormalizer backends against three baselines.

Measures, in one run and interleaved round-robin (so machine noise hits every method alike):
  * every backend's ``update_and_rank`` (rank a batch against the window, then append it),
  * (a) reference style: a Python loop doing one ``torch.searchsorted`` per value and metric
        against a sorted snapshot, then a full ``torch.sort`` of the window per step,
  * (b) numpy: vectorised ``np.searchsorted`` plus a full ``np.sort`` re-sort per step,
  * (c) ``np.searchsorted`` on a fixed sorted array with no update (a lower-bound proxy).
Windows are full (steady state: every step evicts as many values as it adds), 3 metrics, one
thread. Writes the table into the ``bench_rank`` section of ``docs/performance.md`` and the plot
to ``docs/img/rank_throughput.png``.

    python benchmarks/bench_rank.py            # the full grid
    python benchmarks/bench_rank.py --quick    # a small grid (used by the test suite)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import sys

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import replace_section

from rankreward import RankNormalizer

K = 3
ROOT = Path(__file__).resolve().parents[1]


class BaselineA:
    """Reference style: per-value torch.searchsorted in a Python loop, full torch.sort per step."""

    name = "(a) per-value torch loop"

    def __init__(self, window: np.ndarray):
        import torch

        self.torch = torch
        self.ring = torch.from_numpy(window.T.copy())  # (K, n)
        self.sorted = torch.sort(self.ring, dim=1).values

    def __call__(self, values: np.ndarray) -> np.ndarray:
        torch = self.torch
        b = values.shape[0]
        out = np.empty((b, K))
        n = self.sorted.shape[1]
        for k in range(K):
            row = self.sorted[k]
            for i in range(b):
                q = torch.tensor([values[i, k]], dtype=row.dtype)
                out[i, k] = torch.searchsorted(row, q, right=True).item() / n
        self.ring = torch.cat([self.ring, torch.from_numpy(values.T.copy())], dim=1)[:, b:]
        self.sorted = torch.sort(self.ring, dim=1).values
        return out


def search_sorted_rows(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """count(<= x) / n per metric with one vectorised np.searchsorted per metric."""
    n = sorted_rows.shape[1]
    out = np.empty(values.shape)
    for k in range(K):
        out[:, k] = np.searchsorted(sorted_rows[k], values[:, k], side="right") / n
    return out


class BaselineB:
    """numpy: vectorised searchsorted against a sorted snapshot, full np.sort per step."""

    name = "(b) numpy searchsorted + re-sort"

    def __init__(self, window: np.ndarray):
        self.ring = np.ascontiguousarray(window.T)  # (K, n), oldest first
        self.sorted = np.sort(self.ring, axis=1)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        out = search_sorted_rows(self.sorted, values)
        b = values.shape[0]
        self.ring = np.concatenate([self.ring[:, b:], values.T], axis=1)
        self.sorted = np.sort(self.ring, axis=1)
        return out


class BaselineC:
    """np.searchsorted on a fixed sorted array, no update: a lower bound on any method's cost."""

    name = "(c) searchsorted, no update"

    def __init__(self, window: np.ndarray):
        self.sorted = np.sort(window.T, axis=1)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return search_sorted_rows(self.sorted, values)


def backend_method(backend: str, window: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    norm = RankNormalizer(num_metrics=K, window=window.shape[0], backend=backend)
    norm.update(window)
    return norm.update_and_rank


def measure(grid, methods, budget: float, max_rounds: int, progress) -> dict:
    """Median seconds per step for every (method, B, window), methods interleaved per round."""
    rng = np.random.default_rng(0)
    results = {}
    for window_size, batch in grid:
        window = rng.random((window_size, K))
        batches = [rng.random((batch, K)) for _ in range(8)]
        runners = {}
        for name, factory, limit in methods:
            if limit is None or limit(window_size, batch):
                runners[name] = factory(window)
        # Warm-up (JIT compilation, allocator) and calibration: each round times a burst of
        # consecutive calls lasting ~5 ms, as in a training loop, rather than one cold call.
        reps = {}
        for name, fn in runners.items():
            fn(batches[0])
            t0 = time.perf_counter()
            fn(batches[1])
            reps[name] = max(1, int(0.005 / max(time.perf_counter() - t0, 1e-7)))
        times = {name: [] for name in runners}
        start = time.perf_counter()
        rounds = 0
        while rounds < 3 or (time.perf_counter() - start < budget and rounds < max_rounds):
            for name, fn in runners.items():
                t0 = time.perf_counter()
                for r in range(reps[name]):
                    fn(batches[(rounds + r) % len(batches)])
                times[name].append((time.perf_counter() - t0) / reps[name])
            rounds += 1
        for name, ts in times.items():
            results[(name, window_size, batch)] = statistics.median(ts)
        progress(window_size, batch, rounds)
    return results


def write_report(results, grid, method_names, out_md: Path, out_png: Path | None) -> str:
    lines = [
        "| window | B | " + " | ".join(method_names) + " | best vs (a) | best vs (b) |",
        "|---:|---:|" + "---:|" * (len(method_names) + 2),
    ]
    backends = [m for m in method_names if not m.startswith("(")]
    for window_size, batch in grid:
        row = [f"{window_size:,}", str(batch)]
        for name in method_names:
            t = results.get((name, window_size, batch))
            row.append("—" if t is None else f"{batch * K / t / 1e6:.2f} M/s<br>{t * 1e6:,.0f} µs")
        best = min(results[(m, window_size, batch)] for m in backends
                   if (m, window_size, batch) in results)  # fmt: skip
        a = results.get((BaselineA.name, window_size, batch))
        b = results[(BaselineB.name, window_size, batch)]
        row.append("—" if a is None else f"{a / best:,.0f}x")
        row.append(f"{b / best:.1f}x")
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines)
    section = (
        "Values ranked per second (`update_and_rank`: rank the batch, then append it; "
        f"{K} metrics, full window, one thread) and median time per step; generated by "
        f"`benchmarks/bench_rank.py` on {time.strftime('%Y-%m-%d')}.\n\n" + table + "\n"
    )
    replace_section(out_md, "bench_rank", section)
    if out_png is not None:
        plot(results, grid, method_names, out_png)
    return table


def plot(results, grid, method_names, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = sorted({w for w, _ in grid})
    fig, axes = plt.subplots(1, len(windows), figsize=(4.2 * len(windows), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, w in zip(axes, windows, strict=True):
        batches = sorted(b for ww, b in grid if ww == w)
        for name in method_names:
            pts = [(b, b * K / results[(name, w, b)] / 1e6) for b in batches
                   if (name, w, b) in results]  # fmt: skip
            if pts:
                xs, ys = zip(*pts, strict=True)
                style = "--" if name.startswith("(") else "-"
                ax.plot(xs, ys, style, marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"window {w:,}")
        ax.set_xlabel("batch size B")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("million values ranked / s")
    # one legend below all panels, where it hides no data and reads at the page's width
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid, short budget")
    parser.add_argument("--budget", type=float, default=None, help="seconds per grid cell")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "rank_throughput.png")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)

    if args.quick:
        grid = [(2048, 16), (2048, 1024)]
        budget = args.budget or 0.2
    else:
        grid = [(w, b) for w in (2048, 65536, 1048576) for b in (16, 128, 1024, 8192)]
        budget = args.budget or 1.5
    backends = ["numba", "sorted", "torch"]
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        backends.remove("torch")
    methods = [(be, (lambda w, be=be: backend_method(be, w)), None) for be in backends]
    methods += [
        # The per-value loop costs ~10 us a value: keep it to batches where it ends in time.
        (BaselineA.name, BaselineA, (lambda w, b: b <= 1024)) if "torch" in backends else None,
        (BaselineB.name, BaselineB, None),
        (BaselineC.name, BaselineC, None),
    ]
    methods = [m for m in methods if m is not None]
    names = [m[0] for m in methods]

    try:
        from tqdm import tqdm

        bar = tqdm(total=len(grid), desc="bench_rank", unit="cell")
    except ImportError:  # pragma: no cover
        bar = None

    def progress(w, b, rounds):
        if bar is not None:
            bar.set_postfix_str(f"window={w} B={b} rounds={rounds}")
            bar.update(1)

    results = measure(grid, methods, budget, max_rounds=2000, progress=progress)
    if bar is not None:
        bar.close()
    table = write_report(results, grid, names, args.out, None if args.no_plot else args.plot)
    print(table)
    return table


if __name__ == "__main__":
    main()
