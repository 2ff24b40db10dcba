-- 0016_schedules: when and how often.
--
-- An event type's own retry schedule: a JSON array of delays in
-- milliseconds; NULL when the server's --retry-schedule applies ('[]' is
-- a schedule of one try and no retry).
ALTER TABLE event_types ADD COLUMN retry_schedule TEXT;

-- A scheduled message's deliverAt (unix ms); NULL when it was sent at
-- once. Its deliveries carry the same time as their next_attempt_at, which
-- is what the claim reads; this column says that the message was
-- scheduled, for its listing and its cancellation.
ALTER TABLE messages ADD COLUMN deliver_at INTEGER;

-- Listing an application's scheduled messages in id order touches only
-- them.
CREATE INDEX messages_app_scheduled ON messages (app_id, id) WHERE deliver_at IS NOT NULL;

-- When a scheduled message's delivery was cancelled before it went out
-- (CancelMessage); NULL otherwise. A cancelled delivery is final like a
-- failed one (status 2, no next_attempt_at: the invariant of the table
-- holds), and this column tells it apart: it is shown as canceled, counted
-- apart in the endpoint's stats, and never recovered.
ALTER TABLE deliveries ADD COLUMN canceled_at INTEGER;
