package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/webhook"
)

// maxDrain bounds how much of a response beyond the excerpt is read and
// thrown away so that the connection can carry the next request. A receiver
// that answers with more loses its keep-alive connection instead.
const maxDrain = 64 << 10

// job is one claim queued for the workers. A started job already holds its
// endpoint's sending slot: it was parked, waiting since since, and the
// claimer moved it on (endpointSlots.takeIdle).
type job struct {
	claim   hookbridge.Claim
	started bool
	since   time.Time
}

// worker is one worker's scratch space, reused for every request it makes.
type worker struct {
	excerpt [hookbridge.MaxResponseExcerpt]byte
}

// work sends claims from the queue until the claimer closes it. Once ctx is
// done, claims still queued are released instead of sent. Requests use
// sendCtx, which outlives ctx by the drain timeout.
//
// A claim whose endpoint already has its EndpointConcurrency in flight is
// parked instead (see endpointSlots); the worker that finishes one of that
// endpoint's requests sends the next parked claim, so parked claims wait
// for their endpoint, not for a worker, and never hold one. Nor do they
// count as in flight: they make room in the queue for other endpoints.
func (d *Dispatcher) work(ctx, sendCtx context.Context, queue <-chan job, out chan<- outcome) {
	var (
		w worker
		// j is received into, one job after another, rather than a new
		// variable each turn: c points into it and escapes, and a
		// variable per turn would be a claim-sized allocation per
		// delivery. Nothing keeps c once its turn is over (a claim that
		// is parked is copied).
		j  job
		ok bool
	)
	for {
		if j, ok = <-queue; !ok {
			return
		}
		c := &j.claim
		stale := false
		switch {
		case j.started:
			stale = d.now().Sub(j.since) >= staleAfter
		case !d.slots.start(c, d.now()):
			d.done()
			continue
		}
		for next := c; next != nil; {
			answered := d.process(ctx, sendCtx, &w, next, stale, out)
			d.done()
			var (
				since   time.Time
				reclaim bool
			)
			next, since, reclaim = d.slots.finish(next.Endpoint.ID, d.now(), answered)
			if next != nil {
				d.inflight.Add(1)
				stale = d.now().Sub(since) >= staleAfter
			}
			if reclaim {
				d.Wake() // the endpoint, or every one, was left out of claims; it may have more due
			}
		}
	}
}

// done counts a claim out of the queue and its worker, and tells the
// claimer when there is room for another batch.
func (d *Dispatcher) done() {
	if free := d.maxInflight - d.inflight.Add(-1); free >= d.claimMin {
		select {
		case d.capacity <- struct{}{}:
		default:
		}
	}
}

// staleAfter is how long a claim may wait behind its endpoint's other
// requests and still be sent with the endpoint as it was claimed; after
// that the worker reads the endpoint again (refresh).
const staleAfter = time.Second

// process sends one claim, or releases it, and hands the outcome to the
// recorder; it reports whether the endpoint answered it with success. A
// stale claim (one that waited staleAfter or longer) is sent only once its
// endpoint has been read again.
func (d *Dispatcher) process(ctx, sendCtx context.Context, w *worker, c *hookbridge.Claim, stale bool, out chan<- outcome) (answered bool) {
	var o outcome
	switch {
	case ctx.Err() != nil:
		o = outcome{result: hookbridge.AttemptResult{DeliveryID: c.Delivery.ID}, release: true}
	case stale && !d.refresh(sendCtx, c):
		o = outcome{result: hookbridge.AttemptResult{DeliveryID: c.Delivery.ID}, release: true}
	case d.paused.has(c.Endpoint.ID, d.now()):
		// Its receiver asked for a pause after this was claimed (or
		// handed over): give it back unsent, for the claim, which keeps
		// the pause, to hand out when it ends.
		o = outcome{result: hookbridge.AttemptResult{DeliveryID: c.Delivery.ID}, release: true}
	case !d.leases.held(c.Delivery.ID, d.now()):
		// The lease ran out while the claim was queued (renewals
		// failed): another instance may be sending it now, and this
		// result would be rejected anyway.
		d.log.Warn("dispatch: lease expired before sending", "delivery", c.Delivery.ID)
		o = outcome{result: hookbridge.AttemptResult{DeliveryID: c.Delivery.ID}, release: true}
	default:
		o = d.deliver(sendCtx, w, c)
	}
	out <- o
	return o.result.Attempt != nil && o.result.Attempt.Status == hookbridge.StatusSuccess
}

