#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Extra arguments go to pytest.
#
# verl pins a transformers range that TRL's tiny training does not use, so the verl adapter
# tests run in a second environment, .venv-verl (verl with all its dependencies, ~2 GB, a few
# minutes the first time). RANKREWARD_VERL=0 skips it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
"$PY" -m ruff check src tests benchmarks examples
"$PY" -m ruff format --check src tests benchmarks examples

status=0
"$PY" -m pytest "$@" || status=$?

if [ "${RANKREWARD_VERL:-1}" != "0" ]; then
    VERL_VENV="$ROOT/.venv-verl"
    make_venv "$VERL_VENV"
    verl_want="$(cat pyproject.toml scripts/test.sh | sha256sum | cut -c1-16)-verl"
    if ! up_to_date "$VERL_VENV" "$verl_want"; then
        echo "[setup] installing rankreward[verl] into $VERL_VENV"
        "$VERL_VENV/bin/python" -m pip install -q --upgrade pip
        "$VERL_VENV/bin/python" -m pip install -q "torch==2.13.0"
        "$VERL_VENV/bin/python" -m pip install -q -e ".[verl]" pytest hypothesis
        echo "$verl_want" > "$VERL_VENV/.rankreward-stamp"
    fi
    echo "[test] verl adapter in $VERL_VENV"
    "$VERL_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/adapters/test_verl.py \
        || status=$?
else
    echo "[test] RANKREWARD_VERL=0: verl adapter tests not run"
fi
exit $status
