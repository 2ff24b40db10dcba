package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/inbound"
)

// The inbound side: a processor's notification arrives at /in/{source_id},
// is verified, acknowledged the way the processor expects, stored raw and
// de-duplicated, and, when the rollout says so, turned into canonical
// messages of the routed application, which then take the same path as any
// message.
//
// Order matters for "accepted means durable": the acknowledgement is sent
// only after the raw event is stored and, if it is to be forwarded, after
// its messages are committed. A failure in between answers 500, the
// processor retries, and the retry finds the stored event (the unique key
// makes it a repeat) still without messages, and forwards it then. A repeat
// whose messages exist is acknowledged and forwards nothing; the messages'
// eventId (processor:key) would refuse a second copy even so.

// MaxInboundBody is the largest notification accepted from a processor.
// Notifications are kilobytes; PayPal's dispute events are the largest.
const MaxInboundBody = 1 << 20

// Bounds on the request headers kept with an inbound event.
const (
	maxKeptHeaders     = 32
	maxKeptHeaderValue = 4096
)

// handleInbound receives one notification for a source. The signature is
// the authentication: the route is public.
func (s *Server) handleInbound(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	src, err := s.source(r)
	if err != nil {
		return err
	}
	if src.Rollout.State == hookbridge.RolloutOff {
		// Off is indistinguishable from absent: the processor keeps
		// retrying or gives up, and the platform keeps polling.
		return hookbridge.NotFound("source")
	}
	body, err := readInboundBody(r)
	if err != nil {
		return err
	}
	scheme, err := s.schemes.get(src)
	if err != nil {
		return err
	}
	req := &inbound.Request{Body: body, Header: r.Header, URL: s.baseURL(r) + r.URL.RequestURI(), Now: s.now()}
	v, err := scheme.Verify(ctx, req)
	if err != nil {
		return s.refuseInbound(w, r, src, err)
	}
	if v.Challenge != nil {
		// The processor is checking the endpoint: answer it, keep nothing.
		writeResponse(w, *v.Challenge)
		return nil
	}

	now := s.timeNow()
	events, nerr := inbound.Normalize(src.Scheme, body, v, inbound.NormalizeOptions{MerchantField: src.Routing.MerchantField})
	if nerr != nil {
		// Genuine but unreadable: keep it for the operator, forward nothing.
		events = []inbound.Event{{Note: nerr.Error() + "; stored, not forwarded"}}
	}
	in := arrival{src: src, body: inbound.Redact(body), // verified, and keyed, on the original bytes; stored without card data
		headers: keptHeaders(r.Header, src), v: v, now: now, trace: s.traceParent(r), via: hookbridge.ViaWebhook}
	woke := false
	for i, e := range events {
		_, created, err := s.receiveEvent(ctx, in, e, eventKey(src.Scheme, e, body, i, len(events)))
		if err != nil {
			return err
		}
		woke = woke || created
	}
	if woke {
		s.wakeCreated()
	}
	writeResponse(w, scheme.Ack())
	return nil
}

// readInboundBody reads a notification of at most MaxInboundBody bytes.
func readInboundBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxInboundBody {
		return nil, hookbridge.Errorf(hookbridge.ETOOLARGE, "the notification is %d bytes; the limit is %d bytes", r.ContentLength, MaxInboundBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxInboundBody+1))
	if err != nil {
		return nil, hookbridge.Errorf(hookbridge.EBADREQUEST, "reading the request body: %v", err)
	}
	if len(body) > MaxInboundBody {
		return nil, hookbridge.Errorf(hookbridge.ETOOLARGE, "the notification exceeds the limit of %d bytes", MaxInboundBody)
	}
	return body, nil
}

