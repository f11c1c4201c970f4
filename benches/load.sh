#!/usr/bin/env bash
# The load benchmark, one command: builds the server in release, runs every scenario beside
# its baseline, and writes the tables into BENCHMARKS.md.
#   benches/load.sh           the full run (about 25 minutes)
#   benches/load.sh --smoke   a few seconds on the debug build, nothing written (CI)
# Load generators: wrk (Debian) for the maximum rate, oha (crates.io) for a fixed rate.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  echo "installing $1 from Debian's packages"
  [ "$(id -u)" -eq 0 ] || { echo "error: need root to apt-get install $1" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
need() { command -v "$1" >/dev/null 2>&1 || install "$2"; }
need wrk wrk
need taskset util-linux
need redis-server redis-server

# oha, pinned to the version these scripts read the JSON of; plain HTTP is all it needs here,
# but it builds only with a TLS backend: native-tls links the system's OpenSSL.
OHA_VERSION=1.16.0
export PATH="$HOME/.cargo/bin:$PATH"
if ! oha --version 2>/dev/null | grep -q "$OHA_VERSION"; then
  need pkg-config pkg-config
  dpkg -s libssl-dev >/dev/null 2>&1 || install libssl-dev
  echo "oha $OHA_VERSION is missing: cargo install (a few minutes, once)"
  cargo install -q --locked oha --version "$OHA_VERSION" --no-default-features --features native-tls
fi

if [ "${1:-}" = "--smoke" ]; then
  cargo build -q -p switchyard-server -p switchyard-benches --bins
  exec target/debug/load --smoke --bin-dir target/debug
fi
cargo build -q --release -p switchyard-server -p switchyard-benches --bins
exec target/release/load --bin-dir target/release "$@"
