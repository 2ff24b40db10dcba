package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// eventTypeColumns is the column list scanEventType reads.
const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas, retry_schedule, created_at, updated_at`

func scanEventType(row rowScanner) (hookbridge.EventType, error) {
	var (
		et      hookbridge.EventType
		flag    sql.NullString
		schemas sql.NullString
		retry   sql.NullString
		created int64
		updated int64
	)
	if err := row.Scan(&et.Name, &et.Description, &et.Archived, &et.Deprecated, &flag, &schemas, &retry, &created, &updated); err != nil {
		return et, err
	}
	var err error
	if et.RetrySchedule, err = storekit.DecodeDelays(retry.String, retry.Valid); err != nil {
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

// nullDelays stores a retry schedule (storekit.EncodeDelays), NULL for nil.
func nullDelays(delays []time.Duration) sql.NullString {
	text, ok := storekit.EncodeDelays(delays)
	return sql.NullString{String: text, Valid: ok}
}

// EventTypeInsert inserts et.
func (s driver) EventTypeInsert(ctx context.Context, et *hookbridge.EventType) error {
	const insertEventType = `
		INSERT INTO event_types (name, description, archived, deprecated, feature_flag, schemas, retry_schedule, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.exec(ctx, insertEventType, et.Name, et.Description, et.Archived, et.Deprecated,
		nullString(et.FeatureFlag), nullJSON(et.Schemas), nullDelays(et.RetrySchedule), ms(et.CreatedAt), ms(et.UpdatedAt))
	return err
}

// EventTypeGet reads an event type by name.
func (s driver) EventTypeGet(ctx context.Context, name string) (hookbridge.EventType, error) {
	const getEventType = `SELECT ` + eventTypeColumns + ` FROM event_types WHERE name = ?`
	return scanEventType(s.r.QueryRowContext(ctx, getEventType, name))
}

// EventTypeUpdate writes et's mutable fields, if the row is as read (see
// storekit.Driver). ?9, when not NULL, is the updated_at the caller read.
func (s driver) EventTypeUpdate(ctx context.Context, et *hookbridge.EventType, now time.Time) error {
	const updateEventType = `
		UPDATE event_types
		SET description = ?1, archived = ?2, deprecated = ?3, feature_flag = ?4, schemas = ?5, retry_schedule = ?6,
			updated_at = max(?7, updated_at + 1)
		WHERE name = ?8 AND (?9 IS NULL OR updated_at = ?9)
		RETURNING created_at, updated_at`
	var created, updated int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		read := readAt(et.UpdatedAt)
		err := tx.QueryRowContext(ctx, updateEventType, et.Description, et.Archived, et.Deprecated,
			nullString(et.FeatureFlag), nullJSON(et.Schemas), nullDelays(et.RetrySchedule), ms(now), et.Name, read).Scan(&created, &updated)
		if errors.Is(err, sql.ErrNoRows) && read != nil {
			return staleUnlessGone(exists(ctx, tx, "event type", `SELECT EXISTS (SELECT 1 FROM event_types WHERE name = ?)`, et.Name))
		}
		return err
	})
	if err != nil {
		return err
	}
	et.CreatedAt, et.UpdatedAt = fromMS(created), fromMS(updated)
	return nil
}

// EventTypeDelete deletes the event type.
func (s driver) EventTypeDelete(ctx context.Context, name string) (int64, error) {
	return s.exec(ctx, `DELETE FROM event_types WHERE name = ?`, name)
}

// EventTypeList reads a page of the catalogue by name.
func (s driver) EventTypeList(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool, limit int) ([]hookbridge.EventType, error) {
	where, args, orderBy := keyset("name", opt, hookbridge.OrderAscending)
	// listEventTypes walks the primary key (name); ?-bound includeArchived
	// keeps it one statement.
	listEventTypes := `SELECT ` + eventTypeColumns + ` FROM event_types
		WHERE (? OR NOT archived) AND ` + where + orderBy + ` LIMIT ?`
	args = append([]any{includeArchived}, args...)
	return collect(ctx, s.r, listEventTypes, append(args, limit+1), scanEventType)
}

// EventTypeKnown returns those of names in the catalogue, not archived.
func (s driver) EventTypeKnown(ctx context.Context, names []string) ([]string, error) {
	const knownEventTypes = `SELECT name FROM event_types WHERE NOT archived AND name IN (SELECT value FROM json_each(?))`
	return collect(ctx, s.r, knownEventTypes, []any{jsonList(names)}, func(r rowScanner) (string, error) {
		var n string
		return n, r.Scan(&n)
	})
}
