#!/usr/bin/env bash
# Builds onegraph and the benchmark in release mode and runs the benchmark on loopback.
#
#   bench/run.sh                 # every scenario: read, write, fanout, statements, sweep
#   bench/run.sh read write      # some of them
#   bench/run.sh --duration 30   # options go to `bench`; see `target/release/bench --help`
#
# PostgreSQL: $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); the
# benchmark creates a fresh database there and drops it at the end. It is started here when
# it is down and this is the Debian cluster layout (pg_ctlcluster).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_POSTGRES_URL="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

cargo build --release -p onegraph -p bench

# The fan-out holds 10,000 sockets in the client and as many in the server; each process
# needs about 10,500 descriptors. Raise the soft limit as far as the hard limit allows.
want=65536
hard=$(ulimit -Hn)
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || true
echo "bench: open-file limit $(ulimit -n) (hard $(ulimit -Hn))" >&2

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -q; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -n | tail -1)
    echo "bench: starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
  fi
fi

exec target/release/bench "$@"
