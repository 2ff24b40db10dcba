package postgres

import (
	"context"
	"time"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// purgeMessages deletes the oldest messages created before $1 whose
// deliveries are all final, at most $2 of them; the cascade trigger
// (migration 0021) deletes their deliveries, and the foreign key their
// attempts. It walks messages_created oldest first,
// and the NOT EXISTS probes deliveries_msg_endpoint. SKIP LOCKED leaves a
// message that is being written to (a resend of it, say) for a later run
// rather than waiting for it.
const purgeMessages = `
	WITH old AS (
		SELECT id FROM messages m
		WHERE created_at < $1
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.next_attempt_at IS NOT NULL)
		ORDER BY created_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)
	DELETE FROM messages WHERE id IN (SELECT id FROM old)`

// MessagePurge deletes up to limit messages created before before whose
// deliveries are all final, with their deliveries and attempts, in one
// statement.
func (s driver) MessagePurge(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.exec(ctx, purgeMessages, storekit.TruncMS(before), limit)
	return int(n), err
}

// Inbound retention: each statement deletes at most $2 rows; the first two
// walk their table's (source_id, time) index source by source, the last
// the payment states' updated_at index, skipping a payment being advanced.
const (
	purgeInbound = `
		WITH old AS (
			SELECT e.id FROM sources src JOIN inbound_events e ON e.source_id = src.id AND e.received_at < $1
			LIMIT $2)
		DELETE FROM inbound_events WHERE id IN (SELECT id FROM old)`
	purgeObservations = `
		WITH old AS (
			SELECT o.source_id, o.event_id FROM sources src JOIN observations o ON o.source_id = src.id AND o.seen_at < $1
			LIMIT $2)
		DELETE FROM observations o USING old WHERE o.source_id = old.source_id AND o.event_id = old.event_id`
	purgePayments = `
		WITH old AS (
			SELECT source_id, payment_id FROM payment_states WHERE updated_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		DELETE FROM payment_states p USING old WHERE p.source_id = old.source_id AND p.payment_id = old.payment_id`
)

// InboundPurge deletes up to limit inbound events received before before,
// up to limit observations seen before it and up to limit payment states
// last changed before it, and returns how many rows it deleted, those of
// the earlier statements too if a later one fails.
func (s driver) InboundPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	total := 0
	for _, q := range []string{purgeInbound, purgeObservations, purgePayments} {
		n, err := s.exec(ctx, q, storekit.TruncMS(before), limit)
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	return total, nil
}
