// Package backfilltest runs local servers that answer the processors'
// events lists as their API references document them (see package
// backfill for each reference), for tests of the backfill anywhere: they
// page, filter on creation time, check credentials, and can be told to
// answer some requests with a failure (a 429 with Retry-After, a 5xx).
package backfilltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Processor is one processor's API: its events, oldest first.
type Processor struct {
	*httptest.Server
	Scheme string

	mu       sync.Mutex
	events   []json.RawMessage
	pageSize int // at most this many a page; 0 = as asked
	requests int
	arrivals []time.Time
	fail     map[int]failure // by request number, from 1
	failAll  int             // a status for every request; 0 = none
}

type failure struct {
	status int
	header map[string]string
}

// New starts scheme's processor (gocardless, paypal, square or stripe)
// and stops it when the test ends.
func New(t testing.TB, scheme string) *Processor {
	t.Helper()
	p := &Processor{Scheme: scheme, fail: map[int]failure{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// Credentials are the API credentials the processor accepts, with its URL.
func (p *Processor) Credentials() hookbridge.SourceAPICredentials {
	switch p.Scheme {
	case "stripe":
		return hookbridge.SourceAPICredentials{Key: "rk_test_backfilltest", BaseURL: p.URL}
	case "paypal":
		return hookbridge.SourceAPICredentials{ClientID: "client", ClientSecret: "secret", BaseURL: p.URL}
	case "square":
		return hookbridge.SourceAPICredentials{Key: "EAAAbackfilltest", BaseURL: p.URL}
	}
	return hookbridge.SourceAPICredentials{Key: "live_backfilltest", BaseURL: p.URL}
}

// Add lists events (each the processor's own JSON event object), created
// after those already listed.
func (p *Processor) Add(events ...[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		p.events = append(p.events, e)
	}
}

// PageSize makes pages at most n events long, whatever the request asks.
func (p *Processor) PageSize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pageSize = n
}

// Fail answers the n-th request (from 1) with status and header.
func (p *Processor) Fail(n, status int, header map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail[n] = failure{status: status, header: header}
}

// FailAll answers every request from now on with status; 0 stops.
func (p *Processor) FailAll(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAll = status
}

// Requests is how many requests the processor answered.
func (p *Processor) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Arrivals are when each request arrived.
func (p *Processor) Arrivals() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.arrivals)
}

