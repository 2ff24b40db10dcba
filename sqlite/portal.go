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
// Times are kept to the microsecond, as tokens carry their issue time: a
// token issued just after a revocation must not fall in its millisecond.
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
		if _, err := tx.ExecContext(ctx, forget, appID, issuedBefore.Add(-hookbridge.MaxPortalLifetime).UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, expire, appID, issuedBefore.UnixMicro(), expiresAt.UnixMicro())
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
	if err := s.r.QueryRowContext(ctx, expiry, appID, issuedAt.UnixMicro()).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("portal access expiry of %s: %w", appID, err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMicro(at.Int64).UTC(), true, nil
}
