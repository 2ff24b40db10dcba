package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// MessagePurge deletes up to limit messages created before before whose
// deliveries are all final (or that have none), oldest first, with their
// deliveries and attempts (the foreign keys cascade), in one write
// transaction. Keeping each batch small keeps the writer free for ingest
// and dispatch in between.
func (s driver) MessagePurge(ctx context.Context, before time.Time, limit int) (int, error) {
	// purgeMessages walks messages_created oldest first; the NOT EXISTS
	// probes deliveries_msg_endpoint (a non-final delivery has a due time).
	const purgeMessages = `
		DELETE FROM messages WHERE id IN (
			SELECT id FROM messages m
			WHERE m.created_at < ?
			  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.next_attempt_at IS NOT NULL)
			ORDER BY m.created_at
			LIMIT ?)`
	n, err := s.exec(ctx, purgeMessages, ms(before), limit)
	return int(n), err
}

// InboundPurge deletes up to limit inbound events received before before,
// up to limit observations seen before it and up to limit payment states
// last changed before it, in one write transaction. The first two walk
// their table's (source_id, time) index source by source.
func (s driver) InboundPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	const (
		purgeInbound = `
			DELETE FROM inbound_events WHERE id IN (
				SELECT e.id FROM sources src JOIN inbound_events e ON e.source_id = src.id AND e.received_at < ?
				LIMIT ?)`
		purgeObservations = `
			DELETE FROM observations WHERE rowid IN (
				SELECT o.rowid FROM sources src JOIN observations o ON o.source_id = src.id AND o.seen_at < ?
				LIMIT ?)`
		purgePayments = `
			DELETE FROM payment_states WHERE rowid IN (
				SELECT rowid FROM payment_states WHERE updated_at < ? LIMIT ?)`
	)
	var total int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		total = 0
		for _, q := range []string{purgeInbound, purgeObservations, purgePayments} {
			res, err := tx.ExecContext(ctx, q, ms(before), limit)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(total), nil
}
