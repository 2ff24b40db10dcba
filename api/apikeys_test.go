package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// createKey makes an API key with the admin key and returns its JSON (with
// the key, in "key").
func (e *env) createKey(name, scope string) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/api-key", obj{"name": name, "scope": scope}).want(http.StatusCreated).object()
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// TestRouteScopes calls every authenticated route of the server's route
// table with a key of every scope: a scope that may call the route is let
// through to the handler (any answer but 401 or 403, never a 5xx: the ids
// in the path mostly name nothing), any other is 403. A route added later
// is covered as it is registered. The expectation is written from the
// routes' methods and paths, not from how they were registered, except
// for which routes an application's key may use (its portal token's).
func TestRouteScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createApp("A", "a")
	b := e.createApp("B", "b")
	doomed := e.createApp("Doomed", "doomed") // what DELETE /api/v1/app/{app_id} deletes
	aID, bID := str(a, "id"), str(b, "id")

	keys := map[string]string{}
	for _, scope := range []string{"admin", "read-only", "ingest", "inbound", "app:" + aID, "app:" + bID} {
		keys[scope] = str(e.createKey("key "+scope, scope), "key")
	}

	sends := func(rt route) bool {
		// Sending, and cancelling what was sent for later.
		return rt.method == "POST" && (rt.path == "/api/v1/app/{app_id}/msg" || rt.path == "/api/v1/app/{app_id}/msg/batch" ||
			rt.path == "/api/v1/app/{app_id}/msg/{msg_id}/cancel")
	}
	allowed := func(scope string, rt route) bool {
		if rt.path == "/api/v1/auth/logout" {
			return true // acts on the key it is called with (and refuses an API key, 400)
		}
		switch scope {
		case "admin":
			return true
		case "read-only":
			// Every read but a signing secret's.
			return rt.method == "GET" && !strings.HasSuffix(rt.path, "/secret")
		case "ingest":
			return sends(rt)
		case "inbound":
			return strings.HasPrefix(rt.path, "/api/v1/source")
		}
		// An application's scope: its portal token's routes and sending,
		// for the path's application (the routes of A) or for none (the
		// catalogue's); and its own background tasks
		// (TestBackgroundTaskScope).
		if strings.HasPrefix(rt.path, "/api/v1/background-task") {
			return true
		}
		if rt.who != routeApp && !sends(rt) {
			return false
		}
		return !strings.Contains(rt.path, "{app_id}") || scope == "app:"+aID
	}

	covered := 0
	for _, rt := range e.api.routes {
		if rt.who == routePublic {
			continue
		}
		covered++
		path := rt.path
		if rt.method == "DELETE" && path == "/api/v1/app/{app_id}" {
			path = strings.ReplaceAll(path, "{app_id}", str(doomed, "id"))
		}
		path = strings.ReplaceAll(path, "{app_id}", aID)
		for {
			i := strings.Index(path, "{")
			if i < 0 {
				break
			}
			j := strings.Index(path[i:], "}")
			path = path[:i] + "none" + path[i+j+1:]
		}
		var body any
		if rt.method == "POST" || rt.method == "PUT" || rt.method == "PATCH" {
			body = obj{}
		}
		// Every scope but admin first: admin's calls may change things.
		for _, scope := range []string{"read-only", "ingest", "inbound", "app:" + aID, "app:" + bID, "admin"} {
			r := e.doWith(rt.method, path, body, bearer(keys[scope]))
			want := allowed(scope, rt)
			switch {
			case want && (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden || r.Status >= 500):
				t.Errorf("%s %s with scope %s: %d, want it let through; body %s", rt.method, rt.path, scope, r.Status, r.Body)
			case !want && r.Status != http.StatusForbidden:
				t.Errorf("%s %s with scope %s: %d, want 403; body %s", rt.method, rt.path, scope, r.Status, r.Body)
			}
		}
	}
	if covered < 60 {
		t.Fatalf("only %d authenticated routes in the route table", covered)
	}
}

