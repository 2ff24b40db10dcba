-- 0001_init: the whole first schema.
--
-- Conventions: ids are the domain's sortable prefixed ids (text); times are
-- timestamptz with millisecond precision (the store truncates before
-- writing); lists of names and maps are jsonb ('[]' or '{}' when empty,
-- never NULL); an absent optional value is NULL. A message payload is bytea:
-- it is sent byte for byte as it was accepted, so it must not be re-encoded.
-- Ids and event type names are COLLATE "C": they sort byte by byte, as the
-- list iterators compare them, whatever the database's locale, and the
-- indexes on them compare faster.

CREATE TABLE applications (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    uid        text        UNIQUE,            -- NULL when none, so many apps may have none
    name       text        NOT NULL,
    rate_limit integer,                       -- messages/s, NULL = none
    metadata   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE event_types (
    name         text COLLATE "C" NOT NULL PRIMARY KEY,
    description  text        NOT NULL DEFAULT '',
    archived     boolean     NOT NULL DEFAULT false,
    deprecated   boolean     NOT NULL DEFAULT false,
    feature_flag text,                        -- NULL when none
    schemas      jsonb,                       -- NULL when none
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE endpoints (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    app_id      text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    uid         text,                         -- NULL when none; unique within the app
    url         text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    event_types jsonb       NOT NULL DEFAULT '[]',
    channels    jsonb       NOT NULL DEFAULT '[]',
    disabled    boolean     NOT NULL DEFAULT false,
    rate_limit  integer,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    headers     jsonb       NOT NULL DEFAULT '{}',
    secrets     jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Also serves the foreign key from applications (its leftmost column is app_id).
CREATE UNIQUE INDEX endpoints_app_uid ON endpoints (app_id, uid);
-- Listing an application's endpoints in id order; reading its subscriptions.
CREATE INDEX endpoints_app_id ON endpoints (app_id, id);

CREATE TABLE messages (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    app_id     text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    event_id   text,                          -- the caller's idempotency key, NULL when none
    event_type text COLLATE "C" NOT NULL,          -- not a foreign key: archiving or deleting a type keeps its messages
    payload    bytea,                         -- NULL once expunged
    channels   jsonb       NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL
);

-- Listing an application's messages in id order; serves the foreign key too.
CREATE INDEX messages_app_id ON messages (app_id, id);
-- eventId idempotency, per application; also the ON CONFLICT arbiter of ingest.
CREATE UNIQUE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
-- Retention walks messages oldest first.
CREATE INDEX messages_created ON messages (created_at);

-- deliveries: one message owed to one endpoint (see hookbridge.Delivery).
-- Invariant: next_attempt_at IS NULL exactly when status is final (0 success,
-- 2 fail). The due index below relies on it.
--
-- fillfactor 80 leaves room in each page so that lease updates (claim,
-- renew, release touch no indexed column) are HOT updates: no index
-- entries written, no index bloat from the hottest updates of the system.
CREATE TABLE deliveries (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    app_id          text COLLATE "C" NOT NULL,     -- denormalised for scoping; cascades come via msg and endpoint
    msg_id          text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     text COLLATE "C" NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status          smallint    NOT NULL,
    trigger         smallint    NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    lease_owner     text,
    lease_until     timestamptz,
    -- From PostgreSQL's clock, not the writing instance's: "the latest
    -- delivery" of a message to an endpoint is the greatest (created_at,
    -- id), and one clock keeps that order right across instances.
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((next_attempt_at IS NULL) = (status IN (0, 2)))
) WITH (fillfactor = 80);

-- The dispatcher's hot query: non-final deliveries by due time. Partial, so
-- finished deliveries (nearly all rows, in time) are not in it at all.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- A message's deliveries per endpoint, latest last: finds the latest one from
-- the index alone. Serves the foreign key from messages.
CREATE INDEX deliveries_msg_endpoint ON deliveries (msg_id, endpoint_id, created_at, id);
-- An endpoint's messages in id order (attempted messages, stats, recovery).
-- Serves the foreign key from endpoints.
CREATE INDEX deliveries_endpoint_msg ON deliveries (endpoint_id, msg_id);

CREATE TABLE attempts (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    delivery_id text COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    app_id      text COLLATE "C" NOT NULL,
    msg_id      text COLLATE "C" NOT NULL,
    endpoint_id text COLLATE "C" NOT NULL,
    url         text        NOT NULL,
    status      smallint    NOT NULL,
    trigger     smallint    NOT NULL,
    status_code integer     NOT NULL,
    response    text        NOT NULL DEFAULT '',
    duration_ms bigint      NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Serves the cascade from deliveries.
CREATE INDEX attempts_delivery ON attempts (delivery_id);
-- A message's attempts and an endpoint's attempts, newest first.
CREATE INDEX attempts_app_msg ON attempts (app_id, msg_id, id);
CREATE INDEX attempts_app_endpoint ON attempts (app_id, endpoint_id, id);

CREATE TABLE settings (
    name       text        NOT NULL PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL
);
