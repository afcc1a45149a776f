# Shared set-up for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Creates .venv if absent and installs the package with the requested extras.
# Idempotent: a stamp file records what was installed for which pyproject.toml,
# so a second run skips pip entirely.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
EXTRAS="${RANKREWARD_EXTRAS:-test,torch,coco,geometry,trl,ray,serve,segment,bench,docs}"
# OpenRLHF pins flash-attn (no CPU build) and its own transformers: its reward path is tested
# against the real package installed without dependencies into its own folder, .extras/openrlhf,
# which tests/conftest.py puts on sys.path. Outside site-packages, pip never sees its unmet pins
# and prints no dependency-conflict errors for the main environment.
OPENRLHF_NODEPS="${RANKREWARD_OPENRLHF:-openrlhf==0.11.2}"
OPENRLHF_DIR="$ROOT/.extras/openrlhf"

# make_venv DIR: create a virtual environment at DIR unless it exists.
make_venv() {
    if [ ! -x "$1/bin/python" ]; then
        echo "[setup] creating $1"
        "$PYTHON" -m venv "$1"
    fi
}

# up_to_date DIR KEY: true if DIR was last set up for KEY (then nothing is installed again).
up_to_date() {
    [ -f "$1/.rankreward-stamp" ] && [ "$(cat "$1/.rankreward-stamp")" = "$2" ]
}

make_venv "$VENV"
PY="$VENV/bin/python"
want="$(cat pyproject.toml scripts/_env.sh | sha256sum | cut -c1-16)-$EXTRAS-$OPENRLHF_NODEPS"
if ! up_to_date "$VENV" "$want"; then
    echo "[setup] installing rankreward[$EXTRAS] into $VENV"
    "$PY" -m pip install -q --upgrade pip
    # torch first, pinned: on these machines 2.13.0 resolves to a local CPU wheel, and having it
    # installed stops any later requirement from pulling multi-GB CUDA wheels. Never torchvision.
    case ",$EXTRAS," in
        *,torch,*|*,trl,*|*,all,*) "$PY" -m pip install -q "torch==2.13.0" ;;
    esac
    "$PY" -m pip install -q -e ".[$EXTRAS]"
    if [ -n "$OPENRLHF_NODEPS" ]; then
        "$PY" -m pip uninstall -q -y openrlhf 2>/dev/null || true  # from an older set-up
        rm -rf "$OPENRLHF_DIR"
        "$PY" -m pip install -q --no-deps --target "$OPENRLHF_DIR" "$OPENRLHF_NODEPS"
        "$PY" -m pip install -q pylatexenc aiohttp
    fi
    echo "$want" > "$VENV/.rankreward-stamp"
else
    echo "[setup] $VENV is up to date"
fi
