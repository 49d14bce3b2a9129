#!/usr/bin/env bash
# Benchmark: `retention run` on MariaDB against the peers a MariaDB user would pick, in the
# same run (issue 15): `pt-archiver --purge --bulk-delete --limit 1000 --commit-each`
# (Percona Toolkit, installed from Debian's packages when missing) and a raw
# `DELETE … WHERE ts < cutoff`.
#
# Each round builds three identical InnoDB tables of ROWS rows (default 400,000; three in
# four expired, an index on the timestamp) in a fresh database and deletes the expired rows
# of each: one with the raw statement, one with pt-archiver, one with `retention run`
# (its audit log in the same database, as the state store). Times are whole processes.
# After ROUNDS rounds (default 3) it prints the medians, the ratios (peer time / our time:
# 3.0 means three times as fast) and the tool's peak RSS.
# Usage: [PROFILE=dev] [ROUNDS=3] [BIN=path] bench/sql/mariadb.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-400000}"
ROUNDS="${ROUNDS:-3}"
DB="rt_bench_my_$$"
WORK=$(mktemp -d)
my() { mariadb -h 127.0.0.1 -u root "$@"; }
my -e "CREATE DATABASE $DB"
trap 'my -e "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
URL="mysql://root@127.0.0.1:3306/$DB"

command -v pt-archiver >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq percona-toolkit >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq percona-toolkit >/dev/null; }
}

. bench/common.sh
retention_binary

# Rows: id 1..ROWS; three in four are 100 to 465 days old, the rest younger than 28 days.
make_table() {
  my "$DB" <<SQL
DROP TABLE IF EXISTS events_$1;
CREATE TABLE events_$1 (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, payload VARCHAR(32),
  created_at DATETIME(6) NOT NULL, KEY (created_at)) ENGINE=InnoDB;
INSERT INTO events_$1
  SELECT seq, seq % 50000, MD5(seq),
         UTC_TIMESTAMP(6) - INTERVAL (CASE WHEN seq % 4 <> 0 THEN 144000 + seq % 525600 ELSE seq % 40000 END) MINUTE
  FROM seq_1_to_$ROWS;
ANALYZE TABLE events_$1;
SQL
} >/dev/null

write_config "$WORK" "$URL"
write_rule "$WORK" events 90d events_ours "[id]" created_at
$BIN --config "$WORK/retention.yaml" migrate >/dev/null

# Times a command once InnoDB has purged what earlier legs deleted (MariaDB 10.5+), so no
# leg pays for another's cleanup; prints the wall time in seconds.
timed() {
  local start
  my -e "SET GLOBAL innodb_max_purge_lag_wait = 0"
  start=$(date +%s.%N)
  "$@" >/dev/null
  echo "$(date +%s.%N) - $start" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
CUTOFF="UTC_TIMESTAMP(6) - INTERVAL 90 DAY"

for round in $(seq 1 "$ROUNDS"); do
  for t in raw pta ours; do make_table "$t"; done
  timed my "$DB" -e "DELETE FROM events_raw WHERE created_at < $CUTOFF" >>"$WORK/raw.times"
  timed pt-archiver --source "h=127.0.0.1,u=root,D=$DB,t=events_pta" --purge \
    --where "created_at < $CUTOFF" --bulk-delete --limit 1000 --commit-each \
    --no-check-charset >>"$WORK/pta.times"
  RETENTION_LOG=warn timed /usr/bin/time -f '%M' -a -o "$WORK/ours.rss" $BIN --config "$WORK/retention.yaml" run >>"$WORK/ours.times"
  left_raw=$(my -N "$DB" -e "SELECT COUNT(*) FROM events_raw")
  for t in pta ours; do
    left=$(my -N "$DB" -e "SELECT COUNT(*) FROM events_$t")
    [ "$left" = "$left_raw" ] || { echo "row counts differ: $t $left, raw $left_raw" >&2; exit 1; }
  done
  printf 'round %s: raw DELETE %.3f s, pt-archiver %.3f s, retention %.3f s\n' "$round" \
    "$(tail -1 "$WORK/raw.times")" "$(tail -1 "$WORK/pta.times")" "$(tail -1 "$WORK/ours.times")"
done
$BIN --config "$WORK/retention.yaml" audit verify >/dev/null

raw=$(median <"$WORK/raw.times")
pta=$(median <"$WORK/pta.times")
ours=$(median <"$WORK/ours.times")
rss=$(sort -n "$WORK/ours.rss" | tail -1)
printf 'MariaDB %s, rows: %s, deleted: %s each, medians of %s rounds\n' \
  "$(my -N -e 'SELECT VERSION()')" "$ROWS" "$((ROWS - left_raw))" "$ROUNDS"
printf 'raw DELETE:                  %.3f s\n' "$raw"
printf 'pt-archiver (bulk, 1,000):   %.3f s\n' "$pta"
printf 'retention run (audit on):    %.3f s\n' "$ours"
printf 'ratio to pt-archiver (pt-archiver time / ours): %.2f\n' "$(echo "$pta / $ours" | bc -l)"
printf 'ratio to the raw DELETE (raw time / ours):      %.2f\n' "$(echo "$raw / $ours" | bc -l)"
printf 'peak RSS of retention: %.1f MiB\n' "$(echo "$rss / 1024" | bc -l)"
