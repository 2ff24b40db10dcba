package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// eventTypeColumns is the column list scanEventType reads. schemas is read
// as text so that the JSON comes back as PostgreSQL wrote it, not decoded.
const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas::text, retry_schedule::text, created_at, updated_at`

func scanEventType(row pgx.Row) (hookbridge.EventType, error) {
	var (
		et      hookbridge.EventType
		flag    *string
		schemas *string
		retry   *string
	)
	if err := row.Scan(&et.Name, &et.Description, &et.Archived, &et.Deprecated, &flag, &schemas, &retry, &et.CreatedAt, &et.UpdatedAt); err != nil {
		return et, err
	}
	var err error
	if et.RetrySchedule, err = storekit.DecodeDelays(fromNullString(retry), retry != nil); err != nil {
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

// nullDelays stores a retry schedule (storekit.EncodeDelays), NULL for nil.
func nullDelays(delays []time.Duration) *string {
	text, ok := storekit.EncodeDelays(delays)
	if !ok {
		return nil
	}
	return &text
}

// EventTypeInsert inserts et.
func (s driver) EventTypeInsert(ctx context.Context, et *hookbridge.EventType) error {
	const insertEventType = `
		INSERT INTO event_types (name, description, archived, deprecated, feature_flag, schemas, retry_schedule, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)`
	_, err := s.exec(ctx, insertEventType, et.Name, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), nullDelays(et.RetrySchedule), et.CreatedAt, et.UpdatedAt)
	return err
}

// EventTypeGet reads an event type by name.
func (s driver) EventTypeGet(ctx context.Context, name string) (hookbridge.EventType, error) {
	const getEventType = `SELECT ` + eventTypeColumns + ` FROM event_types WHERE name = $1`
	return scanEventType(s.pool.QueryRow(ctx, getEventType, name))
}

// EventTypeUpdate writes et's mutable fields, if the row is as read (see
// storekit.Driver). $9, when not NULL, is the updated_at the caller read.
func (s driver) EventTypeUpdate(ctx context.Context, et *hookbridge.EventType, now time.Time) error {
	const updateEventType = `
		UPDATE event_types
		SET description = $1, archived = $2, deprecated = $3, feature_flag = $4, schemas = $5::jsonb, retry_schedule = $6::jsonb,
			updated_at = greatest($7, updated_at + interval '1 millisecond')
		WHERE name = $8 AND ($9::timestamptz IS NULL OR updated_at = $9)
		RETURNING created_at, updated_at`
	var created, updated time.Time
	read := readAt(et.UpdatedAt)
	err := s.pool.QueryRow(ctx, updateEventType, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), nullDelays(et.RetrySchedule), now, et.Name, read).Scan(&created, &updated)
	if errors.Is(err, pgx.ErrNoRows) && read != nil {
		err = staleUnlessGone(ctx, s.pool, `SELECT EXISTS (SELECT 1 FROM event_types WHERE name = $1)`, et.Name)
	}
	if err != nil {
		return err
	}
	et.CreatedAt, et.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

// EventTypeDelete deletes the event type.
func (s driver) EventTypeDelete(ctx context.Context, name string) (int64, error) {
	return s.exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
}

// EventTypeList reads a page of the catalogue by name.
func (s driver) EventTypeList(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool, limit int) ([]hookbridge.EventType, error) {
	var q query
	if !includeArchived {
		q.where(`NOT archived`)
	}
	// listEventTypes walks the primary key (name, COLLATE "C": byte order,
	// so pages neither skip nor repeat names whatever the locale).
	tail := q.keyset(`name`, opt, hookbridge.OrderAscending, limit)
	listEventTypes := `SELECT ` + eventTypeColumns + ` FROM event_types WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listEventTypes, q.args, scanEventType)
}

// EventTypeKnown returns those of names in the catalogue, not archived.
func (s driver) EventTypeKnown(ctx context.Context, names []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM event_types WHERE NOT archived AND name = ANY($1)`, names)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
