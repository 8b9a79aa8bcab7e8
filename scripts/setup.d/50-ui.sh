#!/usr/bin/env bash
# The web UI (ui/): npm packages pinned by ui/package-lock.json (integrity hashes), installed with
# `npm ci` into ui/node_modules, then `vite build` into ui/dist (both git-ignored). The gateway
# serves ui/dist at / (gateway/src/routes_ui.cpp). Re-runs `npm ci` only when the lock file
# changes and the build only when a source file is newer than the last build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR="$ROOT/ui"
command -v npm >/dev/null || { echo "[setup] 50-ui: npm not found, skipping" >&2; exit 0; }
"$ROOT/scripts/npm-ci.sh" "$DIR"
built="$DIR/dist/index.html"
if [ ! -f "$built" ] || [ -n "$(find "$DIR/src" "$DIR/public" "$DIR/index.html" "$DIR/vite.config.ts" \
      "$DIR/package-lock.json" -newer "$built" -print -quit)" ]; then
  echo "[setup] 50-ui: building the web UI into ui/dist" >&2
  (cd "$DIR" && npx --no-install vite build --logLevel warn)
fi
