-- The head moves forward only, and stays the one row `id = 1`.
--
-- 0002's rewind check was `NEW.seq < OLD.seq`, which is NULL, not true, for a NULL seq.
-- The NOT NULL column refuses NULL after the trigger here (unlike MariaDB, where a
-- session's `sql_mode = ''` stored it as 0), but the check itself now refuses any NULL,
-- and a changed `id`, rather than lean on the column's definition. The other audit
-- triggers refuse every UPDATE, DELETE and TRUNCATE without a condition.
CREATE OR REPLACE FUNCTION retention_refuse_head_rewind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL OR NEW.seq < OLD.seq
        OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'retention: the audit head cannot move back from % to %', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
