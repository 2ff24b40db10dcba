-- 0018_first_attempt: a delivery's first attempt is kept in the delivery's
-- own row, and the attempts table holds only the tries after it. Most
-- deliveries succeed at their first try, so most deliveries now write no
-- attempts row (a heap tuple and four index entries) when their result is
-- recorded, only these columns (in the new tuple version the result's
-- update writes anyway) and one partial index entry. Attempts recorded
-- before this migration stay in attempts: the attempt reads take both (see
-- attempt.go). The columns are nullable without a default, so adding them
-- rewrites nothing. The index starts empty, but building it reads the
-- table once while writes to deliveries wait (65 ms for a million
-- deliveries in memory; longer where they must be read from disk).
ALTER TABLE deliveries
    ADD COLUMN first_attempt_id          text COLLATE "C",   -- NULL until the first attempt is recorded
    ADD COLUMN first_attempt_url         text,
    ADD COLUMN first_attempt_status      smallint,
    ADD COLUMN first_attempt_status_code integer,
    ADD COLUMN first_attempt_response    text,
    ADD COLUMN first_attempt_duration_ms bigint,
    ADD COLUMN first_attempt_at          timestamptz;

-- An application's and an endpoint's first attempts, newest first, as
-- attempts_app_endpoint serves the later ones. A message's are found
-- through deliveries_msg_endpoint.
CREATE INDEX deliveries_first_attempt ON deliveries (app_id, endpoint_id, first_attempt_id)
    WHERE first_attempt_id IS NOT NULL;
