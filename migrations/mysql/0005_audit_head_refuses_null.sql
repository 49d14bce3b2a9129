-- The head moves forward only, and stays the one row `id = 1`, whatever the session.
--
-- 0003's trigger refused `NEW.seq < OLD.seq`, a condition that is NULL, not true, when the
-- new seq is NULL: under a session's `sql_mode = ''` (which any account may set), `UPDATE
-- retention_audit_head SET seq = NULL` passed the trigger and stored 0, moving the head
-- back. The head's `id` is held by a CHECK constraint, which a session may switch off
-- (`check_constraint_checks = 0`): it is refused here too. The other audit triggers
-- refuse every UPDATE and DELETE without a condition, so they have no such gap.
DROP TRIGGER IF EXISTS retention_audit_head_forward_only;

CREATE TRIGGER retention_audit_head_forward_only BEFORE UPDATE ON retention_audit_head FOR EACH ROW
    IF NEW.seq IS NULL OR NEW.seq < OLD.seq
        OR NEW.id IS NULL OR NEW.id <> OLD.id THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: the audit head cannot move back';
    END IF;
