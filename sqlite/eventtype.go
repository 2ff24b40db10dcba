package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// eventTypeColumns is the column list scanEventType reads.
const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas, created_at, updated_at`

func scanEventType(row rowScanner) (hookbridge.EventType, error) {
	var (
		et      hookbridge.EventType
		flag    sql.NullString
		schemas sql.NullString
		created int64
		updated int64
	)
	if err := row.Scan(&et.Name, &et.Description, &et.Archived, &et.Deprecated, &flag, &schemas, &created, &updated); err != nil {
		return et, err
	}
	et.FeatureFlag = flag.String
	if schemas.Valid {
		et.Schemas = json.RawMessage(schemas.String)
	}
	et.CreatedAt, et.UpdatedAt = fromMS(created), fromMS(updated)
	return et, nil
}

// nullJSON stores a nil or empty raw JSON value as NULL.
func nullJSON(m json.RawMessage) sql.NullString {
	return sql.NullString{String: string(m), Valid: len(m) > 0}
}

// CreateEventType adds et to the catalogue, filling in its times if unset.
func (s *Store) CreateEventType(ctx context.Context, et *hookbridge.EventType) error {
	storekit.NewEventType(et, s.now())
	const insertEventType = `
		INSERT INTO event_types (name, description, archived, deprecated, feature_flag, schemas, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.exec(ctx, insertEventType, et.Name, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), ms(et.CreatedAt), ms(et.UpdatedAt))
	return storekit.Err(err, "event type", storekit.EventTypeTaken(et.Name), "create event type %s", et.Name)
}

// GetEventType finds an event type by name, archived or not.
func (s *Store) GetEventType(ctx context.Context, name string) (*hookbridge.EventType, error) {
	const getEventType = `SELECT ` + eventTypeColumns + ` FROM event_types WHERE name = ?`
	et, err := scanEventType(s.r.QueryRowContext(ctx, getEventType, name))
	if err != nil {
		return nil, storekit.Err(err, "event type", nil, "get event type %s", name)
	}
	return &et, nil
}

// UpdateEventType replaces the mutable fields of the event type with
// et.Name, and sets et.UpdatedAt (and et.CreatedAt, from the stored row).
func (s *Store) UpdateEventType(ctx context.Context, et *hookbridge.EventType) error {
	const updateEventType = `
		UPDATE event_types
		SET description = ?, archived = ?, deprecated = ?, feature_flag = ?, schemas = ?, updated_at = ?
		WHERE name = ?
		RETURNING created_at`
	now := storekit.TruncMS(s.now())
	var created int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, updateEventType, et.Description, et.Archived, et.Deprecated,
			nullString(et.FeatureFlag), nullJSON(et.Schemas), ms(now), et.Name).Scan(&created)
	})
	if err != nil {
		return storekit.Err(err, "event type", nil, "update event type %s", et.Name)
	}
	et.UpdatedAt, et.CreatedAt = now, fromMS(created)
	return nil
}

// DeleteEventType removes the event type for good. Messages of that type
// keep their type name.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	n, err := s.exec(ctx, `DELETE FROM event_types WHERE name = ?`, name)
	return storekit.Changed(n, err, "event type", "delete event type %s", name)
}

// ListEventTypes pages through the catalogue by name, A first by default.
func (s *Store) ListEventTypes(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool) (hookbridge.Page[hookbridge.EventType], error) {
	limit := storekit.Limit(opt.Limit)
	where, args, orderBy := keyset("name", opt, hookbridge.OrderAscending)
	// listEventTypes walks the primary key (name); ?-bound includeArchived
	// keeps it one statement.
	listEventTypes := `SELECT ` + eventTypeColumns + ` FROM event_types
		WHERE (? OR NOT archived) AND ` + where + orderBy + ` LIMIT ?`
	args = append([]any{includeArchived}, args...)
	rows, err := collect(ctx, s.r, listEventTypes, append(args, limit+1), scanEventType)
	if err != nil {
		return hookbridge.Page[hookbridge.EventType]{}, fmt.Errorf("list event types: %w", err)
	}
	return storekit.Page(rows, limit), nil
}

// MissingEventTypes returns, in the order given and without repeats, the
// names that are not in the catalogue or are archived: those nothing may
// subscribe to, as in Svix.
func (s *Store) MissingEventTypes(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	const knownEventTypes = `SELECT name FROM event_types WHERE NOT archived AND name IN (SELECT value FROM json_each(?))`
	known, err := collect(ctx, s.r, knownEventTypes, []any{jsonList(names)}, func(r rowScanner) (string, error) {
		var n string
		return n, r.Scan(&n)
	})
	if err != nil {
		return nil, fmt.Errorf("missing event types: %w", err)
	}
	return storekit.MissingEventTypes(names, known), nil
}
