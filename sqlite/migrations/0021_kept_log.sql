-- 0021_kept_log: new messages and their deliveries written behind a log.
--
-- A message whose deliveries are all handed over to the dispatcher as it is
-- made is written, in its commit, to these two tables rather than to
-- messages and deliveries, and so is its deliveries' first result. They
-- have no secondary index: a row costs the write of one page at the end of
-- each, where messages and deliveries cost five index entries spread over
-- the pages of each application and endpoint. Every 250 ms, and before
-- any read or write that could see a row here (kept.go), the writer moves
-- the rows into messages and deliveries, as they are by then, in one
-- transaction, and empties these tables. Open moves what a stopped process
-- left here before anything else runs.
--
-- The columns are those of messages and deliveries that a new message and
-- its first attempt set, and delivery_log's seq. A migration that changes those columns of
-- messages or deliveries must change these and keptMove with them.
CREATE TABLE message_log (
    id           TEXT    NOT NULL, -- unique with messages' ids: checked before a row is logged (keptRows.msgHigh)
    app_id       TEXT    NOT NULL,
    event_id     TEXT,
    event_type   TEXT    NOT NULL,
    payload      BLOB,
    channels     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    trace_parent TEXT,
    deliver_at   INTEGER
) STRICT;

-- seq is the rowid, named so that VACUUM keeps it: a delivery's first
-- result finds its logged row by it.
CREATE TABLE delivery_log (
    seq                       INTEGER PRIMARY KEY,
    id                        TEXT    NOT NULL,
    app_id                    TEXT    NOT NULL,
    msg_id                    TEXT    NOT NULL,
    endpoint_id               TEXT    NOT NULL,
    status                    INTEGER NOT NULL,
    trigger                   INTEGER NOT NULL,
    attempts                  INTEGER NOT NULL,
    next_attempt_at           INTEGER,
    lease_owner               TEXT,
    lease_until               INTEGER,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    first_attempt_id          TEXT,
    first_attempt_url         TEXT,
    first_attempt_status      INTEGER,
    first_attempt_status_code INTEGER,
    first_attempt_response    TEXT,
    first_attempt_duration_ms INTEGER,
    first_attempt_at          INTEGER
) STRICT;
