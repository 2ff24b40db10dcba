-- 0001_init: the whole first schema.
--
-- Conventions: ids are the domain's sortable prefixed ids (TEXT); times are
-- INTEGER unix milliseconds; list-valued and map-valued fields are JSON TEXT
-- ('[]' or '{}' when empty, never NULL); an absent optional value is NULL.
-- Every table is STRICT so a wrongly typed bind fails instead of being stored.

CREATE TABLE applications (
    id         TEXT    NOT NULL PRIMARY KEY,
    uid        TEXT    UNIQUE,            -- NULL when none, so many apps may have none
    name       TEXT    NOT NULL,
    rate_limit INTEGER,                   -- messages/s, NULL = none
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE event_types (
    name         TEXT    NOT NULL PRIMARY KEY,
    description  TEXT    NOT NULL DEFAULT '',
    archived     INTEGER NOT NULL DEFAULT 0,
    deprecated   INTEGER NOT NULL DEFAULT 0,
    feature_flag TEXT,                    -- NULL when none
    schemas      TEXT,                    -- JSON object, NULL when none
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE endpoints (
    id          TEXT    NOT NULL PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    uid         TEXT,                     -- NULL when none; unique within the app
    url         TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    event_types TEXT    NOT NULL DEFAULT '[]',
    channels    TEXT    NOT NULL DEFAULT '[]',
    disabled    INTEGER NOT NULL DEFAULT 0,
    rate_limit  INTEGER,
    metadata    TEXT    NOT NULL DEFAULT '{}',
    headers     TEXT    NOT NULL DEFAULT '{}',
    secrets     TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- Also serves the foreign key from applications (its leftmost column is app_id).
CREATE UNIQUE INDEX endpoints_app_uid ON endpoints (app_id, uid);
-- Listing an application's endpoints in id order.
CREATE INDEX endpoints_app_id ON endpoints (app_id, id);

CREATE TABLE messages (
    id         TEXT    NOT NULL PRIMARY KEY,
    app_id     TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    event_id   TEXT,                      -- the caller's idempotency key, NULL when none
    event_type TEXT    NOT NULL,          -- not a foreign key: archiving or deleting a type keeps its messages
    payload    BLOB,                      -- NULL once expunged
    channels   TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
) STRICT;

-- Listing an application's messages in id order; serves the foreign key too.
CREATE INDEX messages_app_id ON messages (app_id, id);
-- eventId idempotency, per application.
CREATE UNIQUE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;

-- deliveries: one message owed to one endpoint (see hookbridge.Delivery).
-- Invariant: next_attempt_at IS NULL exactly when status is final (0 success,
-- 2 fail). The due index below relies on it.
CREATE TABLE deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    app_id          TEXT    NOT NULL,     -- denormalised for scoping; cascades come via msg and endpoint
    msg_id          TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     TEXT    NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status          INTEGER NOT NULL,
    trigger         INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((next_attempt_at IS NULL) = (status IN (0, 2)))
) STRICT;

-- The dispatcher's hot query: non-final deliveries by due time. Partial, so
-- finished deliveries (nearly all rows, in time) cost nothing to skip.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- A message's deliveries per endpoint; the trailing id finds the latest one
-- from the index alone. Serves the foreign key from messages.
CREATE INDEX deliveries_msg_endpoint ON deliveries (msg_id, endpoint_id, id);
-- An endpoint's messages newest first (attempted messages, stats, recovery).
-- Serves the foreign key from endpoints.
CREATE INDEX deliveries_endpoint_msg ON deliveries (endpoint_id, msg_id, id);

CREATE TABLE attempts (
    id          TEXT    NOT NULL PRIMARY KEY,
    delivery_id TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    app_id      TEXT    NOT NULL,
    msg_id      TEXT    NOT NULL,
    endpoint_id TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    trigger     INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    response    TEXT    NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Serves the cascade from deliveries.
CREATE INDEX attempts_delivery ON attempts (delivery_id);
-- A message's attempts and an endpoint's attempts, newest first.
CREATE INDEX attempts_app_msg ON attempts (app_id, msg_id, id);
CREATE INDEX attempts_app_endpoint ON attempts (app_id, endpoint_id, id);

CREATE TABLE settings (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
