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

// eventTypeColumns is the column list scanEventType reads. schemas is read
// as text so that the JSON comes back as PostgreSQL wrote it, not decoded.
const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas::text, created_at, updated_at`

func scanEventType(row pgx.Row) (hookbridge.EventType, error) {
	var (
		et      hookbridge.EventType
		flag    *string
		schemas *string
	)
	if err := row.Scan(&et.Name, &et.Description, &et.Archived, &et.Deprecated, &flag, &schemas, &et.CreatedAt, &et.UpdatedAt); err != nil {
		return et, err
	}
	et.FeatureFlag = fromNullString(flag)
	if schemas != nil {
		et.Schemas = json.RawMessage(*schemas)
	}
	et.CreatedAt, et.UpdatedAt = et.CreatedAt.UTC(), et.UpdatedAt.UTC()
	return et, nil
}

// nullJSON stores a nil or empty raw JSON value as NULL; the rest is bound
// as text and cast to jsonb by the statement.
func nullJSON(m json.RawMessage) *string {
	if len(m) == 0 {
		return nil
	}
	s := string(m)
	return &s
}

// CreateEventType adds et to the catalogue, filling in its times if unset.
func (s *Store) CreateEventType(ctx context.Context, et *hookbridge.EventType) error {
	storekit.NewEventType(et, s.now())
	const insertEventType = `
		INSERT INTO event_types (name, description, archived, deprecated, feature_flag, schemas, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)`
	_, err := s.exec(ctx, insertEventType, et.Name, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), et.CreatedAt, et.UpdatedAt)
	return storekit.Err(err, "event type", storekit.EventTypeTaken(et.Name), "create event type %s", et.Name)
}

// GetEventType finds an event type by name, archived or not.
func (s *Store) GetEventType(ctx context.Context, name string) (*hookbridge.EventType, error) {
	const getEventType = `SELECT ` + eventTypeColumns + ` FROM event_types WHERE name = $1`
	et, err := scanEventType(s.pool.QueryRow(ctx, getEventType, name))
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
		SET description = $1, archived = $2, deprecated = $3, feature_flag = $4, schemas = $5::jsonb, updated_at = $6
		WHERE name = $7
		RETURNING created_at`
	now := storekit.TruncMS(s.now())
	var created time.Time
	err := s.pool.QueryRow(ctx, updateEventType, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), now, et.Name).Scan(&created)
	if err != nil {
		return storekit.Err(err, "event type", nil, "update event type %s", et.Name)
	}
	et.UpdatedAt, et.CreatedAt = now, created.UTC()
	return nil
}

// DeleteEventType removes the event type for good. Messages of that type
// keep their type name.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	n, err := s.exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	return storekit.Changed(n, err, "event type", "delete event type %s", name)
}

// ListEventTypes pages through the catalogue by name, A first by default.
func (s *Store) ListEventTypes(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool) (hookbridge.Page[hookbridge.EventType], error) {
	limit := storekit.Limit(opt.Limit)
	var q query
	if !includeArchived {
		q.where(`NOT archived`)
	}
	// listEventTypes walks the primary key (name, COLLATE "C": byte order,
	// so pages neither skip nor repeat names whatever the locale).
	tail := q.keyset(`name`, opt, hookbridge.OrderAscending, limit)
	listEventTypes := `SELECT ` + eventTypeColumns + ` FROM event_types WHERE ` + q.clause() + tail
	rows, err := collect(ctx, s.pool, listEventTypes, q.args, scanEventType)
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
	const knownEventTypes = `SELECT name FROM event_types WHERE NOT archived AND name = ANY($1)`
	rows, err := s.pool.Query(ctx, knownEventTypes, names)
	if err != nil {
		return nil, fmt.Errorf("missing event types: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("missing event types: %w", err)
	}
	return storekit.MissingEventTypes(names, known), nil
}
