package postgres

import (
	"context"
	"errors"
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

// secretJSON is the stored form of a hookbridge.Secret.
type secretJSON struct {
	Key     string `json:"key"`
	Expires int64  `json:"expires,omitempty"` // unix ms; absent for the current secret
}

// encodeSecrets is the stored form of an endpoint's secrets, each key
// sealed for the endpoint with keys (as it is, when keys is nil).
func encodeSecrets(keys *sealed.Keyring, endpointID string, secrets []hookbridge.Secret) []secretJSON {
	out := make([]secretJSON, len(secrets))
	for i, s := range secrets {
		out[i] = secretJSON{Key: keys.Seal(s.Key, endpointID)}
		if !s.Expires.IsZero() {
			out[i].Expires = s.Expires.UnixMilli()
		}
	}
	return out
}

// decodeSecrets opens what encodeSecrets stored.
func decodeSecrets(keys *sealed.Keyring, endpointID string, stored []secretJSON) ([]hookbridge.Secret, error) {
	if len(stored) == 0 {
		return nil, nil
	}
	out := make([]hookbridge.Secret, len(stored))
	for i, s := range stored {
		key, err := keys.Open(s.Key, endpointID)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: secret: %w", endpointID, err)
		}
		out[i] = hookbridge.Secret{Key: key}
		if s.Expires != 0 {
			out[i].Expires = time.UnixMilli(s.Expires).UTC()
		}
	}
	return out, nil
}

// scanEndpoint reads endpointColumns followed by the columns in extra,
// opening the secrets with keys.
func scanEndpoint(keys *sealed.Keyring, row pgx.Row, extra ...any) (hookbridge.Endpoint, error) {
	var (
		e         hookbridge.Endpoint
		uid       *string
		rateLimit *int32
		secrets   []secretJSON
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
	e.Secrets, err = decodeSecrets(keys, e.ID, secrets)
	return e, err
}

// errEndpointUIDTaken is the conflict reported for a duplicate endpoint uid.
func errEndpointUIDTaken(uid string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "an endpoint with uid %q already exists in this application", uid)
}

// CreateEndpoint stores ep, filling in its ID and times if unset. The
// application must exist: the foreign key says so in the same statement.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	if ep.ID == "" {
		ep.ID = hookbridge.NewID(hookbridge.PrefixEndpoint)
	}
	if ep.CreatedAt.IsZero() {
		ep.CreatedAt = s.now()
	}
	if ep.UpdatedAt.IsZero() {
		ep.UpdatedAt = ep.CreatedAt
	}
	ep.CreatedAt, ep.UpdatedAt = storekit.TruncMS(ep.CreatedAt), storekit.TruncMS(ep.UpdatedAt)
	for i := range ep.Secrets {
		ep.Secrets[i].Expires = storekit.TruncMS(ep.Secrets[i].Expires)
	}

	const insertEndpoint = `
		INSERT INTO endpoints (id, app_id, uid, url, description, event_types, channels, disabled,
			rate_limit, metadata, headers, secrets, created_at, updated_at, fifo)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertEndpoint, ep.ID, ep.AppID, nullString(ep.UID), ep.URL, ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(ep.Headers), encodeSecrets(s.keys, ep.ID, ep.Secrets), ep.CreatedAt, ep.UpdatedAt, ep.FIFO)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointCreated, ep), ep.CreatedAt)
	})
	switch pgCode(err) {
	case codeUniqueViolation:
		return errEndpointUIDTaken(ep.UID)
	case codeForeignKeyViolation:
		return hookbridge.NotFound("application")
	}
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// GetEndpoint finds an endpoint of the application by id or uid, the same
// way GetApplication does.
func (s *Store) GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error) {
	// Both use a unique index: the primary key, or (app_id, uid).
	const (
		getEndpointByID  = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.id = $2`
		getEndpointByUID = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 AND e.uid = $2`
	)
	if hookbridge.HasPrefix(idOrUID, hookbridge.PrefixEndpoint) {
		e, err := scanEndpoint(s.keys, s.pool.QueryRow(ctx, getEndpointByID, appID, idOrUID))
		if err == nil {
			return &e, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("get endpoint %s: %w", idOrUID, err)
		}
	}
	e, err := scanEndpoint(s.keys, s.pool.QueryRow(ctx, getEndpointByUID, appID, idOrUID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hookbridge.NotFound("endpoint")
	}
	if err != nil {
		return nil, fmt.Errorf("get endpoint %s: %w", idOrUID, err)
	}
	return &e, nil
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
	for i := range ep.Secrets {
		ep.Secrets[i].Expires = storekit.TruncMS(ep.Secrets[i].Expires)
	}
	var (
		created         time.Time
		failing, paused *time.Time
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateEndpoint, nullString(ep.UID), ep.URL, ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(ep.Headers), encodeSecrets(s.keys, ep.ID, ep.Secrets), now,
			ep.AppID, ep.ID, ep.FIFO).Scan(&created, &failing, &paused)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hookbridge.NotFound("endpoint")
	case pgCode(err) == codeUniqueViolation:
		return errEndpointUIDTaken(ep.UID)
	case err != nil:
		return fmt.Errorf("update endpoint %s: %w", ep.ID, err)
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
	if errors.Is(err, pgx.ErrNoRows) {
		return hookbridge.NotFound("endpoint")
	}
	if err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
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

// endpointExists returns ENOTFOUND unless the application has the endpoint.
func endpointExists(ctx context.Context, q querier, appID, endpointID string) error {
	const endpointExistsQuery = `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`
	var ok bool
	if err := q.QueryRow(ctx, endpointExistsQuery, appID, endpointID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return hookbridge.NotFound("endpoint")
	}
	return nil
}

// messageExists returns ENOTFOUND unless the application has the message.
func messageExists(ctx context.Context, q querier, appID, msgID string) error {
	const messageExistsQuery = `SELECT EXISTS (SELECT 1 FROM messages WHERE app_id = $1 AND id = $2)`
	var ok bool
	if err := q.QueryRow(ctx, messageExistsQuery, appID, msgID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return hookbridge.NotFound("message")
	}
	return nil
}
