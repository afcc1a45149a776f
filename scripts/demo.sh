#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job end to end: the offline tiny Dr. Seg GRPO training
# (a tiny random Qwen2.5-VL built in code, synthetic shapes, the real TRL GRPOTrainer, 3 steps).
# Extra arguments go to examples/trl_drseg.py, e.g. `bash scripts/demo.sh --max-steps 5`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export HF_HUB_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
exec "$PY" examples/trl_drseg.py --tiny --output-dir "${RANKREWARD_DEMO_DIR:-runs/demo}" "$@"
