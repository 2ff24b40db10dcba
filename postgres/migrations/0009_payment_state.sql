-- 0009_payment_state: each payment a source reports moves only forward
-- (hookbridge.PaymentState.Advance), its events numbered in the order they
-- were stored; a stale event is flagged or held by the source's policy and
-- released by an operator; raw bodies have a retention of their own.

ALTER TABLE sources ADD COLUMN stale_policy text NOT NULL DEFAULT 'forward-flagged';

-- canonical: the canonical messages an event stands for
-- (hookbridge.CanonicalMessage), so that a held event is forwarded as it
-- arrived whatever became of its raw body; payments: what each did to its
-- payment (hookbridge.PaymentStep).
ALTER TABLE inbound_events
    ADD COLUMN canonical       jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN payments        jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN stale           boolean     NOT NULL DEFAULT false,
    ADD COLUMN held            boolean     NOT NULL DEFAULT false,
    ADD COLUMN released_at     timestamptz,
    ADD COLUMN released_by     text        NOT NULL DEFAULT '',
    ADD COLUMN body_dropped_at timestamptz;  -- the body was dropped then (raw retention); NULL while kept

-- A source's held events, newest first (GET …/events?held=true).
CREATE INDEX inbound_events_held ON inbound_events (source_id, id) WHERE held;
-- Raw retention walks the events whose body is still kept, oldest first.
CREATE INDEX inbound_events_body_kept ON inbound_events (received_at) WHERE body_dropped_at IS NULL;

-- payment_states: one row per payment a source's events concerned. A
-- notification locks its payment's row (INSERT … ON CONFLICT DO NOTHING,
-- then SELECT … FOR UPDATE) to read and advance it in the transaction that
-- stores it, so that two instances storing events of one payment at once
-- number them one after the other.
CREATE TABLE payment_states (
    source_id  text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    payment_id text        NOT NULL,
    status     text        NOT NULL DEFAULT '',
    sequence   bigint      NOT NULL,               -- events stored so far
    amounts    jsonb       NOT NULL DEFAULT '{}',  -- the rest of hookbridge.PaymentState
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (source_id, payment_id)
);

-- Retention deletes the states of payments quiet for the retention period.
CREATE INDEX payment_states_updated ON payment_states (updated_at);
