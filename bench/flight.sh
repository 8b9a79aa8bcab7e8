#!/usr/bin/env bash
# Arrow Flight SQL vs the HTTP API's Arrow results (issue 9, docs/adr/0019-flight-sql.md): one
# server (same process, same data, same queryd) answers the same 10M-row result both ways, queries
# alternating, best of RUNS each; the figure is the throughput ratio Flight/HTTP (target >= 1.0).
#   bench/flight.sh            ROWS=10000000 RUNS=3 by default
# Clients: pyarrow.flight (GetFlightInfo + DoGet, read_all) and pyarrow reading the HTTP response
# as an Arrow IPC stream (POST /api/v1/query, format arrow), both from the project's .venv.
# Bounded: RUNS x 2 queries of one result each.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
ROWS=${ROWS:-10000000}
RUNS=${RUNS:-3}
PY=${PY:-$ROOT/.venv/bin/python}
command -v jq >/dev/null || { echo "jq is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD_DIR/app/lakehouse" ] || cmake --build "$BUILD_DIR" --target lakehouse
tmp=$(mktemp -d)
cleanup() { kill_pids; rm -rf "$tmp"; }
trap cleanup EXIT
cp "$BUILD_DIR/app/lakehouse" "$tmp/lakehouse"  # the build dir may be relinked meanwhile

HTTP=$(free_port); FLIGHT=$(free_port)
"$tmp/lakehouse" serve --listen "127.0.0.1:$HTTP" --flight-listen "127.0.0.1:$FLIGHT" --data-dir "$tmp/data" \
  --ai false --auth off --query-threads 2 --log-level warn >"$tmp/server.log" 2>&1 & PIDS+=($!)
wait_up "$HTTP"

# The dataset, made by the server's own SQL as Parquet and uploaded: 10M rows of 4 columns.
GEN_SQL="SELECT i AS id, (i * 7919) % 100000 / 100.0 AS amount, 'c' || (i % 20) AS category, (i % 100) AS qty
  FROM range($ROWS) t(i)"
curl -sf -o "$tmp/events.parquet" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg sql "$GEN_SQL" '{format: "parquet", sql: $sql, timeout_ms: 120000}')" "http://127.0.0.1:$HTTP/api/v1/query"
code=$(curl -s -o "$tmp/up.json" -w '%{http_code}' -H 'Content-Type: application/vnd.apache.parquet' \
  --data-binary "@$tmp/events.parquet" "http://127.0.0.1:$HTTP/api/v1/datasets/events")
[ "$code" = 201 ] || { echo "upload failed: $code $(head -c 300 "$tmp/up.json")" >&2; exit 1; }

results=$tmp/results
"$PY" - "$HTTP" "$FLIGHT" "$RUNS" "$ROWS" >"$results" <<'PY'
import json, sys, time, urllib.request
import pyarrow as pa
import pyarrow.flight as flight

http_port, flight_port, runs, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
SQL = "SELECT id, amount, category, qty FROM events"


def any_statement(sql):  # google.protobuf.Any{CommandStatementQuery{query}}
    def field(n, b):
        out, size = bytes([n << 3 | 2]), len(b)
        while True:
            out += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
            size >>= 7
            if not size:
                return out + b
    return field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, field(1, sql.encode()))


client = flight.FlightClient(f"grpc://127.0.0.1:{flight_port}")
descriptor = flight.FlightDescriptor.for_command(any_statement(SQL))


def via_flight():
    info = client.get_flight_info(descriptor)
    return client.do_get(info.endpoints[0].ticket).read_all()


def via_http():
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/api/v1/query", method="POST",
                                 data=json.dumps({"sql": SQL, "format": "arrow", "timeout_ms": 120000}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return pa.ipc.open_stream(resp).read_all()


best = {"flight": float("inf"), "http": float("inf")}
for _ in range(runs):
    for name, run in (("http", via_http), ("flight", via_flight)):
        start = time.perf_counter()
        table = run()
        elapsed = time.perf_counter() - start
        assert table.num_rows == rows, (name, table.num_rows)
        best[name] = min(best[name], elapsed)
        nbytes = table.nbytes
        print(f"{name}: {elapsed:.3f} s ({table.num_rows / elapsed / 1e6:.1f} M rows/s)", file=sys.stderr)
print(f"RESULT http_s={best['http']:.3f}")
print(f"RESULT flight_s={best['flight']:.3f}")
print(f"RESULT mb={nbytes / 1e6:.0f}")
print(f"RESULT ratio={best['http'] / best['flight']:.3f}")
PY

echo
echo "Flight SQL DoGet vs HTTP Arrow, $ROWS rows ($(get mb) MB of Arrow), best of $RUNS, one server"
printf '  HTTP Arrow (pyarrow IPC reader)   %8s s\n' "$(get http_s)"
printf '  Flight SQL DoGet (pyarrow.flight) %8s s\n' "$(get flight_s)"
check "Flight throughput / HTTP Arrow throughput" "$(get ratio)" ">=" 1.0
