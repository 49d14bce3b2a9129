#!/usr/bin/env bash
# Benchmark: `retention run` against a raw single-statement DELETE on PostgreSQL.
#
# Builds two identical 1,000,000-row tables (half of the rows expired) in a fresh
# database, deletes the expired half of one with `retention run` and of the other with
# `DELETE FROM … WHERE ts < cutoff`, in the same run, and prints both times, the
# throughput ratio (raw time / our time: 1.0 means as fast as the raw statement) and the
# tool's peak RSS. Usage: [PROFILE=dev] bench/sql/run.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
PGURL="${RETENTION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="rt_bench_$$"
psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null
trap 'psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT
URL="${PGURL%/*}/$DB"

# PROFILE=dev measures the debug build (quicker to build; slower, so the ratio is a floor).
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet
  BIN=target/release/retention
else
  cargo build --quiet
  BIN=target/debug/retention
fi

for t in ours raw; do
  psql -q "$URL" <<SQL
CREATE TABLE events_$t (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, payload TEXT, created_at TIMESTAMPTZ NOT NULL);
INSERT INTO events_$t
  SELECT g, g % 50000, md5(g::text), now() - CASE WHEN g % 2 = 0 THEN interval '100 days' + (g % 525600) * interval '1 minute' ELSE (g % 40000) * interval '1 minute' END
  FROM generate_series(1, $ROWS) g;
CREATE INDEX ON events_$t (created_at);
VACUUM ANALYZE events_$t;
SQL
done

WORK=$(mktemp -d)
mkdir -p "$WORK/rules"
cat > "$WORK/retention.yaml" <<YAML
stores:
  app:
    url: $URL
state: app
audit:
  pseudonym_key: bench-pseudonym-key-0123456789abcdef0123456789
rules: ./rules
YAML
cat > "$WORK/rules/events.yaml" <<YAML
category: events
description: Benchmark events
source: "benchmark"
retain: 90d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: events_ours
    key: [id]
    timestamp: created_at
YAML
$BIN --config "$WORK/retention.yaml" migrate >/dev/null

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$WORK/rss" $BIN --config "$WORK/retention.yaml" run >/dev/null
ours=$(echo "$(date +%s.%N) - $start" | bc)

start=$(date +%s.%N)
psql -q "$URL" -c "DELETE FROM events_raw WHERE created_at < now() - interval '90 days'" >/dev/null
raw=$(echo "$(date +%s.%N) - $start" | bc)

left_ours=$(psql -tA "$URL" -c "SELECT count(*) FROM events_ours")
left_raw=$(psql -tA "$URL" -c "SELECT count(*) FROM events_raw")
[ "$left_ours" = "$left_raw" ] || { echo "row counts differ: ours $left_ours, raw $left_raw" >&2; exit 1; }
rss_kib=$(cat "$WORK/rss")
printf 'rows: %s, deleted: %s each\n' "$ROWS" "$((ROWS - left_raw))"
printf 'retention run: %.3f s (whole process: connect, migrate check, plan, batches, audit)\n' "$ours"
printf 'raw DELETE:    %.3f s\n' "$raw"
printf 'throughput ratio (raw time / our time): %.2f\n' "$(echo "$raw / $ours" | bc -l)"
printf 'peak RSS of retention: %.1f MiB\n' "$(echo "$rss_kib / 1024" | bc -l)"
rm -rf "$WORK"
