package postgres

import (
	"context"
	"encoding/json"
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
	storekit.NewOperationalEvent(ev, now)
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	if _, err := tx.Exec(ctx, insertOperationalEvent, ev.ID, data); err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return nil
}

// OperationalEvents returns up to limit recorded operational events, oldest
// first; see hookbridge.DeliveryStore.
func (s *Store) OperationalEvents(ctx context.Context, limit int) ([]hookbridge.OperationalEvent, error) {
	events, err := collect(ctx, s.pool, operationalEvents, []any{limit}, func(r pgx.Row) (hookbridge.OperationalEvent, error) {
		var (
			data []byte
			ev   hookbridge.OperationalEvent
		)
		if err := r.Scan(&data); err != nil {
			return ev, err
		}
		return ev, json.Unmarshal(data, &ev)
	})
	if err != nil {
		return nil, fmt.Errorf("operational events: %w", err)
	}
	return events, nil
}

// DeleteOperationalEvents deletes the recorded events with these ids.
func (s *Store) DeleteOperationalEvents(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, deleteOperationalEvents, ids); err != nil {
		return fmt.Errorf("delete operational events: %w", err)
	}
	return nil
}

// CountOperationalEvents counts the recorded events not deleted yet.
func (s *Store) CountOperationalEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM operational_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count operational events: %w", err)
	}
	return n, nil
}
