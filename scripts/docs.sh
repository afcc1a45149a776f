#!/usr/bin/env bash
# Build the documentation site strictly into site/ and, when a Chromium is installed (Debian:
# `apt-get install chromium`), render the main pages at 1400 px wide to runs/docs-shots/*.png
# for review. Extra arguments go to `mkdocs build`. The strict build itself is also a test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export NO_MKDOCS_2_WARNING=1
"$PY" -m mkdocs build --strict -d site "$@"
echo "[docs] site/index.html"

browser=""
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null; then browser="$name"; break; fi
done
if [ -z "$browser" ]; then
    echo "[docs] no Chromium found: screenshots skipped (apt-get install chromium)"
    exit 0
fi
shots="$ROOT/runs/docs-shots"
mkdir -p "$shots"
for page in index why-rank paper training reward rewards recipes evaluation performance \
            api/rewards api/drseg api/adapters; do
    file="$ROOT/site/${page%index}"
    [ "$page" = index ] || file="$ROOT/site/$page/"
    out="$shots/${page//\//-}.png"
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2600 \
        --screenshot="$out" "file://${file}index.html" >/dev/null 2>&1
    echo "[docs] $out"
done
