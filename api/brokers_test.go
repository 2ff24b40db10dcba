package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/netguard"
)

// TestBrokerEndpointURLs: an endpoint URL may name a message broker; what
// a broker URL must hold is checked when it is set, a 422 on url saying
// what is wrong.
func TestBrokerEndpointURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop")
	for _, u := range []string{
		"amqp://hooks:pw@mq.example.com/shop?exchange=orders&routingKey=paid",
		"amqps://mq.example.com?routingKey=orders",
		"nats://nats.example.com:4222/orders.paid",
		"tls://token@nats.example.com/orders",
		"redis://:pw@cache.example.com:6379/2?stream=hooks&maxlen=10000",
		"rediss://cache.example.com?stream=hooks",
		"kafka://kafka.example.com:9092/orders?key=order_id",
		"kafkas://hooks:pw@kafka.example.com/orders?sasl=scram-sha-256",
	} {
		out := e.createEndpoint("shop", obj{"url": u})
		if got := str(out, "url"); strings.Contains(got, "pw") || strings.Contains(got, "token") {
			t.Errorf("%s: answered url %q shows its credentials", u, got)
		}
	}
	for _, c := range []struct{ url, says string }{
		{"amqp://mq.example.com/", "exchange"},
		{"amqp://mq.example.com/?exchange=x&certfile=/etc/passwd", "certfile"},
		{"nats://nats.example.com", "subject"},
		{"nats://nats.example.com/orders.>", "wildcards"},
		{"redis://cache.example.com/0", "stream"},
		{"kafka://u:p@kafka.example.com/orders", "need ?sasl="},
		{"kafkas://kafka.example.com/orders?sasl=plain", "user and password"},
		{"kafka://kafka.example.com/", "topic"},
		{"amqp://guest:guest@127.0.0.1:5672/?exchange=x", "not allowed"},
		{"redis://localhost/0?stream=s", "not allowed"},
		{"gopher://example.com/", "scheme"},
	} {
		r := e.do("POST", "/api/v1/app/shop/endpoint", obj{"url": c.url})
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422; %s", c.url, r.Status, r.Body)
			continue
		}
		if locs := validationLocs(t, r); !slices.Contains(locs, "body.url") || !strings.Contains(string(r.Body), c.says) {
			t.Errorf("%s: 422 %s, want one on body.url saying %q", c.url, r.Body, c.says)
		}
	}
}

