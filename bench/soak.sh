#!/usr/bin/env bash
# Builds onegraph and the benchmark in release mode and runs the soak on PostgreSQL: mixed
# load (reads, check-ins and check-outs, SSO logins, bursts of bad credentials) against
# onegraph's release binary with 1,000 open subscriptions and an outbox pointed at a fake Bus
# that fails every 20th request; then checks deliveries, the outbox and the server's memory.
# Prints markdown tables; exits non-zero when a check fails.
#
#   bench/soak.sh                                        # 10 minutes, 1,000 subscriptions
#   bench/soak.sh --duration 90s --subscribers 200       # a short run while developing
#   bench/soak.sh --out soak.md                          # also write the report to a file
#   bench/soak.sh --server-env WS_MAX_CONNECTIONS=5000   # a setting for the server under test
#
# Options go to `bench soak`; see `target/release/bench soak --help`.
# PostgreSQL: $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); the soak
# creates a fresh database there and drops it at the end (--keep keeps it and the logs). It is
# started here when it is down and this is the Debian cluster layout (pg_ctlcluster).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_POSTGRES_URL="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

cargo build --release -p onegraph -p bench

# Each subscription is a socket in the client and one in the server.
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

# Every subscriber connects from 127.0.0.1, which real clients do not: lift the per-address
# WebSocket caps (500 open, 50 not yet authenticated) so the soak measures the server, not the
# caps.
exec target/release/bench soak --server-env WS_MAX_CONNECTIONS_PER_IP=5000 \
  --server-env WS_MAX_PENDING_PER_IP=5000 "$@"
