#!/usr/bin/env bash
# Style checks with the repo's .clang-format and .clang-tidy.
#   scripts/lint.sh            check formatting of every C++ file (fast; part of scripts/test.sh)
#   scripts/lint.sh --fix      reformat in place
#   scripts/lint.sh --tidy     also run clang-tidy over the project's sources (slow: minutes)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.hpp' | grep -v '^third_party/' | grep -v '/generated/')
case "${1:-}" in
  --fix) clang-format -i "${files[@]}"; exit 0 ;;
esac
clang-format --dry-run -Werror "${files[@]}"
echo "[lint] clang-format: ${#files[@]} files clean" >&2
if [ "${1:-}" = "--tidy" ]; then
  [ -f build/compile_commands.json ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
  mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cpp$' | grep -v '/tests/' | grep -v '^bench/')
  clang-tidy -p build --quiet "${sources[@]}"
fi
