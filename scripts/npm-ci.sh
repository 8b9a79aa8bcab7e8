#!/usr/bin/env bash
# scripts/npm-ci.sh DIR: `npm ci` in DIR (packages pinned with integrity hashes by its
# package-lock.json) into DIR/node_modules, only when the lock file changed since the last run (a
# stamp named after its hash). Used by the setup steps that install npm packages (scripts/setup.d).
set -euo pipefail
DIR=$1
sum=$(sha256sum "$DIR/package-lock.json" | cut -c1-16)
stamp="$DIR/node_modules/.stamp-$sum"
[ -f "$stamp" ] && exit 0
(cd "$DIR" && npm ci --no-audit --no-fund --silent)
rm -f "$DIR"/node_modules/.stamp-*
touch "$stamp"
