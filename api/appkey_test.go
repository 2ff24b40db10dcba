package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// portalToken issues a portal token for app with the given request body.
func (e *env) portalToken(app string, body obj) string {
	e.t.Helper()
	return str(e.do("POST", "/api/v1/auth/app-portal-access/"+app, body).want(http.StatusOK).object(), "token")
}

// withKey sends a request with key as the bearer token.
func (e *env) withKey(key, method, path string, body any) *response {
	e.t.Helper()
	return e.doWith(method, path, body, map[string]string{"Authorization": "Bearer " + key})
}

// TestApplicationKey: a portal token is also an application's API key, as
// in Svix. It may call the routes of its own application that a consumer
// needs — endpoints, messages, attempts, the events feed, the catalogue —
// and nothing else: not another application, not the application itself,
// not sending messages, not the admin routes.
func TestApplicationKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.ready")
	e.do("POST", "/api/v1/event-type", obj{"name": "order.beta", "description": "gated", "featureFlag": "beta"}).want(http.StatusCreated)
	shop := str(e.createApp("Shop", "shop"), "id")
	e.createApp("Other", "other")
	e.createEndpoint("shop", obj{"uid": "shop-ep"})
	e.createEndpoint("other", obj{"uid": "other-ep"})
	e.sendMessage("shop", obj{"eventType": "order.ready", "eventId": "shop-msg"})
	e.deliver(200)
	key := e.portalToken("shop", obj{})

	const url = "https://consumer.example.com/hooks"
	for _, c := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/api/v1/app/shop", nil, 200},
		{"GET", "/api/v1/app/" + shop, nil, 200},
		{"GET", "/api/v1/app/shop/endpoint", nil, 200},
		{"POST", "/api/v1/app/shop/endpoint", obj{"url": url}, 201},
		{"PATCH", "/api/v1/app/shop/endpoint/shop-ep", obj{"description": "mine"}, 200},
		{"GET", "/api/v1/app/shop/endpoint/shop-ep/secret", nil, 200},
		{"POST", "/api/v1/app/shop/endpoint/shop-ep/secret/rotate", obj{}, 204},
		{"GET", "/api/v1/app/shop/endpoint/shop-ep/stats", nil, 200},
		{"GET", "/api/v1/app/shop/msg", nil, 200},
		{"GET", "/api/v1/app/shop/msg/shop-msg", nil, 200},
		{"GET", "/api/v1/app/shop/attempt/msg/shop-msg", nil, 200},
		{"POST", "/api/v1/app/shop/msg/shop-msg/endpoint/shop-ep/resend", nil, 202},
		{"GET", "/api/v1/app/shop/events", nil, 200},
		{"GET", "/api/v1/event-type", nil, 200},
		{"GET", "/api/v1/event-type/order.ready", nil, 200},
		{"GET", "/api/v1/event-type/order.beta", nil, 404}, // gated by a flag the key lacks

		// Another application, by uid, by a name that does not exist.
		{"GET", "/api/v1/app/other", nil, 403},
		{"GET", "/api/v1/app/other/endpoint/other-ep", nil, 403},
		{"POST", "/api/v1/app/other/endpoint", obj{"url": url}, 403},
		{"GET", "/api/v1/app/nope/msg", nil, 403},
		// The application itself, and sending messages: the producer's.
		{"PATCH", "/api/v1/app/shop", obj{"name": "Mine"}, 403},
		{"DELETE", "/api/v1/app/shop", nil, 403},
		{"POST", "/api/v1/app/shop/msg", obj{"eventType": "order.ready", "payload": obj{}}, 403},
		{"POST", "/api/v1/app/shop/msg/batch", obj{"messages": []obj{{"eventType": "order.ready", "payload": obj{}}}}, 403},
		{"DELETE", "/api/v1/app/shop/msg/shop-msg/content", nil, 403},
		// The admin's routes.
		{"GET", "/api/v1/app", nil, 403},
		{"POST", "/api/v1/app", obj{"name": "Mine"}, 403},
		{"POST", "/api/v1/event-type", obj{"name": "order.mine", "description": "d"}, 403},
		{"POST", "/api/v1/auth/app-portal-access/shop", obj{}, 403},
		{"POST", "/api/v1/auth/app/shop/expire-all", obj{}, 403},
		{"GET", "/api/v1/operational-webhook/endpoint", nil, 403},
		{"GET", "/api/v1/source", nil, 403},
	} {
		if r := e.withKey(key, c.method, c.path, c.body); r.Status != c.want {
			t.Errorf("%s %s with the application's key: %d, want %d; %s", c.method, c.path, r.Status, c.want, r.Body)
		}
	}

	// The 403 names the route once, as its pattern.
	r := e.withKey(key, "POST", "/api/v1/auth/app-portal-access/shop", obj{}).want(http.StatusForbidden)
	if want := "; POST /api/v1/auth/app-portal-access/{app_id} needs the admin key"; !strings.HasSuffix(str(r.object(), "detail"), want) {
		t.Errorf("403 detail %s, want it to end %q", r.Body, want)
	}

	var list struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	e.withKey(key, "GET", "/api/v1/event-type", nil).want(http.StatusOK).decode(&list)
	for _, et := range list.Data {
		if et.Name == "order.beta" {
			t.Error("the catalogue shows order.beta to a key without its feature flag")
		}
	}
	beta := e.portalToken("shop", obj{"featureFlags": []string{"beta"}})
	e.withKey(beta, "GET", "/api/v1/event-type/order.beta", nil).want(http.StatusOK)

	// The endpoint the key created is the application's; the other
	// application is as it was.
	var eps struct {
		Data []struct {
			URL string `json:"url"`
		} `json:"data"`
	}
	e.do("GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK).decode(&eps)
	if len(eps.Data) != 2 {
		t.Errorf("shop has %d endpoints, want its own and the one its key created", len(eps.Data))
	}
	e.do("GET", "/api/v1/app/other/endpoint", nil).want(http.StatusOK).decode(&eps)
	if len(eps.Data) != 1 {
		t.Errorf("other has %d endpoints, want 1", len(eps.Data))
	}
}

