#!/usr/bin/env bash
# Benchmark: `retention run` with `partitions: drop` against a raw
# `DELETE … WHERE ts < cutoff` on an identical copy, in the same run (issue 16).
#
# A fresh PostgreSQL database holds two identical tables, `ev_tool` and `ev_raw`,
# range-partitioned by calendar month over 24 months (plus the current month), ROWS rows
# spread evenly over the last 730 days, primary key (id, ts) and an index on ts. The
# rule keeps 12 months, so about twelve partitions lie wholly before the cutoff and one
# straddles it. `retention run` (its
# audit log in the same database, as the state store) removes the whole ones by detach
# + drop and deletes the straddling partition's expired rows in batches; psql runs the
# raw statement on the copy with the cutoff the tool recorded. Both times are whole
# processes. Then it checks both tables hold the same rows, and prints the times, the
# ratio (raw time / tool time: 20 means twenty times faster than the raw statement) and,
# from the tool's JSON log, the longest ACCESS EXCLUSIVE lock it held (on a detached
# partition alone) and the longest DETACH … CONCURRENTLY (SHARE UPDATE EXCLUSIVE on the
# parent: reads and writes go on).
#
# Usage: [PROFILE=dev] [BIN=path] bench/partitions/run.sh [ROWS]   (ROWS default 10000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-10000000}"
PGURL="${RETENTION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="rt_bench_parts_$$"
WORK=$(mktemp -d)
psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null
trap 'psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; [ -n "${KEEP_LOG:-}" ] && cp "$WORK/run.log" "$KEEP_LOG"; rm -rf "$WORK"' EXIT
URL="${PGURL%/*}/$DB"

. bench/common.sh
retention_binary

echo "loading $ROWS rows into each of two tables (24 monthly partitions) …"
load_start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$URL" <<SQL
SET TimeZone = 'UTC';
CREATE TABLE ev_tool (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL, payload TEXT,
  PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
CREATE INDEX ON ev_tool (ts);
CREATE TABLE ev_raw (LIKE ev_tool INCLUDING ALL) PARTITION BY RANGE (ts);
DO \$\$
DECLARE m date := date_trunc('month', now() - interval '730 days')::date;
BEGIN
  WHILE m <= now() + interval '1 month' LOOP
    EXECUTE format('CREATE TABLE ev_tool_%s PARTITION OF ev_tool FOR VALUES FROM (%L) TO (%L)',
                   to_char(m, 'YYYY_MM'), m, m + interval '1 month');
    EXECUTE format('CREATE TABLE ev_raw_%s PARTITION OF ev_raw FOR VALUES FROM (%L) TO (%L)',
                   to_char(m, 'YYYY_MM'), m, m + interval '1 month');
    m := m + interval '1 month';
  END LOOP;
END \$\$;
INSERT INTO ev_tool
  SELECT g, g % 100000, now() - (g::float8 / $ROWS) * interval '730 days', md5(g::text)
  FROM generate_series(1, $ROWS) g;
INSERT INTO ev_raw SELECT * FROM ev_tool;
VACUUM ANALYZE ev_tool;
VACUUM ANALYZE ev_raw;
SQL
echo "loaded in $(( $(date +%s) - load_start )) s"

write_config "$WORK" "$URL"
write_rule "$WORK" events 12mo ev_tool "[id, ts]" ts "    partitions: drop"
$BIN --config "$WORK/retention.yaml" migrate >/dev/null
$BIN --config "$WORK/retention.yaml" plan > "$WORK/plan.txt"
sed -n '/Partitions of/,$p' "$WORK/plan.txt" | head -40

now() { date +%s.%N; }
t0=$(now)
RETENTION_LOG=info $BIN --config "$WORK/retention.yaml" --log-format json run \
  > "$WORK/run.out" 2> "$WORK/run.log"
t1=$(now)
tool=$(echo "$t1 - $t0" | bc -l)

# The raw statement, with the cutoff the tool recorded in its audit log.
CUTOFF=$(psql -qtA "$URL" -c "SELECT convert_from(line, 'UTF8')::json->>'cutoff' FROM retention_audit
                              WHERE convert_from(line, 'UTF8')::json->>'kind' = 'batch' LIMIT 1")
t0=$(now)
psql -q "$URL" -c "DELETE FROM ev_raw WHERE ts < '$CUTOFF'"
t1=$(now)
raw=$(echo "$t1 - $t0" | bc -l)

same=$(psql -qtA "$URL" -c "SELECT (SELECT COUNT(*) FROM ev_tool) = (SELECT COUNT(*) FROM ev_raw)
  AND NOT EXISTS (SELECT id, ts FROM ev_tool EXCEPT SELECT id, ts FROM ev_raw)")
left=$(psql -qtA "$URL" -c "SELECT COUNT(*) FROM ev_tool")
$BIN --config "$WORK/retention.yaml" audit verify >/dev/null

max_of() { grep -o "\"$1\":[0-9]*" "$WORK/run.log" | cut -d: -f2 | sort -n | tail -1; }
dropped=$(grep -c '"access_exclusive_ms"' "$WORK/run.log" || true)
printf '\nrows %s, left %s, cutoff %s, identical afterwards: %s, audit verify: ok\n' "$ROWS" "$left" "$CUTOFF" "$same"
printf 'retention run (partitions: drop, %s partitions dropped): %.2f s\n' "$dropped" "$tool"
printf 'raw DELETE … WHERE ts < cutoff:                          %.2f s\n' "$raw"
printf 'ratio (raw / retention):                                 %.1f×\n' "$(echo "$raw / $tool" | bc -l)"
printf 'longest ACCESS EXCLUSIVE (a detached partition):          %s ms\n' "$(max_of access_exclusive_ms)"
printf 'longest DETACH … CONCURRENTLY (SHARE UPDATE EXCLUSIVE):   %s ms\n' "$(max_of detach_ms)"
[ "$same" = t ]
