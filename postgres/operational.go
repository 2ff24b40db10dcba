package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

const (
	insertOperationalEvent  = `INSERT INTO operational_events (id, data) VALUES ($1, $2)`
	operationalEvents       = `SELECT data FROM operational_events ORDER BY id LIMIT $1`
	deleteOperationalEvents = `DELETE FROM operational_events WHERE id = ANY($1)`
)

// recordEvent inserts ev in the transaction of what it reports, giving it
// an id and the time now if it has none.
func recordEvent(ctx context.Context, tx pgx.Tx, ev *hookbridge.OperationalEvent, now time.Time) error {
	data, err := storekit.EncodeEvent(ev, now)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertOperationalEvent, ev.ID, data); err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return nil
}

// OperationalEventList reads up to limit recorded events, oldest first.
func (s driver) OperationalEventList(ctx context.Context, limit int) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, operationalEvents, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

// OperationalEventDelete deletes the recorded events with these ids.
func (s driver) OperationalEventDelete(ctx context.Context, ids []string) error {
	_, err := s.pool.Exec(ctx, deleteOperationalEvents, ids)
	return err
}

// OperationalEventCount counts the recorded events.
func (s driver) OperationalEventCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM operational_events`).Scan(&n)
	return n, err
}
