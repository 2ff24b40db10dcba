package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookbridge/hookbridge/webhook"
)

// receiver is the webhook receiver: a keep-alive HTTP server on loopback
// that answers 200 and records when each (webhook-id, endpoint) first
// arrived. Endpoint k is the path /e/<k>; /baseline takes the baseline's
// requests, recorded the same way.
type receiver struct {
	srv  *http.Server
	addr string // host:port it listens on
	url  string

	mu       sync.Mutex
	hanging  int                      // endpoints below this number wait for held
	arrivals map[arrivalKey]time.Time // first arrival of each message at each endpoint
	dups     int64
	repeats  map[arrivalKey]int  // arrivals after the first, of the keys that had any
	base     map[string]struct{} // baseline requests by webhook-id
	held     chan struct{}       // while non-nil, requests wait for it to close

	// verifier checks signatures, with the secret the bench gave every
	// endpoint; nil until it has.
	verifier *webhook.Verifier

	unique  atomic.Int64
	invalid atomic.Int64 // messages that failed the checks of arrive
	waiting atomic.Int64 // requests held now
}

type arrivalKey struct {
	id string
	ep int32
}

// startReceiver starts a receiver listening on addr (port 0: a free one).
func startReceiver(addr string) (*receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &receiver{
		addr:     ln.Addr().String(),
		url:      "http://" + ln.Addr().String(),
		arrivals: make(map[arrivalKey]time.Time),
		repeats:  make(map[arrivalKey]int),
		base:     make(map[string]struct{}),
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// The receiver's goroutines inherit the label, so a CPU profile can
	// tell them from the server's.
	pprof.Do(context.Background(), pprof.Labels("role", "receiver"), func(context.Context) {
		go r.srv.Serve(ln)
	})
	return r, nil
}

func (r *receiver) close() { _ = r.srv.Close() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		return // the server gave up on this request while it was sent
	}
	id := req.Header.Get("webhook-id")
	if id == "" {
		http.Error(w, "no webhook-id", http.StatusBadRequest)
		return
	}
	if req.URL.Path == "/baseline" {
		r.mu.Lock()
		r.base[id] = struct{}{}
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	ep, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/e/"))
	if err != nil || !strings.HasPrefix(req.URL.Path, "/e/") {
		http.Error(w, "no such endpoint", http.StatusNotFound)
		return
	}
	r.mu.Lock()
	held := r.held
	if held != nil && r.hanging > 0 && ep >= r.hanging {
		held = nil // only the hanging endpoints wait
	}
	r.mu.Unlock()
	if held != nil {
		r.waiting.Add(1)
		select {
		case <-held:
			r.waiting.Add(-1)
		case <-req.Context().Done():
			r.waiting.Add(-1)
			return // the server gave up on this request: not a delivery
		}
	}
	if err := r.arrive(ep, body, req.Header); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// maxBody bounds the body the receiver reads: the bench's messages are a
// few hundred bytes.
const maxBody = 1 << 20

// arrive checks a message that reached endpoint ep, over HTTP or through a
// broker — its Standard Webhooks headers (or a Redis entry's fields, under
// the same names) and, when the bench set the endpoints' secret, its
// signature — and records its arrival: the first of its webhook-id at ep,
// or a repeat. A message that fails the checks is counted invalid, not
// arrived.
func (r *receiver) arrive(ep int, body []byte, h http.Header) error {
	now := time.Now()
	var err error
	if r.verifier != nil {
		err = r.verifier.VerifyAt(now, body, h)
	} else if h.Get("webhook-timestamp") == "" || h.Get("webhook-signature") == "" {
		err = errors.New("no webhook-timestamp or webhook-signature")
	}
	if err != nil {
		r.invalid.Add(1)
		return err
	}
	key := arrivalKey{id: h.Get("webhook-id"), ep: int32(ep)}
	r.mu.Lock()
	if _, seen := r.arrivals[key]; seen {
		r.dups++
		r.repeats[key]++
	} else {
		r.arrivals[key] = now
		r.unique.Add(1)
	}
	r.mu.Unlock()
	return nil
}

// hold makes requests wait until release.
func (r *receiver) hold() {
	r.mu.Lock()
	r.held = make(chan struct{})
	r.mu.Unlock()
}

// hang makes requests to endpoints 0 … n-1 wait until release.
func (r *receiver) hang(n int) {
	r.mu.Lock()
	r.held, r.hanging = make(chan struct{}), n
	r.mu.Unlock()
}

// releaseWhenGone releases held requests once each has ended without an
// answer or bound has passed: for requests of a server that has exited,
// whose connections are closed but whose handlers may not have seen it yet.
// Released at once, such a request would be counted as a delivery although
// its server gave up on it (and another will send it again).
func (r *receiver) releaseWhenGone(ctx context.Context, bound time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for r.waiting.Load() > 0 {
		select {
		case <-ctx.Done():
			r.release()
			return
		case <-tick.C:
		}
	}
	r.release()
}

func (r *receiver) release() {
	r.mu.Lock()
	if r.held != nil {
		close(r.held)
		r.held, r.hanging = nil, 0
	}
	r.mu.Unlock()
}

func (r *receiver) uniqueCount() int64 { return r.unique.Load() }

// repeated returns a copy of the repeats so far.
func (r *receiver) repeated() map[arrivalKey]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.repeats)
}

func (r *receiver) baselineCount() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.base))
}

// matched counts the arrivals that are owed for ing: an accepted message at
// one of its application's endpoints.
func (r *receiver) matched(ing *ingestResult, fanout int) int64 {
	lat, _, _ := r.collect(ing, fanout)
	return int64(len(lat))
}

// delivery is one owed delivery that arrived: when its message was sent
// (since t0) and how long it took to arrive.
type delivery struct {
	sentAt, latency time.Duration
}

// collect matches arrivals against the accepted messages of ing. It returns
// one delivery per (message, endpoint) owed and arrived, the duplicate
// count, and how many arrivals were not owed by this run.
func (r *receiver) collect(ing *ingestResult, fanout int) (got []delivery, dups, unexpected int64) {
	byID := make(map[string]int, ing.accepted)
	for i := range ing.msgs {
		if ing.msgs[i].id != "" {
			byID[ing.msgs[i].id] = i
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	got = make([]delivery, 0, len(r.arrivals))
	for key, at := range r.arrivals {
		i, ok := byID[key.id]
		if !ok {
			unexpected++
			continue
		}
		m := &ing.msgs[i]
		first := int32(int(m.app) * fanout)
		if key.ep < first || key.ep >= first+int32(fanout) || !ing.owed(int(key.ep-first)) {
			unexpected++
			continue
		}
		got = append(got, delivery{sentAt: m.at, latency: at.Sub(ing.t0) - m.at})
	}
	return got, r.dups, unexpected
}

// arrivalsAfter returns the first and last arrival at or after t and how
// many there were.
func (r *receiver) arrivalsAfter(t time.Time) (first, last time.Time, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, at := range r.arrivals {
		if at.Before(t) {
			continue
		}
		if n == 0 || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
		n++
	}
	return first, last, n
}
