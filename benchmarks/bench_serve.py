"""The reward service against the released design's rank server, as ratios in one run.

Released Dr. Seg ranks through a separate TCP process with one round trip per completion: the
trainer computes a completion's raw metrics, sends them, and waits for their rank. The baseline
here is that design (a threaded socket server holding one window, one JSON line per completion
each way: the same round trips without pickle); its clients score the batch locally with the
same preset first. `rankreward serve` gets the whole batch (texts and ground truths) in one
HTTP request and scores, ranks and stages it there.

For batches of 64 / 512 / 4096 completions (the seg-zero preset, ranked) and 1 / 4 / 16
concurrent clients: rows per second over all clients and the p50 / p99 latency of one batch.
Run: ``python benchmarks/bench_serve.py [--quick]``; writes a table to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, replace_section

from rankreward.adapters.remote import RemoteReward
from rankreward.normalize import RankNormalizer
from rankreward.rewards import preset
from rankreward.testing.recipe_batches import segzero_batch

RANKED = ("iou_value", "box_l1_value", "point_value")


class _RankHandler(socketserver.StreamRequestHandler):
    """One JSON line in (a completion's raw values), its ranks out: the released design."""

    def handle(self) -> None:
        server = self.server
        for line in self.rfile:
            values = json.loads(line)
            with server.lock:  # type: ignore[attr-defined]
                ranks = [float(w.rank_and_stage([[v]])[0, 0]) if v is not None else None
                         for w, v in zip(server.windows, values, strict=True)]  # type: ignore[attr-defined]  # fmt: skip
            self.wfile.write((json.dumps(ranks) + "\n").encode())


class _RankServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RankHandler)
        self.lock = threading.Lock()
        self.windows = [RankNormalizer.paper(num_metrics=1) for _ in RANKED]


def _released_client(port: int, batches: list, out: list) -> None:
    local = preset("seg-zero", ranked=False)
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rwb")
        for texts, gts in batches:
            start = time.perf_counter()
            terms = local.terms(texts, gts).columns
            for k in range(len(texts)):
                row = [None if np.isnan(terms[c][k]) else float(terms[c][k]) for c in RANKED]
                f.write((json.dumps(row) + "\n").encode())
                f.flush()
                json.loads(f.readline())
            out.append(time.perf_counter() - start)


def _service_client(url: str, batches: list, out: list) -> None:
    remote = RemoteReward(url)
    for texts, gts in batches:
        start = time.perf_counter()
        remote.score(texts, gts)
        out.append(time.perf_counter() - start)


def _run(clients: int, batches: list, target, *args) -> tuple[float, float, float]:
    latencies: list[float] = []
    threads = [threading.Thread(target=target, args=(*args, batches, latencies))
               for _ in range(clients)]  # fmt: skip
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    rows = clients * sum(len(b[0]) for b in batches)
    return rows / wall, float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def _start_service() -> tuple[str, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rankreward.cli", "serve", "--preset",
                             "seg-zero", "--ranked", "--port", str(port), "--log-level", "warning",
                             "--commit-every", "8192"],
                            env=os.environ.copy())  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            return url, proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the service did not start")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64-row batches, 1 and 4 clients")
    parser.add_argument("--rows", type=int, default=8192, help="rows per client per setting")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    sizes = [64] if args.quick else [64, 512, 4096]
    client_counts = [1, 4] if args.quick else [1, 4, 16]
    rows_per_client = 256 if args.quick else args.rows
    rng = np.random.default_rng(0)
    rank_server = _RankServer()
    threading.Thread(target=rank_server.serve_forever, daemon=True).start()
    url, proc = _start_service()
    lines = []
    try:
        for size in sizes:
            batches = [
                segzero_batch(size, rng, 0.2) for _ in range(max(1, rows_per_client // size))
            ]
            _service_client(url, batches[:1], [])  # warm-up (Numba, connections)
            _released_client(rank_server.server_address[1], batches[:1], [])
            for clients in client_counts:
                ours = _run(clients, batches, _service_client, url)
                theirs = _run(clients, batches, _released_client, rank_server.server_address[1])
                lines.append(f"| {size} | {clients} | {ours[0]:,.0f} | {ours[1] * 1e3:.1f} / "
                             f"{ours[2] * 1e3:.1f} | {theirs[0]:,.0f} | {theirs[1] * 1e3:.1f} / "
                             f"{theirs[2] * 1e3:.1f} | {ours[0] / theirs[0]:.1f}x |")  # fmt: skip
                print(lines[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        rank_server.shutdown()
    table = (
        "### Reward service: batched HTTP vs one round trip per completion\n\n"
        "| batch | clients | service rows/s | service p50 / p99 ms | released-design rows/s | "
        "released p50 / p99 ms | speed-up |\n|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(lines)
        + "\n\n`benchmarks/bench_serve.py`: seg-zero (ranked) on one machine over loopback; the "
        "released design scores locally, then ranks each completion with one socket round trip "
        "to a rank server (JSON lines, no pickle). Clients are threads of one process.\n"
    )
    replace_section(args.out, "bench_serve", table)
    return table


if __name__ == "__main__":
    main()
