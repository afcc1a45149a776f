#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
"$PY" -m ruff check src tests benchmarks examples
"$PY" -m ruff format --check src tests benchmarks examples
exec "$PY" -m pytest "$@"
