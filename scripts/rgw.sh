#!/usr/bin/env bash
# A throw-away single-node Ceph cluster (1 mon, 1 memstore OSD, no mgr, pool size 1) with radosgw,
# all on 127.0.0.1, for tests and local S3 experiments. Needs the Debian packages radosgw,
# ceph-mon and ceph-osd (16.2). Starts in about 15 s and uses about 160 MB of RAM.
#
#   scripts/rgw.sh start DIR   start (or, when already running, just print) and write DIR/env:
#                              S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY
#   scripts/rgw.sh stop DIR    stop every daemon started in DIR and remove DIR (no-op if absent)
#   scripts/rgw.sh status DIR  exit 0 when the cluster in DIR is up and answering
#
# Ports: RGW_S3_PORT and RGW_MON_PORT when set, otherwise free ports picked at start.
# Credentials: S3_ACCESS_KEY / S3_SECRET_KEY when set, otherwise fixed test credentials.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
D=$(realpath -m "$2")
C="$D/ceph.conf"
DAEMONS=(rgw osd mon)  # stop order: clients first

log() { printf '[rgw.sh] %s\n' "$*" >&2; }

alive() {  # alive NAME: the daemon whose pid is in DIR/NAME.pid is running (and is ours: a
           # recycled pid belonging to another process does not count, and is never killed)
  local f="$D/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$C"
}

answering() {  # the S3 endpoint from DIR/env answers HTTP
  [ -s "$D/env" ] || return 1
  local ep
  ep=$(sed -n 's/^S3_ENDPOINT=//p' "$D/env")
  [ -n "$ep" ] && curl -s -o /dev/null --max-time 2 "$ep/"
}

running() { alive mon && alive osd && alive rgw && answering; }

free_port() {  # a TCP port nobody listens on right now (the kernel's pick)
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  [ -d "$D" ] || return 0
  local name pid pids=()
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then
      pid=$(cat "$D/$name.pid")
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # The cluster is throw-away (memstore): give it 2 s to exit cleanly, then force.
  for _ in $(seq 20); do
    local left=0
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ $left -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$D"
}

wait_for() {  # wait_for TRIES DESCRIPTION COMMAND...: retry every 0.2 s
  local tries=$1 what=$2; shift 2
  for _ in $(seq "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "timed out waiting for $what; logs in $D/log"
  tail -n 20 "$D"/log/*.out >&2 2>/dev/null || true
  return 1
}

osd_up() { timeout 5 ceph -c "$C" osd stat 2>/dev/null | grep -q '1 up'; }

start() {
  if running; then
    cat "$D/env"
    return 0
  fi
  stop  # leftovers of a dead or half-started cluster

  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$bin" >/dev/null || { log "$bin not found: apt-get install radosgw ceph-mon ceph-osd"; exit 1; }
  done
  local s3port=${RGW_S3_PORT:-$(free_port)}
  local monport=${RGW_MON_PORT:-$(free_port)}
  local ak=${S3_ACCESS_KEY:-lakehouse-test-key}
  local sk=${S3_SECRET_KEY:-lakehouse-test-secret-0123456789}
  local fsid osduuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osduuid=$(cat /proc/sys/kernel/random/uuid)

  mkdir -p "$D"/{mon-a,osd-0,run,log,rgw-a}
  cat >"$C" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
keyring = $D/\$name.keyring
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
run dir = $D/run
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 5
auth allow insecure global id reclaim = false
[mon]
mon data = $D/mon-\$id
[osd]
osd data = $D/osd-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 2048
osd max object namespace len = 64
[client.rgw.a]
# tcp_nodelay: without it a GET answer waits ~40 ms (Nagle vs. delayed ACK).
rgw frontends = beast endpoint=127.0.0.1:$s3port tcp_nodelay=1
rgw data = $D/rgw-a
EOF

  # Monitor.
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/client.admin.keyring" >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$monport]" --fsid "$fsid" "$D/monmap" >/dev/null
  ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" >"$D/log/mon-mkfs.out" 2>&1
  ceph-mon -f -c "$C" -i a >"$D/log/mon.out" 2>&1 &
  echo $! >"$D/mon.pid"
  wait_for 150 "ceph-mon" timeout 5 ceph -c "$C" mon stat

  # One memstore OSD.
  ceph-authtool --create-keyring "$D/osd.0.keyring" --gen-key -n osd.0 >/dev/null
  echo "{\"cephx_secret\": \"$(ceph-authtool -p -n osd.0 "$D/osd.0.keyring")\"}" >"$D/osd0.json"
  timeout 30 ceph -c "$C" osd new "$osduuid" -i "$D/osd0.json" >/dev/null
  ceph-osd -c "$C" -i 0 --mkfs --osd-uuid "$osduuid" >"$D/log/osd-mkfs.out" 2>&1
  ceph-osd -f -c "$C" -i 0 >"$D/log/osd.out" 2>&1 &
  echo $! >"$D/osd.pid"
  wait_for 200 "ceph-osd" osd_up

  # radosgw and a user with known keys.
  timeout 30 ceph -c "$C" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' -o "$D/client.rgw.a.keyring"
  radosgw -f -c "$C" -n client.rgw.a >"$D/log/rgw.out" 2>&1 &
  echo $! >"$D/rgw.pid"
  wait_for 400 "radosgw on 127.0.0.1:$s3port" curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$s3port/"
  timeout 60 radosgw-admin -c "$C" user create --uid=tester --display-name=tester \
    --access-key="$ak" --secret="$sk" >/dev/null

  cat >"$D/env.tmp" <<EOF
S3_ENDPOINT=http://127.0.0.1:$s3port
S3_REGION=us-east-1
S3_ACCESS_KEY=$ak
S3_SECRET_KEY=$sk
EOF
  mv "$D/env.tmp" "$D/env"
  cat "$D/env"
}

case "$CMD" in
  start)
    if ! start; then
      log "start failed; stopping what was started"
      cp -r "$D/log" "$D.failed-logs" 2>/dev/null && log "logs kept in $D.failed-logs"
      stop
      exit 1
    fi
    ;;
  stop) stop ;;
  status) running ;;
  *) usage ;;
esac
