#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Extra arguments go to pytest.
#
# verl pins a transformers range that TRL's tiny training does not use, so the verl adapter
# tests run in a second environment, .venv-verl (verl with all its dependencies, ~2 GB, a few
# minutes the first time). RANKREWARD_VERL=0 skips it. ms-swift 4.6 pins trl < 1.0: its
# adapter tests run in .venv-swift the same way; RANKREWARD_SWIFT=0 skips it.
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
if [ "${RANKREWARD_SWIFT:-1}" != "0" ]; then
    SWIFT_VENV="$ROOT/.venv-swift"
    make_venv "$SWIFT_VENV"
    swift_want="$(cat pyproject.toml scripts/test.sh | sha256sum | cut -c1-16)-swift"
    if ! up_to_date "$SWIFT_VENV" "$swift_want"; then
        echo "[setup] installing ms-swift into $SWIFT_VENV"
        "$SWIFT_VENV/bin/python" -m pip install -q --upgrade pip
        "$SWIFT_VENV/bin/python" -m pip install -q "torch==2.13.0"
        # msgspec: imported by ms-swift's GRPO trainer modules, not declared by the package
        "$SWIFT_VENV/bin/python" -m pip install -q "ms-swift==4.6.0" msgspec
        "$SWIFT_VENV/bin/python" -m pip install -q -e . pytest hypothesis
        echo "$swift_want" > "$SWIFT_VENV/.rankreward-stamp"
    fi
    echo "[test] ms-swift adapter in $SWIFT_VENV"
    "$SWIFT_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/adapters/test_swift.py \
        || status=$?
else
    echo "[test] RANKREWARD_SWIFT=0: ms-swift adapter tests not run"
fi
exit $status
