-- 0003_sources: inbound sources (payment processors' webhooks), the events
-- they received, the audit of their rollout, and what polling reported.

CREATE TABLE sources (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL DEFAULT '',
    scheme       TEXT    NOT NULL,
    credentials  TEXT    NOT NULL DEFAULT '{}',   -- JSON, see sourceCredentials in source.go
    tolerance_ms INTEGER NOT NULL DEFAULT 0,      -- 0 = the scheme's default, < 0 = no check
    routing      TEXT    NOT NULL DEFAULT '{}',   -- JSON, see sourceRouting
    rollout      TEXT    NOT NULL,                -- JSON, see sourceRollout
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- inbound_events: one processor event as received. (source_id, event_id) is
-- the de-duplication key; the unique index makes "store unless seen" one
-- atomic insert.
CREATE TABLE inbound_events (
    id          TEXT    NOT NULL PRIMARY KEY,
    source_id   TEXT    NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    event_id    TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT '',
    merchant    TEXT    NOT NULL DEFAULT '',
    headers     TEXT    NOT NULL DEFAULT '{}',
    body        BLOB    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    forward     INTEGER NOT NULL,
    app_id      TEXT,                             -- not a foreign key: the record outlives the application
    message_ids TEXT    NOT NULL DEFAULT '[]',
    occurred_at INTEGER,
    received_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX inbound_events_source_event ON inbound_events (source_id, event_id);
-- A source's events newest first; serves the foreign key too.
CREATE INDEX inbound_events_source_id ON inbound_events (source_id, id);
-- The comparison's window on arrival time.
CREATE INDEX inbound_events_source_received ON inbound_events (source_id, received_at);

CREATE TABLE rollout_changes (
    id           TEXT    NOT NULL PRIMARY KEY,
    source_id    TEXT    NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    actor        TEXT    NOT NULL,
    from_rollout TEXT    NOT NULL,               -- JSON, as sources.rollout
    to_rollout   TEXT    NOT NULL,
    at           INTEGER NOT NULL
) STRICT;

CREATE INDEX rollout_changes_source ON rollout_changes (source_id, id);

-- observations: processor events the platform saw by polling, one row per
-- event (the first report wins).
CREATE TABLE observations (
    source_id   TEXT    NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    event_id    TEXT    NOT NULL,
    occurred_at INTEGER,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (source_id, event_id)
) STRICT;

CREATE INDEX observations_source_seen ON observations (source_id, seen_at);
