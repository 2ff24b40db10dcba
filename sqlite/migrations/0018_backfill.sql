-- 0018_backfill: a source can fetch the processor's events that its
-- webhooks did not bring (backfill), on demand or every reconcile_every_ms;
-- each inbound event says how it arrived, and source_backfill keeps each
-- source's high-water mark and how its runs went.

ALTER TABLE sources ADD COLUMN reconcile_every_ms INTEGER NOT NULL DEFAULT 0;   -- 0 = only on demand

ALTER TABLE inbound_events ADD COLUMN via TEXT NOT NULL DEFAULT 'webhook';     -- 'webhook' or 'backfill'

CREATE TABLE source_backfill (
    source_id       TEXT    NOT NULL PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    high_water      INTEGER,                       -- the newest event time a complete run covered
    last_run_at     INTEGER,
    last_success_at INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    runs            INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    fetched         INTEGER NOT NULL DEFAULT 0,
    backfilled      INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    requests        INTEGER NOT NULL DEFAULT 0
) STRICT;
