-- 0017_backfill: a source can fetch the processor's events that its
-- webhooks did not bring (backfill), on demand or every reconcile_every_ms;
-- each inbound event says how it arrived, and source_backfill keeps each
-- source's high-water mark and how its runs went.

ALTER TABLE sources ADD COLUMN reconcile_every_ms bigint NOT NULL DEFAULT 0;   -- 0 = only on demand

ALTER TABLE inbound_events ADD COLUMN via text NOT NULL DEFAULT 'webhook';     -- 'webhook' or 'backfill'

CREATE TABLE source_backfill (
    source_id       text        NOT NULL PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    high_water      timestamptz,                   -- the newest event time a complete run covered
    last_run_at     timestamptz,
    last_success_at timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    runs            bigint      NOT NULL DEFAULT 0,
    failures        bigint      NOT NULL DEFAULT 0,
    fetched         bigint      NOT NULL DEFAULT 0,
    backfilled      bigint      NOT NULL DEFAULT 0,
    duplicates      bigint      NOT NULL DEFAULT 0,
    requests        bigint      NOT NULL DEFAULT 0
);
