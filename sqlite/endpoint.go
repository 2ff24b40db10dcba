package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads. Queries that join
// endpoints alias the table as e.
const endpointColumns = `e.id, e.app_id, e.uid, e.url, e.description, e.event_types, e.channels, e.disabled,
	e.rate_limit, e.metadata, e.headers, e.secrets, e.fifo, e.failing_since, e.paused_until, e.created_at, e.updated_at`

// secretJSON is the stored form of a hookbridge.Secret.
type secretJSON struct {
	Key     string `json:"key"`
	Expires int64  `json:"expires,omitempty"` // unix ms; absent for the current secret
}

// encodeSecrets is the stored form of an endpoint's secrets, each key
// sealed for the endpoint with keys (as it is, when keys is nil).
func encodeSecrets(keys *sealed.Keyring, endpointID string, secrets []hookbridge.Secret) jsonValue {
	out := make([]secretJSON, len(secrets))
	for i, s := range secrets {
		out[i] = secretJSON{Key: keys.Seal(s.Key, endpointID)}
		if !s.Expires.IsZero() {
			out[i].Expires = s.Expires.UnixMilli()
		}
	}
	return jsonValue{out}
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
			out[i].Expires = fromMS(s.Expires)
		}
	}
	return out, nil
}

// scanEndpoint returns the scanner of endpointColumns that opens the
// secrets with keys.
func scanEndpoint(keys *sealed.Keyring) func(row rowScanner) (hookbridge.Endpoint, error) {
	return func(row rowScanner) (hookbridge.Endpoint, error) {
		var (
			e         hookbridge.Endpoint
			uid       sql.NullString
			rateLimit sql.NullInt64
			secrets   []secretJSON
			failing   sql.NullInt64
			paused    sql.NullInt64
			created   int64
			updated   int64
		)
		err := row.Scan(&e.ID, &e.AppID, &uid, &e.URL, &e.Description, jsonScan{&e.EventTypes}, jsonScan{&e.Channels},
			&e.Disabled, &rateLimit, jsonScan{&e.Metadata}, jsonScan{&e.Headers}, jsonScan{&secrets},
			&e.FIFO, &failing, &paused, &created, &updated)
		if err != nil {
			return e, err
		}
		e.FailingSince, e.PausedUntil = fromNullMS(failing), fromNullMS(paused)
		e.UID = uid.String
		e.RateLimit = fromNullInt(rateLimit)
		e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
		e.Secrets, err = decodeSecrets(keys, e.ID, secrets)
		return e, err
	}
}

// errEndpointUIDTaken is the conflict reported for a duplicate endpoint uid.
func errEndpointUIDTaken(uid string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "an endpoint with uid %q already exists in this application", uid)
}

// CreateEndpoint stores ep, filling in its ID and times if unset. The
// application must exist.
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
			rate_limit, metadata, headers, secrets, fifo, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := appExists(ctx, tx, ep.AppID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insertEndpoint, ep.ID, ep.AppID, nullString(ep.UID), ep.URL, ep.Description,
			jsonValue{ep.EventTypes}, jsonValue{ep.Channels}, ep.Disabled, nullInt(ep.RateLimit),
			jsonValue{ep.Metadata}, jsonValue{ep.Headers}, encodeSecrets(s.keys, ep.ID, ep.Secrets), ep.FIFO, ms(ep.CreatedAt), ms(ep.UpdatedAt))
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointCreated, ep), ep.CreatedAt)
	})
	if isUniqueViolation(err) {
		return errEndpointUIDTaken(ep.UID)
	}
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// applicationExists says whether an application exists.
const applicationExists = `SELECT EXISTS (SELECT 1 FROM applications WHERE id = ?)`

// appExists returns ENOTFOUND unless the application exists. Writes check
// it in their transaction so that a missing application is reported as
// such rather than as a foreign key failure.
func appExists(ctx context.Context, tx *sql.Tx, appID string) error {
	var ok bool
	if err := tx.QueryRowContext(ctx, applicationExists, appID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return hookbridge.NotFound("application")
	}
	return nil
}

