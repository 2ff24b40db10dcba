package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/webhook"
)

// The transport seam: one try of a delivery is signed once, the same way
// for every endpoint, and handed to the transport its URL's scheme chooses
// (hookbridge.Transport): an HTTP POST, or a message published to a broker.
// What a transport answers (sendResult) is judged by deliver alone, so
// retries, the attempt log, health, pauses, metrics and traces are the
// same whatever carried the message.

// transport makes one try of a signed delivery and says what came of it.
// ctx carries the request timeout. It must not block past ctx, and must
// return a result with err set when ctx ended it.
type transport interface {
	send(ctx context.Context, m *outbound) sendResult
}

// outbound is one signed delivery to a broker: the content and headers
// every transport carries, and where to.
type outbound struct {
	claim *hookbridge.Claim
	url   *hookbridge.EndpointURL
	body  []byte
	ts    time.Time // when it was signed
	// header holds the Standard Webhooks headers (webhook-id,
	// webhook-timestamp, webhook-signature), content-type, the trace
	// context when tracing, and the endpoint's own headers, under their
	// lower-case names.
	header map[string]string
}

// sendResult is what one try came to.
type sendResult struct {
	code       int  // the HTTP status; 0 without one (no answer, or a broker's answer)
	accepted   bool // a 2xx, or the broker's acknowledgement
	refused    bool // an answer that is not an acceptance: another status, or the broker's refusal
	text       string
	retryAfter time.Duration // a receiver's Retry-After on a 429 or 503
	err        error         // why no acceptance came; nil with an HTTP status
}

// noAnswer is the result of a try that got no answer: text says why.
func noAnswer(text string, err error) sendResult {
	return sendResult{text: truncate(text), err: err}
}

// refusal is the result of a try the broker answered with a refusal.
func refusal(text string, err error) sendResult {
	return sendResult{refused: true, text: truncate(scrubAddresses(text)), err: err}
}

// errBrokerProxy refuses a broker delivery when an egress proxy is set.
var errBrokerProxy = errors.New("with an egress proxy, deliveries go through it only, and it carries HTTP: " +
	"broker endpoints are not reachable through it")

// send makes one try of c with the transport of its URL, within the request
// timeout.
func (d *Dispatcher) send(ctx context.Context, w *worker, c *hookbridge.Claim, signer *webhook.Signer, ts time.Time) sendResult {
	ctx, cancel := context.WithTimeout(ctx, d.requestTimeout)
	defer cancel()
	raw := c.Endpoint.URL
	if isHTTP(raw) {
		return d.post(ctx, w, c, signer, ts)
	}
	u, err := hookbridge.ParseEndpointURL(raw)
	if err != nil {
		return noAnswer("invalid endpoint URL: "+strings.TrimPrefix(err.Error(), hookbridge.ErrEndpointURL.Error()+": "), err)
	}
	if err := d.guard.CheckScheme(u.Scheme); err != nil {
		// As for http: an endpoint stored before --https-only was set.
		return noAnswer("refused: "+err.Error(), err)
	}
	if d.proxied {
		return noAnswer("refused: "+errBrokerProxy.Error(), errBrokerProxy)
	}
	t := d.brokers.transport(u.Transport)
	if t == nil {
		return noAnswer("invalid endpoint URL: no transport for "+u.Scheme, errors.New("no transport"))
	}
	h := make(http.Header, 8)
	d.setHeaders(ctx, h, c, signer, ts)
	header := make(map[string]string, len(h))
	for k, v := range h {
		header[strings.ToLower(k)] = v[0]
	}
	return t.send(ctx, &outbound{claim: c, url: u, body: c.Message.Payload, ts: ts, header: header})
}

// isHTTP reports whether raw is an http or https URL, without parsing it:
// the hot path's case, which http.NewRequest parses anyway.
func isHTTP(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"))
}

// setHeaders sets what every transport sends besides the body: the
// endpoint's own headers except those the dispatcher sets, the content
// type, the signature headers and, when tracing, the attempt's trace
// context.
func (d *Dispatcher) setHeaders(ctx context.Context, h http.Header, c *hookbridge.Claim, signer *webhook.Signer, ts time.Time) {
	for k, v := range c.Endpoint.Headers {
		if k = http.CanonicalHeaderKey(k); !reserved(k) {
			h[k] = []string{v}
		}
	}
	h["Content-Type"] = []string{"application/json"}
	signer.SetHeaders(h, c.Message.ID, ts, c.Message.Payload)
	if d.tracer != nil {
		d.tracer.Inject(ctx, h) // the attempt's traceparent, sampled or not
	}
}

// brokerTransports are the dispatcher's broker transports, each with the
// connections (or clients) it keeps open per broker, which Run closes when
// it ends.
type brokerTransports struct {
	amqp  *amqpTransport
	nats  *natsTransport
	redis *redisTransport
	kafka *kafkaTransport
}

func (b *brokerTransports) transport(t hookbridge.Transport) transport {
	switch t {
	case hookbridge.TransportAMQP:
		return b.amqp
	case hookbridge.TransportNATS:
		return b.nats
	case hookbridge.TransportRedis:
		return b.redis
	case hookbridge.TransportKafka:
		return b.kafka
	}
	return nil
}

// close closes every connection the broker transports hold. It is called
// once no worker sends any more.
func (b *brokerTransports) close() {
	b.amqp.pool.closeAll()
	b.nats.pool.closeAll()
	b.redis.pool.closeAll()
	b.kafka.pool.closeAll()
}

