package dispatch

import (
	"sync"
	"time"
)

// readCache keeps reads from the store by key, each serving for a while
// (ttl, given by the caller) before the next use reads again. Its zero
// value is ready; it is safe for concurrent use.
type readCache[T any] struct {
	mu    sync.Mutex
	byKey map[string]cachedRead[T]
}

// cachedRead is one read, made at at.
type cachedRead[T any] struct {
	at time.Time
	v  T
}

// maxCachedReads is how many reads a readCache keeps before it drops the
// stale ones.
const maxCachedReads = 1024

// get returns the key's read if one was made after now-ttl.
func (r *readCache[T]) get(key string, now time.Time, ttl time.Duration) (v T, fresh bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byKey[key]
	if !ok || now.Sub(e.at) >= ttl {
		return v, false
	}
	return e.v, true
}

// put keeps a read of the key made at now; reads older than ttl go first
// when the cache is full.
func (r *readCache[T]) put(key string, now time.Time, ttl time.Duration, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey == nil {
		r.byKey = make(map[string]cachedRead[T])
	}
	if len(r.byKey) >= maxCachedReads {
		for k, e := range r.byKey {
			if now.Sub(e.at) >= ttl {
				delete(r.byKey, k)
			}
		}
		if len(r.byKey) >= maxCachedReads {
			clear(r.byKey) // every one fresh: start over rather than grow
		}
	}
	r.byKey[key] = cachedRead[T]{at: now, v: v}
}

// forget drops the key's read, so that the next get reads again.
func (r *readCache[T]) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byKey, key)
}
