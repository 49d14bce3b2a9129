#!/usr/bin/env bash
# Benchmark: `retention run` against a raw single-statement DELETE on PostgreSQL.
#
# Each round builds four identical 1,000,000-row tables (half of the rows expired, an
# index on the timestamp) in a fresh database and deletes the expired half of each: one
# with a raw `DELETE FROM … WHERE ts < cutoff`, one with the raw statement that also
# says which rows it deleted (`COPY (DELETE … RETURNING id) TO STDOUT`: the keys are what
# every batch's audit entry digests, and a plain DELETE never reads them), one with
# `retention run` on default settings (two batches in flight), one with `retention run`
# one batch at a time (`batches_in_flight: 1`). Times are whole processes (psql for the
# raw statements). After ROUNDS rounds it prints the median times, the throughput ratios
# (raw time / our time: 1.0 means as fast as the raw statement) and the tool's peak RSS.
# With SIGNED=1 the tool signs its audit log (a key from `retention audit keygen`): every
# entry signed, a checkpoint per run. BIN=path measures another build of the binary.
# Usage: [PROFILE=dev] [ROUNDS=3] [SIGNED=1] [BIN=path] bench/sql/run.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
ROUNDS="${ROUNDS:-3}"
PGURL="${RETENTION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="rt_bench_$$"
WORK=$(mktemp -d)
psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null
trap 'psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
URL="${PGURL%/*}/$DB"

# PROFILE=dev measures the debug build (quicker to build; slower, so the ratio is a floor).
. bench/common.sh
retention_binary
if [ "${SIGNED:-0}" = 1 ]; then
  RETENTION_SIGNING_KEY=$($BIN audit keygen --name bench.example/audit 2>/dev/null | head -1)
  export RETENTION_SIGNING_KEY
fi

make_table() {
  psql -q "$URL" <<SQL
DROP TABLE IF EXISTS events_$1;
CREATE TABLE events_$1 (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, payload TEXT, created_at TIMESTAMPTZ NOT NULL);
INSERT INTO events_$1
  SELECT g, g % 50000, md5(g::text), now() - CASE WHEN g % 2 = 0 THEN interval '100 days' + (g % 525600) * interval '1 minute' ELSE (g % 40000) * interval '1 minute' END
  FROM generate_series(1, $ROWS) g;
CREATE INDEX ON events_$1 (created_at);
-- No autovacuum worker cleaning up one run's deletes while the next is timed.
ALTER TABLE events_$1 SET (autovacuum_enabled = false);
VACUUM ANALYZE events_$1;
SQL
}

# One config directory per retention run: table $1, defaults $2.
setup() {
  write_config "$WORK/$1" "$URL" "defaults: {$2}"
  write_rule "$WORK/$1" events 90d "events_$1" "[id]" created_at
}
setup ours "batch_size: 1000"
setup seq "batches_in_flight: 1"
$BIN --config "$WORK/ours/retention.yaml" migrate >/dev/null

# Runs a command after a checkpoint (so no run pays for flushing another's pages) and
# prints its wall time in seconds.
timed() {
  local start
  psql -q "$URL" -c CHECKPOINT >/dev/null
  start=$(date +%s.%N)
  "$@" >/dev/null
  echo "$(date +%s.%N) - $start" | bc
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for round in $(seq 1 "$ROUNDS"); do
  for t in raw keys ours seq; do make_table "$t"; done
  timed psql -q "$URL" -c "DELETE FROM events_raw WHERE created_at < now() - interval '90 days'" >>"$WORK/raw.times"
  timed psql -q "$URL" -c "COPY (DELETE FROM events_keys WHERE created_at < now() - interval '90 days' RETURNING id) TO STDOUT" >>"$WORK/keys.times"
  for t in ours seq; do
    timed /usr/bin/time -f '%M' -a -o "$WORK/$t.rss" $BIN --config "$WORK/$t/retention.yaml" run >>"$WORK/$t.times"
  done
  left_raw=$(psql -tA "$URL" -c "SELECT count(*) FROM events_raw")
  for t in keys ours seq; do
    left=$(psql -tA "$URL" -c "SELECT count(*) FROM events_$t")
    [ "$left" = "$left_raw" ] || { echo "row counts differ: $t $left, raw $left_raw" >&2; exit 1; }
  done
  printf 'round %s: raw %.3f s, raw returning keys %.3f s, retention %.3f s, retention sequential %.3f s\n' \
    "$round" "$(tail -1 "$WORK/raw.times")" "$(tail -1 "$WORK/keys.times")" \
    "$(tail -1 "$WORK/ours.times")" "$(tail -1 "$WORK/seq.times")"
done

raw=$(median <"$WORK/raw.times")
keys=$(median <"$WORK/keys.times")
ours=$(median <"$WORK/ours.times")
seq=$(median <"$WORK/seq.times")
rss=$(sort -n "$WORK/ours.rss" | tail -1)
rss_seq=$(sort -n "$WORK/seq.rss" | tail -1)
printf 'rows: %s, deleted: %s each, medians of %s rounds\n' "$ROWS" "$((ROWS - left_raw))" "$ROUNDS"
printf 'raw DELETE:                                    %.3f s\n' "$raw"
printf 'raw DELETE … RETURNING id (COPY to /dev/null): %.3f s\n' "$keys"
printf 'retention run (defaults, 2 batches in flight): %.3f s (whole process: connect, checks, guard counts, batches, audit)\n' "$ours"
printf 'retention run (batches_in_flight: 1):          %.3f s\n' "$seq"
printf 'throughput ratio (raw time / our time), defaults:    %.2f\n' "$(echo "$raw / $ours" | bc -l)"
printf 'throughput ratio (raw time / our time), sequential:  %.2f\n' "$(echo "$raw / $seq" | bc -l)"
printf 'against the raw statement returning its keys, defaults: %.2f\n' "$(echo "$keys / $ours" | bc -l)"
printf 'peak RSS of retention: %.1f MiB (sequential: %.1f MiB)\n' "$(echo "$rss / 1024" | bc -l)" "$(echo "$rss_seq / 1024" | bc -l)"
