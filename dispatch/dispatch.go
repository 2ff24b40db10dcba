package dispatch

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/tracing"
)

// Defaults for the zero values of Config.
const (
	DefaultWorkers        = 64
	DefaultBatchSize      = 256
	DefaultLease          = 60 * time.Second
	DefaultRequestTimeout = 15 * time.Second
	DefaultPollInterval   = time.Second
	DefaultDrainTimeout   = 10 * time.Second
	DefaultFlushLinger    = time.Millisecond
	DefaultUserAgent      = "Hookbridge-Webhooks/1.0"

	DefaultEndpointConcurrency = 10
	DefaultDisableAfter        = 5 * 24 * time.Hour
	DefaultMaxPause            = time.Hour
)

// NeverDisable is the Config.DisableAfter that keeps endpoints enabled
// however long they fail (a 410 Gone still disables one).
const NeverDisable time.Duration = -1

// Store is what a Dispatcher needs of the store: the delivery hot path, an
// endpoint as it is now, for deliveries that waited in memory while it may
// have changed, and an endpoint's client certificate and OAuth
// configuration, read when the ones it holds for the endpoint are older
// than the claim's (mtls.go, oauth.go).
type Store interface {
	hookbridge.DeliveryStore
	GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error)
	GetEndpointMTLS(ctx context.Context, appID, endpointID string) (*hookbridge.EndpointMTLS, error)
	GetEndpointOAuth(ctx context.Context, appID, endpointID string) (*hookbridge.EndpointOAuth, error)
	// GetEventType reads a message's event type for its retry schedule.
	GetEventType(ctx context.Context, name string) (*hookbridge.EventType, error)
}

// Config configures a Dispatcher. Zero values mean the Default… constants.
type Config struct {
	// Store is where deliveries are claimed and their results recorded.
	Store Store
	// Guard decides which addresses may be dialled and, made with
	// HTTPSOnly, refuses to send to a URL that is not https. Nil means
	// netguard.New(): every special-purpose range blocked, nothing
	// allow-listed, http and https both sent.
	Guard *netguard.Guard
	// Proxy, if set, is an egress proxy (see ParseProxy) that every request
	// goes through, such as Smokescreen: the dispatcher then dials the
	// proxy and nothing else, and the proxy, which resolves and dials the
	// receivers, decides which addresses they may have. The Guard still
	// judges the scheme, and endpoint URLs whose host is a literal address
	// are still refused where they are set.
	Proxy *url.URL
	// Owner identifies this instance in the leases it takes. It must differ
	// between instances sharing a store. Empty means host:pid:random.
	Owner string
	// Workers is how many requests are in flight at most.
	Workers int
	// BatchSize is how many deliveries one claim query takes at most, and how
	// many results one RecordAttempts call writes at most.
	BatchSize int
	// Lease is how long a claim is held before another instance may take the
	// delivery over. It must exceed RequestTimeout; leases of deliveries
	// still queued or in flight are renewed before they run out.
	Lease time.Duration
	// RequestTimeout bounds one HTTP try, response body included.
	RequestTimeout time.Duration
	// PollInterval is the longest the dispatcher sleeps without a Wake. It is
	// a safety net: new messages wake it, and it sleeps only until the next
	// delivery is due when that is sooner.
	PollInterval time.Duration
	// DrainTimeout bounds how long Run, once its context is done, waits for
	// requests in flight. Requests still running then are cancelled and their
	// deliveries released.
	DrainTimeout time.Duration
	// FlushLinger is how long the recorder waits for more results to write
	// them in one transaction, while requests are still in flight. When
	// nothing is in flight it writes at once.
	FlushLinger time.Duration
	// Retry schedules the next try of a failed scheduled delivery whose
	// event type has no retry schedule of its own. Nil means
	// DefaultRetryPolicy().
	Retry RetryPolicy
	// ScheduleTTL is how long an event type's own retry schedule is kept
	// before it is read again, and so how long a change made through
	// another instance takes to apply here (ForgetRetrySchedule applies
	// one at once).
	ScheduleTTL time.Duration
	// Now is the clock for due times, leases, timestamps and signatures. Nil
	// means time.Now.
	Now func() time.Time
	// Logger receives operational events. Nil means slog.Default().
	Logger *slog.Logger
	// UserAgent is sent with every request unless the endpoint's own headers
	// set one.
	UserAgent string
	// EndpointConcurrency is how many requests to one endpoint this
	// dispatcher has in flight at most, so that a receiver that hangs cannot
	// take the whole worker pool; its other claims wait without a worker
	// (a bounded number; see endpointSlots). It is per instance.
	EndpointConcurrency int
	// DisableAfter is how long an endpoint may fail continuously (every
	// attempt failing) before a failed attempt disables it. Zero means
	// DefaultDisableAfter, like every zero here; NeverDisable (or any
	// negative duration) means never.
	DisableAfter time.Duration
	// MaxPause caps how long a receiver's Retry-After (on a 429 or 503)
	// pauses its endpoint.
	MaxPause time.Duration
	// Tracer, if set, records a client span per delivery attempt, a child
	// of the message's trace context, and sends the receiver its
	// traceparent.
	Tracer *tracing.Tracer
	// EventsRecorded is called after a write that recorded operational
	// events (an endpoint disabled, a message failing, exhausted or
	// recovered; see hookbridge.OperationalEvent), so that they are sent
	// at once (operational.Relay's Kick). It must not block. Nil: they wait
	// in the store for whoever polls it.
	EventsRecorded func()
}

