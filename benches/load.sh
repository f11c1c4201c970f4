#!/usr/bin/env bash
# The load benchmark, one command: builds the server in release, runs every scenario beside
# its baseline, and writes the tables into BENCHMARKS.md.
#   benches/load.sh           the full run (about 10 minutes)
#   benches/load.sh --smoke   a few seconds on the debug build, nothing written (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "$1 is missing: installing $2 from Debian's packages"
  [ "$(id -u)" -eq 0 ] || { echo "error: need root to apt-get install $2" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need taskset util-linux
need redis-server redis-server

if [ "${1:-}" = "--smoke" ]; then
  cargo build -q -p switchyard-server -p switchyard-benches --bins
  exec target/debug/load --smoke --bin-dir target/debug
fi
cargo build -q --release -p switchyard-server -p switchyard-benches --bins
exec target/release/load --bin-dir target/release "$@"
