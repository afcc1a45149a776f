#!/usr/bin/env bash
# The device check (a lent GPU, no network, under 8 minutes): the torch rank backend at
# B = 65536, W = 1M against numba on the CPU, and the think2seg-rs mask reward with a
# SAM2.1-L-shaped model (random weights) at G = 8 against the released per-completion design.
# Writes one JSON (default gpu_check.json; pass --out PATH). Uses .venv when it is there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
cd "$ROOT"
exec timeout 480 "$PY" benchmarks/gpu_check.py "$@"
