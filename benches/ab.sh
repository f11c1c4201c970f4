#!/usr/bin/env bash
# A/B of two server builds on one route, in one run: each on one worker pinned to core 0,
# `wrk -t1 -c32 -d5s` pinned to core 1, 1,000 random users, five rounds taking turns.
# Prints each round's req/s and the median of each build.
#   benches/ab.sh OLD_BINARY NEW_BINARY [ROUTE [FLAGS]]
# ROUTE: evaluate (POST /v1/evaluate, the default), ofrep (OFREP single), bulk
# (POST /v1/evaluate/bulk) or ofrep-bulk (OFREP bulk); FLAGS: how many flags both servers
# hold (default: the demo's few for evaluate and ofrep, 1,000 for the bulk routes).
# With AB_NEW_RULED=1 the new build is seeded with the same flags but every other one carries
# 3 rules (IN over 100 values, SEMVER_GT, STR_STARTS_WITH) and 3 variants with string values
# (a format 2 backup): flags beyond on/off on the new build beside boolean ones on the old.
# e.g. git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release -p switchyard-server)
#      cargo build --release -p switchyard-server
#      benches/ab.sh /tmp/old/target/release/switchyard-server target/release/switchyard-server bulk
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: benches/ab.sh OLD_BINARY NEW_BINARY [ROUTE [FLAGS]]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install -y curl" >&2; exit 1; }
route=${3:-evaluate}
case "$route" in
  evaluate) path=/v1/evaluate; body='{"flag":"dark-mode","context":{"user_id":"user-%d","market":"FR"}}'; flags=${4:-0} ;;
  ofrep) path=/ofrep/v1/evaluate/flags/dark-mode; body='{"context":{"targetingKey":"user-%d","market":"FR"}}'; flags=${4:-0} ;;
  bulk) path=/v1/evaluate/bulk; body='{"context":{"user_id":"user-%d","market":"FR"}}'; flags=${4:-1000} ;;
  ofrep-bulk) path=/ofrep/v1/evaluate/flags; body='{"context":{"targetingKey":"user-%d","market":"FR"}}'; flags=${4:-1000} ;;
  *) echo "unknown route $route: evaluate, ofrep, bulk or ofrep-bulk" >&2; exit 2 ;;
esac
# With rules on the new build, the context carries the attributes they compare (both builds
# get the same body).
if [ "${AB_NEW_RULED:-0}" = 1 ]; then
  body=${body/\"market\":\"FR\"/\"market\":\"FR\",\"account\":\"acct-42\",\"app_version\":\"2.4.1\",\"device\":\"model-1-x\"}
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/load.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer ab-sdk-token-0123456789"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 1000 do
  bodies[i] = string.format('$body', i * 7919)
end
local n = 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, "$path", nil, bodies[n])
end
LUA
# FLAGS flags like the load benchmark's: rollouts at every stage, a third limited to markets.
{
  printf '{"format":1,"flags":['
  for ((i = 0; i < flags; i++)); do
    [ "$i" -gt 0 ] && printf ','
    markets='[]'; [ $((i % 3)) -eq 0 ] && markets='["FR","US","UK"]'
    printf '{"key":"flag-%05d","enabled":true,"rollout_percentage":%d,"markets":%s}' \
      "$i" $(( (i % 5) * 25 )) "$markets"
  done
  printf ']}'
} > "$work/flags.json"
# The same flags, every other one with rules and variants (AB_NEW_RULED=1).
{
  accounts=$(for ((a = 0; a < 100; a++)); do printf '"acct-%d",' "$a"; done)
  accounts="[${accounts%,}]"
  printf '{"format":2,"flags":['
  for ((i = 0; i < flags; i++)); do
    [ "$i" -gt 0 ] && printf ','
    markets='[]'; [ $((i % 3)) -eq 0 ] && markets='["FR","US","UK"]'
    printf '{"key":"flag-%05d","enabled":true,"rollout_percentage":%d,"markets":%s' \
      "$i" $(( (i % 5) * 25 )) "$markets"
    if [ $((i % 2)) -eq 1 ]; then
      printf ',"variants":[{"name":"a","value":"va","weight":334},{"name":"b","value":"vb","weight":333},{"name":"c","value":"vc","weight":333}],"off_value":"off"'
      printf ',"rules":['
      for r in 0 1 2; do
        [ "$r" -gt 0 ] && printf ','
        printf '{"name":"rule %d","constraints":[{"attribute":"account","operator":"IN","values":%s},{"attribute":"app_version","operator":"SEMVER_GT","value":"2.2.9"},{"attribute":"device","operator":"STR_STARTS_WITH","values":["model-%d"]}],"rollout_percentage":50}' \
          "$r" "$accounts" "$r"
      done
      printf ']'
    fi
    printf '}'
  done
  printf ']}'
} > "$work/flags-ruled.json"
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
if [ "$flags" -gt 0 ]; then
  for port in 18601 18602; do
    seed=$work/flags.json
    [ "$port" = 18602 ] && [ "${AB_NEW_RULED:-0}" = 1 ] && seed=$work/flags-ruled.json
    curl -sf -o /dev/null -X POST -H "Authorization: Bearer ab-admin-token-0123456789" \
      -H 'Content-Type: application/json' --data-binary @"$seed" \
      "http://127.0.0.1:$port/v1/import?mode=replace" || { echo "seeding $port failed" >&2; exit 1; }
  done
fi
echo "route $route ($path), $flags flags seeded${AB_NEW_RULED:+ (new: every other flag with rules and variants)}"
declare -A runs=([old]="" [new]="")
for round in 1 2 3 4 5; do
  for side in old new; do
    port=18601; [ "$side" = new ] && port=18602
    rps=$(taskset -c 1 wrk -t1 -c32 -d5s -s "$work/load.lua" "http://127.0.0.1:$port" \
      | awk '/Requests\/sec/ {print $2}')
    echo "round $round $side $rps req/s"
    runs[$side]+="$rps "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
old=$(echo "${runs[old]}" | median); new=$(echo "${runs[new]}" | median)
echo "median: old $old req/s, new $new req/s, new/old $(awk "BEGIN {printf \"%.2f\", $new/$old}")"
