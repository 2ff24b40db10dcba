package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
)

// PortalExpire (see storekit.Driver and storekit.Store.ExpirePortalAccess)
// keeps times to the microsecond, timestamptz's precision, as tokens carry
// their issue time.
func (s driver) PortalExpire(ctx context.Context, appID string, forgetBefore, issuedBefore, expiresAt time.Time) error {
	const (
		forget = `DELETE FROM portal_expirations WHERE app_id = $1 AND issued_before < $2`
		// A second call in the same millisecond keeps the earlier end.
		expire = `
			INSERT INTO portal_expirations (app_id, issued_before, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (app_id, issued_before) DO UPDATE
			SET expires_at = least(portal_expirations.expires_at, excluded.expires_at)`
	)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, forget, appID, forgetBefore); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, expire, appID, issuedBefore.Truncate(time.Microsecond), expiresAt.Truncate(time.Microsecond))
		return err
	})
}

// PortalRevoke records that the application's token with nonce was
// logged out; see storekit.Driver.
func (s driver) PortalRevoke(ctx context.Context, appID, nonce string, expiresAt time.Time) error {
	const revoke = `
		INSERT INTO portal_revocations (app_id, nonce, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (app_id, nonce) DO NOTHING`
	_, err := s.pool.Exec(ctx, revoke, appID, nonce, expiresAt)
	return err
}

// PortalExpiry says what ends the application's token issued at issuedAt
// with nonce, in one read (the primary keys of both tables).
func (s driver) PortalExpiry(ctx context.Context, appID string, issuedAt time.Time, nonce string) (hookbridge.PortalExpiry, error) {
	const expiry = `
		SELECT (SELECT min(expires_at) FROM portal_expirations WHERE app_id = $1 AND issued_before > $2),
		       EXISTS (SELECT 1 FROM portal_revocations WHERE app_id = $1 AND nonce = $3)`
	var (
		at      *time.Time
		revoked bool
	)
	if err := s.pool.QueryRow(ctx, expiry, appID, issuedAt, nonce).Scan(&at, &revoked); err != nil {
		return hookbridge.PortalExpiry{}, err
	}
	e := hookbridge.PortalExpiry{Revoked: revoked}
	if at != nil {
		e.Ends = at.UTC()
	}
	return e, nil
}

// PortalRevocationsPurge deletes up to limit revocations of tokens that
// expired before before, oldest first (portal_revocations_expires).
func (s driver) PortalRevocationsPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	const purge = `
		DELETE FROM portal_revocations WHERE (app_id, nonce) IN (
			SELECT app_id, nonce FROM portal_revocations WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`
	tag, err := s.pool.Exec(ctx, purge, before, limit)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
