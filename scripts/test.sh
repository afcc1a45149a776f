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

# trainer_env NAME SKIPVAR TESTFILE PIP_ARGS...: create .venv-NAME once (torch pinned first,
# then PIP_ARGS with pytest and hypothesis) and run TESTFILE there, unless $SKIPVAR is 0.
trainer_env() {
    local name="$1" skip="$2" tests="$3"
    shift 3
    if [ "${!skip:-1}" = "0" ]; then
        echo "[test] $skip=0: $name adapter tests not run"
        return 0
    fi
    local venv="$ROOT/.venv-$name"
    make_venv "$venv"
    local want
    want="$(cat pyproject.toml scripts/test.sh | sha256sum | cut -c1-16)-$name"
    if ! up_to_date "$venv" "$want"; then
        echo "[setup] installing $* into $venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q "torch==2.13.0"
        "$venv/bin/python" -m pip install -q "$@" pytest hypothesis
        echo "$want" > "$venv/.rankreward-stamp"
    fi
    echo "[test] $name adapter in $venv"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$tests" || status=$?
}

trainer_env verl RANKREWARD_VERL tests/adapters/test_verl.py -e ".[verl]"
# msgspec: imported by ms-swift's GRPO trainer modules but not declared by the package
trainer_env swift RANKREWARD_SWIFT tests/adapters/test_swift.py "ms-swift==4.6.0" msgspec -e .
exit $status
