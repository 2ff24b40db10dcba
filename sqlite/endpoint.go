package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// endpointColumns is the column list scanEndpoint reads, shared with the
// other store. Queries alias endpoints as e.
const endpointColumns = storekit.EndpointColumns

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
			&e.FIFO, &failing, &paused, &created, &updated, &filter, &e.MTLSVersion, &e.OAuthVersion)
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
// readAt is the condition of a conditional update (see
// storekit.Driver.EndpointUpdate): the updated_at the caller read, or NULL
// for none.
func readAt(updated time.Time) any {
	if updated.IsZero() {
		return nil
	}
	return ms(updated)
}

// staleUnlessGone tells why a conditional update changed no row, given
// what an existence check of its row said: gone (ENOTFOUND), or changed
// since it was read (storekit.ErrStale).
func staleUnlessGone(existsErr error) error {
	if existsErr != nil {
		return existsErr
	}
	return storekit.ErrStale
}

func (s driver) EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error {
	// updateEndpoint keeps the dispatcher's columns, except that enabling a
	// disabled endpoint gives it a fresh start: the run of failures that
	// disabled it is over, and a stale pause should not hold it back. ?16,
	// when not NULL, is the updated_at the caller read.
	const updateEndpoint = `
		UPDATE endpoints SET uid = ?1, url = ?2, description = ?3, event_types = ?4, channels = ?5, disabled = ?6,
			rate_limit = ?7, metadata = ?8, headers = ?9, secrets = ?10, fifo = ?11, updated_at = max(?12, updated_at + 1),
			filter = ?15,
			failing_since = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE failing_since END,
			paused_until = CASE WHEN disabled AND NOT ?6 THEN NULL ELSE paused_until END
		WHERE app_id = ?13 AND id = ?14 AND (?16 IS NULL OR updated_at = ?16)
		RETURNING created_at, updated_at, failing_since, paused_until, mtls_version, oauth_version`
	var (
		created, updated int64
		failing, paused  sql.NullInt64
		read             = readAt(ep.UpdatedAt)
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, updateEndpoint, nullString(ep.UID), storekit.SealURL(s.keys, ep.ID, ep.URL), ep.Description,
			jsonValue{ep.EventTypes}, jsonValue{ep.Channels}, ep.Disabled, nullInt(ep.RateLimit),
			jsonValue{ep.Metadata}, jsonValue{storekit.SealHeaders(s.keys, ep.ID, ep.Headers)}, jsonValue{storekit.SealSecrets(s.keys, ep.ID, ep.Secrets)}, ep.FIFO, ms(now),
			ep.AppID, ep.ID, nullString(ep.Filter), read).Scan(&created, &updated, &failing, &paused, &ep.MTLSVersion, &ep.OAuthVersion)
		if errors.Is(err, sql.ErrNoRows) && read != nil {
			return staleUnlessGone(endpointExists(ctx, tx, ep.AppID, ep.ID))
		}
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx, hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, ep), now)
	})
	if err != nil {
		return err
	}
	ep.CreatedAt, ep.UpdatedAt = fromMS(created), fromMS(updated)
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

// EndpointMTLSPut writes the endpoint's client certificate and moves its
// mtls_version on, in one write transaction.
func (s driver) EndpointMTLSPut(ctx context.Context, appID, endpointID string, m *hookbridge.EndpointMTLS, sealedKey string, now time.Time) (int64, error) {
	const (
		nextVersion = `UPDATE endpoints SET mtls_version = abs(mtls_version) + 1
			WHERE app_id = ? AND id = ? RETURNING mtls_version, coalesce(uid, '')`
		putMTLS = `INSERT INTO endpoint_mtls (endpoint_id, cert, key, ca, not_after, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id) DO UPDATE SET cert = excluded.cert, key = excluded.key, ca = excluded.ca,
				not_after = excluded.not_after, updated_at = excluded.updated_at`
	)
	var v int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var uid string
		if err := tx.QueryRowContext(ctx, nextVersion, appID, endpointID).Scan(&v, &uid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, putMTLS, endpointID, m.CertPEM, sealedKey, m.CAPEM, ms(m.NotAfter), ms(now)); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return v, err
}

