package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookbridge/hookbridge"
)

// PortalExpire (see storekit.Driver and storekit.Store.ExpirePortalAccess)
// keeps times as unix microseconds, not the milliseconds of the other
// tables, as tokens carry their issue time: a token issued just after a
// revocation must not fall in its millisecond.
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

// PortalRevoke records that the application's token with nonce was
// logged out; see storekit.Driver.
func (s driver) PortalRevoke(ctx context.Context, appID, nonce string, expiresAt time.Time) error {
	const revoke = `
		INSERT INTO portal_revocations (app_id, nonce, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (app_id, nonce) DO NOTHING`
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, revoke, appID, nonce, ms(expiresAt))
		return err
	})
}

// PortalExpiry says what ends the application's token issued at issuedAt
// with nonce, in one read (the primary keys of both tables).
func (s driver) PortalExpiry(ctx context.Context, appID string, issuedAt time.Time, nonce string) (hookbridge.PortalExpiry, error) {
	const expiry = `
		SELECT (SELECT min(expires_at) FROM portal_expirations WHERE app_id = ? AND issued_before > ?),
		       EXISTS (SELECT 1 FROM portal_revocations WHERE app_id = ? AND nonce = ?)`
	var (
		at      sql.NullInt64
		revoked bool
	)
	if err := s.r.QueryRowContext(ctx, expiry, appID, issuedAt.UnixMicro(), appID, nonce).Scan(&at, &revoked); err != nil {
		return hookbridge.PortalExpiry{}, err
	}
	e := hookbridge.PortalExpiry{Revoked: revoked}
	if at.Valid {
		e.Ends = time.UnixMicro(at.Int64).UTC()
	}
	return e, nil
}

// PortalRevocationsPurge deletes up to limit revocations of tokens that
// expired before before, oldest first (portal_revocations_expires).
func (s driver) PortalRevocationsPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	const purge = `
		DELETE FROM portal_revocations WHERE rowid IN (
			SELECT rowid FROM portal_revocations WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, purge, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
