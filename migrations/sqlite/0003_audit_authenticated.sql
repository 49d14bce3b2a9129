-- Every entry authenticated by the signing key, and the head row a cache that is checked,
-- never trusted (docs/audit.md).
--
-- `sig`: the entry's Ed25519 signature (signed-note form: 4-byte key hash, 64-byte
-- signature) over `retention-audit-entry/v1 <seq> <base64 leaf hash>\n`, written in the
-- transaction that writes the entry when a signing key is configured. The head keeps the
-- signature of its entry, so an append can check the head it extends at no extra read.
ALTER TABLE retention_audit ADD COLUMN sig BLOB;
ALTER TABLE retention_audit_head ADD COLUMN sig BLOB NOT NULL DEFAULT X'';

-- The right edge of the tree at each checkpoint (one hash per set bit of its size). It is
-- not signed, but it is only used when it folds to the signed root, so the next checkpoint
-- costs the entries since this one, not the whole log.
ALTER TABLE retention_checkpoints ADD COLUMN frontier BLOB;

-- The log's default origin (the first line of its checkpoints), unique to this state
-- store; `audit.origin` in the configuration overrides it. A log started before this
-- migration keeps the origin its checkpoints already carry.
CREATE TABLE retention_audit_origin (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    origin      TEXT NOT NULL
);
INSERT INTO retention_audit_origin (id, origin)
SELECT 1, COALESCE(
    (SELECT substr(note, 1, instr(note, char(10)) - 1) FROM retention_checkpoints ORDER BY size DESC LIMIT 1),
    'retention/' || lower(hex(randomblob(16))));

CREATE TRIGGER retention_audit_origin_no_update BEFORE UPDATE ON retention_audit_origin
BEGIN
    SELECT RAISE(ABORT, 'retention: UPDATE on retention_audit_origin is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_origin_no_delete BEFORE DELETE ON retention_audit_origin
BEGIN
    SELECT RAISE(ABORT, 'retention: DELETE on retention_audit_origin is refused: the audit log is append-only');
END;

-- Which hold lapses and which queued requests the audit log already shows: the `seq` of
-- the `hold` (expired) or `request_queued` entry that recorded them.
ALTER TABLE retention_holds ADD COLUMN lapse_seq INTEGER;
ALTER TABLE retention_requests ADD COLUMN queued_seq INTEGER;