// EndpointMTLSGet reads the endpoint's client certificate, by primary key.
func (s driver) EndpointMTLSGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointMTLS, error) {
	const getMTLS = `SELECT m.cert, m.key, m.ca, m.not_after, m.updated_at, e.mtls_version
		FROM endpoint_mtls m JOIN endpoints e ON e.id = m.endpoint_id WHERE e.app_id = ? AND m.endpoint_id = ?`
	var (
		m                 hookbridge.EndpointMTLS
		notAfter, updated int64
	)
	err := s.r.QueryRowContext(ctx, getMTLS, appID, endpointID).Scan(&m.CertPEM, &m.KeyPEM, &m.CAPEM, &notAfter, &updated, &m.Version)
	m.NotAfter, m.UpdatedAt = fromMS(notAfter), fromMS(updated)
	return m, err
}

// EndpointOAuthPut writes the endpoint's OAuth client credentials and
// moves its oauth_version on, in one write transaction.
func (s driver) EndpointOAuthPut(ctx context.Context, appID, endpointID string, o *hookbridge.EndpointOAuth, sealedSecret string, now time.Time) (int64, error) {
	const (
		nextVersion = `UPDATE endpoints SET oauth_version = abs(oauth_version) + 1
			WHERE app_id = ? AND id = ? RETURNING oauth_version, coalesce(uid, '')`
		putOAuth = `INSERT INTO endpoint_oauth (endpoint_id, token_url, client_id, client_secret, scopes, audience, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id) DO UPDATE SET token_url = excluded.token_url, client_id = excluded.client_id,
				client_secret = excluded.client_secret, scopes = excluded.scopes, audience = excluded.audience,
				updated_at = excluded.updated_at`
	)
	var v int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var uid string
		if err := tx.QueryRowContext(ctx, nextVersion, appID, endpointID).Scan(&v, &uid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, putOAuth, endpointID, o.TokenURL, o.ClientID, sealedSecret, jsonValue{o.Scopes}, o.Audience, ms(now)); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return v, err
}

// EndpointOAuthGet reads the endpoint's OAuth client credentials.
func (s driver) EndpointOAuthGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointOAuth, error) {
	const getOAuth = `SELECT o.token_url, o.client_id, o.client_secret, o.scopes, o.audience, o.updated_at, e.oauth_version
		FROM endpoint_oauth o JOIN endpoints e ON e.id = o.endpoint_id WHERE e.app_id = ? AND o.endpoint_id = ?`
	var (
		o       hookbridge.EndpointOAuth
		updated int64
	)
	err := s.r.QueryRowContext(ctx, getOAuth, appID, endpointID).Scan(&o.TokenURL, &o.ClientID, &o.ClientSecret,
		jsonScan{&o.Scopes}, &o.Audience, &updated, &o.Version)
	o.UpdatedAt = fromMS(updated)
	return o, err
}

// EndpointAuthDelete deletes the endpoint's row of a.Table and negates its
// a.VersionColumn and records its endpoint.updated at now, in one write transaction.
func (s driver) EndpointAuthDelete(ctx context.Context, a storekit.EndpointAuth, appID, endpointID string, now time.Time) (int64, error) {
	del := `DELETE FROM ` + a.Table + ` WHERE endpoint_id = ?
		AND endpoint_id IN (SELECT id FROM endpoints WHERE app_id = ? AND id = ?)`
	drop := `UPDATE endpoints SET ` + a.VersionColumn + ` = -abs(` + a.VersionColumn + `) WHERE id = ? RETURNING coalesce(uid, '')`
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, del, endpointID, appID, endpointID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		var uid string
		if err := tx.QueryRowContext(ctx, drop, endpointID).Scan(&uid); err != nil {
			return err
		}
		return recordEvent(ctx, tx, storekit.EndpointUpdated(appID, endpointID, uid), now)
	})
	return n, err
}
