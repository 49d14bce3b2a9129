-- The head moves forward only, and the audit tables' rows are never replaced.
--
-- 0002's trigger fired only `WHEN NEW.seq < OLD.seq`: SQLite keeps a value the column's
-- affinity cannot convert as it is, and any text sorts above any number, so `UPDATE
-- retention_audit_head SET seq = 'abc'` (or 6.5, kept as a real) passed it and broke the
-- head. Now the new seq must be an integer no smaller than the old one, and the row keeps
-- its id. (Affinity converts before the trigger, so '7' and 7.0 arrive as 7.)
DROP TRIGGER IF EXISTS retention_audit_head_forward_only;

CREATE TRIGGER retention_audit_head_forward_only BEFORE UPDATE ON retention_audit_head
WHEN NEW.seq IS NULL OR typeof(NEW.seq) <> 'integer'
    OR NEW.seq < OLD.seq OR NEW.id IS NOT OLD.id
BEGIN
    SELECT RAISE(ABORT, 'retention: the audit head cannot move back');
END;

-- `INSERT OR REPLACE` (and `REPLACE`) deletes the row it conflicts with without firing the
-- DELETE triggers (SQLite fires them only under `PRAGMA recursive_triggers`), so it could
-- rewrite an entry or a checkpoint, or put the head back, past every trigger above.
-- Refuse an insert that would meet an existing row; an append never does.
CREATE TRIGGER retention_audit_no_replace BEFORE INSERT ON retention_audit
WHEN EXISTS (SELECT 1 FROM retention_audit WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'retention: an entry of retention_audit cannot be replaced: the audit log is append-only');
END;

CREATE TRIGGER retention_checkpoints_no_replace BEFORE INSERT ON retention_checkpoints
WHEN EXISTS (SELECT 1 FROM retention_checkpoints WHERE size = NEW.size)
BEGIN
    SELECT RAISE(ABORT, 'retention: a checkpoint of retention_checkpoints cannot be replaced: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_head_no_replace BEFORE INSERT ON retention_audit_head
WHEN EXISTS (SELECT 1 FROM retention_audit_head)
BEGIN
    SELECT RAISE(ABORT, 'retention: the audit head cannot be replaced: the audit log is append-only');
END;

CREATE TRIGGER retention_audit_origin_no_replace BEFORE INSERT ON retention_audit_origin
WHEN EXISTS (SELECT 1 FROM retention_audit_origin)
BEGIN
    SELECT RAISE(ABORT, 'retention: the audit origin cannot be replaced: the audit log is append-only');
END;