// TestAPIKeyLifecycle: a key is shown once, works, records its last use
// (at most once a minute), and stops working at once when rotated (the
// new one works) or revoked.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	created := e.createKey("reporting", "read-only")
	id, key := str(created, "id"), str(created, "key")
	if !strings.HasPrefix(key, "hbk_"+id+"_") || created["lastUsedAt"] != nil || created["scope"] != "read-only" {
		t.Fatalf("created %v: want a key hbk_<id>_…, never used, read-only", created)
	}
	got := e.do("GET", "/api/v1/api-key/"+id, nil).want(http.StatusOK).object()
	if _, shown := got["key"]; shown {
		t.Errorf("GET shows the key again: %v", got)
	}
	stored, err := e.store.GetAPIKey(t.Context(), id)
	if err != nil || stored.Hash != hookbridge.HashKey(key) || strings.Contains(stored.Hash, key) {
		t.Fatalf("stored %+v, %v: want only the key's hash", stored, err)
	}

	e.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusOK)
	first := e.do("GET", "/api/v1/api-key/"+id, nil).want(http.StatusOK).object()["lastUsedAt"]
	if first != formatTime(e.clock.Now()) {
		t.Errorf("lastUsedAt %v after a use, want %s", first, formatTime(e.clock.Now()))
	}
	e.clock.Advance(30 * time.Second)
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusOK)
	if again := e.do("GET", "/api/v1/api-key/"+id, nil).object()["lastUsedAt"]; again != first {
		t.Errorf("lastUsedAt %v half a minute later, want it kept at %v", again, first)
	}
	e.clock.Advance(31 * time.Second)
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusOK)
	if later := e.do("GET", "/api/v1/api-key/"+id, nil).object()["lastUsedAt"]; later != formatTime(e.clock.Now()) {
		t.Errorf("lastUsedAt %v past a minute, want %s", later, formatTime(e.clock.Now()))
	}

	var list struct {
		Data []map[string]any `json:"data"`
		Done bool             `json:"done"`
	}
	e.do("GET", "/api/v1/api-key", nil).want(http.StatusOK).decode(&list)
	if len(list.Data) != 1 || list.Data[0]["id"] != id || list.Data[0]["key"] != nil {
		t.Errorf("list %+v: want the one key, without the key itself", list)
	}

	rotated := e.do("POST", "/api/v1/api-key/"+id+"/rotate", nil).want(http.StatusOK).object()
	newKey := str(rotated, "key")
	if newKey == key || rotated["name"] != "reporting" || rotated["scope"] != "read-only" {
		t.Fatalf("rotated %v: want a new key, same name and scope", rotated)
	}
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusUnauthorized)
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(newKey)).want(http.StatusOK)

	e.do("DELETE", "/api/v1/api-key/"+id, nil).want(http.StatusNoContent)
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(newKey)).want(http.StatusUnauthorized)
	e.do("DELETE", "/api/v1/api-key/"+id, nil).want(http.StatusNotFound)
	e.do("POST", "/api/v1/api-key/"+id+"/rotate", nil).want(http.StatusNotFound)
	e.do("GET", "/api/v1/api-key/nope", nil).want(http.StatusNotFound)
}

// TestAPIKeyRevokedOnAnotherInstance: two servers over one store; a key
// revoked (or rotated) through one is refused by the other once the
// other's brief cache of it has expired, without any restart.
func TestAPIKeyRevokedOnAnotherInstance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := newEnvOn(t, e.store)
	revokedOnAnother(t, e, other)
}

// TestAPIKeyRevokedOnAnotherInstancePostgres is the same with two
// instances, each with its own connections, on one PostgreSQL database.
func TestAPIKeyRevokedOnAnotherInstancePostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	open := func() *env {
		store, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return newEnvOn(t, store)
	}
	revokedOnAnother(t, open(), open())
}

func revokedOnAnother(t *testing.T, e, other *env) {
	other.clock = e.clock
	other.api.now = e.clock.Now
	e.createApp("Shop", "shop")
	created := e.createKey("ci", "admin")
	id, key := str(created, "id"), str(created, "key")

	other.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusOK) // cached there now
	e.do("DELETE", "/api/v1/api-key/"+id, nil).want(http.StatusNoContent)
	e.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusUnauthorized)
	e.clock.Advance(apiKeyTTL)
	other.doWith("GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusUnauthorized)
}