// TestBrokerPasswordMasked: the password of a broker URL is never in an
// answer: endpoints, operational endpoints and attempts show it as ****.
// An update that sends the masked URL back keeps the stored password, for
// the same scheme, user and host only; a new endpoint must have the real
// one.
func TestBrokerPasswordMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appID := str(e.createApp("shop", "shop"), "id")
	const (
		secretURL = "amqp://hooks:s3cret-pw@mq.example.com:5672/shop?exchange=orders&routingKey=paid"
		masked    = "amqp://hooks:****@mq.example.com:5672/shop?exchange=orders&routingKey=paid"
	)
	noSecret := func(what string, r *response) {
		t.Helper()
		if strings.Contains(string(r.Body), "s3cret") {
			t.Errorf("%s shows the password: %s", what, r.Body)
		}
	}
	created := e.do("POST", "/api/v1/app/shop/endpoint", obj{"uid": "mq", "url": secretURL}).want(http.StatusCreated)
	noSecret("create", created)
	if got := str(created.object(), "url"); got != masked {
		t.Errorf("created url %q, want %q", got, masked)
	}
	noSecret("get", e.do("GET", "/api/v1/app/shop/endpoint/mq", nil).want(http.StatusOK))
	noSecret("list", e.do("GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK))

	stored := func() string {
		t.Helper()
		ep, err := e.store.GetEndpoint(context.Background(), appID, "mq")
		if err != nil {
			t.Fatal(err)
		}
		return ep.URL
	}
	// PATCH with the URL as shown and a new routing key: the password stays.
	r := e.do("PATCH", "/api/v1/app/shop/endpoint/mq", obj{"url": strings.Replace(masked, "paid", "refunded", 1)}).want(http.StatusOK)
	noSecret("patch", r)
	if got := stored(); got != strings.Replace(secretURL, "paid", "refunded", 1) {
		t.Errorf("stored after a masked PATCH: %q", got)
	}
	// PUT (as an SDK's update sends every field) with the URL as read.
	r = e.do("PUT", "/api/v1/app/shop/endpoint/mq", obj{"url": str(e.do("GET", "/api/v1/app/shop/endpoint/mq", nil).object(), "url"),
		"uid": "mq", "description": "orders"}).want(http.StatusOK)
	noSecret("put", r)
	if got := stored(); !strings.Contains(got, ":s3cret-pw@") {
		t.Errorf("stored after a masked PUT: %q", got)
	}
	// A new password replaces it.
	e.do("PATCH", "/api/v1/app/shop/endpoint/mq", obj{"url": strings.Replace(secretURL, "s3cret-pw", "n3w-pw", 1)}).want(http.StatusOK)
	if got := stored(); !strings.Contains(got, ":n3w-pw@") {
		t.Errorf("stored after a new password: %q", got)
	}

	// The mask never carries the password to another host, user or scheme,
	// nor stands for a password on a new endpoint.
	for _, c := range []struct {
		method, path, url string
	}{
		{"PATCH", "/api/v1/app/shop/endpoint/mq", strings.Replace(masked, "mq.example.com", "evil.example.com", 1)},
		{"PATCH", "/api/v1/app/shop/endpoint/mq", strings.Replace(masked, "hooks:", "other:", 1)},
		{"PUT", "/api/v1/app/shop/endpoint/mq", strings.Replace(masked, "amqp:", "amqps:", 1)},
		{"POST", "/api/v1/app/shop/endpoint", masked},
		{"PUT", "/api/v1/app/shop/endpoint/new-uid", masked},
	} {
		r := e.do(c.method, c.path, obj{"url": c.url})
		if r.Status != http.StatusUnprocessableEntity || !slices.Contains(validationLocs(t, r), "body.url") ||
			!strings.Contains(string(r.Body), "send the real password") {
			t.Errorf("%s %s with %s: %d %s, want a 422 on url asking for the password", c.method, c.path, c.url, r.Status, r.Body)
		}
	}
	if got := stored(); !strings.Contains(got, "@mq.example.com") || !strings.Contains(got, ":n3w-pw@") {
		t.Errorf("stored after the refusals: %q", got)
	}

	// Attempts show the URL masked too.
	e.sendMessage("shop", obj{})
	e.deliver(0)
	msgs := e.do("GET", "/api/v1/app/shop/attempt/endpoint/mq", nil).want(http.StatusOK)
	if strings.Contains(string(msgs.Body), "n3w-pw") || !strings.Contains(string(msgs.Body), "hooks:****@") {
		t.Errorf("attempts: %s, want the URL with its password masked", msgs.Body)
	}

	// And operational endpoints.
	ops := e.do("POST", "/api/v1/operational-webhook/endpoint", obj{"url": secretURL}).want(http.StatusCreated)
	noSecret("operational create", ops)
	noSecret("operational list", e.do("GET", "/api/v1/operational-webhook/endpoint", nil).want(http.StatusOK))
	id := str(ops.object(), "id")
	e.do("PUT", "/api/v1/operational-webhook/endpoint/"+id, obj{"url": masked}).want(http.StatusOK)
}

// TestHTTPSOnlyBrokers: --https-only takes a broker URL only with its TLS
// scheme (amqps, tls for NATS, rediss, kafkas).
func TestHTTPSOnlyBrokers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Guard = netguard.New().HTTPSOnly() })
	e.createApp("shop", "shop")
	for _, u := range []string{
		"amqps://u:p@mq.example.com/?exchange=x",
		"tls://nats.example.com/orders",
		"rediss://cache.example.com/0?stream=s",
		"kafkas://u:p@kafka.example.com/orders?sasl=plain",
	} {
		e.createEndpoint("shop", obj{"url": u})
	}
	for _, u := range []string{
		"amqp://u:p@mq.example.com/?exchange=x",
		"nats://nats.example.com/orders",
		"redis://cache.example.com/0?stream=s",
		"kafka://kafka.example.com/orders",
	} {
		r := e.do("POST", "/api/v1/app/shop/endpoint", obj{"url": u})
		if r.Status != http.StatusUnprocessableEntity || !slices.Contains(validationLocs(t, r), "body.url") ||
			!strings.Contains(string(r.Body), "--https-only") {
			t.Errorf("%s with --https-only: %d %s, want a 422 on url naming --https-only", u, r.Status, r.Body)
		}
	}
}
