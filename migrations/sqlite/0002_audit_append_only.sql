-- The audit log is append-only, enforced by the database itself (SPEC §7).
--
-- Triggers refuse UPDATE and DELETE on the audit tables. SQLite has no TRUNCATE, and its
-- "truncate optimisation" of an unqualified DELETE is switched off on tables with
-- triggers, so the DELETE trigger covers it. Anyone who can write the file can of course
-- drop the triggers; `retention audit verify` detects what they did afterwards. Keep the
-- file where the job can only append through this tool (and export the log, or keep the
-- JSON-lines file sink, elsewhere).

CREATE TRIGGER retention_audit_no_update BEFORE UPDATE ON retention_audit
BEGIN
    SELECT RAISE(ABORT, 'retention: UPDATE on retention_audit is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_no_delete BEFORE DELETE ON retention_audit
BEGIN
    SELECT RAISE(ABORT, 'retention: DELETE on retention_audit is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_checkpoints_no_update BEFORE UPDATE ON retention_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'retention: UPDATE on retention_checkpoints is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_checkpoints_no_delete BEFORE DELETE ON retention_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'retention: DELETE on retention_checkpoints is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_head_no_delete BEFORE DELETE ON retention_audit_head
BEGIN
    SELECT RAISE(ABORT, 'retention: DELETE on retention_audit_head is refused: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_head_forward_only BEFORE UPDATE ON retention_audit_head
WHEN NEW.seq < OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'retention: the audit head cannot move back');
END;

-- The right edge of the Merkle tree (one 32-byte hash per set bit of seq), so a checkpoint
-- costs O(log n) instead of a read of every leaf.
ALTER TABLE retention_audit_head ADD COLUMN frontier BLOB NOT NULL DEFAULT X'';
