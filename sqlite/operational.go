package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

const (
	insertOperationalEvent  = `INSERT INTO operational_events (id, data) VALUES (?, ?)`
	operationalEvents       = `SELECT data FROM operational_events ORDER BY id LIMIT ?`
	deleteOperationalEvents = `DELETE FROM operational_events WHERE id IN (SELECT value FROM json_each(?))`
)

// execer is a transaction: *sql.Tx or *writeTx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// recordEvent inserts ev in the transaction of what it reports, giving it
// an id and the time now if it has none. A grouped write run again after a
// rollback (see writer.go) inserts it again with the same id.
func recordEvent(ctx context.Context, tx execer, ev *hookbridge.OperationalEvent, now time.Time) error {
	storekit.NewOperationalEvent(ev, now)
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	if _, err := tx.ExecContext(ctx, insertOperationalEvent, ev.ID, string(data)); err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return nil
}

// OperationalEvents returns up to limit recorded operational events, oldest
// first; see hookbridge.DeliveryStore.
func (s *Store) OperationalEvents(ctx context.Context, limit int) ([]hookbridge.OperationalEvent, error) {
	events, err := collect(ctx, s.r, operationalEvents, []any{limit}, func(r rowScanner) (hookbridge.OperationalEvent, error) {
		var (
			data string
			ev   hookbridge.OperationalEvent
		)
		if err := r.Scan(&data); err != nil {
			return ev, err
		}
		return ev, json.Unmarshal([]byte(data), &ev)
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
	err := s.writeGrouped(ctx, func(ctx context.Context, tx *writeTx) error {
		_, err := tx.ExecContext(ctx, deleteOperationalEvents, jsonList(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete operational events: %w", err)
	}
	return nil
}

// CountOperationalEvents counts the recorded events not deleted yet.
func (s *Store) CountOperationalEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM operational_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count operational events: %w", err)
	}
	return n, nil
}
