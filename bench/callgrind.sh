#!/usr/bin/env bash
# Instructions per read request, a repeatable figure on a busy machine (wall time is not):
# onegraph's release binary under callgrind on a copy of a seeded SQLite file, counters zeroed
# after five warm-up requests, then N sequential `visits(first: 50)` requests, counters dumped.
#
#   target/release/bench statements --backends sqlite --keep   # seeds; prints nothing to copy:
#   # the database is the bench-*.db under the kept /tmp/onegraph-bench-* directory; checkpoint
#   # its WAL first: python3 -c "import sqlite3; sqlite3.connect('X.db').execute('PRAGMA wal_checkpoint(TRUNCATE)')"
#   bench/callgrind.sh X.db <tenant id of its visits> [N=20] [label]
#
# BIN overrides the binary (default target/release/onegraph). Needs valgrind, curl, python3.
set -euo pipefail
DB=$1; TENANT=$2; N=${3:-20}; LABEL=${4:-run}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/onegraph}
W=${TMPDIR:-/tmp}/onegraph-callgrind/$LABEL; rm -rf "$W"; mkdir -p "$W"
cp "$DB" "$W/db.sqlite"
SECRET=0123456789abcdef0123456789abcdef0123456789abcdef
PORT=$((20000 + RANDOM % 10000)); MPORT=$((PORT + 1))
export DATABASE_URL="sqlite://$W/db.sqlite" BIND_ADDR=127.0.0.1:$PORT METRICS_ADDR=127.0.0.1:$MPORT \
  PUBLIC_URL=http://127.0.0.1:$PORT PORTAL_CLIENT_SSO_SECRET=$SECRET AUTH_RATE_BURST=1000 \
  AUTH_RATE_PER_MINUTE=1000 MAIL_DIR=$W/mail RUST_LOG=warn
JWT=$("$BIN" token --tenant "$TENANT" --user perf-user --email perf@bench.example.com)
valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "$BIN" serve > "$W/server.log" 2>&1 &
VPID=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 1; done
SESSION=$(curl -s -X POST -H 'content-type: application/json' -d "{\"token\":\"$JWT\"}" \
  "http://127.0.0.1:$PORT/api/auth/client-hub-sso" | python3 -c 'import sys,json;print(json.load(sys.stdin)["session_token"])')
Q='{"query":"query Visits($first: Int!) { visits(first: $first) { pageInfo { hasNextPage endCursor } edges { cursor node { id status checkedInAt visitor { id name company } location { id name } host { id name } badge { id number } } } } }","variables":{"first":50}}'
req() { curl -s -X POST -H 'content-type: application/json' -H "authorization: Bearer $SESSION" -d "$Q" "http://127.0.0.1:$PORT/graphql"; }
for _ in 1 2 3 4 5; do req > "$W/warm.json"; done
python3 -c "import json;d=json.load(open('$W/warm.json'));assert 'errors' not in d, d;assert len(d['data']['visits']['edges'])==50"
callgrind_control -z $VPID >/dev/null
for _ in $(seq 1 "$N"); do req > /dev/null; done
callgrind_control -d $VPID >/dev/null
sleep 1
kill $VPID; wait $VPID 2>/dev/null || true
TOTAL=$(grep -h "^summary:" "$W/cg.out.1" | awk '{print $2}')
echo "$LABEL: $N requests, $TOTAL instructions, $((TOTAL / N)) per request (profile: $W/cg.out.1)"