// Dispatcher sends due deliveries and records the outcome. Build it with New,
// run it with Run, and call Wake whenever a delivery may have become due.
type Dispatcher struct {
	store          Store
	owner          string
	workers        int
	batchSize      int
	lease          time.Duration
	requestTimeout time.Duration
	pollInterval   time.Duration
	drainTimeout   time.Duration
	flushLinger    time.Duration
	retry          RetryPolicy
	scheduleTTL    time.Duration
	schedules      readCache[RetryPolicy] // by event type
	now            func() time.Time
	log            *slog.Logger
	userAgent      string
	disableAfter   time.Duration // < 0: never
	maxPause       time.Duration
	onEvents       func()
	slots          *endpointSlots
	reads          endpointReads
	gone, paused   endpointMarks

	// transport is shared by every worker. Requests go to its RoundTrip
	// directly, not through an http.Client: a redirect is the receiver's
	// answer, recorded as a failed attempt, and never followed (following
	// it would send the signed payload somewhere the endpoint owner did not
	// configure); the client's redirect and cookie machinery would only
	// cost allocations.
	transport *http.Transport
	// brokers are the other transports (transport.go): one per broker
	// protocol, each keeping its connections per broker, closed by Run.
	brokers brokerTransports
	proxied bool            // an egress proxy is set: broker endpoints are refused
	guard   *netguard.Guard // also checks each request's scheme (--https-only)
	tracer  *tracing.Tracer // nil: no tracing
	signers signerCache
	mtls    endpointCache[*http.Transport] // per endpoint with a client certificate
	oauth   oauthTokens                    // per endpoint with OAuth client credentials
	leases  leaseTable
	hand    handoffState

	// wake and capacity are coalescing signals (buffered, capacity 1): a send
	// that finds the buffer full is already covered by the pending signal.
	wake chan struct{}
	// idle asks the claimer to move parked claims of endpoints that went
	// idle (endpointSlots.takeIdle) and nothing more: the store has nothing
	// new for it, so neither a claim nor NextDue need run.
	idle     chan struct{}
	capacity chan struct{}

	// inflight counts claimed deliveries queued for a worker or being sent
	// (not those parked behind their endpoint's cap, which endpointSlots
	// bounds, nor those handed to the recorder). The claimer keeps it at most
	// maxInflight, and claims again once claimMin slots are free, so that
	// claims come in batches and workers never wait for a query.
	inflight    atomic.Int64
	stats       stats // for Collect
	maxInflight int64
	claimMin    int64

	running atomic.Bool
}

