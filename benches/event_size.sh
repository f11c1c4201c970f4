#!/usr/bin/env bash
# What a stream event costs beside the snapshot it spares each SDK: the release server on a
# fresh embedded store holding 1,000 flags like the load benchmark's (a fifth with a 50-user
# whitelist, a third limited to markets), one stream read with curl, then a flag's kill switch
# and a PATCH of a whitelisted flag. Prints the snapshot's size and each event's.
#   benches/event_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "curl is missing: apt-get install -y curl" >&2; exit 1; }
cargo build -q --release -p switchyard-server
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
{
  printf '{"format":1,"flags":['
  for ((i = 0; i < 1000; i++)); do
    [ "$i" -gt 0 ] && printf ','
    markets='[]'; [ $((i % 3)) -eq 0 ] && markets='["FR","US","UK"]'
    whitelist=''
    if [ $((i % 5)) -eq 0 ]; then
      for ((u = 0; u < 50; u++)); do whitelist+="${whitelist:+,}\"internal-user-$u\""; done
    fi
    printf '{"key":"flag-%05d","description":"a realistic flag for the load benchmark","enabled":true,"rollout_percentage":%d,"markets":%s,"whitelist":[%s]}' \
      "$i" $(( (i % 5) * 25 )) "$markets" "$whitelist"
  done
  printf ']}'
} > "$work/flags.json"
port=18621
admin="Authorization: Bearer event-admin-token-0123456789"
sdk="Authorization: Bearer event-sdk-token-0123456789"
SWITCHYARD_SERVER__LISTEN=127.0.0.1:$port SWITCHYARD_STORE__DATA_DIR="$work" \
SWITCHYARD_LOG__LEVEL=error SWITCHYARD_ADMIN_TOKEN=event-admin-token-0123456789 \
SWITCHYARD_SDK_TOKEN=event-sdk-token-0123456789 target/release/switchyard-server >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/live" && break; sleep 0.1; done
base="http://127.0.0.1:$port"
curl -sf -o /dev/null -X POST -H "$admin" -H 'Content-Type: application/json' \
  --data-binary @"$work/flags.json" "$base/v1/import?mode=replace"
echo "snapshot with 1000 flags: $(curl -sf -H "$sdk" "$base/v1/snapshot" | wc -c) bytes"
curl -sfN -H "$sdk" "$base/v1/stream" > "$work/events" &
sleep 0.5
curl -sf -o /dev/null -X POST -H "$admin" -H 'Content-Type: application/json' \
  -d '{"active":true,"reason":"incident 42"}' "$base/v1/flags/flag-00007/kill"
curl -sf -o /dev/null -X PATCH -H "$admin" -H 'Content-Type: application/json' \
  -d '{"rollout_percentage":30}' "$base/v1/flags/flag-00010"
sleep 0.5
# One line per event: its size in bytes and what it announced.
awk 'BEGIN { RS = "\n\n" } /data:/ { n++; print "event " n ": " length($0) + 2 " bytes" (index($0, "\"changes\"") ? " (carries the change)" : " (version only)") }' "$work/events"
