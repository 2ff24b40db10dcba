package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads, shared with the
// other store. Queries alias endpoints as e.
const endpointColumns = storekit.EndpointColumns

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
		&e.CreatedAt, &e.UpdatedAt, &filter, &e.MTLSVersion, &e.OAuthVersion}, extra...)
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

// readAt is the condition of a conditional update (see
// storekit.Driver.EndpointUpdate): the updated_at the caller read, or nil
// (NULL) for none.
func readAt(updated time.Time) *time.Time {
	if updated.IsZero() {
		return nil
	}
	return &updated
}

// staleUnlessGone tells why a conditional update changed no row, by its
// existence query: gone (pgx.ErrNoRows, which is ENOTFOUND), or changed
// since it was read (storekit.ErrStale).
func staleUnlessGone(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) error {
	var found bool
	if err := q.QueryRow(ctx, query, args...).Scan(&found); err != nil {
		return err
	}
	if !found {
		return pgx.ErrNoRows
	}
	return storekit.ErrStale
}

// EndpointUpdate writes ep's mutable fields, updated at now, and records
// the change.
func (s driver) EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error {
	// updateEndpoint keeps the dispatcher's columns, except that enabling a
	// disabled endpoint gives it a fresh start: the run of failures that
	// disabled it is over, and a stale pause should not hold it back. The
	// right-hand sides read the row as it was. $16, when not NULL, is the
	// updated_at the caller read; under READ COMMITTED a row changed by a
	// concurrent transaction is checked again in its newest version.
	const updateEndpoint = `
		UPDATE endpoints SET uid = $1, url = $2, description = $3, event_types = $4, channels = $5, disabled = $6,
			rate_limit = $7, metadata = $8, headers = $9, secrets = $10,
			updated_at = greatest($11, updated_at + interval '1 millisecond'), fifo = $14, filter = $15,
			failing_since = CASE WHEN disabled AND NOT $6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT $6 THEN NULL ELSE paused_until END
		WHERE app_id = $12 AND id = $13 AND ($16::timestamptz IS NULL OR updated_at = $16)
		RETURNING created_at, updated_at, failing_since, paused_until, mtls_version, oauth_version`
	var (
		created, updated time.Time
		failing, paused  *time.Time
		read             = readAt(ep.UpdatedAt)
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateEndpoint, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Disabled, nullInt32(ep.RateLimit),
			jsonMap(ep.Metadata), jsonMap(storekit.SealHeaders(s.keys, ep.ID, ep.Headers)), storekit.SealSecrets(s.keys, ep.ID, ep.Secrets), now,
			ep.AppID, ep.ID, ep.FIFO, nullString(ep.Filter), read).Scan(&created, &updated, &failing, &paused, &ep.MTLSVersion, &ep.OAuthVersion)
		if errors.Is(err, pgx.ErrNoRows) && read != nil {
			return staleUnlessGone(ctx, tx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`, ep.AppID, ep.ID)
		}
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	if err != nil {
		return err
	}
	ep.CreatedAt, ep.UpdatedAt = created.UTC(), updated.UTC()
	ep.FailingSince, ep.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	return nil
}

// EndpointDelete deletes the endpoint, whose deliveries the cascade
// trigger (migration 0021) and their attempts the foreign key delete, and
// records the deletion at now.
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

// EndpointMTLSPut writes the endpoint's client certificate and moves its
// mtls_version on, in one transaction; the update locks the endpoint row,
// so two puts at once take turns.
func (s driver) EndpointMTLSPut(ctx context.Context, appID, endpointID string, m *hookbridge.EndpointMTLS, sealedKey string, now time.Time) (int64, error) {
	const (
		nextVersion = `UPDATE endpoints SET mtls_version = abs(mtls_version) + 1
			WHERE app_id = $1 AND id = $2 RETURNING mtls_version, coalesce(uid, '')`
		putMTLS = `INSERT INTO endpoint_mtls (endpoint_id, cert, key, ca, not_after, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (endpoint_id) DO UPDATE SET cert = excluded.cert, key = excluded.key, ca = excluded.ca,
				not_after = excluded.not_after, updated_at = excluded.updated_at`
	)
	var v int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var uid string
		if err := tx.QueryRow(ctx, nextVersion, appID, endpointID).Scan(&v, &uid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, putMTLS, endpointID, m.CertPEM, sealedKey, m.CAPEM, m.NotAfter, now); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return v, err
}

// EndpointMTLSGet reads the endpoint's client certificate, by primary key.
func (s driver) EndpointMTLSGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointMTLS, error) {
	const getMTLS = `SELECT m.cert, m.key, m.ca, m.not_after, m.updated_at, e.mtls_version
		FROM endpoint_mtls m JOIN endpoints e ON e.id = m.endpoint_id WHERE e.app_id = $1 AND m.endpoint_id = $2`
	var m hookbridge.EndpointMTLS
	err := s.pool.QueryRow(ctx, getMTLS, appID, endpointID).Scan(&m.CertPEM, &m.KeyPEM, &m.CAPEM, &m.NotAfter, &m.UpdatedAt, &m.Version)
	m.NotAfter, m.UpdatedAt = m.NotAfter.UTC(), m.UpdatedAt.UTC()
	return m, err
}

// EndpointOAuthPut writes the endpoint's OAuth client credentials and
// moves its oauth_version on, in one transaction.
func (s driver) EndpointOAuthPut(ctx context.Context, appID, endpointID string, o *hookbridge.EndpointOAuth, sealedSecret string, now time.Time) (int64, error) {
	const (
		nextVersion = `UPDATE endpoints SET oauth_version = abs(oauth_version) + 1
			WHERE app_id = $1 AND id = $2 RETURNING oauth_version, coalesce(uid, '')`
		putOAuth = `INSERT INTO endpoint_oauth (endpoint_id, token_url, client_id, client_secret, scopes, audience, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (endpoint_id) DO UPDATE SET token_url = excluded.token_url, client_id = excluded.client_id,
				client_secret = excluded.client_secret, scopes = excluded.scopes, audience = excluded.audience,
				updated_at = excluded.updated_at`
	)
	var v int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var uid string
		if err := tx.QueryRow(ctx, nextVersion, appID, endpointID).Scan(&v, &uid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, putOAuth, endpointID, o.TokenURL, o.ClientID, sealedSecret, jsonList(o.Scopes), o.Audience, now); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return v, err
}

// EndpointOAuthGet reads the endpoint's OAuth client credentials.
func (s driver) EndpointOAuthGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointOAuth, error) {
	const getOAuth = `SELECT o.token_url, o.client_id, o.client_secret, o.scopes, o.audience, o.updated_at, e.oauth_version
		FROM endpoint_oauth o JOIN endpoints e ON e.id = o.endpoint_id WHERE e.app_id = $1 AND o.endpoint_id = $2`
	var o hookbridge.EndpointOAuth
	err := s.pool.QueryRow(ctx, getOAuth, appID, endpointID).Scan(&o.TokenURL, &o.ClientID, &o.ClientSecret,
		&o.Scopes, &o.Audience, &o.UpdatedAt, &o.Version)
	o.UpdatedAt = o.UpdatedAt.UTC()
	return o, err
}

// EndpointAuthDelete deletes the endpoint's row of a.Table and negates its
// a.VersionColumn and records its endpoint.updated at now, in one transaction.
func (s driver) EndpointAuthDelete(ctx context.Context, a storekit.EndpointAuth, appID, endpointID string, now time.Time) (int64, error) {
	del := `DELETE FROM ` + a.Table + ` WHERE endpoint_id = $1
		AND endpoint_id IN (SELECT id FROM endpoints WHERE app_id = $2 AND id = $1)`
	drop := `UPDATE endpoints SET ` + a.VersionColumn + ` = -abs(` + a.VersionColumn + `) WHERE id = $1 RETURNING coalesce(uid, '')`
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, del, endpointID, appID)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		var uid string
		if err := tx.QueryRow(ctx, drop, endpointID).Scan(&uid); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return n, err
}