// TestApplicationKeyReadOnlyExpiredRevoked: a read-only key only reads,
// and not a signing secret (which would let it sign); an expired, revoked
// or forged one is 401.
func TestApplicationKeyReadOnlyExpiredRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	e.createEndpoint("shop", obj{"uid": "shop-ep"})

	ro := e.portalToken("shop", obj{"readOnly": true})
	e.withKey(ro, "GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/app/shop/endpoint", obj{"url": "https://consumer.example.com/x"}},
		{"PATCH", "/api/v1/app/shop/endpoint/shop-ep", obj{"description": "x"}},
		{"DELETE", "/api/v1/app/shop/endpoint/shop-ep", nil},
		{"POST", "/api/v1/app/shop/endpoint/shop-ep/secret/rotate", obj{}},
		{"GET", "/api/v1/app/shop/endpoint/shop-ep/secret", nil},
	} {
		if r := e.withKey(ro, c.method, c.path, c.body); r.Status != http.StatusForbidden {
			t.Errorf("%s %s with a read-only key: %d, want 403", c.method, c.path, r.Status)
		}
	}

	key := e.portalToken("shop", obj{})
	e.withKey(key, "GET", "/api/v1/app/shop/endpoint/shop-ep/secret", nil).want(http.StatusOK)
	e.clock.Advance(2 * time.Hour) // past the default lifetime of one hour
	if r := e.withKey(key, "GET", "/api/v1/app/shop", nil); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "expired") {
		t.Errorf("expired key: %d %s, want 401 saying it expired", r.Status, r.Body)
	}

	key = e.portalToken("shop", obj{})
	e.withKey(key, "GET", "/api/v1/app/shop", nil).want(http.StatusOK)
	e.clock.Advance(time.Second) // expire-all ends the tokens issued before it
	e.do("POST", "/api/v1/auth/app/shop/expire-all", obj{}).want(http.StatusNoContent)
	if r := e.withKey(key, "GET", "/api/v1/app/shop", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d, want 401", r.Status)
	}

	forged := key[:len(key)-2] + "AA"
	if r := e.withKey(forged, "GET", "/api/v1/app/shop", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("forged key: %d, want 401", r.Status)
	}
}
