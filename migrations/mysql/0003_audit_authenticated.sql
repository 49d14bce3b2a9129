-- Every entry authenticated by the signing key, and the head row a cache that is checked,
-- never trusted (docs/audit.md).
--
-- `sig`: the entry's Ed25519 signature (signed-note form: 4-byte key hash, 64-byte
-- signature) over `retention-audit-entry/v1 <seq> <base64 leaf hash>\n`, written in the
-- transaction that writes the entry when a signing key is configured. The head keeps the
-- signature of its entry, so an append can check the head it extends at no extra read.
ALTER TABLE retention_audit ADD COLUMN sig VARBINARY(255) NULL;
ALTER TABLE retention_audit_head ADD COLUMN sig VARBINARY(255) NOT NULL DEFAULT '';

-- The right edge of the tree at each checkpoint (one hash per set bit of its size). It is
-- not signed, but it is only used when it folds to the signed root, so the next checkpoint
-- costs the entries since this one, not the whole log.
ALTER TABLE retention_checkpoints ADD COLUMN frontier LONGBLOB NULL;

-- The head moves forward only, as on PostgreSQL and SQLite.
CREATE TRIGGER retention_audit_head_forward_only BEFORE UPDATE ON retention_audit_head FOR EACH ROW
    IF NEW.seq < OLD.seq THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: the audit head cannot move back';
    END IF;

-- The log's default origin (the first line of its checkpoints), unique to this state
-- store; `audit.origin` in the configuration overrides it. A log started before this
-- migration keeps the origin its checkpoints already carry.
CREATE TABLE retention_audit_origin (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    origin      VARCHAR(255) NOT NULL
);
INSERT INTO retention_audit_origin (id, origin)
SELECT 1, COALESCE(
    (SELECT SUBSTRING_INDEX(note, '\n', 1) FROM retention_checkpoints ORDER BY size DESC LIMIT 1),
    CONCAT('retention/', LOWER(HEX(RANDOM_BYTES(16)))));

CREATE TRIGGER retention_audit_origin_no_update BEFORE UPDATE ON retention_audit_origin FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: UPDATE on retention_audit_origin is refused: the audit log is append-only';

CREATE TRIGGER retention_audit_origin_no_delete BEFORE DELETE ON retention_audit_origin FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: DELETE on retention_audit_origin is refused: the audit log is append-only';

-- Which hold lapses and which queued requests the audit log already shows: the `seq` of
-- the `hold` (expired) or `request_queued` entry that recorded them.
ALTER TABLE retention_holds ADD COLUMN lapse_seq BIGINT NULL;
ALTER TABLE retention_requests ADD COLUMN queued_seq BIGINT NULL;
