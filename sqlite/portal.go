package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// PortalExpire records that the application's portal tokens issued before
// issuedBefore end at expiresAt, and forgets the records before
// forgetBefore; see storekit.Store.ExpirePortalAccess. Times are kept to the
// microsecond, as tokens carry their issue time: a token issued just after
// a revocation must not fall in its millisecond.
func (s driver) PortalExpire(ctx context.Context, appID string, forgetBefore, issuedBefore, expiresAt time.Time) error {
	const (
		forget = `DELETE FROM portal_expirations WHERE app_id = ? AND issued_before < ?`
		// A second call in the same millisecond keeps the earlier end.
		expire = `
			INSERT INTO portal_expirations (app_id, issued_before, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (app_id, issued_before) DO UPDATE SET expires_at = min(expires_at, excluded.expires_at)`
	)
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := appExists(ctx, tx, appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, forget, appID, forgetBefore.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, expire, appID, issuedBefore.UnixMicro(), expiresAt.UnixMicro())
		return err
	})
}

// PortalExpiry returns when the application's portal tokens issued at
// issuedAt end by ExpirePortalAccess.
func (s driver) PortalExpiry(ctx context.Context, appID string, issuedAt time.Time) (time.Time, bool, error) {
	const expiry = `SELECT min(expires_at) FROM portal_expirations WHERE app_id = ? AND issued_before > ?`
	var at sql.NullInt64
	if err := s.r.QueryRowContext(ctx, expiry, appID, issuedAt.UnixMicro()).Scan(&at); err != nil || !at.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMicro(at.Int64).UTC(), true, nil
}
