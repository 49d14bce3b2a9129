#!/usr/bin/env bash
# Object deletion benchmark: `retention`'s S3 delete path vs `rclone delete` vs
# `aws s3 rm --recursive`, each erasing N objects (default 20,000) under one prefix of its
# own bucket on the same S3 server, in the same run. Prints the seconds and the ratios.
#
#   bench/objects/run.sh            # starts moto_server on a free local port
#   N=5000 RETENTION_BENCH_S3_ENDPOINT=http://127.0.0.1:5000 bench/objects/run.sh
#   PROFILE=dev bench/objects/run.sh   # skip the release build (slower client, same server)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
# Never die silently: name the command that failed (set -e alone says nothing).
trap 'status=$?; echo "bench/objects/run.sh: line $LINENO: \`$BASH_COMMAND\` failed (exit $status)" >&2' ERR

N=${N:-20000}
PROFILE=${PROFILE:-release}
PREFIX=crash-reports/

command -v rclone >/dev/null || apt-get install -y -qq rclone >/dev/null \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq rclone >/dev/null; }
command -v aws >/dev/null || pip install -q awscli
command -v moto_server >/dev/null || pip install -q 'moto[server]'

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-bench} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

if [[ -z "${RETENTION_BENCH_S3_ENDPOINT:-}" ]]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    moto_pid=$!
    trap 'kill $moto_pid 2>/dev/null || true' EXIT
    ENDPOINT=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -s -o /dev/null "$ENDPOINT" && break; sleep 0.2; done
else
    ENDPOINT=$RETENTION_BENCH_S3_ENDPOINT
fi

if [[ $PROFILE == release ]]; then
    cargo build -q --release --example objects_bench
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/objects_bench
else
    cargo build -q --example objects_bench
    BIN=${CARGO_TARGET_DIR:-target}/debug/examples/objects_bench
fi

aws_s3() { aws --endpoint-url "$ENDPOINT" s3 "$@"; }
run_id=$(date +%s)-$RANDOM
declare -A bucket
for tool in retention rclone aws; do
    bucket[$tool]=bench-$tool-$run_id
    aws_s3 mb "s3://${bucket[$tool]}" >/dev/null
    echo "populating ${bucket[$tool]}/$PREFIX with $N objects" >&2
    "$BIN" populate "$ENDPOINT" "${bucket[$tool]}" "$PREFIX" "$N"
done

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }

echo "retention delete…" >&2
t_retention=$("$BIN" delete "$ENDPOINT" "${bucket[retention]}" "$PREFIX")
echo "retention: $t_retention s" >&2

echo "rclone delete…" >&2
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT=$ENDPOINT RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_BENCH_REGION=us-east-1
start=$(now)
# rclone cannot combine a custom CA bundle with its own transport; the bench speaks plain
# HTTP to a local server, so the variable is dropped for it.
env -u AWS_CA_BUNDLE rclone delete "bench:${bucket[rclone]}/$PREFIX"
t_rclone=$(elapsed "$start" "$(now)")
echo "rclone: $t_rclone s" >&2

echo "aws s3 rm --recursive…" >&2
start=$(now)
aws_s3 rm --recursive --quiet "s3://${bucket[aws]}/$PREFIX"
t_aws=$(elapsed "$start" "$(now)")
echo "aws: $t_aws s" >&2

# Objects left under the prefix of bucket $1. `aws s3 ls` exits 1 when it lists nothing:
# inside `left=$(… | wc -l)` under `set -e -o pipefail` that ended the script, with no
# message, right after the aws leg (and the EXIT trap took moto down with it). Exit 1 with
# nothing listed is "none left"; any other failure still stops the benchmark.
left_under() {
    local out status=0
    out=$(aws_s3 ls --recursive "s3://$1/$PREFIX") || status=$?
    if (( status > 1 || (status == 1 && ${#out} > 0) )); then
        echo "listing s3://$1/$PREFIX failed (aws exit $status)" >&2
        return 1
    fi
    if [[ -z $out ]]; then echo 0; else wc -l <<<"$out"; fi
}

for tool in retention rclone aws; do
    left=$(left_under "${bucket[$tool]}")
    [[ $left == 0 ]] || { echo "$tool left $left objects behind" >&2; exit 1; }
done

python3 - "$N" "$t_retention" "$t_rclone" "$t_aws" <<'PY'
import sys
n, ours, rclone, aws = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"deleting {n} objects under one prefix (same S3 server, same run)")
for name, secs in [("retention", ours), ("rclone delete", rclone), ("aws s3 rm --recursive", aws)]:
    print(f"  {name:<24} {secs:8.2f} s  {n / secs:9.0f} objects/s")
print(f"  retention is {rclone / ours:.1f}x rclone and {aws / ours:.1f}x aws-cli")
PY
