#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job end to end.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
exec "$PY" examples/normalizer_demo.py "$@"
