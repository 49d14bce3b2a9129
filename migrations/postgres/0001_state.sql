-- The tool's own tables: runs, the run lock, the audit log, holds and erasure requests.

CREATE TABLE retention_runs (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      TEXT NOT NULL,             -- running | done | failed | refused | interrupted
    command     TEXT NOT NULL,             -- run | erase
    shard       TEXT
);

CREATE TABLE retention_lock (
    name        TEXT PRIMARY KEY,          -- 'run', or 'run/2of7' for a shard
    run_id      TEXT NOT NULL,
    holder      TEXT NOT NULL,             -- host:pid
    acquired_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

-- Append-only: each row is one entry, stored as the exact bytes that were hashed.
CREATE TABLE retention_audit (
    seq         BIGINT PRIMARY KEY,
    line        BYTEA NOT NULL,
    leaf_hash   BYTEA NOT NULL
);

-- One row: the last sequence number and leaf hash. Appends lock this row, so sequence
-- numbers have no gaps and concurrent writers (shards) serialise.
CREATE TABLE retention_audit_head (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    leaf_hash   BYTEA NOT NULL
);
INSERT INTO retention_audit_head (id, seq, leaf_hash) VALUES (1, 0, ''::bytea);

-- Signed checkpoints (C2SP tlog-checkpoint signed notes) of the audit log.
CREATE TABLE retention_checkpoints (
    size        BIGINT PRIMARY KEY,
    note        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE retention_holds (
    subject     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    until_at    TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Erasure requests (DSAR). A stable interface: a ticketing system may insert rows with
-- status 'pending'; `retention run` processes them before retention work.
CREATE TABLE retention_requests (
    ticket       TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',  -- pending | done | partial | failed
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    run_id       TEXT,
    outcome      TEXT
);
