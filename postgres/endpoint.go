package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads. Queries alias
// endpoints as e.
const endpointColumns = `e.id, e.app_id, e.uid, e.url, e.description, e.event_types, e.channels, e.disabled,
	e.rate_limit, e.metadata, e.headers, e.secrets, e.fifo, e.failing_since, e.paused_until, e.created_at, e.updated_at`

// scanEndpoint reads endpointColumns followed by the columns in extra,
// opening the secrets with keys.
func scanEndpoint(keys *sealed.Keyring, row pgx.Row, extra ...any) (hookbridge.Endpoint, error) {
	var (
		e         hookbridge.Endpoint
		uid       *string
		rateLimit *int32
		secrets   []storekit.StoredSecret
		failing   *time.Time
		paused    *time.Time
	)
	dest := append([]any{&e.ID, &e.AppID, &uid, &e.URL, &e.Description, &e.EventTypes, &e.Channels,
		&e.Disabled, &rateLimit, &e.Metadata, &e.Headers, &secrets, &e.FIFO, &failing, &paused,
		&e.CreatedAt, &e.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return e, err
	}
	e.FailingSince, e.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	e.UID = fromNullString(uid)
	e.RateLimit = fromNullInt32(rateLimit)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	var err error
	e.Secrets, err = storekit.OpenSecrets(keys, e.ID, secrets)
	return e, err
}

// CreateEndpoint stores ep, filling in its ID and times if unset. The
// application must exist: the foreign key says so in the same statement.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	storekit.NewEndpoint(ep, s.now())
	const insertEndpoint = `
		INSERT INTO endpoints (id, app_id, uid, url, description, event_types, channels, disabled,
			rate_limit, metadata, headers, secrets, created_at, updated_at, fifo)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertEndpoint, ep.ID, ep.AppID, nullString(ep.UID), ep.URL, ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(ep.Headers), storekit.SealSecrets(s.keys, ep.ID, ep.Secrets), ep.CreatedAt, ep.UpdatedAt, ep.FIFO)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointCreated, ep), ep.CreatedAt)
	})
	return storekit.Err(missingParent(err, "application"), "endpoint", storekit.EndpointUIDTaken(ep.UID), "create endpoint")
}

// GetEndpoint finds an endpoint of the application by id or uid (see
// storekit.Lookup).
func (s *Store) GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error) {
	// Both use a unique index: the primary key, or (app_id, uid).
	const (
		getEndpointByID  = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.id = $2`
		getEndpointByUID = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.uid = $2`
	)
	return storekit.Lookup(idOrUID, hookbridge.PrefixEndpoint, "endpoint", getEndpointByID, getEndpointByUID,
		func(query string) (hookbridge.Endpoint, error) {
			return scanEndpoint(s.keys, s.pool.QueryRow(ctx, query, appID, idOrUID))
		})
}

// UpdateEndpoint replaces every mutable field of the endpoint with ep.AppID
// and ep.ID, and sets ep.UpdatedAt (and ep.CreatedAt, from the stored row).
// Deliveries already owed to the endpoint are kept: subscriptions apply at
// ingest.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	// updateEndpoint keeps the dispatcher's columns, except that enabling a
	// disabled endpoint gives it a fresh start: the run of failures that
	// disabled it is over, and a stale pause should not hold it back. The
	// right-hand sides read the row as it was.
	const updateEndpoint = `
		UPDATE endpoints SET uid = $1, url = $2, description = $3, event_types = $4, channels = $5, disabled = $6,
			rate_limit = $7, metadata = $8, headers = $9, secrets = $10, updated_at = $11, fifo = $14,
			failing_since = CASE WHEN disabled AND NOT $6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT $6 THEN NULL ELSE paused_until END
		WHERE app_id = $12 AND id = $13
		RETURNING created_at, failing_since, paused_until`
	now := storekit.TruncMS(s.now())
	storekit.TruncSecrets(ep)
	var (
		created         time.Time
		failing, paused *time.Time
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateEndpoint, nullString(ep.UID), ep.URL, ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(ep.Headers), storekit.SealSecrets(s.keys, ep.ID, ep.Secrets), now,
			ep.AppID, ep.ID, ep.FIFO).Scan(&created, &failing, &paused)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	if err != nil {
		return storekit.Err(err, "endpoint", storekit.EndpointUIDTaken(ep.UID), "update endpoint %s", ep.ID)
	}
	ep.UpdatedAt, ep.CreatedAt = now, created.UTC()
	ep.FailingSince, ep.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	return nil
}

// DeleteEndpoint removes the endpoint; the foreign keys cascade to its
// deliveries and their attempts.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
	const deleteEndpoint = `DELETE FROM endpoints WHERE app_id = $1 AND id = $2 RETURNING coalesce(uid, '')`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ep := hookbridge.Endpoint{AppID: appID, ID: id}
		if err := tx.QueryRow(ctx, deleteEndpoint, appID, id).Scan(&ep.UID); err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointDeleted, &ep), storekit.TruncMS(s.now()))
	})
	return storekit.Err(err, "endpoint", nil, "delete endpoint %s", id)
}

// ListEndpoints pages through the application's endpoints by id, oldest
// first by default.
func (s *Store) ListEndpoints(ctx context.Context, appID string, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Endpoint], error) {
	limit := storekit.Limit(opt.Limit)
	var q query
	q.where(`e.app_id = ` + q.arg(appID))
	tail := q.keyset("e.id", opt, hookbridge.OrderAscending, limit)
	// listEndpoints walks endpoints_app_id.
	listEndpoints := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE ` + q.clause() + tail
	rows, err := collect(ctx, s.pool, listEndpoints, q.args, func(r pgx.Row) (hookbridge.Endpoint, error) { return scanEndpoint(s.keys, r) })
	if err != nil {
		return hookbridge.Page[hookbridge.Endpoint]{}, fmt.Errorf("list endpoints: %w", err)
	}
	return storekit.Page(rows, limit), nil
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
