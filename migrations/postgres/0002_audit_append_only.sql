-- The audit log is append-only, enforced by the database itself (SPEC §7).
--
-- Statement-level triggers refuse UPDATE, DELETE and TRUNCATE on the audit tables for
-- every role, the table owner included, and fire even when no row matches. Only someone
-- who can ALTER or DROP the tables (their owner, a superuser) can get past them, and doing
-- so is exactly what `retention audit verify` detects afterwards.
--
-- Run the job as a role that does not own these tables, and also revoke the privileges
-- (replace retention_job with the role the CronJob connects as):
--
--   REVOKE UPDATE, DELETE, TRUNCATE ON retention_audit, retention_checkpoints FROM retention_job;
--   REVOKE DELETE, TRUNCATE ON retention_audit_head FROM retention_job;

CREATE FUNCTION retention_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'retention: % on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER retention_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON retention_audit
    FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_audit_change();

CREATE TRIGGER retention_checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON retention_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_audit_change();

-- The head row moves forward with each append and is never removed.
CREATE TRIGGER retention_audit_head_kept
    BEFORE DELETE OR TRUNCATE ON retention_audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION retention_refuse_audit_change();

CREATE FUNCTION retention_refuse_head_rewind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'retention: the audit head cannot move back from % to %', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER retention_audit_head_forward_only
    BEFORE UPDATE ON retention_audit_head
    FOR EACH ROW EXECUTE FUNCTION retention_refuse_head_rewind();

-- The right edge of the Merkle tree (one 32-byte hash per set bit of seq), so a checkpoint
-- costs O(log n) instead of a read of every leaf.
ALTER TABLE retention_audit_head ADD COLUMN frontier BYTEA NOT NULL DEFAULT ''::bytea;
