package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// retryAfter returns a 429's Retry-After, failing unless it is a whole
// number of seconds, at least 1.
func retryAfter(t *testing.T, r *response) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("429 with Retry-After %q, want whole seconds ≥ 1", r.Header.Get("Retry-After"))
	}
	return time.Duration(n) * time.Second
}

// TestFailedAuthenticationIsThrottled: wrong keys from one address get 401
// until the address's budget is spent, then 429 with Retry-After, in the
// API's error format; the right key from that same address still gets
// through at once, and so does a valid portal token; another address is
// not held back; and once Retry-After has passed the address may fail
// again.
func TestFailedAuthenticationIsThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	portal := e.portalToken("shop", obj{})
	const attacker, other = "203.0.113.7:40000", "198.51.100.9:50000"
	wrong := func(from, key string) *response {
		return e.doFrom(from, "GET", "/api/v1/app/shop/endpoint", nil, map[string]string{"Authorization": "Bearer " + key})
	}

	for i := range authFailBurst {
		wrong(attacker, fmt.Sprintf("hbk_guess_%d", i)).want(http.StatusUnauthorized)
	}
	r := wrong(attacker, "hbk_guess_next").want(http.StatusTooManyRequests)
	if got := str(r.object(), "code"); got != codeTooManyRequests {
		t.Errorf("429 code %q, want %q", got, codeTooManyRequests)
	}
	wait := retryAfter(t, r)
	if wait > authFailEvery+time.Second {
		t.Errorf("Retry-After %s, want at most %s", wait, authFailEvery)
	}
	// A portal token that does not verify spends the same address budget.
	wrong(attacker, "hbpt_forged").want(http.StatusTooManyRequests)

	// Valid credentials are never refused, however much the address failed.
	for range 3 {
		e.doFrom(attacker, "GET", "/api/v1/app/shop/endpoint", nil, map[string]string{"Authorization": "Bearer " + testKey}).want(http.StatusOK)
		e.doFrom(attacker, "GET", "/api/v1/app/shop/endpoint", nil, map[string]string{"Authorization": "Bearer " + portal}).want(http.StatusOK)
	}
	// Nor is another address, nor a request that sends no key at all.
	wrong(other, "hbk_guess").want(http.StatusUnauthorized)
	e.doFrom(attacker, "GET", "/api/v1/app/shop/endpoint", nil, nil).want(http.StatusUnauthorized)

	e.clock.Advance(wait)
	wrong(attacker, "hbk_guess_later").want(http.StatusUnauthorized)
	wrong(attacker, "hbk_guess_too_soon").want(http.StatusTooManyRequests)
}

// TestFailedAuthenticationIsThrottledPerKeyPrefix: guesses spread over
// many addresses, none of which spends its own budget, are held back by
// the budget of the kind of key they claim to be; the other kind's budget
// is untouched, and the right keys still work.
func TestFailedAuthenticationIsThrottledPerKeyPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	portal := e.portalToken("shop", obj{})
	from := func(i int) string { return fmt.Sprintf("10.%d.%d.1:4000", i/256, i%256) }
	try := func(addr, key string) *response {
		return e.doFrom(addr, "GET", "/api/v1/app/shop", nil, map[string]string{"Authorization": "Bearer " + key})
	}
	perAddress := authFailBurst / 2
	addresses := kindFailBurst / perAddress
	for i := range addresses {
		for j := range perAddress {
			try(from(i), fmt.Sprintf("hbpt_forged_%d_%d", i, j)).want(http.StatusUnauthorized)
		}
	}
	r := try(from(addresses), "hbpt_forged_from_a_new_address").want(http.StatusTooManyRequests)
	retryAfter(t, r)
	try(from(addresses+1), portal).want(http.StatusOK)
	try(from(addresses+1), testKey).want(http.StatusOK)
	// Admin key guesses have their own budget.
	try(from(addresses+2), "hbk_guess").want(http.StatusUnauthorized)
}

// TestAuthThrottleMemoryIsBounded: the throttle remembers at most its
// maximum of addresses, forgetting the one that failed least recently;
// the one it forgot starts afresh.
func TestAuthThrottleMemoryIsBounded(t *testing.T) {
	t.Parallel()
	th := newAuthThrottle(3)
	now := time.Unix(1_700_000_000, 0)
	spend := func(client string) (refused bool) {
		for range authFailBurst + 1 {
			if _, ok := th.fail(client, "", now); !ok {
				return true
			}
		}
		return false
	}
	if !spend("a") {
		t.Fatal("a was never refused")
	}
	for _, c := range []string{"b", "c", "d"} {
		th.fail(c, "", now)
	}
	if n := th.tracked(); n != 3 {
		t.Errorf("tracked %d clients, want 3", n)
	}
	if _, ok := th.fail("a", "", now); !ok {
		t.Error("a, forgotten, was still refused")
	}
	if n := th.tracked(); n != 3 {
		t.Errorf("tracked %d clients, want 3", n)
	}
}

// TestAuthThrottleConcurrent: failures from many goroutines at once keep
// the throttle's accounting whole (run with -race).
func TestAuthThrottleConcurrent(t *testing.T) {
	t.Parallel()
	th := newAuthThrottle(8)
	now := time.Unix(1_700_000_000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 16 {
		wg.Go(func() {
			for range 50 {
				if _, ok := th.fail("shared", "", now); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				th.fail(fmt.Sprintf("own-%d", g), "", now)
			}
		})
	}
	wg.Wait()
	if allowed != authFailBurst {
		t.Errorf("%d failures of one client allowed at one instant, want its burst of %d", allowed, authFailBurst)
	}
	if n := th.tracked(); n > 8 {
		t.Errorf("tracked %d clients, want at most 8", n)
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ remote, want string }{
		{"203.0.113.7:4000", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:4000", "203.0.113.7"},
		{"[2001:db8:1:2:aaaa::1]:4000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:5000", "2001:db8:1:2::/64"}, // the same /64
		{"[fe80::1%eth0]:4000", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		r := &http.Request{RemoteAddr: c.remote}
		if got := clientAddress(r); got != c.want {
			t.Errorf("clientAddress(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}