// refresh reads the endpoint of a claim that waited in memory, which may
// have changed meanwhile (a new URL or secret, disabled, deleted, or now
// FIFO, rate-limited or paused), and reports whether the claim may be sent,
// with the endpoint as it is now. It may not when the endpoint is gone (its
// deliveries with it) or has come to be held back by the claim, which then
// hands the delivery out as that allows. If the endpoint cannot be read,
// the claim goes as it was. A read less than staleAfter old serves every
// waiting claim of the endpoint (endpointReads).
func (d *Dispatcher) refresh(ctx context.Context, c *hookbridge.Claim) bool {
	now := d.now()
	ep, fresh := d.reads.get(c.Endpoint.ID, now, staleAfter)
	if !fresh {
		var err error
		ep, err = d.store.GetEndpoint(ctx, c.Delivery.AppID, c.Endpoint.ID)
		switch {
		case hookbridge.IsNotFound(err):
			ep = nil
		case err != nil:
			d.log.Warn("dispatch: reading a waiting delivery's endpoint again", "endpoint", c.Endpoint.ID, "err", err)
			return true
		}
		d.reads.put(c.Endpoint.ID, now, staleAfter, ep)
	}
	if ep == nil {
		return false
	}
	was := &c.Endpoint
	heldBack := func(e *hookbridge.Endpoint) bool {
		return e.FIFO || e.RateLimit != nil || e.PausedUntil.After(now)
	}
	if heldBack(ep) && !heldBack(was) {
		return false
	}
	c.Endpoint = *ep
	return true
}

// deliver makes one try of a claimed delivery and decides its next state.
func (d *Dispatcher) deliver(ctx context.Context, w *worker, c *hookbridge.Claim) outcome {
	dl := &c.Delivery
	res := hookbridge.AttemptResult{DeliveryID: dl.ID, Status: hookbridge.StatusFail}
	switch {
	case c.Endpoint.Disabled || d.gone.has(c.Endpoint.ID, d.now()):
		// Disabled after the message was accepted (or answered 410 just
		// now, and about to be): nothing is sent, and re-enabling the
		// endpoint does not bring old messages back unless someone
		// recovers them.
		return outcome{result: res}
	case c.Message.Payload == nil:
		// The content was expunged before it could be sent.
		d.log.Info("dispatch: message content expunged, delivery given up", "delivery", dl.ID, "msg", c.Message.ID)
		return outcome{result: res}
	}
	start := d.now()
	signer, err := d.signers.get(&c.Endpoint, start)
	if err != nil {
		// No request without a valid signature: the store holds a secret
		// the signer refuses, which is a bug to surface, not a receiver
		// failure to retry.
		d.log.Error("dispatch: endpoint secrets", "endpoint", c.Endpoint.ID, "delivery", dl.ID, "err", err)
		return outcome{result: res}
	}

	var span trace.Span // the attempt's, when tracing is on
	if d.tracer != nil {
		ctx, span = d.traceAttempt(ctx, c)
	}
	// Durations are measured on the monotonic clock: they describe the
	// request, not a schedule, and must not jump with an injected clock.
	began := time.Now()
	r := d.send(ctx, w, c, signer, start)
	elapsed := time.Since(began)
	if span != nil {
		endAttemptSpan(span, &r)
	}
	if r.err != nil && ctx.Err() != nil {
		// Cancelled by shutdown: not the receiver's failure, so it costs
		// no try. Releasing lets the delivery be sent again at once.
		return outcome{result: res, release: true}
	}
	d.stats.observe(&r, elapsed.Seconds(), span)

	attempt := &hookbridge.Attempt{
		ID:         hookbridge.NewIDAt(hookbridge.PrefixAttempt, start),
		DeliveryID: dl.ID,
		AppID:      dl.AppID,
		MsgID:      dl.MsgID,
		EndpointID: dl.EndpointID,
		// A broker URL's password is not copied into every attempt.
		URL:        hookbridge.MaskURL(c.Endpoint.URL),
		Status:     hookbridge.StatusFail,
		Trigger:    dl.Trigger,
		StatusCode: r.code,
		Response:   r.text,
		DurationMS: elapsed.Milliseconds(),
		CreatedAt:  start,
	}
	res.Attempt = attempt
	switch {
	case r.accepted:
		attempt.Status = hookbridge.StatusSuccess
		res.Status = hookbridge.StatusSuccess
	case r.code == http.StatusGone:
		// The receiver says the endpoint is gone for good: no retry,
		// and the endpoint is disabled (see observe).
	case dl.Trigger == hookbridge.TriggerManual:
		// A manual try is tried once; the person who asked sees its result.
	default:
		if next, ok := d.retryFor(ctx, c.Message.EventType).NextAttempt(dl.Attempts+1, d.now(), r.retryAfter); ok {
			res.Status = hookbridge.StatusSending
			res.NextAttempt = next
		}
	}
	report := d.observe(c, &res, r.code, r.retryAfter) // before res is copied: it sets res.Event
	return outcome{result: res, report: report}
}

