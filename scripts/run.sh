#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), builds, and runs the server on embedded defaults:
# local filesystem storage under ./data, every service in-process, http://127.0.0.1:8080.
# Extra arguments go to `lakehouse serve` (see `build/app/lakehouse serve --help`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/setup.sh"
exec "$ROOT/build/app/lakehouse" serve "$@"
