package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// ExpirePortalAccess records that the application's portal tokens issued
// before issuedBefore end at expiresAt; see hookbridge.ApplicationStore.
func (s *Store) ExpirePortalAccess(ctx context.Context, appID string, issuedBefore, expiresAt time.Time) error {
	const (
		forget = `DELETE FROM portal_expirations WHERE app_id = ? AND issued_before < ?`
		// A second call in the same millisecond keeps the earlier end.
		expire = `
			INSERT INTO portal_expirations (app_id, issued_before, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (app_id, issued_before) DO UPDATE SET expires_at = min(expires_at, excluded.expires_at)`
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := appExists(ctx, tx, appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, forget, appID, ms(issuedBefore.Add(-hookbridge.MaxPortalLifetime))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, expire, appID, ms(truncMS(issuedBefore)), ms(truncMS(expiresAt)))
		return err
	})
	if err != nil {
		return fmt.Errorf("expire portal access of %s: %w", appID, err)
	}
	return nil
}

// PortalAccessExpiry returns when the application's portal tokens issued at
// issuedAt end by ExpirePortalAccess.
func (s *Store) PortalAccessExpiry(ctx context.Context, appID string, issuedAt time.Time) (time.Time, bool, error) {
	const expiry = `SELECT min(expires_at) FROM portal_expirations WHERE app_id = ? AND issued_before > ?`
	var at sql.NullInt64
	if err := s.r.QueryRowContext(ctx, expiry, appID, ms(issuedAt)).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("portal access expiry of %s: %w", appID, err)
	}
	return fromNullMS(at), at.Valid, nil
}
