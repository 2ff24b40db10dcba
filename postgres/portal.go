package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
)

// ExpirePortalAccess records that the application's portal tokens issued
// before issuedBefore end at expiresAt; see hookbridge.ApplicationStore.
// Times are kept to the microsecond (timestamptz's precision), as tokens
// carry their issue time.
func (s *Store) ExpirePortalAccess(ctx context.Context, appID string, issuedBefore, expiresAt time.Time) error {
	const (
		forget = `DELETE FROM portal_expirations WHERE app_id = $1 AND issued_before < $2`
		// A second call in the same millisecond keeps the earlier end.
		expire = `
			INSERT INTO portal_expirations (app_id, issued_before, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (app_id, issued_before) DO UPDATE
			SET expires_at = least(portal_expirations.expires_at, excluded.expires_at)`
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, forget, appID, issuedBefore.Add(-hookbridge.MaxPortalLifetime)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, expire, appID, issuedBefore.Truncate(time.Microsecond), expiresAt.Truncate(time.Microsecond))
		return err
	})
	if pgCode(err) == codeForeignKeyViolation {
		return hookbridge.NotFound("application")
	}
	if err != nil {
		return fmt.Errorf("expire portal access of %s: %w", appID, err)
	}
	return nil
}

// PortalAccessExpiry returns when the application's portal tokens issued at
// issuedAt end by ExpirePortalAccess.
func (s *Store) PortalAccessExpiry(ctx context.Context, appID string, issuedAt time.Time) (time.Time, bool, error) {
	const expiry = `SELECT min(expires_at) FROM portal_expirations WHERE app_id = $1 AND issued_before > $2`
	var at *time.Time
	if err := s.pool.QueryRow(ctx, expiry, appID, issuedAt).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("portal access expiry of %s: %w", appID, err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}
