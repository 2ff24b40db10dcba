package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PurgeBefore deletes up to limit messages created before before whose
// deliveries are all final (or that have none), oldest first, with their
// deliveries and attempts (the foreign keys cascade), in one write
// transaction, and returns how many messages it deleted. Keeping each batch
// small keeps the writer free for ingest and dispatch in between.
func (s *Store) PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	// purgeMessages walks messages_created oldest first; the NOT EXISTS
	// probes deliveries_msg_endpoint (a non-final delivery has a due time).
	const purgeMessages = `
		DELETE FROM messages WHERE id IN (
			SELECT id FROM messages m
			WHERE m.created_at < ?
			  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.next_attempt_at IS NOT NULL)
			ORDER BY m.created_at
			LIMIT ?)`
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, purgeMessages, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge before %s: %w", before.Format(time.RFC3339), err)
	}
	return int(n), nil
}
