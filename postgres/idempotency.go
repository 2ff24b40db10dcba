package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// beginIdempotent records a request's key, unless the key is recorded and
// neither expired ($5) nor a request still running since before $4: one
// statement, so that of two requests with one key exactly one starts.
const beginIdempotent = `
	INSERT INTO idempotency_keys (key, fingerprint, done, status, body, created_at) VALUES ($1, $2, false, 0, NULL, $3)
	ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, done = false, status = 0, body = NULL,
		created_at = excluded.created_at
	WHERE idempotency_keys.created_at < $5 OR (NOT idempotency_keys.done AND idempotency_keys.created_at < $4)
	RETURNING true`

// IdempotentBegin records that the request with key starts, or returns the
// record of the key; see hookbridge.IdempotencyStore.
func (s driver) IdempotentBegin(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error) {
	const readIdempotent = `SELECT fingerprint, done, status, body, created_at FROM idempotency_keys WHERE key = $1`
	// The record the insert yielded to may be forgotten before it is
	// read; then the key is free again.
	for range 3 {
		var started bool
		err := s.pool.QueryRow(ctx, beginIdempotent, key, fingerprint, storekit.TruncMS(now), storekit.TruncMS(staleBefore), storekit.TruncMS(expiredBefore)).Scan(&started)
		switch {
		case err == nil:
			return nil, true, nil
		case !storekit.IsNoRows(err):
			return nil, false, fmt.Errorf("begin idempotent request: %w", err)
		}
		var r hookbridge.IdempotentRecord
		err = s.pool.QueryRow(ctx, readIdempotent, key).Scan(&r.Fingerprint, &r.Done, &r.Status, &r.Body, &r.CreatedAt)
		if storekit.IsNoRows(err) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("read idempotent request: %w", err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		if r.Body, err = s.keys.OpenBytes(r.Body, key); errors.Is(err, sealed.ErrNoKey) {
			// Sealed with a key no longer configured: the response is
			// gone, as if it had expired, and the request runs again.
			if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND created_at = $2`, key, r.CreatedAt); err != nil {
				return nil, false, fmt.Errorf("read idempotent request: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("read idempotent request: %w", err)
		}
		return &r, false, nil
	}
	return nil, false, errors.New("begin idempotent request: the key keeps being forgotten")
}

// IdempotentFinish stores the response to the request with key.
func (s driver) IdempotentFinish(ctx context.Context, key string, status int, body []byte) error {
	const finish = `UPDATE idempotency_keys SET done = true, status = $1, body = $2 WHERE key = $3`
	if _, err := s.pool.Exec(ctx, finish, status, body, key); err != nil {
		return fmt.Errorf("finish idempotent request: %w", err)
	}
	return nil
}

// IdempotentForget removes key.
func (s driver) IdempotentForget(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1`, key); err != nil {
		return fmt.Errorf("forget idempotent request: %w", err)
	}
	return nil
}

// IdempotentPurge deletes up to limit records created before before,
// oldest first (idempotency_keys_created).
func (s driver) IdempotentPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	const purge = `
		DELETE FROM idempotency_keys WHERE key IN (
			SELECT key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`
	n, err := s.exec(ctx, purge, storekit.TruncMS(before), limit)
	return int(n), err
}
