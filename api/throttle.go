package api

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed authentication is throttled: a run of wrong keys is answered 429
// with Retry-After, telling a misconfigured client to back off and showing
// a guesser for what it is, instead of an endless run of cheap 401s. Two
// budgets are spent by every failure:
//
//   - the client's address: authFailBurst failures at once, then one per
//     authFailEvery. IPv6 clients count by their /64, which one host
//     usually holds whole.
//   - the key's prefix, that is what the credential claims to be: a portal
//     token (hbpt_…) or the admin key (anything else). Every client on this
//     instance shares it, so that guesses spread over many addresses are
//     held back too: kindFailBurst at once, then kindFailRate per second.
//
// Only failures count, and a credential is always checked before any
// budget is looked at: a request with a valid key is never slowed or
// refused by this, whatever its address or its prefix's budget has spent,
// so an attacker cannot lock the operator or a consumer out. It follows
// that a throttled guess is still told apart from a right one (429, not
// 200): what keeps guessing out is the keys' strength (a generated admin
// key has 256 bits, an operator's own at least 32 characters, checked by
// serve; portal tokens are signed).
//
// The client address is the connection's remote address: behind a reverse
// proxy every client shares the proxy's budget (which still never refuses
// a valid key).
const (
	authFailBurst = 20
	authFailEvery = 3 * time.Second
	kindFailBurst = 200
	kindFailRate  = 20
	// maxTrackedClients bounds the addresses remembered: past it the one
	// that failed least recently is forgotten (and starts afresh if it
	// fails again). The per-prefix budget still holds the forgotten ones.
	maxTrackedClients = 10_000
)

// TooManyFailures is the answer to a failed authentication once its client,
// or every client presenting that kind of key, has failed too often: 429
// with a Retry-After of RetryAfter (whole seconds, at least one).
type TooManyFailures struct {
	RetryAfter time.Duration
}

func (e *TooManyFailures) Error() string {
	return fmt.Sprintf("too many failed authentications; try again in %d seconds", e.Seconds())
}

// Seconds is RetryAfter as Retry-After says it: whole seconds, rounded
// up, at least 1.
func (e *TooManyFailures) Seconds() int64 {
	return max(1, int64(math.Ceil(e.RetryAfter.Seconds())))
}

// SetRetryAfter sets the Retry-After header of e's answer.
func (e *TooManyFailures) SetRetryAfter(h http.Header) {
	h.Set("Retry-After", strconv.FormatInt(e.Seconds(), 10))
}

// authThrottle holds the budgets of failed authentication. It starts no
// goroutine: memory is bounded by evicting the least recently failed
// client when a new one comes past maxTrackedClients.
type authThrottle struct {
	mu      sync.Mutex
	clients map[string]*list.Element // of *clientBudget, in lru
	lru     list.List                // most recently failed first
	max     int
	kinds   map[string]*rate.Limiter // fixed at creation: see keyKind
}

type clientBudget struct {
	client string
	lim    *rate.Limiter
}

func newAuthThrottle(maxClients int) *authThrottle {
	return &authThrottle{
		clients: make(map[string]*list.Element),
		max:     maxClients,
		kinds: map[string]*rate.Limiter{
			portalTokenPrefix: rate.NewLimiter(kindFailRate, kindFailBurst),
			"":                rate.NewLimiter(kindFailRate, kindFailBurst),
		},
	}
}

// keyKind is the budget a credential's failures spend besides its
// client's: portal tokens', or the admin key's (everything else, API
// keys included).
func keyKind(credential string) string {
	if strings.HasPrefix(credential, portalTokenPrefix) {
		return portalTokenPrefix
	}
	return ""
}

// fail spends one failure of client with a key of kind at now, and
// returns how long the caller must wait when either budget is spent
// (and ok false), or ok true.
func (t *authThrottle) fail(client, kind string, now time.Time) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lim *rate.Limiter
	if el, found := t.clients[client]; found {
		t.lru.MoveToFront(el)
		lim = el.Value.(*clientBudget).lim
	} else {
		if t.lru.Len() >= t.max {
			oldest := t.lru.Back()
			t.lru.Remove(oldest)
			delete(t.clients, oldest.Value.(*clientBudget).client)
		}
		lim = rate.NewLimiter(rate.Every(authFailEvery), authFailBurst)
		t.clients[client] = t.lru.PushFront(&clientBudget{client: client, lim: lim})
	}
	if !lim.AllowN(now, 1) {
		return waitForToken(lim, now), false
	}
	if k := t.kinds[kind]; !k.AllowN(now, 1) {
		return waitForToken(k, now), false
	}
	return 0, true
}

// tracked is how many clients the throttle remembers.
func (t *authThrottle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// waitForToken is how long after now lim has a token again.
func waitForToken(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// clientAddress is the budget key of r's client: the remote address of
// its connection, an IPv6 one cut to its /64.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}

// AuthFailed records that r failed to authenticate with credential (the
// admin key typed into the dashboard's sign-in, a portal token in a link
// or a bearer header) and returns a *TooManyFailures when r's client, or
// the credential's kind, has failed more often than the limits allow;
// nil when the failure should be answered as usual. Call it only for a
// credential that was presented and refused: a missing one, or a request
// that authenticated, spends nothing.
func (s *Server) AuthFailed(r *http.Request, credential string) *TooManyFailures {
	wait, ok := s.authThrottle.fail(clientAddress(r), keyKind(credential), s.now())
	if ok {
		return nil
	}
	return &TooManyFailures{RetryAfter: wait}
}
