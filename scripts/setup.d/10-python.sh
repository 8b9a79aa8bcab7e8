#!/usr/bin/env bash
# The project's Python virtual environment (.venv): test tools plus the AI sidecar's pinned
# requirements. Rebuilt only when a requirements file changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/.venv"
reqs=("$ROOT/requirements-dev.txt")
[ -f "$ROOT/sidecar/requirements.txt" ] && reqs+=("$ROOT/sidecar/requirements.txt")
sum=$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
if [ -f "$VENV/.stamp-$sum" ]; then exit 0; fi
[ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip==24.2"
for r in "${reqs[@]}"; do
  if grep -q -- '--hash=' "$r"; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$r"
  else
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$r"
  fi
done
rm -f "$VENV"/.stamp-*; touch "$VENV/.stamp-$sum"
