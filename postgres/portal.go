package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PortalExpire records that the application's portal tokens issued before
// issuedBefore end at expiresAt, and forgets the records before
// forgetBefore; see storekit.Store.ExpirePortalAccess. Times are kept to the
// microsecond (timestamptz's precision), as tokens carry their issue time.
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

// PortalExpiry returns when the application's portal tokens issued at
// issuedAt end by ExpirePortalAccess.
func (s driver) PortalExpiry(ctx context.Context, appID string, issuedAt time.Time) (time.Time, bool, error) {
	const expiry = `SELECT min(expires_at) FROM portal_expirations WHERE app_id = $1 AND issued_before > $2`
	var at *time.Time
	if err := s.pool.QueryRow(ctx, expiry, appID, issuedAt).Scan(&at); err != nil || at == nil {
		return time.Time{}, false, err
	}
	return at.UTC(), true, nil
}