func (p *Processor) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	p.arrivals = append(p.arrivals, time.Now())
	f, failing := p.fail[p.requests]
	if p.failAll != 0 {
		f, failing = failure{status: p.failAll}, true
	}
	w.Header().Set("Content-Type", "application/json")
	if failing {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"error":{"type":"api_error","message":"the processor failed as the test asked"}}`)
		return
	}
	switch p.Scheme {
	case "stripe":
		p.stripe(w, r)
	case "paypal":
		p.paypal(w, r)
	case "square":
		p.square(w, r)
	default:
		p.gocardless(w, r)
	}
}

// head is what the server reads of an event.
type head struct {
	id      string
	created time.Time
}

func headOf(e json.RawMessage) head {
	var h struct {
		ID         string `json:"id"`
		EventID    string `json:"event_id"`
		Created    int64  `json:"created"`
		CreateTime string `json:"create_time"`
		CreatedAt  string `json:"created_at"`
	}
	_ = json.Unmarshal(e, &h)
	out := head{id: h.ID, created: time.Unix(h.Created, 0).UTC()}
	if h.EventID != "" {
		out.id = h.EventID
	}
	for _, s := range []string{h.CreateTime, h.CreatedAt} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			out.created = t
		}
	}
	return out
}

// since are the events created at or after t, newest first unless
// oldestFirst.
func (p *Processor) since(t time.Time, oldestFirst bool) []json.RawMessage {
	var out []json.RawMessage
	for _, e := range p.events {
		if !headOf(e).created.Before(t) {
			out = append(out, e)
		}
	}
	if !oldestFirst {
		slices.Reverse(out)
	}
	return out
}

// page is the page of list after the event with id cursor ("" = from
// the start), at most limit long, and whether more follow.
func (p *Processor) page(list []json.RawMessage, cursor string, limit int) ([]json.RawMessage, bool) {
	if p.pageSize > 0 && (limit <= 0 || p.pageSize < limit) {
		limit = p.pageSize
	}
	start := 0
	if cursor != "" {
		start = slices.IndexFunc(list, func(e json.RawMessage) bool { return headOf(e).id == cursor }) + 1
	}
	end := min(start+limit, len(list))
	return list[start:end], end < len(list)
}

func refuse(w http.ResponseWriter, body string) {
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, body)
}

func (p *Processor) stripe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer "+p.Credentials().Key {
		refuse(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
		return
	}
	q := r.URL.Query()
	gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, more := p.page(p.since(time.Unix(gte, 0), false), q.Get("starting_after"), limit)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": page})
}

func (p *Processor) paypal(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/oauth2/token" {
		if id, secret, _ := r.BasicAuth(); id != "client" || secret != "secret" || r.FormValue("grant_type") != "client_credentials" {
			refuse(w, `{"error":"invalid_client","error_description":"Client Authentication failed"}`)
			return
		}
		fmt.Fprint(w, `{"scope":"https://uri.paypal.com/services/applications/webhooks","access_token":"A21AAbackfilltest","token_type":"Bearer","app_id":"APP-80W284485P519543T","expires_in":32400,"nonce":"2026-03-01T12:00:00Zn"}`)
		return
	}
	if r.URL.Path != "/v1/notifications/webhooks-events" || r.Header.Get("Authorization") != "Bearer A21AAbackfilltest" {
		refuse(w, `{"name":"AUTHENTICATION_FAILURE","message":"Authentication failed due to invalid authentication credentials or a missing Authorization header."}`)
		return
	}
	q := r.URL.Query()
	since, _ := time.Parse(time.RFC3339, q.Get("start_time"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	page, more := p.page(p.since(since, false), q.Get("next_page_token"), size)
	links := []map[string]string{{"href": p.URL + r.URL.RequestURI(), "rel": "self", "method": "GET"}}
	if more {
		q.Set("next_page_token", headOf(page[len(page)-1]).id)
		links = append(links, map[string]string{"href": p.URL + "/v1/notifications/webhooks-events?" + q.Encode(), "rel": "next", "method": "GET"})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": page, "count": len(page), "links": links})
}

func (p *Processor) square(w http.ResponseWriter, r *http.Request) {
	// SearchEventsRequest: {cursor, limit, query: {filter: {created_at:
	// {start_at}}, sort: {field, order}}}.
	var in map[string]any
	if r.Method != http.MethodPost || r.URL.Path != "/v2/events" || r.Header.Get("Authorization") != "Bearer "+p.Credentials().Key ||
		r.Header.Get("Square-Version") == "" || json.NewDecoder(r.Body).Decode(&in) != nil {
		refuse(w, `{"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED","detail":"This request could not be authorized."}]}`)
		return
	}
	at := func(path ...string) any {
		var v any = in
		for _, k := range path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	startAt, _ := at("query", "filter", "created_at", "start_at").(string)
	since, _ := time.Parse(time.RFC3339, startAt)
	cursor, _ := at("cursor").(string)
	limit, _ := at("limit").(float64)
	page, more := p.page(p.since(since, at("query", "sort", "order") != "DESC"), cursor, int(limit))
	out := map[string]any{"events": page, "metadata": []any{}}
	if more {
		out["cursor"] = headOf(page[len(page)-1]).id
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (p *Processor) gocardless(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" || r.Header.Get("Authorization") != "Bearer "+p.Credentials().Key || r.Header.Get("GoCardless-Version") != "2015-07-06" {
		refuse(w, `{"error":{"message":"Invalid token","documentation_url":"https://developer.gocardless.com/api-reference#access_token_invalid","type":"invalid_api_usage","code":401}}`)
		return
	}
	q := r.URL.Query()
	since, _ := time.Parse(time.RFC3339, q.Get("created_at[gte]"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, more := p.page(p.since(since, false), q.Get("after"), limit)
	var next any
	if more {
		next = headOf(page[len(page)-1]).id
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": page,
		"meta": map[string]any{"cursors": map[string]any{"before": nil, "after": next}, "limit": limit}})
}

// Event is an event in scheme's own shape, created at: a captured
// payment (a confirmed one for GoCardless) named payment.
func Event(scheme, id, payment string, at time.Time) []byte {
	var v any
	switch scheme {
	case "stripe":
		v = map[string]any{"id": id, "object": "event", "created": at.Unix(), "type": "payment_intent.succeeded",
			"data": map[string]any{"object": map[string]any{"id": payment, "object": "payment_intent", "amount": 1000,
				"amount_received": 1000, "currency": "eur", "status": "succeeded"}}}
	case "paypal":
		v = map[string]any{"id": id, "create_time": at.UTC().Format(time.RFC3339), "event_type": "PAYMENT.CAPTURE.COMPLETED",
			"resource_type": "capture", "resource": map[string]any{"id": payment, "status": "COMPLETED",
				"amount": map[string]any{"currency_code": "EUR", "value": "10.00"}}}
	case "square":
		v = map[string]any{"merchant_id": "MLX", "type": "payment.updated", "event_id": id,
			"created_at": at.UTC().Format(time.RFC3339), "data": map[string]any{"type": "payment", "id": payment,
				"object": map[string]any{"payment": map[string]any{"id": payment, "status": "COMPLETED",
					"amount_money": map[string]any{"amount": 1000, "currency": "EUR"}}}}}
	default:
		v = map[string]any{"id": id, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z"),
			"resource_type": "payments", "action": "confirmed", "links": map[string]any{"payment": payment},
			"details": map[string]any{"origin": "gocardless", "cause": "payment_confirmed"}}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return bytes.TrimSpace(b)
}