// refuseInbound answers a notification that did not verify: 503 when the
// refusal is temporary (the processor should retry), 401 when the signature
// itself is wrong, 400 when the request is malformed. The answer names the
// reason only; the detail goes to the log.
func (s *Server) refuseInbound(w http.ResponseWriter, r *http.Request, src *hookbridge.Source, err error) error {
	var refusal *inbound.Error
	if !errors.As(err, &refusal) {
		return err // the verification could not run (a cancelled request)
	}
	status := http.StatusBadRequest
	switch {
	case refusal.Temporary():
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "30")
	case refusal.Reason == inbound.ReasonSignatureMismatch, refusal.Reason == inbound.ReasonUnknownKey,
		refusal.Reason == inbound.ReasonUntrustedCertificate, refusal.Reason == inbound.ReasonTooOld,
		refusal.Reason == inbound.ReasonTooNew:
		status = http.StatusUnauthorized
	}
	s.log.InfoContext(r.Context(), "inbound notification refused",
		"request_id", w.Header().Get(RequestIDHeader), "source", src.ID, "scheme", src.Scheme,
		"reason", string(refusal.Reason), "detail", refusal.Detail)
	writeJSON(w, status, httpErrorOut{Code: "verification_failed", Detail: string(refusal.Reason)})
	return nil
}