// post sends the signed payload as an HTTP POST: the HTTP transport. The
// result has the status code, the text to keep (body excerpt or error),
// and the receiver's Retry-After on a 429 or 503; err is set when no
// response arrived. ctx carries the request timeout.
func (d *Dispatcher) post(ctx context.Context, w *worker, c *hookbridge.Claim, signer *webhook.Signer, ts time.Time) sendResult {
	body := c.Message.Payload
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return noAnswer(fmt.Sprintf("invalid endpoint URL: %v", err), err)
	}
	if err := d.guard.CheckScheme(req.URL.Scheme); err != nil {
		// An endpoint stored before --https-only was set: refused unsent,
		// as a failed attempt that says why, until its URL is changed.
		return noAnswer("refused: "+err.Error(), err)
	}
	h := req.Header
	d.setHeaders(ctx, h, c, signer, ts)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{d.userAgent}
	}

	rt := d.transport
	if c.Endpoint.MTLSVersion > 0 {
		if rt, err = d.mtlsTransport(ctx, c); err != nil {
			return noAnswer(err.Error(), err)
		}
	}
	var (
		oauth *oauthEntry
		token *oauth2.Token
	)
	if c.Endpoint.OAuthVersion > 0 {
		if oauth, err = d.oauthEntry(ctx, c); err != nil {
			return noAnswer(err.Error(), err)
		}
		if oauth != nil {
			if token, err = d.oauthToken(ctx, oauth, nil); err != nil {
				return noAnswer(err.Error(), err)
			}
			h["Authorization"] = []string{"Bearer " + token.AccessToken}
		}
	}
	resp, err := rt.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && oauth != nil {
		// The receiver refused the token (revoked, or expired early):
		// one fresh token, and the same request again at once, within
		// the same attempt.
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		resp.Body.Close()
		if token, err = d.oauthToken(ctx, oauth, token); err != nil {
			return noAnswer(err.Error(), err)
		}
		again := req.Clone(ctx)
		again.Body = io.NopCloser(bytes.NewReader(body))
		again.Header["Authorization"] = []string{"Bearer " + token.AccessToken}
		resp, err = rt.RoundTrip(again)
	}
	if err != nil {
		// The attempt says what failed in words fit for the endpoint's
		// owner (see failureText); the error as it came, which may name
		// the resolver or the addresses dialled, is the operator's.
		d.log.Debug("dispatch: request failed", "endpoint", c.Endpoint.ID, "delivery", c.Delivery.ID, "err", err)
		return noAnswer(failureText(err, req.URL, d.requestTimeout), err)
	}
	defer resp.Body.Close()

	n, rerr := io.ReadFull(resp.Body, w.excerpt[:])
	excerpt := w.excerpt[:n]
	if rerr == nil {
		// The excerpt is full; drain a bounded rest so the connection
		// goes back to the pool, and cut a character split at the end.
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		excerpt = trimPartialRune(excerpt)
	}
	r := sendResult{code: resp.StatusCode, text: string(excerpt)}
	r.accepted = resp.StatusCode >= 200 && resp.StatusCode < 300
	r.refused = !r.accepted
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), d.now())
	}
	return r
}

