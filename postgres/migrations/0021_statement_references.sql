-- 0021_statement_references: the references from messages and deliveries
-- to their parents are kept per statement instead of per row.
--
-- A foreign key checks each inserted row on its own: an AFTER ROW trigger
-- runs a query that finds the parent row and locks it FOR KEY SHARE. The
-- ingest writes a message and its delivery per row, so every message paid
-- three such queries (its application, its message, its endpoint), which
-- a CPU profile of PostgreSQL under one message per request put at 17 %
-- of the database's CPU (docs/benchmarks.md, (ac)). The statements that
-- write these rows now lock the parents themselves, once per statement,
-- in the same lock mode (see insertMessages, insertResend and
-- insertManual), and the cascades that the foreign keys ran are triggers
-- that delete per statement, through the same indexes.
--
-- What the keys guaranteed still holds: no message without its
-- application, no delivery without its message and endpoint. A writer
-- holds FOR KEY SHARE on each parent until it commits, so a deletion of
-- that parent waits for it and then deletes what it wrote too (the
-- trigger's query sees the rows committed while it waited); a parent
-- deleted before the writer locked it is not found, and the writer writes
-- nothing for it (ingest then fails with foreign_key_violation, as the
-- key did, and reads again). The other foreign keys stay as they were.
--
-- The trigger functions name the tables as the migration's session finds
-- them (SET search_path FROM CURRENT): a cascade resolves its tables when
-- it runs, unlike a foreign key's, so a deletion made from a session with
-- another search_path (psql with the defaults, say) must still reach this
-- schema's tables.
ALTER TABLE messages DROP CONSTRAINT messages_app_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_msg_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_endpoint_id_fkey;

CREATE FUNCTION hookbridge_delete_app_messages() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM messages WHERE app_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END $$;

CREATE FUNCTION hookbridge_delete_message_deliveries() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM deliveries WHERE msg_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END $$;

CREATE FUNCTION hookbridge_delete_endpoint_deliveries() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM deliveries WHERE endpoint_id = ANY (ARRAY(SELECT id FROM gone));
    RETURN NULL;
END $$;

-- messages_app_id, deliveries_msg_endpoint and deliveries_endpoint_msg
-- serve the three deletions: = ANY of an array is planned as lookups in
-- those indexes whatever the number of rows deleted, as the foreign keys'
-- cascades were, where a join with the transition table could keep a plan
-- made for a large deletion (a scan of the whole table) for the small ones
-- after it.
CREATE TRIGGER applications_cascade AFTER DELETE ON applications
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hookbridge_delete_app_messages();
CREATE TRIGGER messages_cascade AFTER DELETE ON messages
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hookbridge_delete_message_deliveries();
CREATE TRIGGER endpoints_cascade AFTER DELETE ON endpoints
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hookbridge_delete_endpoint_deliveries();

-- hookbridge_referenced fails the statement it is called in with
-- foreign_key_violation, as a foreign key would, unless locked = wanted:
-- the ingest calls it with the number of applications it locked and the
-- number it needs.
CREATE FUNCTION hookbridge_referenced(locked bigint, wanted integer, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF locked <> wanted THEN
        RAISE EXCEPTION 'a referenced % was deleted', what USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN true;
END $$;
