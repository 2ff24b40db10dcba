package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// Requests with an Idempotency-Key. One process owns the file (the
// instance lock), so a request that is running can only be this process's:
// running requests are kept in memory (running), and only a finished
// request's response is written. A request with a key therefore costs one
// write, after its answer, instead of one before its work and one after;
// with Svix SDKs, which put a key on every POST, that is every message. A
// request that was running when a previous process died left nothing
// behind, so a retry runs at once instead of waiting for it to be stale.

// runningKeys are the keys of the requests this process is serving.
type runningKeys struct {
	mu   sync.Mutex
	m    map[string]runningKey
	next uint64 // tells a reservation from a later one for the same key
}

type runningKey struct {
	fingerprint string
	since       time.Time
	id          uint64
}

// reserve records key as running since now, unless it is running and not
// stale; it returns the reservation's id, or the running request.
func (r *runningKeys) reserve(key, fingerprint string, now, staleBefore time.Time) (uint64, *runningKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]runningKey)
	}
	if cur, ok := r.m[key]; ok && !cur.since.Before(staleBefore) {
		return 0, &cur
	}
	r.next++
	r.m[key] = runningKey{fingerprint: fingerprint, since: now, id: r.next}
	return r.next, nil
}

// get returns the running request of key.
func (r *runningKeys) get(key string) (runningKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.m[key]
	return cur, ok
}

// release forgets key's reservation id (any reservation with id 0).
func (r *runningKeys) release(key string, id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.m[key]; ok && (id == 0 || cur.id == id) {
		delete(r.m, key)
	}
}

// purgeBefore forgets the requests running since before before.
func (r *runningKeys) purgeBefore(before time.Time, limit int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for key, cur := range r.m {
		if n < limit && cur.since.Before(before) {
			delete(r.m, key)
			n++
		}
	}
	return n
}

// readIdempotent reads the record a finished request left.
const readIdempotent = `SELECT fingerprint, done, status, body, created_at FROM idempotency_keys WHERE key = ?`

// IdempotentBegin records that the request with key starts, or returns the
// record of the key; see hookbridge.IdempotencyStore.
func (s driver) IdempotentBegin(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error) {
	id, running := s.running.reserve(key, fingerprint, now, staleBefore)
	if running != nil {
		return &hookbridge.IdempotentRecord{Fingerprint: running.fingerprint, CreatedAt: running.since}, false, nil
	}
	// Read after the reservation: a request with this key that finished
	// before it had written its record by then (FinishIdempotent releases
	// only after its commit).
	var (
		r       hookbridge.IdempotentRecord
		created int64
	)
	err := s.rstmts.idempotentRecord.QueryRowContext(ctx, key).Scan(&r.Fingerprint, &r.Done, &r.Status, &r.Body, &created)
	if storekit.IsNoRows(err) {
		return nil, true, nil
	}
	if err == nil {
		r.CreatedAt = fromMS(created)
		if r.Body, err = s.keys.OpenBytes(r.Body, key); errors.Is(err, sealed.ErrNoKey) {
			return nil, true, nil // sealed with a key no longer configured: gone
		}
	}
	if err != nil {
		s.running.release(key, id)
		return nil, false, fmt.Errorf("begin idempotent request: %w", err)
	}
	// Written records are finished requests' (or, from older versions, the
	// running requests of a process that is gone, which count as stale).
	if r.CreatedAt.Before(expiredBefore) || (!r.Done && r.CreatedAt.Before(staleBefore)) {
		return nil, true, nil
	}
	s.running.release(key, id)
	return &r, false, nil
}

// IdempotentFinish stores the response to the request with key.
func (s driver) IdempotentFinish(ctx context.Context, key string, status int, body []byte) error {
	const finish = `
		INSERT INTO idempotency_keys (key, fingerprint, done, status, body, created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5)
		ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, done = 1, status = excluded.status,
			body = excluded.body, created_at = excluded.created_at`
	run, ok := s.running.get(key)
	if !ok {
		return fmt.Errorf("finish idempotent request: key %q is not running", key)
	}
	err := s.writeGroupedAs(ctx, rowsUntouched, nil, func(ctx context.Context, tx *writeTx) error {
		_, err := tx.ExecContext(ctx, finish, key, run.fingerprint, status, body, ms(run.since))
		return err
	})
	if err != nil {
		return fmt.Errorf("finish idempotent request: %w", err)
	}
	s.running.release(key, run.id)
	return nil
}

// IdempotentForget removes key. A running key was never written, and a
// written one that is expired or stale counts as absent, so nothing needs
// deleting but the reservation.
func (s driver) IdempotentForget(ctx context.Context, key string) error {
	s.running.release(key, 0)
	return nil
}

// IdempotentPurge deletes up to limit records created before before,
// oldest first (idempotency_keys_created).
func (s driver) IdempotentPurge(ctx context.Context, before time.Time, limit int) (int, error) {
	const purge = `
		DELETE FROM idempotency_keys WHERE key IN (
			SELECT key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`
	if n := s.running.purgeBefore(before, limit); n > 0 {
		return n, nil // the rest on the next call
	}
	n, err := s.exec(ctx, purge, ms(before), limit)
	return int(n), err
}
