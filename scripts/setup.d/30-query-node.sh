#!/usr/bin/env bash
# npm packages for queryd's tests: apache-arrow (pinned in queryd/tests/node/package-lock.json,
# with integrity hashes) reads queryd's Arrow IPC output independently. Installed under
# queryd/tests/node/node_modules (git-ignored). Re-runs only when the lock file changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR="$ROOT/queryd/tests/node"
command -v npm >/dev/null || { echo "[setup] 30-query-node: npm not found, skipping" >&2; exit 0; }
"$ROOT/scripts/npm-ci.sh" "$DIR"