// poolIdle is how long a broker connection may go unused before it is
// closed: an endpoint whose URL changed, or that was deleted, does not keep
// its broker connection open for good.
const poolIdle = 5 * time.Minute

// errStopped fails a try that needs a broker connection once Run has ended.
var errStopped = errors.New("the dispatcher has stopped")

// connPool keeps one connection (or client) per broker, keyed by what
// tells connections apart: scheme, credentials, address, and the virtual
// host or database. Keys hold credentials and are never logged.
//
// Workers that need a connection being dialled wait for that dial instead
// of dialling their own; a dial that fails is not kept, so the next try
// dials again. A connection found dead (alive), or given back as broken by
// a try that got no answer through it, is dropped: the next try dials a
// new one, and the old one is closed once no try uses it. The pool owns
// every connection it made: they are closed when idle for poolIdle, and
// all of them by closeAll.
type connPool[C any] struct {
	dial  func(ctx context.Context, u *hookbridge.EndpointURL) (C, error)
	close func(C)
	alive func(C) bool     // nil: always (the client reconnects by itself)
	now   func() time.Time // for idleness; time.Now

	mu      sync.Mutex
	conns   map[string]*poolEntry[C]
	closed  bool
	swept   time.Time
	closing sync.WaitGroup // closes of idle connections, which closeAll waits for
}

type poolEntry[C any] struct {
	ready   chan struct{} // closed once dialled
	conn    C
	err     error
	users   int
	used    time.Time
	dropped bool // no longer in the pool: closed when its last user is done
}

func newPool[C any](dial func(context.Context, *hookbridge.EndpointURL) (C, error), closeFn func(C), alive func(C) bool) *connPool[C] {
	return &connPool[C]{dial: dial, close: closeFn, alive: alive, now: time.Now, conns: make(map[string]*poolEntry[C])}
}

// loggedDial is dial with each failure logged at debug level, naming the
// broker by its scheme and address (never its credentials): the try's
// attempt says why it failed, the log says it for the operator.
func loggedDial[C any](log *slog.Logger, name string, dial func(context.Context, *hookbridge.EndpointURL) (C, error)) func(context.Context, *hookbridge.EndpointURL) (C, error) {
	return func(ctx context.Context, u *hookbridge.EndpointURL) (C, error) {
		c, err := dial(ctx, u)
		if err != nil {
			log.Debug("dispatch: "+name+" connection failed", "broker", u.Scheme+"://"+u.HostPort(), "err", err)
		}
		return c, err
	}
}

// poolKey is the key of u's connection in a connPool: its scheme,
// credentials and address, then what else tells its connections apart
// (a virtual host, a database, a SASL mechanism).
func poolKey(u *hookbridge.EndpointURL, more ...string) string {
	return strings.Join(append([]string{u.Scheme, u.User, u.Password, u.HostPort()}, more...), "\x00")
}

// get returns the connection for key, dialling it (with u) if there is
// none, and the function to call when done with it, saying whether the
// connection failed the try (broken).
func (p *connPool[C]) get(ctx context.Context, key string, u *hookbridge.EndpointURL) (C, func(broken bool), error) {
	var zero C
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return zero, nil, errStopped
		}
		p.sweep()
		e, ok := p.conns[key]
		if !ok {
			e = &poolEntry[C]{ready: make(chan struct{}), users: 1}
			p.conns[key] = e
			p.mu.Unlock()
			conn, err := p.dial(ctx, u)
			p.mu.Lock()
			e.conn, e.err = conn, err
			if err != nil {
				delete(p.conns, key)
				e.users--
			}
			close(e.ready)
			p.mu.Unlock()
			if err != nil {
				return zero, nil, err
			}
			return conn, func(broken bool) { p.done(key, e, broken) }, nil
		}
		e.users++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.done(key, e, false)
			return zero, nil, ctx.Err()
		}
		switch {
		case e.err != nil && ctx.Err() == nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)):
			// The dial was cut short by the try that made it, not
			// refused: dial again for this one.
			p.done(key, e, false)
			continue
		case e.err != nil:
			p.done(key, e, false)
			return zero, nil, e.err
		case p.alive != nil && !p.alive(e.conn):
			p.done(key, e, true)
			continue
		}
		return e.conn, func(broken bool) { p.done(key, e, broken) }, nil
	}
}

// done ends one use of e; broken drops it from the pool. A dropped
// connection is closed by the last use to end.
func (p *connPool[C]) done(key string, e *poolEntry[C], broken bool) {
	p.mu.Lock()
	e.users--
	e.used = p.now()
	if broken && e.err == nil && p.conns[key] == e {
		delete(p.conns, key)
		e.dropped = true
	}
	last := e.dropped && e.users == 0
	p.mu.Unlock()
	if last {
		p.close(e.conn)
	}
}

// sweep closes the connections unused for poolIdle; p.mu is held. It
// looks at most every quarter of that.
func (p *connPool[C]) sweep() {
	now := p.now()
	if now.Sub(p.swept) < poolIdle/4 {
		return
	}
	p.swept = now
	for key, e := range p.conns {
		select {
		case <-e.ready:
		default:
			continue // being dialled
		}
		if e.users == 0 && e.err == nil && now.Sub(e.used) >= poolIdle {
			delete(p.conns, key)
			// Closing may wait for the broker's answer: not under the
			// lock, and not in this worker's way.
			p.closing.Go(func() { p.close(e.conn) })
		}
	}
}

// closeAll closes every connection and refuses new ones. No worker may be
// using one.
func (p *connPool[C]) closeAll() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, e := range conns {
		<-e.ready
		if e.err == nil {
			p.close(e.conn)
		}
	}
	p.closing.Wait()
}
