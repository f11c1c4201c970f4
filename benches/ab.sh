#!/usr/bin/env bash
# A/B of two server builds on POST /v1/evaluate, in one run: each on one worker pinned to core
# 0, `wrk -t1 -c32 -d5s` pinned to core 1, 1,000 random users, five rounds taking turns.
# Prints each round's req/s and the median of each build.
#   benches/ab.sh OLD_BINARY NEW_BINARY
# e.g. git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release -p switchyard-server)
#      cargo build --release -p switchyard-server
#      benches/ab.sh /tmp/old/target/release/switchyard-server target/release/switchyard-server
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: benches/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/evaluate.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer ab-sdk-token-0123456789"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 1000 do
  bodies[i] = string.format('{"flag":"dark-mode","context":{"user_id":"user-%d","market":"FR"}}', i * 7919)
end
local n = 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, "/v1/evaluate", nil, bodies[n])
end
LUA
start() { # binary port
  mkdir -p "$work/$2"
  SWITCHYARD_SERVER__LISTEN=127.0.0.1:$2 SWITCHYARD_SERVER__WORKERS=1 \
  SWITCHYARD_STORE__DATA_DIR="$work/$2" SWITCHYARD_LOG__LEVEL=error \
  SWITCHYARD_ADMIN_TOKEN=ab-admin-token-0123456789 SWITCHYARD_SDK_TOKEN=ab-sdk-token-0123456789 \
    taskset -c 0 "$1" --demo >/dev/null 2>&1 &
}
start "$1" 18601
start "$2" 18602
sleep 2
declare -A runs=([old]="" [new]="")
for round in 1 2 3 4 5; do
  for side in old new; do
    port=18601; [ "$side" = new ] && port=18602
    rps=$(taskset -c 1 wrk -t1 -c32 -d5s -s "$work/evaluate.lua" "http://127.0.0.1:$port" \
      | awk '/Requests\/sec/ {print $2}')
    echo "round $round $side $rps req/s"
    runs[$side]+="$rps "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
old=$(echo "${runs[old]}" | median); new=$(echo "${runs[new]}" | median)
echo "median: old $old req/s, new $new req/s, new/old $(awk "BEGIN {printf \"%.2f\", $new/$old}")"
