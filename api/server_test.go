package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"wrong key", "Bearer hbk_wrong"},
		{"other scheme", "Basic " + testKey},
		{"no token", "Bearer "},
	} {
		headers := map[string]string{}
		if c.header != "" {
			headers["Authorization"] = c.header
		}
		r := e.doWith("GET", "/api/v1/app", nil, headers)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, r.Status)
			continue
		}
		if body := r.object(); body["code"] != "authentication_failed" || str(body, "detail") == "" {
			t.Errorf("%s: body %v", c.name, body)
		}
	}
	// Lowercase scheme is fine (RFC 9110: case-insensitive).
	e.doWith("GET", "/api/v1/app", nil, map[string]string{"Authorization": "bearer " + testKey}).want(http.StatusOK)

	// Without a configured key nothing is admitted.
	closed := New(Config{Store: e.store})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/app", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	closed.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("server without admin key: %d, want 401", rec.Code)
	}
}

func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	none := map[string]string{}
	e.doWith("GET", "/api/v1/health/ping", nil, none).want(http.StatusNoContent)
	e.doWith("HEAD", "/api/v1/health/ping", nil, none).want(http.StatusNoContent)
	e.doWith("GET", "/api/v1/health", nil, none).want(http.StatusNoContent)

	doc := e.doWith("GET", "/api/v1/openapi.json", nil, none).want(http.StatusOK).object()
	info := doc["info"].(map[string]any)
	if info["title"] != "Hookbridge API" || info["version"] != "test" {
		t.Errorf("openapi info = %v", info)
	}
}

func TestHealthWhenStoreFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	e.store.Close()

	r := e.doWith("GET", "/api/v1/health", nil, map[string]string{}).want(http.StatusServiceUnavailable)
	if r.object()["code"] != "unavailable" {
		t.Errorf("body = %s", r.Body)
	}

	// Internal errors: a generic 500; the details go to the log only.
	e.internalErrors = true
	r = e.do("GET", "/api/v1/app/"+app, nil).want(http.StatusInternalServerError)
	if body := r.object(); body["code"] != "internal" || body["detail"] != "internal error" || len(body) != 2 {
		t.Errorf("500 body = %v", body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "internal error") || !strings.Contains(logs, "closed") {
		t.Errorf("log lacks the error's details: %s", logs)
	}
}

func TestUnroutedAndRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/api/v1/nothing-here", nil).want(http.StatusNotFound)
	if body := r.object(); body["code"] != "not_found" {
		t.Errorf("404 body = %v", body)
	}
	r = e.do("PATCH", "/api/v1/app", nil).want(http.StatusMethodNotAllowed)
	if allow := r.Header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow = %q", allow)
	}
	if body := r.object(); body["code"] != "method_not_allowed" {
		t.Errorf("405 body = %v", body)
	}

	id := e.do("GET", "/api/v1/app", nil).Header.Get(RequestIDHeader)
	if len(id) != 24 {
		t.Errorf("generated request id %q", id)
	}
	given := e.doWith("GET", "/api/v1/health/ping", nil, map[string]string{RequestIDHeader: "req-123"})
	if got := given.Header.Get(RequestIDHeader); got != "req-123" {
		t.Errorf("request id = %q, want the caller's", got)
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.api.mux.HandleFunc("GET /test/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	e.internalErrors = true
	r := e.do("GET", "/test/panic", nil).want(http.StatusInternalServerError)
	if body := r.object(); body["code"] != "internal" {
		t.Errorf("body = %v", body)
	}
	if !strings.Contains(e.logs.String(), "boom") {
		t.Errorf("panic not logged: %s", e.logs.String())
	}
}

func TestBadJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/api/v1/app", `{"name": `).want(http.StatusBadRequest)
	if r.object()["code"] != "bad_request" {
		t.Errorf("body = %s", r.Body)
	}
	e.do("POST", "/api/v1/app", `[1,2]`).want(http.StatusBadRequest)
	e.do("POST", "/api/v1/app", ``).want(http.StatusBadRequest)
	// A wrong type is a 422 naming the field.
	r = e.do("POST", "/api/v1/app", `{"name": 5}`).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.name" {
		t.Errorf("locs = %v", locs)
	}
	r = e.do("POST", "/api/v1/app/x/msg", `{"eventType":"a","payload":{},"application":{"name":7}}`).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.application.name" {
		t.Errorf("locs = %v", locs)
	}
}

// TestOpenAPIRoutes checks that the served document and the routes agree:
// every operation in the document is routed, and every route is in the
// document.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("embedded openapi.json: %v", err)
	}
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			method = strings.ToUpper(method)
			if method == http.MethodHead {
				continue // served by the GET route
			}
			documented[method+" "+path] = true
			req := httptest.NewRequest(method, param.ReplaceAllString(path, "x"), nil)
			if _, pattern := s.mux.Handler(req); pattern != method+" "+path {
				t.Errorf("%s %s is documented but routed to %q", method, path, pattern)
			}
		}
	}
	for _, r := range s.routes {
		if !documented[r.method+" "+r.path] {
			t.Errorf("%s %s is routed but not documented", r.method, r.path)
		}
	}
	if len(s.routes) != len(documented) {
		t.Errorf("%d routes, %d documented operations", len(s.routes), len(documented))
	}
}