// TestAPIKeyBadInput: a key needs a name and a known scope; an
// application's scope names an existing application, and keeps its id
// when given its uid.
func TestAPIKeyBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := e.createApp("Shop", "shop")
	cases := []struct {
		name string
		body any
		locs []string
	}{
		{"Empty", obj{}, []string{"body.name", "body.scope"}},
		{"BlankName", obj{"name": "  ", "scope": "admin"}, []string{"body.name"}},
		{"UnknownScope", obj{"name": "n", "scope": "root"}, []string{"body.scope"}},
		{"EmptyApp", obj{"name": "n", "scope": "app:"}, []string{"body.scope"}},
		{"UnknownApp", obj{"name": "n", "scope": "app:nope"}, []string{"body.scope"}},
	}
	for _, c := range cases {
		r := e.do("POST", "/api/v1/api-key", c.body).want(http.StatusUnprocessableEntity)
		if got := validationLocs(t, r); fmt.Sprint(got) != fmt.Sprint(c.locs) {
			t.Errorf("%s: locations %v, want %v", c.name, got, c.locs)
		}
	}
	byUID := e.createKey("shop", "app:shop")
	if byUID["scope"] != "app:"+str(app, "id") {
		t.Errorf("scope %v, want the application's id", byUID["scope"])
	}
}

// TestAPIKeyScopesInUse: an application's key sends its application's
// messages and no other's; an ingest key sends to any application but
// reads nothing; a change made with a key is audited under its name.
func TestAPIKeyScopesInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	e.createApp("Other", "other")
	shop := str(e.createKey("shop sender", "app:shop"), "key")
	ingest := str(e.createKey("producer", "ingest"), "key")
	inbound := str(e.createKey("payments team", "inbound"), "key")
	msg := obj{"eventType": "order.created", "payload": obj{"id": "o1"}}

	e.doWith("POST", "/api/v1/app/shop/msg", msg, bearer(shop)).want(http.StatusAccepted)
	e.doWith("POST", "/api/v1/app/other/msg", msg, bearer(shop)).want(http.StatusForbidden)
	e.doWith("POST", "/api/v1/app/other/msg", msg, bearer(ingest)).want(http.StatusAccepted)
	e.doWith("GET", "/api/v1/app/other/msg", nil, bearer(ingest)).want(http.StatusForbidden)

	r := e.doWith("POST", "/api/v1/source", obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "application": "shop"},
		bearer(inbound)).want(http.StatusCreated)
	src := str(r.object(), "id")
	e.doWith("PATCH", "/api/v1/source/"+src+"/rollout", obj{"state": "shadow"}, bearer(inbound)).want(http.StatusOK)
	var audit struct {
		Data []struct {
			Actor string `json:"actor"`
		} `json:"data"`
	}
	e.do("GET", "/api/v1/source/"+src+"/rollout", nil).want(http.StatusOK).decode(&audit)
	if len(audit.Data) != 2 {
		t.Fatalf("audit %+v, want the creation and the change", audit)
	}
	for _, c := range audit.Data {
		if c.Actor != "payments team" {
			t.Errorf("actor %q, want the key's name", c.Actor)
		}
	}
}

// TestAPIKeyFailuresThrottled: wrong secrets for a real key's id are
// failures like any other wrong key, and are throttled the same way; the
// right key still gets through.
func TestAPIKeyFailuresThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	created := e.createKey("ci", "admin")
	id, key := str(created, "id"), str(created, "key")
	const from = "203.0.113.7:40000"
	for i := range authFailBurst {
		e.doFrom(from, "GET", "/api/v1/app/shop", nil, bearer(fmt.Sprintf("hbk_%s_guess%d", id, i))).want(http.StatusUnauthorized)
	}
	e.doFrom(from, "GET", "/api/v1/app/shop", nil, bearer("hbk_"+id+"_guess")).want(http.StatusTooManyRequests)
	e.doFrom(from, "GET", "/api/v1/app/shop", nil, bearer(key)).want(http.StatusOK)
}

// TestRequireAdminScopes: what the server guards with RequireAdmin
// (/metrics) is the admin key's, an admin key's, and a read-only key's to
// read; no other scope's.
func TestRequireAdminScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := e.createApp("Shop", "shop")
	h := e.api.RequireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	for scope, want := range map[string]int{
		"admin": http.StatusOK, "read-only": http.StatusOK, "ingest": http.StatusForbidden,
		"inbound": http.StatusForbidden, "app:" + str(app, "id"): http.StatusForbidden,
	} {
		key := str(e.createKey(scope, scope), "key")
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET /metrics with scope %s: %d, want %d", scope, rec.Code, want)
		}
	}
}
