#!/usr/bin/env bash
# Benchmark: erasing one subject with `retention erase` against raw per-table DELETEs on
# PostgreSQL.
#
# Builds two identical copies of four tables of ROWS rows each (default 1,000,000):
# accounts, and sessions, events and locations referencing accounts by an indexed
# account_id (foreign keys on sessions and locations). Each subject has ROWS/50,000 rows
# in each child table. Erases subject SUBJECT from one copy with the tool's erase path
# (connect, catalog, run lock, audit entries, children first) and from the other with
# `DELETE … WHERE account_id = X` per table in one psql transaction, in the same run, and
# prints both times and their ratio. A second erasure of the same subject (a no-op) is
# timed too.
#
#   bench/dsar/run.sh [ROWS]
#   PROFILE=dev bench/dsar/run.sh     # skip the release build
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
SUBJECT="${SUBJECT:-4242}"
PROFILE=${PROFILE:-release}
PGURL="${RETENTION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="rt_dsar_bench_$$"
psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null
trap 'psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
URL="${PGURL%/*}/$DB"

if [[ $PROFILE == release ]]; then
    cargo build -q --release --example dsar_bench
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/dsar_bench
else
    cargo build -q --example dsar_bench
    BIN=${CARGO_TARGET_DIR:-target}/debug/examples/dsar_bench
fi

for t in ours raw; do
  psql -q "$URL" <<SQL
CREATE TABLE accounts_$t (id BIGINT PRIMARY KEY, email TEXT NOT NULL, name TEXT);
INSERT INTO accounts_$t SELECT g, 'user' || g || '@example.com', md5(g::text) FROM generate_series(0, $ROWS - 1) g;
CREATE TABLE sessions_$t (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts_$t (id), ip TEXT, started_at TIMESTAMPTZ NOT NULL);
INSERT INTO sessions_$t SELECT g, g % 50000, '203.0.113.' || (g % 250), now() - (g % 90000) * interval '1 minute' FROM generate_series(1, $ROWS) g;
CREATE INDEX ON sessions_$t (account_id);
CREATE TABLE events_$t (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, payload TEXT, created_at TIMESTAMPTZ NOT NULL);
INSERT INTO events_$t SELECT g, (g * 7) % 50000, md5(g::text), now() - (g % 90000) * interval '1 minute' FROM generate_series(1, $ROWS) g;
CREATE INDEX ON events_$t (account_id);
CREATE TABLE locations_$t (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts_$t (id), latitude DOUBLE PRECISION, longitude DOUBLE PRECISION);
INSERT INTO locations_$t SELECT g, (g * 13) % 50000, (g % 180) - 90.0, (g % 360) - 180.0 FROM generate_series(1, $ROWS) g;
CREATE INDEX ON locations_$t (account_id);
SQL
done
psql -q "$URL" -c "VACUUM ANALYZE" >/dev/null

count() { psql -tA "$URL" -c "SELECT (SELECT count(*) FROM accounts_$1 WHERE id = $SUBJECT) + (SELECT count(*) FROM sessions_$1 WHERE account_id = $SUBJECT) + (SELECT count(*) FROM events_$1 WHERE account_id = $SUBJECT) + (SELECT count(*) FROM locations_$1 WHERE account_id = $SUBJECT)"; }
before=$(count ours)

ours=$($BIN "$URL" "$SUBJECT" BENCH-1 2>/dev/null)
again=$($BIN "$URL" "$SUBJECT" BENCH-1 2>/dev/null)

start=$(date +%s.%N)
psql -q "$URL" >/dev/null <<SQL
BEGIN;
DELETE FROM sessions_raw WHERE account_id = $SUBJECT;
DELETE FROM events_raw WHERE account_id = $SUBJECT;
DELETE FROM locations_raw WHERE account_id = $SUBJECT;
DELETE FROM accounts_raw WHERE id = $SUBJECT;
COMMIT;
SQL
raw=$(echo "$(date +%s.%N) - $start" | bc)

left_ours=$(count ours)
left_raw=$(count raw)
[ "$left_ours" = 0 ] && [ "$left_raw" = 0 ] || { echo "rows left: ours $left_ours, raw $left_raw" >&2; exit 1; }
entries=$(psql -tA "$URL" -c "SELECT count(*) FROM retention_audit")
printf 'rows per table: %s (4 tables); rows of the subject: %s\n' "$ROWS" "$before"
printf 'retention erase:        %.3f s (connect, catalog, lock, audit, 4 targets children first; %s audit entries for two erasures)\n' "$ours" "$entries"
printf 'second erase (no-op):   %.3f s\n' "$again"
printf 'raw DELETEs (psql):     %.3f s (one psql process, 4 statements, one transaction)\n' "$raw"
printf 'ratio (raw time / our time): %.2f\n' "$(echo "$raw / $ours" | bc -l)"
