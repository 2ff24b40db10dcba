package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads. Queries that join
// endpoints alias the table as e.
const endpointColumns = `e.id, e.app_id, e.uid, e.url, e.description, e.event_types, e.channels, e.disabled,
	e.rate_limit, e.metadata, e.headers, e.secrets, e.fifo, e.failing_since, e.paused_until, e.created_at, e.updated_at, e.filter`

// scanEndpoint returns the scanner of endpointColumns that opens the
// secrets, the URL's credentials and the headers with keys.
func scanEndpoint(keys *sealed.Keyring) func(row rowScanner) (hookbridge.Endpoint, error) {
	return func(row rowScanner) (hookbridge.Endpoint, error) {
		var (
			e         hookbridge.Endpoint
			uid       sql.NullString
			rateLimit sql.NullInt64
			secrets   []storekit.StoredSecret
			failing   sql.NullInt64
			paused    sql.NullInt64
			created   int64
			updated   int64
			filter    sql.NullString
		)
		err := row.Scan(&e.ID, &e.AppID, &uid, &e.URL, &e.Description, jsonScan{&e.EventTypes}, jsonScan{&e.Channels},
			&e.Disabled, &rateLimit, jsonScan{&e.Metadata}, jsonScan{&e.Headers}, jsonScan{&secrets},
			&e.FIFO, &failing, &paused, &created, &updated, &filter)
		if err != nil {
			return e, err
		}
		e.FailingSince, e.PausedUntil = fromNullMS(failing), fromNullMS(paused)
		e.UID, e.Filter = uid.String, filter.String
		e.RateLimit = fromNullInt(rateLimit)
		e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
		return e, storekit.OpenEndpoint(keys, &e, secrets)
	}
}

// EndpointInsert inserts ep, once its application is found, and records
// its creation.
func (s driver) EndpointInsert(ctx context.Context, ep *hookbridge.Endpoint) error {
	const insertEndpoint = `
		INSERT INTO endpoints (id, app_id, uid, url, description, event_types, channels, disabled,
			rate_limit, metadata, headers, secrets, fifo, created_at, updated_at, filter)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := appExists(ctx, tx, ep.AppID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insertEndpoint, ep.ID, ep.AppID, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonValue{ep.EventTypes}, jsonValue{ep.Channels}, ep.Disabled, nullInt(ep.RateLimit),
			jsonValue{ep.Metadata}, jsonValue{storekit.SealHeaders(s.keys, ep.ID, ep.Headers)}, jsonValue{storekit.SealSecrets(s.keys, ep.ID, ep.Secrets)}, ep.FIFO, ms(ep.CreatedAt), ms(ep.UpdatedAt), nullString(ep.Filter))
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointCreated, ep), ep.CreatedAt)
	})
	return err
}

// Existence checks: ENOTFOUND unless the row exists. Writes check their
// parent rows in their transaction so that a missing one is reported as
// such rather than as a foreign key failure, and lists check theirs in
// their read transaction.

// queryRower is a transaction or a pool.
type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// exists runs the existence query (SELECT EXISTS …) of a what.
func exists(ctx context.Context, q queryRower, what, query string, args ...any) error {
	var ok bool
	err := q.QueryRowContext(ctx, query, args...).Scan(&ok)
	return storekit.Found(ok, err, what)
}

// appExists checks that the application exists.
func appExists(ctx context.Context, tx *sql.Tx, appID string) error {
	return exists(ctx, tx, "application", `SELECT EXISTS (SELECT 1 FROM applications WHERE id = ?)`, appID)
}

// messageExists checks that the application has the message.
func messageExists(ctx context.Context, q queryRower, appID, msgID string) error {
	return exists(ctx, q, "message", `SELECT EXISTS (SELECT 1 FROM messages WHERE app_id = ? AND id = ?)`, appID, msgID)
}

// endpointExists checks that the application has the endpoint.
func endpointExists(ctx context.Context, q queryRower, appID, endpointID string) error {
	return exists(ctx, q, "endpoint", `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = ? AND id = ?)`, appID, endpointID)
}

// sourceExists checks that the source exists.
func sourceExists(ctx context.Context, q queryRower, id string) error {
	return exists(ctx, q, "source", `SELECT EXISTS (SELECT 1 FROM sources WHERE id = ?)`, id)
}

// EndpointGet reads the application's endpoint with id (byID) or uid key;
// each query uses a unique index: the primary key, or (app_id, uid).
func (s driver) EndpointGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Endpoint, error) {
	getEndpoint := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND e.uid = ?`
	if byID {
		getEndpoint = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND e.id = ?`
	}
	return scanEndpoint(s.keys)(s.r.QueryRowContext(ctx, getEndpoint, appID, key))
}

// EndpointUpdate writes ep's mutable fields, updated at now, and records
// the change.
func (s driver) EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error {
	// updateEndpoint keeps the dispatcher's columns, except that enabling a
	// disabled endpoint gives it a fresh start: the run of failures that
	// disabled it is over, and a stale pause should not hold it back.
	const updateEndpoint = `
		UPDATE endpoints SET uid = ?1, url = ?2, description = ?3, event_types = ?4, channels = ?5, disabled = ?6,
			rate_limit = ?7, metadata = ?8, headers = ?9, secrets = ?10, fifo = ?11, updated_at = ?12, filter = ?15,
			failing_since = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE paused_until END
		WHERE app_id = ?13 AND id = ?14
		RETURNING created_at, failing_since, paused_until`
	var (
		created         int64
		failing, paused sql.NullInt64
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, updateEndpoint, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonValue{ep.EventTypes}, jsonValue{ep.Channels}, ep.Disabled, nullInt(ep.RateLimit),
			jsonValue{ep.Metadata}, jsonValue{storekit.SealHeaders(s.keys, ep.ID, ep.Headers)}, jsonValue{storekit.SealSecrets(s.keys, ep.ID, ep.Secrets)}, ep.FIFO, ms(now),
			ep.AppID, ep.ID, nullString(ep.Filter)).Scan(&created, &failing, &paused)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	if err != nil {
		return err
	}
	ep.CreatedAt = fromMS(created)
	ep.FailingSince, ep.PausedUntil = fromNullMS(failing), fromNullMS(paused)
	return nil
}

// EndpointDelete deletes the endpoint, whose deliveries and attempts the
// foreign keys cascade to, and records the deletion at now.
func (s driver) EndpointDelete(ctx context.Context, appID, id string, now time.Time) error {
	const deleteEndpoint = `DELETE FROM endpoints WHERE app_id = ? AND id = ? RETURNING coalesce(uid, '')`
	return s.write(ctx, func(tx *sql.Tx) error {
		ep := hookbridge.Endpoint{AppID: appID, ID: id}
		if err := tx.QueryRowContext(ctx, deleteEndpoint, appID, id).Scan(&ep.UID); err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointDeleted, &ep), now)
	})
}

// EndpointList reads a page of the application's endpoints by id, through
// endpoints_app_id.
func (s driver) EndpointList(ctx context.Context, appID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.Endpoint, error) {
	where, args, orderBy := keyset("e.id", opt, hookbridge.OrderAscending)
	listEndpoints := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND ` + where + orderBy + ` LIMIT ?`
	args = append([]any{appID}, args...)
	return collect(ctx, s.r, listEndpoints, append(args, limit+1), scanEndpoint(s.keys))
}
