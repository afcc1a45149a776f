#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job end to end, offline on the CPU: a tiny
# Qwen2.5-VL built in code, warm-started on synthetic shapes, trained with GRPO (the real TRL
# GRPOTrainer, the Dr. Seg reward) and evaluated on a held-out split before and after; prints
# a table and writes summary.json and reward_components.png to runs/demo.
# Extra arguments go to examples/demo_drseg.py, e.g. `bash scripts/demo.sh --seed 1`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
export PYTHONWARNINGS="ignore::FutureWarning,ignore::UserWarning"
exec "$PY" examples/demo_drseg.py --output-dir "${RANKREWARD_DEMO_DIR:-runs/demo}" "$@"
