-- 0019_first_attempt: a delivery's first attempt is kept in the delivery's
-- own row, and the attempts table holds only the tries after it. Most
-- deliveries succeed at their first try, so most deliveries now write no
-- attempts row (a table B-tree and four index B-trees) when their result is
-- recorded, only these columns and one partial index entry. Attempts
-- recorded before this migration stay in attempts: the attempt reads take
-- both (see attempt.go).
ALTER TABLE deliveries ADD COLUMN first_attempt_id          TEXT;    -- NULL until the first attempt is recorded
ALTER TABLE deliveries ADD COLUMN first_attempt_url         TEXT;
ALTER TABLE deliveries ADD COLUMN first_attempt_status      INTEGER;
ALTER TABLE deliveries ADD COLUMN first_attempt_status_code INTEGER;
ALTER TABLE deliveries ADD COLUMN first_attempt_response    TEXT;
ALTER TABLE deliveries ADD COLUMN first_attempt_duration_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN first_attempt_at          INTEGER;

-- An application's and an endpoint's first attempts, newest first, as
-- attempts_app_endpoint serves the later ones. A message's are found
-- through deliveries_msg_endpoint.
CREATE INDEX deliveries_first_attempt ON deliveries (app_id, endpoint_id, first_attempt_id)
    WHERE first_attempt_id IS NOT NULL;
