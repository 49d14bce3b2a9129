# Sourced by the benchmark scripts and docs/examples/capture.sh: which binary to run, and
# the config and rule files of a run on the one SQL store `app`.

# Sets BIN: as given, else the release build (PROFILE=dev: the debug build), built first.
retention_binary() {
  if [ -n "${BIN:-}" ]; then return; fi
  if [ "${PROFILE:-release}" = release ]; then
    cargo build --release --quiet --bin retention
    BIN=${CARGO_TARGET_DIR:-target}/release/retention
  else
    cargo build --quiet --bin retention
    BIN=${CARGO_TARGET_DIR:-target}/debug/retention
  fi
}

# write_config DIR URL [EXTRA]: DIR/retention.yaml with the store `app` at URL (also the
# state store), signed when RETENTION_SIGNING_KEY is set, EXTRA lines at its end; an
# empty DIR/rules.
write_config() {
  rm -rf "$1/rules"
  mkdir -p "$1/rules"
  cat > "$1/retention.yaml" <<YAML
stores:
  app:
    url: $2
state: app
audit:
  pseudonym_key: bench-pseudonym-key-0123456789abcdef0123456789
  signing_key: \${RETENTION_SIGNING_KEY:-}
rules: ./rules
${3:-}
YAML
}

# write_rule DIR CATEGORY RETAIN TABLE KEY TIMESTAMP [EXTRA]: DIR/rules/CATEGORY.yaml,
# expiry by delete with mass deletes allowed (the benchmarks expire half or more of a
# table); KEY is a YAML list (`[id]`), EXTRA more lines of the target.
write_rule() {
  cat > "$1/rules/$2.yaml" <<YAML
category: $2
description: $2 (benchmark)
source: "benchmark"
retain: $3
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: $4
    key: $5
    timestamp: $6
${7:-}
YAML
}
