-- 0010_payment_state: each payment a source reports moves only forward
-- (hookbridge.PaymentState.Advance), its events numbered in the order they
-- were stored; a stale event is flagged or held by the source's policy and
-- released by an operator; raw bodies have a retention of their own.

ALTER TABLE sources ADD COLUMN stale_policy TEXT NOT NULL DEFAULT 'forward-flagged';

-- canonical: the canonical messages an event stands for (JSON, a list of
-- hookbridge.CanonicalMessage), so that a held event is forwarded as it
-- arrived whatever became of its raw body; payments: what each did to its
-- payment (JSON, a list of hookbridge.PaymentStep).
ALTER TABLE inbound_events ADD COLUMN canonical       TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE inbound_events ADD COLUMN payments        TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE inbound_events ADD COLUMN stale           INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN held            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN released_at     INTEGER;
ALTER TABLE inbound_events ADD COLUMN released_by     TEXT    NOT NULL DEFAULT '';
ALTER TABLE inbound_events ADD COLUMN body_dropped_at INTEGER;  -- the body was dropped then (raw retention); NULL while kept

-- A source's held events, newest first (GET …/events?held=true).
CREATE INDEX inbound_events_held ON inbound_events (source_id, id) WHERE held;
-- Raw retention walks the events whose body is still kept, oldest first.
CREATE INDEX inbound_events_body_kept ON inbound_events (received_at) WHERE body_dropped_at IS NULL;

-- payment_states: one row per payment a source's events concerned. A
-- notification locks its payment's row (SQLite: the one writer) to read
-- and advance it in the transaction that stores it.
CREATE TABLE payment_states (
    source_id  TEXT    NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    payment_id TEXT    NOT NULL,
    status     TEXT    NOT NULL DEFAULT '',
    sequence   INTEGER NOT NULL,               -- events stored so far
    amounts    TEXT    NOT NULL DEFAULT '{}',  -- JSON, the rest of hookbridge.PaymentState
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, payment_id)
) STRICT;

-- Retention deletes the states of payments quiet for the retention period.
CREATE INDEX payment_states_updated ON payment_states (updated_at);