// traceAttempt starts the client span of one delivery attempt, a child of
// the message's trace context (of the request that accepted it), with the
// attributes of OpenTelemetry's HTTP client conventions, or its messaging
// conventions for a broker (a producer span, "send <destination>"). The
// URL is recorded without its query and user, which may hold a
// credential.
func (d *Dispatcher) traceAttempt(ctx context.Context, c *hookbridge.Claim) (context.Context, trace.Span) {
	ctx = d.tracer.WithTraceparent(ctx, c.Message.TraceParent)
	var broker *hookbridge.EndpointURL
	if !isHTTP(c.Endpoint.URL) {
		broker, _ = hookbridge.ParseEndpointURL(c.Endpoint.URL) // nil if invalid: the attempt says why
	}
	name, kind := http.MethodPost, trace.SpanKindClient
	if broker != nil {
		name, kind = "send "+broker.Destination(), trace.SpanKindProducer
	}
	ctx, span := d.tracer.Start(ctx, name, trace.WithSpanKind(kind))
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := []attribute.KeyValue{
		attribute.String("hookbridge.msg_id", c.Message.ID),
		attribute.String("hookbridge.endpoint_id", c.Endpoint.ID),
		attribute.String("hookbridge.app_id", c.Delivery.AppID),
		attribute.Int("hookbridge.attempt", c.Delivery.Attempts+1),
	}
	if broker != nil {
		port, _ := strconv.Atoi(broker.Port)
		attrs = append(attrs, messagingSystem(broker.Transport), semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"), semconv.MessagingDestinationName(broker.Destination()),
			semconv.MessagingMessageID(c.Message.ID), semconv.ServerAddress(broker.Host), semconv.ServerPort(port))
		span.SetAttributes(attrs...)
		return ctx, span
	}
	attrs = append(attrs, semconv.HTTPRequestMethodPost)
	if c.Delivery.Attempts > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(c.Delivery.Attempts))
	}
	if u, err := url.Parse(c.Endpoint.URL); err == nil {
		port, _ := strconv.Atoi(u.Port())
		if port == 0 && u.Scheme == "https" {
			port = 443
		} else if port == 0 {
			port = 80
		}
		full := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
		attrs = append(attrs, semconv.ServerAddress(u.Hostname()), semconv.ServerPort(port), semconv.URLFull(full.String()))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

// messagingSystem is the messaging.system of a broker transport.
func messagingSystem(t hookbridge.Transport) attribute.KeyValue {
	switch t {
	case hookbridge.TransportAMQP:
		return semconv.MessagingSystemRabbitMQ
	case hookbridge.TransportKafka:
		return semconv.MessagingSystemKafka
	}
	return semconv.MessagingSystemKey.String(string(t)) // nats, redis: not in the conventions' list
}

// endAttemptSpan records an attempt's outcome on its span and ends it: any
// answer but a 2xx or a broker's acknowledgement is an error, as it is for
// the delivery.
func endAttemptSpan(span trace.Span, r *sendResult) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if r.code > 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(r.code))
	}
	switch {
	case r.accepted:
	case r.refused && r.code > 0:
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(r.code)))
		span.SetStatus(codes.Error, http.StatusText(r.code))
	default:
		errorType := semconv.ErrorTypeOther
		if errors.Is(r.err, context.DeadlineExceeded) {
			errorType = semconv.ErrorTypeKey.String("timeout")
		}
		span.SetAttributes(errorType)
		span.SetStatus(codes.Error, r.text)
	}
}

// reserved reports whether an endpoint's own header must not be sent because
// the dispatcher sets it (the signature headers, the content type) or the
// HTTP client derives it from the request (Host, framing).
func reserved(canonical string) bool {
	switch canonical {
	case "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
		"Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection":
		return true
	}
	return false
}

// truncate bounds an error text like a response excerpt.
func truncate(s string) string {
	if len(s) <= hookbridge.MaxResponseExcerpt {
		return s
	}
	return string(trimPartialRune([]byte(s[:hookbridge.MaxResponseExcerpt])))
}

// trimPartialRune drops a UTF-8 sequence cut off at the end of b, so a
// truncated excerpt of text stays valid text.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// signerCacheSize bounds the signer cache; past it the cache starts over,
// which costs each endpoint one key decoding.
const signerCacheSize = 10_000

// signerCache keeps one webhook.Signer per endpoint, so that signing a request
// does not decode its keys again. An entry is used only while the endpoint's
// live secrets are the ones it was built from, so a rotation takes effect on
// the next request.
type signerCache struct {
	mu         sync.Mutex
	byEndpoint map[string]signerEntry
}

type signerEntry struct {
	secrets []string
	signer  *webhook.Signer
}

func (c *signerCache) get(ep *hookbridge.Endpoint, now time.Time) (*webhook.Signer, error) {
	secrets := ep.SigningSecrets(now)
	c.mu.Lock()
	e, ok := c.byEndpoint[ep.ID]
	c.mu.Unlock()
	if ok && slices.Equal(e.secrets, secrets) {
		return e.signer, nil
	}
	s, err := webhook.NewSigner(secrets...)
	if err != nil {
		return nil, fmt.Errorf("signer for endpoint %s: %w", ep.ID, err)
	}
	c.mu.Lock()
	if len(c.byEndpoint) >= signerCacheSize {
		clear(c.byEndpoint)
	}
	c.byEndpoint[ep.ID] = signerEntry{secrets: secrets, signer: s}
	c.mu.Unlock()
	return s, nil
}

// endpointReads shares the re-reads of endpoints (refresh) among the stale
// claims waiting for them. A read at most staleAfter old serves every
// claim of its endpoint: a claim is sent with its endpoint as it was at
// most that long ago either way, since one not yet stale goes with the
// endpoint as claimed. Without it, a deep queue for one endpoint would
// read the endpoint once per delivery. A nil endpoint is one that was
// gone.
type endpointReads = readCache[*hookbridge.Endpoint]