// New checks cfg, fills in its defaults and returns a Dispatcher ready to Run.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("dispatch: Config.Store is required")
	}
	if cfg.Workers < 0 || cfg.BatchSize < 0 || cfg.Lease < 0 || cfg.RequestTimeout < 0 ||
		cfg.PollInterval < 0 || cfg.DrainTimeout < 0 || cfg.FlushLinger < 0 ||
		cfg.EndpointConcurrency < 0 || cfg.MaxPause < 0 || cfg.ScheduleTTL < 0 {
		return nil, errors.New("dispatch: Config sizes and durations must not be negative")
	}
	d := &Dispatcher{
		store:          cfg.Store,
		owner:          cfg.Owner,
		workers:        cmp.Or(cfg.Workers, DefaultWorkers),
		batchSize:      cmp.Or(cfg.BatchSize, DefaultBatchSize),
		lease:          cmp.Or(cfg.Lease, DefaultLease),
		requestTimeout: cmp.Or(cfg.RequestTimeout, DefaultRequestTimeout),
		pollInterval:   cmp.Or(cfg.PollInterval, DefaultPollInterval),
		drainTimeout:   cmp.Or(cfg.DrainTimeout, DefaultDrainTimeout),
		flushLinger:    cmp.Or(cfg.FlushLinger, DefaultFlushLinger),
		retry:          cfg.Retry,
		scheduleTTL:    cmp.Or(cfg.ScheduleTTL, DefaultScheduleTTL),
		now:            cfg.Now,
		log:            cmp.Or(cfg.Logger, slog.Default()),
		userAgent:      cmp.Or(cfg.UserAgent, DefaultUserAgent),
		wake:           make(chan struct{}, 1),
		idle:           make(chan struct{}, 1),
		capacity:       make(chan struct{}, 1),
		disableAfter:   cmp.Or(cfg.DisableAfter, DefaultDisableAfter),
		maxPause:       cmp.Or(cfg.MaxPause, DefaultMaxPause),
		onEvents:       cfg.EventsRecorded,
	}
	d.stats = newStats(d)
	if d.lease <= d.requestTimeout {
		return nil, fmt.Errorf("dispatch: lease %s must exceed the request timeout %s", d.lease, d.requestTimeout)
	}
	if d.owner == "" {
		owner, err := defaultOwner()
		if err != nil {
			return nil, err
		}
		d.owner = owner
	}
	if d.retry == nil {
		d.retry = DefaultRetryPolicy()
	}
	if d.now == nil {
		d.now = time.Now
	}
	guard := cfg.Guard
	if guard == nil {
		guard = netguard.New()
	}
	d.guard = guard
	d.tracer = cfg.Tracer
	d.slots = newEndpointSlots(cmp.Or(cfg.EndpointConcurrency, DefaultEndpointConcurrency), d.batchSize)
	d.maxInflight = int64(d.workers + d.batchSize)
	d.claimMin = int64(max(1, d.batchSize/2))
	d.leases.until = make(map[string]time.Time)
	d.signers.byEndpoint = make(map[string]signerEntry)
	d.mtls = newEndpointCache(mtlsCacheSize, (*http.Transport).CloseIdleConnections)
	d.oauth.entries = newEndpointCache[*oauthEntry](oauthCacheSize, nil)

	dialer := &net.Dialer{
		// Control runs on every address actually dialled, after name
		// resolution: the SSRF check that DNS tricks cannot get around.
		Control:   guard.Control,
		KeepAlive: 30 * time.Second,
	}
	d.transport = &http.Transport{
		// No proxy from the environment: through a proxy the guard would
		// judge the proxy's address instead of the receiver's. Only one the
		// operator names (cfg.Proxy), which then takes over that judgement.
		Proxy:             nil,
		DialContext:       dialer.DialContext,
		ForceAttemptHTTP2: true,
		// Every worker may hold a connection to the same busy receiver; keep
		// them all for reuse instead of redialling after each request.
		MaxIdleConnsPerHost: d.workers,
		MaxIdleConns:        max(100, 2*d.workers),
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// A receiver's headers are not kept; bound what a hostile one can
		// make each worker buffer.
		MaxResponseHeaderBytes: 64 << 10,
		// Only a short excerpt of the response is kept, so asking for
		// compression would only cost CPU.
		DisableCompression: true,
	}
	if cfg.Proxy != nil {
		d.transport.Proxy = http.ProxyURL(cfg.Proxy)
		d.transport.DialContext = proxyDial(cfg.Proxy)
		d.proxied = true
	}
	d.oauth.client = newOAuthClient(d.transport, d.requestTimeout)
	// The brokers' clients dial through the same guarded dialer, so the
	// SSRF check applies to every connection they open.
	brokerDialer := &net.Dialer{Control: guard.Control, KeepAlive: 30 * time.Second, Timeout: d.requestTimeout}
	d.brokers = brokerTransports{
		amqp:  newAMQPTransport(brokerDialer, d.requestTimeout, d.log),
		nats:  newNATSTransport(brokerDialer, d.requestTimeout, d.log),
		redis: newRedisTransport(brokerDialer, d.requestTimeout, d.workers),
		kafka: newKafkaTransport(brokerDialer, d.requestTimeout, d.log),
	}
	return d, nil
}

// defaultOwner names this process uniquely among the instances sharing a
// store: the host and pid say where it runs, the random part tells a restarted
// process (same pid in a container) from its predecessor.
func defaultOwner() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dispatch: owner id: %w", err)
	}
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:])), nil
}

// Owner returns the lease owner id this dispatcher claims deliveries under.
func (d *Dispatcher) Owner() string { return d.owner }

