-- The audit log is append-only, enforced by the database itself (SPEC §7).
--
-- Triggers refuse UPDATE and DELETE on the audit tables for every account, the owner
-- included. MariaDB and MySQL fire no trigger on TRUNCATE, but InnoDB refuses to truncate
-- a table that another table's foreign key references (even an empty one), so each audit
-- table gets such a guard table. Only someone who can drop triggers, or switch off
-- foreign_key_checks and truncate, can get past this, and `retention audit verify`
-- detects what they did afterwards.
--
-- Run the job as an account that cannot drop triggers, and also revoke the privileges
-- (replace retention_job with the account the CronJob connects as):
--
--   REVOKE UPDATE, DELETE, DROP ON retention_audit FROM 'retention_job'@'%';
--   REVOKE UPDATE, DELETE, DROP ON retention_checkpoints FROM 'retention_job'@'%';
--   REVOKE TRIGGER ON *.* FROM 'retention_job'@'%';

CREATE TRIGGER retention_audit_no_update BEFORE UPDATE ON retention_audit FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: UPDATE on retention_audit is refused: the audit log is append-only';

CREATE TRIGGER retention_audit_no_delete BEFORE DELETE ON retention_audit FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: DELETE on retention_audit is refused: the audit log is append-only';

CREATE TRIGGER retention_checkpoints_no_update BEFORE UPDATE ON retention_checkpoints FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: UPDATE on retention_checkpoints is refused: the audit log is append-only';

CREATE TRIGGER retention_checkpoints_no_delete BEFORE DELETE ON retention_checkpoints FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: DELETE on retention_checkpoints is refused: the audit log is append-only';

CREATE TRIGGER retention_audit_head_no_delete BEFORE DELETE ON retention_audit_head FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retention: DELETE on retention_audit_head is refused: the audit log is append-only';

CREATE TABLE retention_audit_truncate_guard (
    seq BIGINT NULL,
    CONSTRAINT retention_audit_truncate_guard_fk FOREIGN KEY (seq) REFERENCES retention_audit (seq)
) ENGINE = InnoDB;

CREATE TABLE retention_checkpoints_truncate_guard (
    size BIGINT NULL,
    CONSTRAINT retention_checkpoints_truncate_guard_fk FOREIGN KEY (size) REFERENCES retention_checkpoints (size)
) ENGINE = InnoDB;

-- The right edge of the Merkle tree (one 32-byte hash per set bit of seq), so a checkpoint
-- costs O(log n) instead of a read of every leaf.
ALTER TABLE retention_audit_head ADD COLUMN frontier LONGBLOB NOT NULL DEFAULT '';
