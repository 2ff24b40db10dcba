package sqlite

import (
	"context"
	"database/sql"
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
	data, err := storekit.EncodeEvent(ev, now)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insertOperationalEvent, ev.ID, string(data)); err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return nil
}

// OperationalEventList reads up to limit recorded events, oldest first.
func (s driver) OperationalEventList(ctx context.Context, limit int) ([][]byte, error) {
	return collect(ctx, s.r, operationalEvents, []any{limit}, func(r rowScanner) ([]byte, error) {
		var data []byte
		return data, r.Scan(&data)
	})
}

// OperationalEventDelete deletes the recorded events with these ids.
func (s driver) OperationalEventDelete(ctx context.Context, ids []string) error {
	return s.writeGroupedAs(ctx, rowsUntouched, nil, func(ctx context.Context, tx *writeTx) error {
		_, err := tx.ExecContext(ctx, deleteOperationalEvents, jsonList(ids))
		return err
	})
}

// OperationalEventCount counts the recorded events.
func (s driver) OperationalEventCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM operational_events`).Scan(&n)
	return n, err
}
