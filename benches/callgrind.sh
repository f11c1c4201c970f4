#!/usr/bin/env bash
# User-space instructions per request, the server beside the bare framework, counted by
# valgrind (repeatable whatever else the machine is doing, unlike time):
#   benches/callgrind.sh [SERVER_BINARY [REQUESTS]]
# Each process runs under `valgrind --tool=callgrind` on the demo flags; 200 warm-up
# POST /v1/evaluate on one kept-alive connection, counters zeroed, REQUESTS more (default
# 5,000), dumped. Prints instructions per request for both and the top functions of each,
# and keeps both profiles in target/callgrind/ for `callgrind_annotate` (per function, to
# compare the two).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install -y curl" >&2; exit 1; }
server=${1:-target/release/switchyard-server}
n=${2:-5000}
baseline=$(dirname "$server")/baseline_server
[ -x "$server" ] && [ -x "$baseline" ] || {
  echo "build first: cargo build --release -p switchyard-server -p switchyard-benches --bins" >&2; exit 1; }
out=target/callgrind
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
token=cg-sdk-token-0123456789
send() { # port count: keep-alive POST /v1/evaluate, random users, every answer must be 200
  python3 - "$1" "$2" "$token" <<'PY'
import http.client, sys
port, n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
for i in range(n):
    body = '{"flag":"dark-mode","context":{"user_id":"user-%d","market":"FR"}}' % (i * 7919)
    c.request("POST", "/v1/evaluate", body, h)
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit(f"answer {r.status} on port {port}")
PY
}
measure() { # name port command...
  local name=$1 port=$2; shift 2
  rm -f "$out/$name.out"*
  valgrind --tool=callgrind --callgrind-out-file="$out/$name.out" "$@" >/dev/null 2>"$work/$name.err" &
  local pid=$!
  for _ in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
  send "$port" 200
  callgrind_control -z "$pid" >/dev/null
  send "$port" "$n"
  callgrind_control -d "$pid" >/dev/null
  sleep 1; kill "$pid"; wait "$pid" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$out/$name.out.1" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$name: $((total / n)) instructions per request ($out/$name.out.1)"
  callgrind_annotate "$out/$name.out.1" | sed -n '/file:function/,$p' | sed -n 3,17p | cut -c1-160
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SWITCHYARD_SERVER__LISTEN=127.0.0.1:$port SWITCHYARD_SERVER__WORKERS=1 \
SWITCHYARD_STORE__DATA_DIR="$work/data" SWITCHYARD_LOG__LEVEL=error \
SWITCHYARD_ADMIN_TOKEN=cg-admin-token-0123456789 SWITCHYARD_SDK_TOKEN=$token \
  measure switchyard "$port" "$server" --demo
# The baseline answers a body of the server's size (81 bytes for dark-mode's answer).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
measure baseline "$port" "$baseline" "$port" 81
