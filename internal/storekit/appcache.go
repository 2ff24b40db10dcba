package storekit

import (
	"maps"
	"sync"

	"github.com/hookbridge/hookbridge"
)

// AppCache keeps the applications a store's ApplicationGet found, by the
// id or uid they were asked for: every accepted message looks its
// application up, and the read costs more than the rest of the lookup.
//
// It is exact only if the store learns of every committed write to
// applications and calls Invalidate after it: the SQLite store can,
// because one process owns the file; the PostgreSQL store does through a
// notification from the writing transaction, and caches only while it is
// listening. A lookup that read the database while such a write committed
// does not fill the cache (the generation tells), so a value read before a
// write cannot outlive it. The zero AppCache is empty and enabled.
type AppCache struct {
	mu       sync.Mutex
	gen      uint64
	disabled bool
	byKey    map[appKey]*hookbridge.Application
}

// appKey is what an application was looked up by: its id or its uid.
type appKey struct {
	byID bool
	key  string
}

// MaxCachedApps bounds a cache of applications (AppCache, a store's
// fan-out cache); past it, the cache starts over.
const MaxCachedApps = 10_000

// Get returns a copy of the application cached for key (by id if byID,
// else by uid), which the caller may change, and the generation to pass
// to Put after reading it from the database when it is not cached.
func (c *AppCache) Get(byID bool, key string) (_ *hookbridge.Application, gen uint64, ok bool) {
	c.mu.Lock()
	a, ok := c.byKey[appKey{byID, key}]
	gen = c.gen
	c.mu.Unlock()
	if !ok {
		return nil, gen, false
	}
	return copyApplication(a), gen, true
}

// Put caches a copy of a, read under generation gen, unless the cache was
// emptied or disabled since.
func (c *AppCache) Put(gen uint64, byID bool, key string, a *hookbridge.Application) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.disabled {
		return
	}
	if c.byKey == nil || len(c.byKey) >= MaxCachedApps {
		c.byKey = make(map[appKey]*hookbridge.Application)
	}
	c.byKey[appKey{byID, key}] = copyApplication(a)
}

// Invalidate empties the cache; called after every committed (or possibly
// committed) write to applications.
func (c *AppCache) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byKey)
}

// Enable empties the cache and lets it fill again (enabled true) or keeps
// it empty until enabled (false): for a store that can cache only while it
// hears of other processes' writes.
func (c *AppCache) Enable(enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.disabled = !enabled
	clear(c.byKey)
}

func copyApplication(a *hookbridge.Application) *hookbridge.Application {
	cp := *a
	cp.Metadata = maps.Clone(a.Metadata)
	if a.RateLimit != nil {
		rl := *a.RateLimit
		cp.RateLimit = &rl
	}
	return &cp
}
