# Shared set-up for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Creates .venv if absent and installs the package with the requested extras.
# Idempotent: a stamp file records what was installed for which pyproject.toml,
# so a second run skips pip entirely.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
EXTRAS="${RANKREWARD_EXTRAS:-test,torch,coco,geometry,trl}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

stamp="$VENV/.rankreward-stamp"
want="$(cat pyproject.toml scripts/_env.sh | sha256sum | cut -c1-16)-$EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[setup] installing rankreward[$EXTRAS] into $VENV"
    "$PY" -m pip install -q --upgrade pip
    # torch first, pinned: on these machines 2.13.0 resolves to a local CPU wheel, and having it
    # installed stops any later requirement from pulling multi-GB CUDA wheels. Never torchvision.
    case ",$EXTRAS," in
        *,torch,*|*,trl,*|*,all,*) "$PY" -m pip install -q "torch==2.13.0" ;;
    esac
    "$PY" -m pip install -q -e ".[$EXTRAS]"
    echo "$want" > "$stamp"
else
    echo "[setup] $VENV is up to date"
fi