// writeResponse writes an answer a scheme prescribes.
func writeResponse(w http.ResponseWriter, resp inbound.Response) {
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// eventKey is an event's de-duplication key (InboundEvent.EventID): the
// processor's id where the signature covers it, else the body's SHA-256
// (with the event's index when the body carries several).
func eventKey(scheme string, e inbound.Event, body []byte, i, n int) string {
	if e.ID != "" && inbound.SignsEventIDs(scheme) {
		return e.ID
	}
	sum := sha256.Sum256(body)
	key := "sha256:" + hex.EncodeToString(sum[:])
	if n > 1 {
		key += ":" + strconv.Itoa(i)
	}
	return key
}

// arrival is how a notification, or a backfilled event, came: the source,
// the body as stored (redacted), the headers kept, what verification said,
// when, the trace it belongs to and the way it came (hookbridge.ViaWebhook
// or ViaBackfill).
type arrival struct {
	src     *hookbridge.Source
	body    []byte
	headers map[string]string
	v       *inbound.Verified
	now     time.Time
	trace   string
	via     string
}

// receiveEvent stores one event of a notification and forwards it when the
// rollout says so (or when an earlier delivery of it was stored but not
// forwarded yet). Storing it advances the payment it concerns; a stale
// event is forwarded flagged, or held, by the source's policy. It reports
// whether the event was new to the source (false: a repeat, by either
// way), and whether it created a message.
func (s *Server) receiveEvent(ctx context.Context, in arrival, e inbound.Event, key string) (isNew, created bool, err error) {
	src, v, now := in.src, in.v, in.now
	notes := make([]string, 0, 3)
	if v.Note != "" {
		notes = append(notes, v.Note)
	}
	if e.Note != "" {
		notes = append(notes, e.Note)
	}
	ev := &hookbridge.InboundEvent{
		ID: hookbridge.NewIDAt(hookbridge.PrefixInbound, now), SourceID: src.ID, EventID: key,
		Type: e.Type, Merchant: e.Merchant, Headers: in.headers, Body: in.body,
		OccurredAt: e.OccurredAt, ReceivedAt: now, Via: in.via,
	}
	// The payment the rollout selects by when the notification names no
	// merchant: the first the event concerns.
	payment := ""
	for _, m := range e.Messages {
		payload, err := json.Marshal(m.Payload)
		if err != nil {
			return false, false, err
		}
		ev.Canonical = append(ev.Canonical, hookbridge.CanonicalMessage{EventType: m.EventType, Payload: payload})
		step := paymentStep(m, e)
		ev.Payments = append(ev.Payments, step)
		if payment == "" {
			payment = step.PaymentID
		}
	}
	if payment == "" {
		ev.Payments = nil // no message concerns a payment
	}
	if len(e.Messages) > 0 {
		// Whether to forward: the rollout for this merchant (or
		// payment), then a route to an application that exists.
		appRef := src.Routing.AppFor(e.Merchant)
		switch {
		case src.Rollout.State == hookbridge.RolloutShadow:
			notes = append(notes, "source in shadow: not forwarded")
		case !src.Rollout.Forwards(e.Merchant, payment):
			notes = append(notes, notSelectedNote(src, e.Merchant, payment))
		case appRef == "":
			notes = append(notes, noRouteNote(e.Merchant))
		default:
			app, err := s.store.GetApplication(ctx, appRef)
			switch {
			case hookbridge.IsNotFound(err):
				notes = append(notes, "application "+strconv.Quote(appRef)+" does not exist: not forwarded")
			case err != nil:
				return false, false, err
			default:
				ev.Forward, ev.AppID = true, app.ID
			}
		}
	}
	ev.Note = strings.Join(notes, "; ")

	stored, isNew, err := s.store.CreateInboundEvent(ctx, ev)
	if err != nil {
		return false, false, err
	}
	if !stored.Forward || stored.MessageIDs != nil {
		// Not to be forwarded (or held), or a repeat of one already
		// forwarded.
		return isNew, false, nil
	}
	if !isNew {
		s.log.InfoContext(ctx, "forwarding a repeated inbound event whose first delivery was not forwarded",
			"source", src.ID, "event", stored.EventID, "via", in.via)
	}
	created, err = s.forward(ctx, in.trace, src, stored, e.Messages, now)
	return isNew, created, err
}

// paymentStep is what a canonical message says about the payment it
// concerns, for the store to advance it with.
func paymentStep(m inbound.Message, e inbound.Event) hookbridge.PaymentStep {
	p := m.Payload
	step := hookbridge.PaymentStep{
		EventType: m.EventType, PaymentID: m.PaymentID(), Amount: p.Amount, Currency: p.Currency,
		OccurredAt: e.OccurredAt,
	}
	if !strings.HasPrefix(m.EventType, "payment.") {
		step.ObjectID = p.ID
	}
	if m.EventType == inbound.DisputeClosed {
		step.Outcome = hookbridge.DisputeOutcome(inbound.DisputeOutcome(e.Type, p.Status))
	}
	return step
}

// notSelectedNote says why a limited rollout did not select a
// notification, and what would.
func notSelectedNote(src *hookbridge.Source, merchant, payment string) string {
	r := src.Rollout
	switch {
	case merchant != "":
		return "rollout on for selected merchants only; " + merchantName(merchant) + " is not selected: not forwarded (treated as shadow)"
	case r.Percent != nil && payment != "":
		return fmt.Sprintf("rollout on for %d%%: a notification without a merchant is selected by its payment, and payment %q "+
			"(bucket %d) is not in the first %d%%: not forwarded (treated as shadow); raise the percentage, or turn the rollout on "+
			"for all (hookbridge source set-state %s on --all-merchants)", *r.Percent, payment, hookbridge.MerchantBucket(payment), *r.Percent, src.ID)
	case payment != "":
		return "rollout on for the listed merchants only, and the notification names no merchant (a single account, such as " +
			"Stripe without Connect): not forwarded (treated as shadow); to forward such notifications, select a share of their " +
			"payments with a percentage (hookbridge source set-state " + src.ID + " on --percent 10) or turn the rollout on for all " +
			"(--all-merchants); if the notifications name their merchant in another field, set the source's merchantField"
	}
	return "rollout on for selected merchants only, and the notification names neither a merchant nor a payment: not forwarded " +
		"(treated as shadow); turn the rollout on for all (hookbridge source set-state " + src.ID + " on --all-merchants), or set the " +
		"source's merchantField if the notifications name their merchant in another field"
}

// noRouteNote says that no application takes a notification, and how to
// name one.
func noRouteNote(merchant string) string {
	if merchant == "" {
		return "no application for a notification without a merchant: not forwarded; set the source's application, the default " +
			"that takes every notification naming no merchant (hookbridge source create … --app APP, or \"application\" in " +
			"PUT /api/v1/source/{id})"
	}
	return "no application for " + merchantName(merchant) + ": not forwarded; map it in merchantApplications (--merchant-app " +
		merchant + "=APP), or set the source's application, the default for merchants not mapped"
}

// merchantName says which merchant a note is about.
func merchantName(m string) string {
	if m == "" {
		return "a notification without a merchant"
	}
	return "merchant " + strconv.Quote(m)
}

// forward creates the canonical messages of a stored event in its
// application, each payload with its payment's sequence and status and how
// the event arrived, and
// records them on the event (ev.MessageIDs too). Each message's eventId is
// derived from the event's key (canonicalEventID), so a second forward of
// the same event finds the messages of the first. An event stored before
// events kept their canonical messages is forwarded as normalised now
// (normalised).
func (s *Server) forward(ctx context.Context, trace string, src *hookbridge.Source, ev *hookbridge.InboundEvent,
	normalised []inbound.Message, now time.Time) (bool, error) {
	canonical := ev.Canonical
	if len(canonical) == 0 {
		for _, m := range normalised {
			payload, err := json.Marshal(m.Payload)
			if err != nil {
				return false, err
			}
			canonical = append(canonical, hookbridge.CanonicalMessage{EventType: m.EventType, Payload: payload})
		}
	}
	msgs := make([]*hookbridge.Message, len(canonical))
	for j, m := range canonical {
		payload, err := withPaymentState(m.Payload, ev.Payments, j, cmp.Or(ev.Via, hookbridge.ViaWebhook))
		if err != nil {
			return false, fmt.Errorf("inbound event %s: message %d: %w", ev.ID, j, err)
		}
		eventID := canonicalEventID(src.Scheme, ev.EventID, j)
		msgs[j] = &hookbridge.Message{
			ID: hookbridge.NewIDAt(hookbridge.PrefixMessage, now), AppID: ev.AppID, EventID: eventID,
			EventType: m.EventType, Payload: payload, CreatedAt: now,
			TraceParent: trace, // the processor's notification and the consumer's deliveries, one trace
		}
	}
	results, err := s.store.CreateMessages(ctx, msgs)
	if err != nil {
		return false, err
	}
	ids := make([]string, 0, len(results))
	created := false
	for _, res := range results {
		if res.Err != nil {
			// The application was deleted since the event was routed.
			s.log.WarnContext(ctx, "inbound event not forwarded", "source", src.ID, "event", ev.EventID, "err", res.Err)
			continue
		}
		ids = append(ids, res.Message.ID)
		created = created || res.Created
	}
	if err := s.store.SetInboundMessages(ctx, src.ID, ev.ID, ids); err != nil {
		return false, err
	}
	ev.MessageIDs = ids
	return created, nil
}

// withPaymentState is a canonical payload with the j-th payment step's
// outcome in it: the payment's sequence, its status before and after, the
// stale flag, and how the event arrived (via). A message about no payment
// is returned as it is.
func withPaymentState(payload json.RawMessage, steps []hookbridge.PaymentStep, j int, via string) (json.RawMessage, error) {
	if j >= len(steps) || steps[j].Sequence == 0 {
		return payload, nil
	}
	var p inbound.Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	step := steps[j]
	p.Sequence, p.Stale = step.Sequence, step.Stale
	p.PreviousStatus, p.PaymentStatus = inbound.Status(string(step.Previous)), inbound.Status(string(step.Status))
	p.Via = via
	return json.Marshal(p)
}

// keptHeaders picks the request headers worth keeping with the raw
// notification: the content type and user agent, and those that carry or
// feed a signature or identify the event. Others (cookies, proxies'
// headers, authorization) are dropped.
func keptHeaders(h http.Header, src *hookbridge.Source) map[string]string {
	markers := []string{"signature", "webhook", "paypal", "razorpay", "shopify", "square", "stripe", "cko-",
		"event", "request-id", "timestamp", "hmac", "mollie", "svix",
		strings.ToLower(src.Credentials.HMAC.Header), strings.ToLower(src.Credentials.HMAC.TimestampHeader)}
	kept := map[string]string{}
	for _, name := range sortedKeys(h) {
		lower := strings.ToLower(name)
		keep := lower == "content-type" || lower == "user-agent"
		for _, m := range markers {
			keep = keep || m != "" && strings.Contains(lower, m)
		}
		if !keep || len(kept) >= maxKeptHeaders {
			continue
		}
		v := strings.Join(h[name], ", ")
		if len(v) > maxKeptHeaderValue {
			v = v[:maxKeptHeaderValue]
		}
		kept[name] = v
	}
	return kept
}

// schemeCache keeps one verifier per source, so that what a scheme caches
// (PayPal's certificates) lives across requests. An entry is rebuilt when
// the source's UpdatedAt changes, so every instance picks up an edit on its
// next request. The zero value is ready to use.
type schemeCache struct {
	mu sync.Mutex
	m  map[string]cachedScheme
}

type cachedScheme struct {
	updated time.Time
	scheme  inbound.Scheme
}

// maxCachedSchemes bounds the cache; past it, it starts over.
const maxCachedSchemes = 1024

func (c *schemeCache) get(src *hookbridge.Source) (inbound.Scheme, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[src.ID]; ok && e.updated.Equal(src.UpdatedAt) {
		return e.scheme, nil
	}
	sc, err := inbound.New(src.Scheme, schemeCredentials(src.Credentials), inbound.WithTolerance(src.Tolerance))
	if err != nil {
		// The API checks credentials when they are set; a stored source
		// that no longer builds is the server's problem, not the sender's.
		return nil, err
	}
	if c.m == nil || len(c.m) >= maxCachedSchemes {
		c.m = map[string]cachedScheme{}
	}
	c.m[src.ID] = cachedScheme{updated: src.UpdatedAt, scheme: sc}
	return sc, nil
}

// FeedSettle is the age a message must exceed before the events feed
// shows it. Message ids are given before the message is committed, so a message
// can commit after one with a later id; a reader that had moved its
// iterator past the later one would never see it. Holding the newest
// messages back for a moment closes that gap.
const FeedSettle = 2 * time.Second

// handleEventsFeed serves an application's messages as a feed, oldest first
// after the iterator, for consumers that cannot receive webhooks: they keep
// the returned iterator and ask again. An empty page returns the iterator
// it was given.
func (s *Server) handleEventsFeed(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	opt := hookbridge.ListOptions{Limit: hookbridge.DefaultListLimit, Order: hookbridge.OrderAscending}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hookbridge.MaxListLimit {
			fe.query("limit", "must be an integer from 1 to "+strconv.Itoa(hookbridge.MaxListLimit))
		}
		opt.Limit = n
	}
	if it := query.Get("iterator"); it != "" {
		if !hookbridge.HasPrefix(it, hookbridge.PrefixMessage) {
			fe.query("iterator", "is not an iterator returned by this feed")
		}
		opt.Iterator = it
	}
	withContent := boolParam(query, "with_content", true, &fe)
	app, err := s.checkedApplication(r, &fe)
	if err != nil {
		return err
	}
	page, err := s.store.ListMessages(r.Context(), app.ID, hookbridge.MessageFilter{
		ListOptions: opt,
		Before:      s.timeNow().Add(-FeedSettle),
	})
	if err != nil {
		return err
	}
	out := listOut[messageOut]{Data: make([]messageOut, len(page.Data)), Done: page.Done, Iterator: nullable(opt.Iterator)}
	for i := range page.Data {
		out.Data[i] = toMessageOut(&page.Data[i], withContent)
	}
	if n := len(page.Data); n > 0 {
		out.Iterator = &page.Data[n-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// canonicalEventID is the eventId of the n-th canonical message (from 0)
// of the inbound event with key, received through a source of scheme. It
// keeps to Svix's eventId shape, ^[a-zA-Z0-9\-_.]+$, which SDKs check, and
// it is one-to-one, so that no two events ever share a message:
//
//	<scheme>.<key>         stripe.evt_3PzE2e
//	<scheme>.<key>..<n>    the n-th message of one event, n > 0
//
// In the key, every byte outside [a-zA-Z0-9_-] is written "." and two hex
// digits (adyen.AUTHORISATION.3a7914073381342284.3atrue), so ".." occurs
// only before n. A key that would make the eventId longer than Svix allows
// is cut, and the hash of the whole key appended after ".7e" (an escaped
// "~"): distinct keys still give distinct ids.
func canonicalEventID(scheme, key string, n int) string {
	const hexDigits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(scheme) + 1 + len(key) + 8)
	b.WriteString(scheme)
	b.WriteByte('.')
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('.')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	id := b.String()
	suffix := ""
	if n > 0 {
		suffix = ".." + strconv.Itoa(n)
	}
	if len(id)+len(suffix) > maxNameLen {
		sum := sha256.Sum256([]byte(key))
		tail := ".7e" + hex.EncodeToString(sum[:])
		cut := min(len(id), maxNameLen-len(tail)-len(suffix))
		if p := strings.LastIndexByte(id[:cut], '.'); p+3 > cut {
			cut = p // never cut an escape in two
		}
		id = id[:cut] + tail
	}
	return id + suffix
}