// GetEndpoint finds an endpoint of the application by id or uid, the same
// way GetApplication does.
func (s *Store) GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error) {
	// Both use a unique index: the primary key, or (app_id, uid).
	const (
		getEndpointByID  = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND e.id = ?`
		getEndpointByUID = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND e.uid = ?`
	)
	if hookbridge.HasPrefix(idOrUID, hookbridge.PrefixEndpoint) {
		e, err := scanEndpoint(s.keys)(s.r.QueryRowContext(ctx, getEndpointByID, appID, idOrUID))
		if err == nil {
			return &e, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("get endpoint %s: %w", idOrUID, err)
		}
	}
	e, err := scanEndpoint(s.keys)(s.r.QueryRowContext(ctx, getEndpointByUID, appID, idOrUID))
	if errors.Is(err, sql.ErrNoRows) {
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
	// disabled it is over, and a stale pause should not hold it back.
	const updateEndpoint = `
		UPDATE endpoints SET uid = ?1, url = ?2, description = ?3, event_types = ?4, channels = ?5, disabled = ?6,
			rate_limit = ?7, metadata = ?8, headers = ?9, secrets = ?10, fifo = ?11, updated_at = ?12,
			failing_since = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE paused_until END
		WHERE app_id = ?13 AND id = ?14
		RETURNING created_at, failing_since, paused_until`
	now := storekit.TruncMS(s.now())
	for i := range ep.Secrets {
		ep.Secrets[i].Expires = storekit.TruncMS(ep.Secrets[i].Expires)
	}
	var (
		created         int64
		failing, paused sql.NullInt64
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, updateEndpoint, nullString(ep.UID), ep.URL, ep.Description,
			jsonValue{ep.EventTypes}, jsonValue{ep.Channels}, ep.Disabled, nullInt(ep.RateLimit),
			jsonValue{ep.Metadata}, jsonValue{ep.Headers}, encodeSecrets(s.keys, ep.ID, ep.Secrets), ep.FIFO, ms(now),
			ep.AppID, ep.ID).Scan(&created, &failing, &paused)
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return hookbridge.NotFound("endpoint")
	case isUniqueViolation(err):
		return errEndpointUIDTaken(ep.UID)
	case err != nil:
		return fmt.Errorf("update endpoint %s: %w", ep.ID, err)
	}
	ep.UpdatedAt, ep.CreatedAt = now, fromMS(created)
	ep.FailingSince, ep.PausedUntil = fromNullMS(failing), fromNullMS(paused)
	return nil
}

// DeleteEndpoint removes the endpoint; the foreign keys cascade to its
// deliveries and their attempts.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
	const deleteEndpoint = `DELETE FROM endpoints WHERE app_id = ? AND id = ? RETURNING coalesce(uid, '')`
	err := s.write(ctx, func(tx *sql.Tx) error {
		ep := hookbridge.Endpoint{AppID: appID, ID: id}
		if err := tx.QueryRowContext(ctx, deleteEndpoint, appID, id).Scan(&ep.UID); err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointDeleted, &ep), storekit.TruncMS(s.now()))
	})
	if errors.Is(err, sql.ErrNoRows) {
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
	where, args, orderBy := keyset("e.id", opt, hookbridge.OrderAscending)
	// listEndpoints walks endpoints_app_id.
	listEndpoints := `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? AND ` + where + orderBy + ` LIMIT ?`
	args = append([]any{appID}, args...)
	rows, err := collect(ctx, s.r, listEndpoints, append(args, limit+1), scanEndpoint(s.keys))
	if err != nil {
		return hookbridge.Page[hookbridge.Endpoint]{}, fmt.Errorf("list endpoints: %w", err)
	}
	return storekit.Page(rows, limit), nil
}
