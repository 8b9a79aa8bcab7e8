#!/usr/bin/env bash
# Packages that bookworm has only in bookworm-backports (docs/adr/0016-telemetry.md):
# OpenTelemetry C++ 1.19 (opentelemetry-cpp-dev). Adds the backports suite of the mirror the
# machine already uses (same URI, same snapshot comment), pinned at priority 100 so nothing else
# is upgraded from it, plus a pin at 500 for exactly the packages named here and their
# dependencies that exist only there. Idempotent: re-running changes nothing once installed.
set -euo pipefail
log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(opentelemetry-cpp-dev)
# The OTel packages (the -dev package and the library package built from the same source) are
# the only ones taken from backports.
PINNED="opentelemetry-cpp opentelemetry-cpp-dev"


SRC=/etc/apt/sources.list.d/lakehouse-backports.sources
PREF=/etc/apt/preferences.d/lakehouse-backports
if [ ! -f "$SRC" ]; then
  # Same mirror as the machine's main Debian source (deb822 or one-line style).
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  log "adding bookworm-backports from $uri"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" | $SUDO tee "$SRC" >/dev/null
fi
if [ ! -f "$PREF" ]; then
  printf 'Package: *\nPin: release n=bookworm-backports\nPin-Priority: 100\n\nPackage: %s\nPin: release n=bookworm-backports\nPin-Priority: 500\n' \
    "$PINNED" | $SUDO tee "$PREF" >/dev/null
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { log "backports packages: all present"; exit 0; }
log "installing from bookworm-backports: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