// Wake tells the dispatcher that a delivery may be due now, so that it claims
// at once instead of at its next poll. It never blocks; calls that arrive
// while a wake-up is pending are merged into it. It is the one entry point for
// every source of wake-ups: the API after accepting a message, a resend or a
// recovery, and a database notification (through WakeFor).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// WakeFor is Wake for deliveries to the endpoints ids alone, as a
// notification from another instance's write names them; nil or empty
// means any endpoint, and is Wake. A claim now leaves out the endpoints
// this dispatcher holds at their bounds, and each of those wakes it when
// it comes back within them (endpointSlots.unhold), so a wake-up for
// such endpoints alone is dropped: it would cost the store a claim that
// finds nothing and a look at the next due time, for every write while a
// receiver hangs and messages to it keep coming.
func (d *Dispatcher) WakeFor(ids []string) {
	if len(ids) > 0 && d.slots.allFull(ids) {
		return
	}
	d.Wake()
}

// wakeIdle tells the claimer that claims parked in memory wait for an
// endpoint that went idle; see idle.
func (d *Dispatcher) wakeIdle() {
	select {
	case d.idle <- struct{}{}:
	default:
	}
}

// Run claims and sends deliveries until ctx is done, then shuts down in order:
// it stops claiming, releases the deliveries not yet sent, waits up to the
// drain timeout for requests in flight (cancelling and releasing the rest),
// writes every result, and returns. It returns an error only if the final
// writes failed; then the leases left behind expire and the deliveries are
// claimed again. Run may be called once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("dispatch: Run called more than once")
	}
	defer d.transport.CloseIdleConnections()
	defer d.mtls.close()

	// Writes outlive ctx: results of requests already sent must be recorded
	// and unsent claims released after ctx is done.
	storeCtx := context.WithoutCancel(ctx)
	// Requests in flight get the drain timeout to finish after ctx is done.
	sendCtx, cancelSends := context.WithCancel(storeCtx)
	defer cancelSends()

	// Room for the claimer's maxInflight and as much again for
	// handoffs that arrive while a claim runs (see handoff.go).
	work := make(chan job, 2*d.maxInflight)
	outcomes := make(chan outcome, d.maxInflight)

	var workers sync.WaitGroup
	for range d.workers {
		workers.Go(func() { d.work(ctx, sendCtx, work, outcomes) })
	}
	recorded := make(chan error, 1)
	go func() { recorded <- d.record(storeCtx, ctx, outcomes) }()

	d.openHandoff(work)
	d.claim(ctx, storeCtx, work)

	d.closeHandoff(d.drainTimeout)
	close(work)
	drain := time.AfterFunc(d.drainTimeout, cancelSends)
	workers.Wait()
	drain.Stop()
	// No worker sends any more: close the broker connections.
	d.brokers.close()
	// Handed-over deliveries still parked for an endpoint that went idle
	// (the claimer, which would have moved them on, has stopped).
	if ids := d.slots.parkedIDs(); len(ids) > 0 {
		_ = d.release(storeCtx, ids) // logged; the leases expire otherwise
	}
	close(outcomes)
	if err := <-recorded; err != nil {
		return fmt.Errorf("dispatch: shutdown: %w", err)
	}
	return nil
}

// outcome is what a worker hands the recorder for one claim: a result to
// record, or a delivery to release unsent, and what it told about its
// endpoint, if anything (see fairness.go).
type outcome struct {
	result  hookbridge.AttemptResult
	release bool
	report  *hookbridge.EndpointReport // what the attempt tells of its endpoint, if anything
}

// leaseTable holds the lease end of every delivery this dispatcher has
// claimed and not yet recorded or released, for renewal and so that a worker
// does not send a delivery whose lease already ran out.
type leaseTable struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (t *leaseTable) add(claims []hookbridge.Claim, fallback time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range claims {
		t.until[claims[i].Delivery.ID] = cmp.Or(claims[i].LeaseUntil, fallback)
	}
}

// held reports whether the lease on id is still ours at now.
func (t *leaseTable) held(id string, now time.Time) bool {
	t.mu.Lock()
	until, ok := t.until[id]
	t.mu.Unlock()
	return ok && now.Before(until)
}

// expiring returns the deliveries whose lease ends before deadline.
func (t *leaseTable) expiring(deadline time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, until := range t.until {
		if until.Before(deadline) {
			ids = append(ids, id)
		}
	}
	return ids
}

// extend records a renewal; deliveries finished meanwhile stay removed.
func (t *leaseTable) extend(ids []string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if _, ok := t.until[id]; ok {
			t.until[id] = until
		}
	}
}

func (t *leaseTable) remove(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		delete(t.until, id)
	}
}

// all returns every delivery still held.
func (t *leaseTable) all() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.until))
	for id := range t.until {
		ids = append(ids, id)
	}
	return ids
}
