package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// beginIdempotent records a request's key, unless the key is recorded and
// neither expired (?5) nor a request still running since before ?4: one
// statement, so that of two requests with one key exactly one starts.
const beginIdempotent = `
	INSERT INTO idempotency_keys (key, fingerprint, done, status, body, created_at) VALUES (?1, ?2, 0, 0, NULL, ?3)
	ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, done = 0, status = 0, body = NULL,
		created_at = excluded.created_at
	WHERE idempotency_keys.created_at < ?5 OR (idempotency_keys.done = 0 AND idempotency_keys.created_at < ?4)`

// BeginIdempotent records that the request with key starts, or returns the
// record of the key; see hookbridge.IdempotencyStore.
func (s *Store) BeginIdempotent(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error) {
	const readIdempotent = `SELECT fingerprint, done, status, body, created_at FROM idempotency_keys WHERE key = ?`
	var (
		rec     *hookbridge.IdempotentRecord
		started bool
	)
	// Grouped: with SDKs that put a key on every POST, one runs before and
	// one after nearly every accepted message, and must share its commit.
	err := s.writeGrouped(ctx, func(ctx context.Context, tx *writeTx) error {
		rec, started = nil, false
		res, err := tx.ExecContext(ctx, beginIdempotent, key, fingerprint, ms(now), ms(staleBefore), ms(expiredBefore))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if started = n > 0; started {
			return nil
		}
		var (
			r       hookbridge.IdempotentRecord
			created int64
		)
		if err := tx.QueryRowContext(ctx, readIdempotent, key).Scan(&r.Fingerprint, &r.Done, &r.Status, &r.Body, &created); err != nil {
			return err
		}
		r.CreatedAt = fromMS(created)
		if r.Body, err = s.keys.OpenBytes(r.Body, key); err != nil {
			return err
		}
		rec = &r
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("begin idempotent request: %w", err)
	}
	return rec, started, nil
}

// FinishIdempotent stores the response to the request with key.
func (s *Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	const finish = `UPDATE idempotency_keys SET done = 1, status = ?, body = ? WHERE key = ?`
	err := s.writeGrouped(ctx, func(ctx context.Context, tx *writeTx) error {
		_, err := tx.ExecContext(ctx, finish, status, s.keys.SealBytes(body, key), key)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish idempotent request: %w", err)
	}
	return nil
}

// ForgetIdempotent removes key.
func (s *Store) ForgetIdempotent(ctx context.Context, key string) error {
	err := s.writeGrouped(ctx, func(ctx context.Context, tx *writeTx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("forget idempotent request: %w", err)
	}
	return nil
}

// PurgeIdempotentBefore deletes up to limit records created before before,
// oldest first (idempotency_keys_created).
func (s *Store) PurgeIdempotentBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	const purge = `
		DELETE FROM idempotency_keys WHERE key IN (
			SELECT key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, purge, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return int(n), nil
}
