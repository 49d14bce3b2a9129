#!/usr/bin/env bash
# Runs every test of the project on a machine of this kind, the way CI does.
# Installs what is missing (quietly, only when missing) and starts what is not running:
# PostgreSQL, MariaDB and an S3 server (moto) on 127.0.0.1, Chromium and the third-party
# audit verifier. Then: fmt, clippy, the Rust tests (unit + the one integration-test
# binary, which includes the third-party check of the audit log), and the Helm chart tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null
  }
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "Installing PostgreSQL"
    apt_install postgresql postgresql-client
    # Trust local TCP connections as user postgres, as the machines of this kind do.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  log "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && return; sleep 1; done
  echo "PostgreSQL did not start" >&2; exit 1
}

ensure_mariadb() {
  if mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then return; fi
  if ! [ -x /usr/sbin/mariadbd ]; then
    log "Installing MariaDB"
    apt_install mariadb-server mariadb-client
  fi
  log "Starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && return; sleep 1; done
  echo "MariaDB did not start" >&2; exit 1
}

ensure_moto() {
  export RETENTION_TEST_S3_ENDPOINT="${RETENTION_TEST_S3_ENDPOINT:-http://127.0.0.1:5000}"
  if curl -fsS -o /dev/null "$RETENTION_TEST_S3_ENDPOINT" 2>/dev/null; then return; fi
  if ! command -v moto_server >/dev/null 2>&1; then
    log "Installing moto[server]"
    python3 -m pip install -q 'moto[server]' >/dev/null
  fi
  log "Starting moto_server on $RETENTION_TEST_S3_ENDPOINT"
  local port="${RETENTION_TEST_S3_ENDPOINT##*:}"
  nohup moto_server -H 127.0.0.1 -p "$port" >/tmp/retention-moto.log 2>&1 &
  for _ in $(seq 1 60); do curl -fsS -o /dev/null "$RETENTION_TEST_S3_ENDPOINT" 2>/dev/null && return; sleep 0.5; done
  echo "moto_server did not start (see /tmp/retention-moto.log)" >&2; exit 1
}

ensure_s3s_fs() {
  # A real S3-compatible server without versioning, Object Lock or tagging (they answer
  # NotImplemented): the objects_compat tests run against it.
  if command -v s3s-fs >/dev/null 2>&1; then return; fi
  log "Installing s3s-fs"
  cargo install --quiet --locked s3s-fs --version 0.14.1 --features binary
}

ensure_chromium() {
  # The HTML report is checked in a real headless browser.
  if command -v chromium >/dev/null 2>&1; then return; fi
  log "Installing chromium"
  apt_install chromium
}

ensure_third_party_verifier() {
  # The audit log's proofs and checkpoints are checked by third-party code in CI
  # (tests/it/audit_third_party.rs runs tests/audit/third_party_verify.py with aics-tlog,
  # an independent RFC 6962 / RFC 9162 and C2SP signed-note implementation). It asks for
  # Python 3.12, and its code runs on 3.11: the test is what shows it.
  export RETENTION_THIRD_PARTY_PYTHON="${RETENTION_THIRD_PARTY_PYTHON:-$PWD/target/third-party-python}"
  if ! python3 -c "import cryptography" >/dev/null 2>&1; then
    log "Installing cryptography"
    python3 -m pip install -q cryptography >/dev/null
  fi
  if PYTHONPATH="$RETENTION_THIRD_PARTY_PYTHON" python3 -c "import aics_tlog" >/dev/null 2>&1; then return; fi
  log "Installing aics-tlog (third-party audit verifier)"
  python3 -m pip install -q --no-deps --ignore-requires-python --target "$RETENTION_THIRD_PARTY_PYTHON" 'aics-tlog==0.2.1' >/dev/null
}

ensure_postgres
ensure_mariadb
ensure_moto
ensure_s3s_fs
ensure_chromium
ensure_third_party_verifier
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

log "Rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast
  cargo test --doc --quiet
else
  cargo test --no-fail-fast
fi

if [ -x tests/helm/run.sh ] || [ -f tests/helm/run.sh ]; then
  log "Helm chart tests"
  bash tests/helm/run.sh
fi
log "All tests passed."
