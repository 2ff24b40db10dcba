package backfill_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/backfill"
)

// base is the creation time of the first event the fake processors list.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// processor is a local server answering one processor's events list as its
// API reference documents it, over events created one second apart. It
// counts requests and can be told to fail some first.
type processor struct {
	*httptest.Server
	scheme string
	events []map[string]any

	mu       sync.Mutex
	requests int
	arrivals []time.Time
	// fail answers the n-th request (from 1) with a status and headers
	// instead.
	fail map[int]failure
}

type failure struct {
	status int
	header map[string]string
}

func newProcessor(t *testing.T, scheme string, n int) *processor {
	t.Helper()
	p := &processor{scheme: scheme, fail: map[int]failure{}}
	for i := range n {
		p.events = append(p.events, fakeEvent(scheme, i))
	}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// fakeEvent is the i-th event in the processor's own shape.
func fakeEvent(scheme string, i int) map[string]any {
	at := base.Add(time.Duration(i) * time.Second)
	switch scheme {
	case "stripe":
		return map[string]any{"id": fmt.Sprintf("evt_%04d", i), "object": "event", "created": at.Unix(), "type": "payment_intent.succeeded",
			"data": map[string]any{"object": map[string]any{"id": fmt.Sprintf("pi_%04d", i), "object": "payment_intent", "amount": 1000,
				"amount_received": 1000, "currency": "eur", "status": "succeeded"}}}
	case "paypal":
		return map[string]any{"id": fmt.Sprintf("WH-%04d", i), "create_time": at.Format(time.RFC3339), "event_type": "PAYMENT.CAPTURE.COMPLETED",
			"resource_type": "capture", "resource": map[string]any{"id": fmt.Sprintf("CAP%04d", i), "status": "COMPLETED",
				"amount": map[string]any{"currency_code": "EUR", "value": "10.00"}}}
	case "square":
		return map[string]any{"merchant_id": "MLX", "type": "payment.updated", "event_id": fmt.Sprintf("sq-%04d", i),
			"created_at": at.Format(time.RFC3339), "data": map[string]any{"type": "payment", "id": fmt.Sprintf("P%04d", i),
				"object": map[string]any{"payment": map[string]any{"id": fmt.Sprintf("P%04d", i), "status": "COMPLETED",
					"amount_money": map[string]any{"amount": 1000, "currency": "EUR"}}}}}
	default:
		return map[string]any{"id": fmt.Sprintf("EV%04d", i), "created_at": at.Format("2006-01-02T15:04:05.000Z"),
			"resource_type": "payments", "action": "confirmed", "links": map[string]any{"payment": fmt.Sprintf("PM%04d", i)},
			"details": map[string]any{"origin": "gocardless", "cause": "payment_confirmed"}}
	}
}

func (p *processor) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	n := p.requests
	p.arrivals = append(p.arrivals, time.Now())
	f, failing := p.fail[n]
	p.mu.Unlock()
	if failing {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"error":{"type":"api_error","message":"try again"}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch p.scheme {
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

// newestFirst are the events created at or after since, newest first, as
// Stripe, PayPal and GoCardless list them.
func (p *processor) newestFirst(since time.Time) []map[string]any {
	var out []map[string]any
	for i := len(p.events) - 1; i >= 0; i-- {
		if !created(p.events[i]).Before(since) {
			out = append(out, p.events[i])
		}
	}
	return out
}

func created(e map[string]any) time.Time {
	for _, k := range []string{"create_time", "created_at"} {
		if s, ok := e[k].(string); ok {
			t, _ := time.Parse(time.RFC3339Nano, s)
			return t
		}
	}
	return time.Unix(e["created"].(int64), 0).UTC()
}

func idOf(e map[string]any) string {
	if id, ok := e["event_id"].(string); ok {
		return id
	}
	return e["id"].(string)
}

// after is the page of list after the event with id cursor ("" = from
// the start), and whether more follow.
func after(list []map[string]any, cursor string, limit int) ([]map[string]any, bool) {
	start := 0
	if cursor != "" {
		start = slices.IndexFunc(list, func(e map[string]any) bool { return idOf(e) == cursor }) + 1
	}
	end := min(start+limit, len(list))
	return list[start:end], end < len(list)
}

func (p *processor) stripe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer rk_test_key" {
		http.Error(w, `{"error":{"type":"invalid_request_error"}}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, more := after(p.newestFirst(time.Unix(gte, 0)), q.Get("starting_after"), limit)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": page})
}

func (p *processor) paypal(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/oauth2/token" {
		if id, secret, _ := r.BasicAuth(); id != "client" || secret != "secret" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"scope":"https://uri.paypal.com/services/applications/webhooks","access_token":"A21AA","token_type":"Bearer","app_id":"APP-1","expires_in":32400,"nonce":"n"}`)
		return
	}
	if r.URL.Path != "/v1/notifications/webhooks-events" || r.Header.Get("Authorization") != "Bearer A21AA" {
		http.Error(w, `{"name":"AUTHENTICATION_FAILURE"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	since, _ := time.Parse(time.RFC3339, q.Get("start_time"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	page, more := after(p.newestFirst(since), q.Get("next_page_token"), size)
	links := []map[string]string{{"href": p.URL + r.URL.RequestURI(), "rel": "self", "method": "GET"}}
	if more {
		q.Set("next_page_token", idOf(page[len(page)-1]))
		links = append(links, map[string]string{"href": p.URL + "/v1/notifications/webhooks-events?" + q.Encode(), "rel": "next", "method": "GET"})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": page, "count": len(page), "links": links})
}

func (p *processor) square(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Cursor string `json:"cursor"`
		Limit  int    `json:"limit"`
		Query  struct {
			Filter struct {
				CreatedAt struct {
					StartAt string `json:"start_at"`
				} `json:"created_at"`
			} `json:"filter"`
			Sort struct {
				Order string `json:"order"`
			} `json:"sort"`
		} `json:"query"`
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/events" || r.Header.Get("Authorization") != "Bearer EAAA" ||
		r.Header.Get("Square-Version") == "" || json.NewDecoder(r.Body).Decode(&in) != nil {
		http.Error(w, `{"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	since, _ := time.Parse(time.RFC3339, in.Query.Filter.CreatedAt.StartAt)
	var list []map[string]any
	for _, e := range p.events { // oldest first: sort order ASC
		if !created(e).Before(since) {
			list = append(list, e)
		}
	}
	page, more := after(list, in.Cursor, in.Limit)
	out := map[string]any{"events": page, "metadata": []any{}}
	if more {
		out["cursor"] = idOf(page[len(page)-1])
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (p *processor) gocardless(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" || r.Header.Get("Authorization") != "Bearer live_token" || r.Header.Get("GoCardless-Version") != "2015-07-06" {
		http.Error(w, `{"error":{"type":"invalid_api_usage","code":401}}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	since, _ := time.Parse(time.RFC3339, q.Get("created_at[gte]"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, more := after(p.newestFirst(since), q.Get("after"), limit)
	var next any
	if more {
		next = idOf(page[len(page)-1])
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"events": page,
		"meta": map[string]any{"cursors": map[string]any{"before": nil, "after": next}, "limit": limit}})
}

// creds are the credentials each fake processor accepts.
func creds(scheme, url string) hookbridge.SourceAPICredentials {
	switch scheme {
	case "stripe":
		return hookbridge.SourceAPICredentials{Key: "rk_test_key", BaseURL: url}
	case "paypal":
		return hookbridge.SourceAPICredentials{ClientID: "client", ClientSecret: "secret", BaseURL: url}
	case "square":
		return hookbridge.SourceAPICredentials{Key: "EAAA", BaseURL: url}
	}
	return hookbridge.SourceAPICredentials{Key: "live_token", BaseURL: url}
}

// list lists every event since with a fresh transport, and returns them
// with the transport.
func list(t *testing.T, p *processor, since time.Time) ([]backfill.Event, *backfill.Transport, error) {
	t.Helper()
	tr := &backfill.Transport{Backoff: time.Millisecond}
	l, err := backfill.New(p.scheme, creds(p.scheme, p.URL), &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	var got []backfill.Event
	err = l.List(t.Context(), since, func(e backfill.Event) error { got = append(got, e); return nil })
	return got, tr, err
}

// TestListAllPages lists 250 events, which take several pages at every
// processor, and checks each comes once, with its id, creation time and a
// body that is the webhook's.
func TestListAllPages(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			n := 250
			if scheme == "gocardless" {
				n = 1200 // pages of 500
			}
			p := newProcessor(t, scheme, n)
			got, tr, err := list(t, p, base.Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n-10 {
				t.Fatalf("listed %d events, want %d", len(got), n-10)
			}
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.ID] {
					t.Fatalf("event %s listed twice", e.ID)
				}
				seen[e.ID] = true
				if e.Created.Before(base.Add(10 * time.Second)) {
					t.Errorf("event %s created %v, before since", e.ID, e.Created)
				}
				if !strings.Contains(string(e.Body), `"`+e.ID+`"`) {
					t.Errorf("event %s: body %s does not carry it", e.ID, e.Body)
				}
			}
			if scheme == "gocardless" && !strings.HasPrefix(string(got[0].Body), `{"events":[`) {
				t.Errorf("gocardless body %s is not a batch, as a webhook carries it", got[0].Body)
			}
			if tr.Requests() < 2 {
				t.Errorf("%d requests: the listing did not page", tr.Requests())
			}
		})
	}
}

// TestRetries answers the first request 429 with Retry-After: 1 and the
// next 503, and checks the listing waits as asked, retries and completes.
func TestRetries(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := newProcessor(t, scheme, 120)
			p.fail[1] = failure{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "1"}}
			p.fail[2] = failure{status: http.StatusServiceUnavailable}
			got, tr, err := list(t, p, base)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 120 {
				t.Errorf("listed %d events, want 120", len(got))
			}
			if tr.Retries() != 2 {
				t.Errorf("retries = %d, want 2", tr.Retries())
			}
			if gap := p.arrivals[1].Sub(p.arrivals[0]); gap < time.Second {
				t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
			}
		})
	}
}

// TestOutage answers every request 500: the listing fails with the status,
// after the transport's attempts, and hands on nothing.
func TestOutage(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := newProcessor(t, scheme, 10)
			for i := 1; i <= backfill.DefaultAttempts; i++ {
				p.fail[i] = failure{status: http.StatusInternalServerError}
			}
			got, tr, err := list(t, p, base)
			var se *backfill.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusInternalServerError {
				t.Fatalf("error = %v, want a StatusError 500", err)
			}
			if len(got) != 0 || tr.Requests() != backfill.DefaultAttempts {
				t.Errorf("listed %d events in %d requests; want none in %d", len(got), tr.Requests(), backfill.DefaultAttempts)
			}
		})
	}
}

// TestRequestsPer1000Events measures what a backfill of 1,000 events costs
// at each processor, retries aside: the figures docs/inbound.md quotes.
func TestRequestsPer1000Events(t *testing.T) {
	want := map[string]int64{"stripe": 10, "paypal": 5, "square": 10, "gocardless": 2}
	for _, scheme := range backfill.Schemes() {
		p := newProcessor(t, scheme, 1000)
		got, tr, err := list(t, p, base)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d events in %d requests", scheme, len(got), tr.Requests())
		if len(got) != 1000 || tr.Requests() != want[scheme] {
			t.Errorf("%s: %d events in %d requests, want 1000 in %d", scheme, len(got), tr.Requests(), want[scheme])
		}
	}
}

func TestCheckCredentials(t *testing.T) {
	for _, c := range []struct {
		scheme string
		creds  hookbridge.SourceAPICredentials
		ok     bool
	}{
		{"stripe", hookbridge.SourceAPICredentials{Key: "rk_live_1"}, true},
		{"stripe", hookbridge.SourceAPICredentials{}, false},
		{"stripe", hookbridge.SourceAPICredentials{Key: "rk", BaseURL: "ftp://x"}, false},
		{"paypal", hookbridge.SourceAPICredentials{ClientID: "a", ClientSecret: "b"}, true},
		{"paypal", hookbridge.SourceAPICredentials{Key: "k"}, false},
		{"adyen", hookbridge.SourceAPICredentials{Key: "k"}, false},
	} {
		if msg := backfill.CheckCredentials(c.scheme, c.creds); (msg == "") != c.ok {
			t.Errorf("%s %+v: %q", c.scheme, c.creds, msg)
		}
	}
}

// TestPayPalNextLinkElsewhere refuses to follow a next link to another
// host, which would carry the token there.
func TestPayPalNextLinkElsewhere(t *testing.T) {
	p := newProcessor(t, "paypal", 0)
	p.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/oauth2/token" {
			fmt.Fprint(w, `{"access_token":"A21AA","token_type":"Bearer","expires_in":32400}`)
			return
		}
		fmt.Fprint(w, `{"events":[{"id":"WH-1","create_time":"2026-03-01T12:00:00Z"}],"count":1,"links":[{"href":"https://evil.example/v1/notifications/webhooks-events?page=2","rel":"next","method":"GET"}]}`)
	})
	if _, _, err := list(t, p, base); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("error = %v, want a refusal of the other host", err)
	}
}
