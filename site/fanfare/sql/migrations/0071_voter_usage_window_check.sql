-- voter_usage.window_id without a row-by-row foreign key check: the writer charges up to a
-- batch's worth of voters in one statement, and the FK's trigger looked its window up (and
-- locked it FOR KEY SHARE) once per row; with two batches in flight both lock the same window
-- row, which makes each of those checks go through a MultiXact. The same promise, per statement:
--   * on insert, every window charged must exist, and is locked FOR KEY SHARE until COMMIT, so a
--     concurrent delete waits for the batch and then takes its usage rows with it;
--   * a deleted window takes its usage rows with it (ON DELETE CASCADE as before).
ALTER TABLE voter_usage DROP CONSTRAINT voter_usage_window_id_fkey;

CREATE FUNCTION voter_usage_windows_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    PERFORM 1 FROM voting_windows WHERE id IN (SELECT window_id FROM added) ORDER BY id
        FOR KEY SHARE;
    SELECT a.window_id INTO missing FROM added a
    WHERE NOT EXISTS (SELECT 1 FROM voting_windows w WHERE w.id = a.window_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert into voter_usage: window % does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER voter_usage_windows_exist AFTER INSERT ON voter_usage
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION voter_usage_windows_exist();

CREATE FUNCTION voting_windows_take_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM voter_usage WHERE window_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER voting_windows_take_usage AFTER DELETE ON voting_windows
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION voting_windows_take_usage();
