-- 0022_cascades_use_indexes: the cascade triggers of 0021 never plan a
-- scan of a whole table.
--
-- A session keeps the plan a trigger function's statement got on its first
-- run, until the table's statistics change. Planned while messages and
-- deliveries were nearly empty (the retention job deletes at a server's
-- start) and before any ANALYZE, that plan was a sequential scan testing
-- each row's key against the array of deleted ids; kept, it made a later
-- deletion of an application with 20 000 messages test 20 000 rows
-- against 20 000 ids, 2 s instead of 90 ms. With sequential scans off in
-- the functions, their statements are planned as lookups in
-- messages_app_id, deliveries_msg_endpoint and deliveries_endpoint_msg
-- whatever the tables held when they were planned, as the foreign keys'
-- per-row cascades always were.
ALTER FUNCTION hookbridge_delete_app_messages() SET enable_seqscan = off;
ALTER FUNCTION hookbridge_delete_message_deliveries() SET enable_seqscan = off;
ALTER FUNCTION hookbridge_delete_endpoint_deliveries() SET enable_seqscan = off;
