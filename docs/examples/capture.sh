#!/usr/bin/env bash
# Regenerates the operator captures of docs/examples/ (issue 17) from a real run:
#   terminal-run-1m-rows.txt          `retention run` in tmux on 1,000,000 events (half
#                                     expired) and 20,000 sessions, PostgreSQL
#   run-with-a-failed-target.jsonl    `--log-format json run` with one rule's table missing
#   run-with-a-failed-target.stdout.txt  the same run's stdout
# Usage: [BIN=target/debug/retention] docs/examples/capture.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${BIN:-target/debug/retention}"
[ -x "$BIN" ] || cargo build --quiet
BIN="$(realpath "$BIN")"
OUT="$PWD/docs/examples"
PGURL="${RETENTION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="rt_examples_$$"
WORK=$(mktemp -d)
trap 'tmux kill-session -t rt-capture 2>/dev/null || true; for d in ${DB}_a ${DB}_b; do psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done; rm -rf "$WORK"' EXIT

. bench/common.sh
rule() { # category table retain
  write_rule "$WORK" "$1" "$3" "$2" "[id]" created_at "    subject: account_id"
}
fresh() { # database suffix: a new database, an empty rules/ and a config naming it
  psql -q "$PGURL" -c "CREATE DATABASE ${DB}_$1" >/dev/null
  URL="${PGURL%/*}/${DB}_$1"
  write_config "$WORK" "$URL"
}
table() { # name rows days-spread
  psql -q -v ON_ERROR_STOP=1 "$URL" <<SQL
CREATE TABLE $1 (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL);
INSERT INTO $1 SELECT g, g % 100000, now() - (g::float8 / $2) * interval '$3 days'
  FROM generate_series(1, $2) g;
CREATE INDEX ON $1 (created_at);
VACUUM ANALYZE $1;
SQL
}
fresh a
table events 1000000 200
table sessions 20000 60
rule events events 100d
rule sessions sessions 30d
"$BIN" --config "$WORK/retention.yaml" migrate >/dev/null

# The terminal: the progress bar three times while it runs, then the whole screen.
tmux new-session -d -s rt-capture -x 130 -y 45 \
  "cd $WORK && NO_COLOR=1 '$BIN' --config retention.yaml run; echo EXIT=\$?; sleep 600"
bars="$WORK/bars.txt"
: > "$bars"
for _ in $(seq 1 600); do
  screen=$(tmux capture-pane -p -t rt-capture)
  grep -q '^EXIT=' <<<"$screen" && break
  grep -m1 'target 1 of 2' <<<"$screen" >> "$bars" || true
  sleep 0.5
done
{
  echo '$ retention run        # 1,000,000 rows in app/events (PostgreSQL 15), half of them past 100 days; 20,000 sessions'
  echo
  echo '# while it runs (tmux capture-pane, every half second; three of the captures):'
  awk 'NF && !seen[$0]++' "$bars" | awk '{ l[NR] = $0 } END { if (NR) { print l[1]; if (NR > 2) print l[int((NR + 1) / 2)]; if (NR > 1) print l[NR] } }'
  echo
  echo '# at the end:'
  tmux capture-pane -p -J -t rt-capture -S - | sed -e '/target [0-9]* of [0-9]*/d' -e '/^EXIT=/d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
} > "$OUT/terminal-run-1m-rows.txt"
tmux kill-session -t rt-capture

# A run with a failed target, on small tables.
fresh b
table events 3000 60
table sessions 80 60
rule events events 30d
rule sessions sessions 30d
rule ghosts ghost_events 30d
"$BIN" --config "$WORK/retention.yaml" migrate >/dev/null
status=0
(cd "$WORK" && RETENTION_LOG=info "$BIN" --config retention.yaml --log-format json run \
  > "$WORK/stdout.txt" 2> "$OUT/run-with-a-failed-target.jsonl") || status=$?
{
  echo "\$ retention --log-format json run 2> run-with-a-failed-target.jsonl   # stdout below; exit status $status"
  echo
  cat "$WORK/stdout.txt"
} > "$OUT/run-with-a-failed-target.stdout.txt"
echo "written: $OUT/terminal-run-1m-rows.txt, $OUT/run-with-a-failed-target.{jsonl,stdout.txt}"
