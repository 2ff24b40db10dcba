package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads. Queries alias
// endpoints as e.
const endpointColumns = `e.id, e.app_id, e.uid, e.url, e.description, e.event_types, e.channels, e.disabled,
	e.rate_limit, e.metadata, e.headers, e.secrets, e.fifo, e.failing_since, e.paused_until, e.created_at, e.updated_at, e.filter`

// scanEndpoint reads endpointColumns followed by the columns in extra,
// opening the secrets, the URL's credentials and the headers with keys.
func scanEndpoint(keys *sealed.Keyring, row pgx.Row, extra ...any) (hookbridge.Endpoint, error) {
	var (
		e         hookbridge.Endpoint
		uid       *string
		rateLimit *int32
		secrets   []storekit.StoredSecret
		failing   *time.Time
		paused    *time.Time
		filter    *string
	)
	dest := append([]any{&e.ID, &e.AppID, &uid, &e.URL, &e.Description, &e.EventTypes, &e.Channels,
		&e.Disabled, &rateLimit, &e.Metadata, &e.Headers, &secrets, &e.FIFO, &failing, &paused,
		&e.CreatedAt, &e.UpdatedAt, &filter}, extra...)
	if err := row.Scan(dest...); err != nil {
		return e, err
	}
	e.FailingSince, e.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	e.UID, e.Filter = fromNullString(uid), fromNullString(filter)
	e.RateLimit = fromNullInt32(rateLimit)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, storekit.OpenEndpoint(keys, &e, secrets)
}

// EndpointInsert inserts ep and records its creation. The application
// must exist: the foreign key says so in the same statement.
func (s driver) EndpointInsert(ctx context.Context, ep *hookbridge.Endpoint) error {
	const insertEndpoint = `
		INSERT INTO endpoints (id, app_id, uid, url, description, event_types, channels, disabled,
			rate_limit, metadata, headers, secrets, created_at, updated_at, fifo, filter)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertEndpoint, ep.ID, ep.AppID, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(storekit.SealHeaders(s.keys, ep.ID, ep.Headers)), storekit.SealSecrets(s.keys, ep.ID, ep.Secrets), ep.CreatedAt, ep.UpdatedAt, ep.FIFO, nullString(ep.Filter))
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointCreated, ep), ep.CreatedAt)
	})
}

// EndpointGet reads the application's endpoint with id (byID) or uid key;
// each query uses a unique index: the primary key, or (app_id, uid).
func (s driver) EndpointGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Endpoint, error) {
	getEndpoint := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.uid = $2`
	if byID {
		getEndpoint = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.id = $2`
	}
	return scanEndpoint(s.keys, s.pool.QueryRow(ctx, getEndpoint, appID, key))
}

// EndpointUpdate writes ep's mutable fields, updated at now, and records
// the change.
func (s driver) EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error {
	// updateEndpoint keeps the dispatcher's columns, except that enabling a
	// disabled endpoint gives it a fresh start: the run of failures that
	// disabled it is over, and a stale pause should not hold it back. The
	// right-hand sides read the row as it was.
	const updateEndpoint = `
		UPDATE endpoints SET uid = $1, url = $2, description = $3, event_types = $4, channels = $5, disabled = $6,
			rate_limit = $7, metadata = $8, headers = $9, secrets = $10, updated_at = $11, fifo = $14, filter = $15,
			failing_since = CASE WHEN disabled AND NOT $6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT $6 THEN NULL ELSE paused_until END
		WHERE app_id = $12 AND id = $13
		RETURNING created_at, failing_since, paused_until`
	var (
		created         time.Time
		failing, paused *time.Time
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateEndpoint, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(storekit.SealHeaders(s.keys, ep.ID, ep.Headers)), storekit.SealSecrets(s.keys, ep.ID, ep.Secrets), now,
			ep.AppID, ep.ID, ep.FIFO, nullString(ep.Filter)).Scan(&created, &failing, &paused)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	if err != nil {
		return err
	}
	ep.CreatedAt = created.UTC()
	ep.FailingSince, ep.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	return nil
}

// EndpointDelete deletes the endpoint, whose deliveries and attempts the
// foreign keys cascade to, and records the deletion at now.
func (s driver) EndpointDelete(ctx context.Context, appID, id string, now time.Time) error {
	const deleteEndpoint = `DELETE FROM endpoints WHERE app_id = $1 AND id = $2 RETURNING coalesce(uid, '')`
	return s.inTx(ctx, func(tx pgx.Tx) error {
		ep := hookbridge.Endpoint{AppID: appID, ID: id}
		if err := tx.QueryRow(ctx, deleteEndpoint, appID, id).Scan(&ep.UID); err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointDeleted, &ep), now)
	})
}

// EndpointList reads a page of the application's endpoints by id, through
// endpoints_app_id.
func (s driver) EndpointList(ctx context.Context, appID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.Endpoint, error) {
	var q query
	q.where(`e.app_id = ` + q.arg(appID))
	tail := q.keyset("e.id", opt, hookbridge.OrderAscending, limit)
	listEndpoints := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listEndpoints, q.args, func(r pgx.Row) (hookbridge.Endpoint, error) { return scanEndpoint(s.keys, r) })
}

// Existence checks: ENOTFOUND unless the row exists, for the reads and
// writes whose own statement cannot tell a missing parent from an empty
// answer.

// exists runs the existence query (SELECT EXISTS …) of a what.
func exists(ctx context.Context, q querier, what, query string, args ...any) error {
	var ok bool
	err := q.QueryRow(ctx, query, args...).Scan(&ok)
	return storekit.Found(ok, err, what)
}

// endpointExists checks that the application has the endpoint.
func endpointExists(ctx context.Context, q querier, appID, endpointID string) error {
	return exists(ctx, q, "endpoint", `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`, appID, endpointID)
}

// messageExists checks that the application has the message.
func messageExists(ctx context.Context, q querier, appID, msgID string) error {
	return exists(ctx, q, "message", `SELECT EXISTS (SELECT 1 FROM messages WHERE app_id = $1 AND id = $2)`, appID, msgID)
}

// sourceExists checks that the source exists.
func sourceExists(ctx context.Context, q querier, id string) error {
	return exists(ctx, q, "source", `SELECT EXISTS (SELECT 1 FROM sources WHERE id = $1)`, id)
}
