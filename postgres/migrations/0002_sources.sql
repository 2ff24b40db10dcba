-- 0002_sources: inbound sources (payment processors' webhooks), the events
-- they received, the audit of their rollout, and what polling reported.

CREATE TABLE sources (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    name         text        NOT NULL DEFAULT '',
    scheme       text        NOT NULL,
    credentials  jsonb       NOT NULL DEFAULT '{}',  -- hookbridge.SourceCredentials
    tolerance_ms bigint      NOT NULL DEFAULT 0,     -- 0 = the scheme's default, < 0 = no check
    routing      jsonb       NOT NULL DEFAULT '{}',  -- hookbridge.Routing
    rollout      jsonb       NOT NULL,               -- hookbridge.Rollout
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- inbound_events: one processor event as received. (source_id, event_id) is
-- the de-duplication key; the unique index makes "store unless seen" one
-- atomic INSERT … ON CONFLICT DO NOTHING.
CREATE TABLE inbound_events (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    source_id   text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    event_id    text        NOT NULL,
    type        text        NOT NULL DEFAULT '',
    merchant    text        NOT NULL DEFAULT '',
    headers     jsonb       NOT NULL DEFAULT '{}',
    body        bytea       NOT NULL,
    note        text        NOT NULL DEFAULT '',
    forward     boolean     NOT NULL,
    app_id      text,                                -- not a foreign key: the record outlives the application
    message_ids jsonb       NOT NULL DEFAULT '[]',
    occurred_at timestamptz,
    received_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX inbound_events_source_event ON inbound_events (source_id, event_id);
-- A source's events newest first; serves the foreign key too.
CREATE INDEX inbound_events_source_id ON inbound_events (source_id, id);
-- The comparison's window on arrival time.
CREATE INDEX inbound_events_source_received ON inbound_events (source_id, received_at);

CREATE TABLE rollout_changes (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    source_id    text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    actor        text        NOT NULL,
    from_rollout jsonb       NOT NULL,
    to_rollout   jsonb       NOT NULL,
    at           timestamptz NOT NULL
);

CREATE INDEX rollout_changes_source ON rollout_changes (source_id, id);

-- observations: processor events the platform saw by polling, one row per
-- event (the first report wins).
CREATE TABLE observations (
    source_id   text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    event_id    text        NOT NULL,
    occurred_at timestamptz,
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (source_id, event_id)
);

CREATE INDEX observations_source_seen ON observations (source_id, seen_at);
