package dispatch

import "sync"

// endpointCache keeps, per endpoint, one value made from a version of the
// endpoint's material (a client certificate, an OAuth configuration), so
// that the material is read again only when a claim carries a newer
// version. Past size endpoints it drops every value and starts over.
type endpointCache[V any] struct {
	size int
	drop func(V) // releases a value no longer kept; nil when nothing is held

	mu         sync.Mutex
	byEndpoint map[string]versioned[V]
}

type versioned[V any] struct {
	version int64
	value   V
}

func newEndpointCache[V any](size int, drop func(V)) endpointCache[V] {
	return endpointCache[V]{size: size, drop: drop, byEndpoint: make(map[string]versioned[V])}
}

// get returns the endpoint's value if it was made from version want or a
// newer one.
func (c *endpointCache[V]) get(endpointID string, want int64) (V, bool) {
	c.mu.Lock()
	e, ok := c.byEndpoint[endpointID]
	c.mu.Unlock()
	if !ok || e.version < want {
		var zero V
		return zero, false
	}
	return e.value, true
}

// put keeps v, made from version, as the endpoint's value and returns it;
// unless another worker kept one of that version or a newer one meanwhile,
// which is returned instead (and v dropped).
func (c *endpointCache[V]) put(endpointID string, version int64, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.byEndpoint[endpointID]; ok && cur.version >= version {
		c.release(v)
		return cur.value
	}
	if len(c.byEndpoint) >= c.size {
		c.clear()
	} else if old, ok := c.byEndpoint[endpointID]; ok {
		c.release(old.value)
	}
	c.byEndpoint[endpointID] = versioned[V]{version: version, value: v}
	return v
}

// close drops every value kept; Run calls it when no worker sends any more.
func (c *endpointCache[V]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

func (c *endpointCache[V]) clear() {
	for _, e := range c.byEndpoint {
		c.release(e.value)
	}
	clear(c.byEndpoint)
}

func (c *endpointCache[V]) release(v V) {
	if c.drop != nil {
		c.drop(v)
	}
}
