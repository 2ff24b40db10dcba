package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// FuzzWrites sends arbitrary bodies to every route that takes one, and
// holds the API to its promise about bad input: a 4xx, never a 500 (which
// is also what a panic in a handler becomes). The seeds run with the other
// tests; `go test -fuzz FuzzWrites ./api` searches further.
func FuzzWrites(f *testing.F) { fuzzWrites(f, newEnv(f)) }

// FuzzWritesPostgres is FuzzWrites on PostgreSQL, which refuses in text
// and jsonb what SQLite stores (a NUL character, say): those must be 4xx
// there too.
func FuzzWritesPostgres(f *testing.F) { fuzzWrites(f, postgresEnv(f)) }

// postgresEnv is newEnv on a PostgreSQL schema of its own.
func postgresEnv(f *testing.F) *env {
	store, err := postgres.Open(context.Background(), pgtest.Schema(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	return newEnvOn(f, store)
}

func fuzzWrites(f *testing.F, e *env) {
	e.createEventType("order.ready")
	e.createApp("fixture", "fx")
	e.createEndpoint("fx", obj{"uid": "fx-ep", "filterTypes": []string{"order.ready"}})
	e.sendMessage("fx", obj{"eventType": "order.ready", "eventId": "fx-msg"})
	e.deliver(200)
	ops := str(e.do("POST", "/api/v1/operational-webhook/endpoint", obj{"url": "https://ops.example.com/x"}).
		want(http.StatusCreated).object(), "id")
	src := e.stripeSource("fx", "shadow", nil)

	routes := []struct{ method, path string }{
		{"POST", "/api/v1/app"},
		{"PUT", "/api/v1/app/fx"},
		{"PATCH", "/api/v1/app/fx"},
		{"POST", "/api/v1/app/fx/endpoint"},
		{"PUT", "/api/v1/app/fx/endpoint/fx-ep"},
		{"PATCH", "/api/v1/app/fx/endpoint/fx-ep"},
		{"POST", "/api/v1/app/fx/endpoint/fx-ep/secret/rotate"},
		{"PUT", "/api/v1/app/fx/endpoint/fx-ep/headers"},
		{"PATCH", "/api/v1/app/fx/endpoint/fx-ep/headers"},
		{"POST", "/api/v1/app/fx/endpoint/fx-ep/recover"},
		{"POST", "/api/v1/app/fx/endpoint/fx-ep/send-example"},
		{"POST", "/api/v1/app/fx/msg"},
		{"POST", "/api/v1/app/fx/msg/batch"},
		{"POST", "/api/v1/app/fx/msg/fx-msg/endpoint/fx-ep/resend"},
		{"POST", "/api/v1/event-type"},
		{"PUT", "/api/v1/event-type/order.ready"},
		{"PATCH", "/api/v1/event-type/order.ready"},
		{"POST", "/api/v1/auth/app-portal-access/fx"},
		{"POST", "/api/v1/auth/app/fx/expire-all"},
		{"POST", "/api/v1/operational-webhook/endpoint"},
		{"PUT", "/api/v1/operational-webhook/endpoint/" + ops},
		{"POST", "/api/v1/source"},
		{"PUT", "/api/v1/source/" + src},
		{"PATCH", "/api/v1/source/" + src + "/rollout"},
		{"POST", "/api/v1/source/" + src + "/observed"},
		{"POST", "/in/" + src},
	}
	seeds := []string{
		``, `null`, `[]`, `"x"`, `0`, `{}`, `{"name":`, "\xff\xfe",
		`{"name":"x","uid":"u-1","rateLimit":5,"metadata":{"a":"b"}}`,
		`{"name":null,"uid":["x"],"throttleRate":1e400,"metadata":{"a":1}}`,
		`{"url":"https://receiver.example.com/h","filterTypes":["order.ready"],"channels":["c"],"rateLimit":10}`,
		`{"url":"http://[::1]:0/","filterTypes":[],"secret":"whsec_AAAA","headers":{"X-A":"b"}}`,
		`{"headers":{"":"x","Host":"evil","X-Ok":"\u0000"}}`,
		`{"key":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`,
		`{"since":"2024-01-01T00:00:00Z","until":"1970-01-01T00:00:00Z"}`,
		`{"eventType":"order.ready","payload":{"n":1},"eventId":"e-1","channels":["a"]}`,
		`{"eventType":"order.ready","payload":[1,2,3],"payloadRetentionPeriod":-1}`,
		`{"messages":[{"eventType":"order.ready","payload":{}},{"eventType":"","payload":null}]}`,
		`{"messages":[` + strings.Repeat(`{"eventType":"order.ready","payload":{}},`, 3) + `null]}`,
		`{"name":"order.shipped","description":"d","schemas":{"1":{"type":"object"}},"featureFlag":"ff"}`,
		`{"description":"d","archived":true,"deprecated":"yes","schemas":{"v1":[]}}`,
		`{"expiry":604800}`, `{"expiry":-1}`, `{"featureFlags":["a"]}`,
		`{"scheme":"stripe","credentials":{"secret":"whsec_x"},"application":"fx","rollout":{"state":"on","percent":101}}`,
		`{"scheme":"nope","merchants":{"m":"fx"},"merchantField":"a..b"}`,
		`{"state":"on","merchants":["m1"],"percent":50}`,
		`{"events":[{"processor":"stripe","reference":"pi_1","status":"captured","amount":1}]}`,
		`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":"x"}}}`,
	}
	for i := range routes {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		e.t = t // the fuzz target runs one input at a time
		r := routes[int(route)%len(routes)]
		resp := e.doWith(r.method, r.path, body, map[string]string{"Authorization": "Bearer " + testKey})
		if resp.Status >= 500 {
			t.Errorf("%s %s with %q: %d %s", r.method, r.path, body, resp.Status, resp.Body)
		}
	})
}

// FuzzReads asks every GET route for arbitrary ids and query strings: a
// 4xx for what cannot be found or parsed, never a 500. The ids stand where
// the route has one ({id}); each route also gets the fixture's own.
func FuzzReads(f *testing.F) { fuzzReads(f, newEnv(f)) }

// FuzzReadsPostgres is FuzzReads on PostgreSQL.
func FuzzReadsPostgres(f *testing.F) { fuzzReads(f, postgresEnv(f)) }

func fuzzReads(f *testing.F, e *env) {
	e.createEventType("order.ready")
	e.createApp("fixture", "fx")
	e.createEndpoint("fx", obj{"uid": "fx-ep"})
	e.sendMessage("fx", obj{"eventType": "order.ready", "eventId": "fx-msg"})
	e.deliver(500)
	src := e.stripeSource("fx", "shadow", nil)

	routes := []string{
		"/api/v1/app", "/api/v1/app/{id}", "/api/v1/app/{id}/endpoint",
		"/api/v1/app/fx/endpoint/{id}", "/api/v1/app/fx/endpoint/{id}/secret",
		"/api/v1/app/fx/endpoint/{id}/headers", "/api/v1/app/fx/endpoint/{id}/stats",
		"/api/v1/app/fx/endpoint/{id}/msg", "/api/v1/app/{id}/msg", "/api/v1/app/fx/msg/{id}",
		"/api/v1/app/fx/msg/fx-msg/attempt/{id}", "/api/v1/app/fx/msg/{id}/endpoint",
		"/api/v1/app/fx/attempt/msg/{id}", "/api/v1/app/fx/attempt/endpoint/{id}",
		"/api/v1/event-type", "/api/v1/event-type/{id}", "/api/v1/app/{id}/events",
		"/api/v1/operational-webhook/endpoint", "/api/v1/operational-webhook/endpoint/{id}",
		"/api/v1/source", "/api/v1/source/{id}", "/api/v1/source/{id}/rollout",
		"/api/v1/source/{id}/events", "/api/v1/source/{id}/comparison",
	}
	ids := []string{"fx", "fx-ep", "fx-msg", "order.ready", src, "nope", "", "a\x00b", "\xff", "app_01HZZZZZZZZZZZZZZZZZZZZZZZ", "../x"}
	queries := []string{
		"", "limit=1", "limit=-1", "limit=99999999999999999999", "iterator=x", "iterator=msg_01HZZZZZZZZZZZZZZZZZZZZZZZ",
		"order=ascending", "before=2024-01-01T00:00:00Z&after=2025-01-01T00:00:00Z", "before=%00",
		"event_types=order.ready&event_types=a%00b", "channel=%00", "channel=%FF", "with_content=false",
		"status=0&status_code_class=500", "status=9", "since=2024-01-01T00:00:00Z", "tag=%00", "endpoint_id=%00",
	}
	// Every id with no query and every query with the fixture's id, per
	// route; the fuzzer combines them further.
	for i := range routes {
		for _, id := range ids {
			f.Add(uint8(i), id, "")
		}
		for _, q := range queries {
			f.Add(uint8(i), "fx", q)
		}
	}
	// A query naming an endpoint, on a message that exists.
	f.Add(uint8(slices.Index(routes, "/api/v1/app/fx/attempt/msg/{id}")), "fx-msg", "endpoint_id=a%00b")
	f.Fuzz(func(t *testing.T, route uint8, id, query string) {
		target := strings.ReplaceAll(routes[int(route)%len(routes)], "{id}", url.PathEscape(id))
		u, err := url.Parse(target)
		if err != nil {
			t.Skip()
		}
		u.RawQuery = query
		req := httptest.NewRequest("GET", "/", nil)
		req.URL, req.RequestURI = u, u.RequestURI()
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("GET %s: %d %s", u, rec.Code, rec.Body)
		}
	})
}
