package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/netguard"
)

// TestHTTPSOnly: with a guard made HTTPSOnly (serve --https-only), every
// route that sets an endpoint URL refuses an http one with a 422 naming the
// url field, and writes nothing; https URLs are taken as before.
func TestHTTPSOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Guard = netguard.New().HTTPSOnly() })
	e.createApp("shop", "shop")
	e.createEndpoint("shop", obj{"uid": "ep", "url": "https://receiver.example.com/hook"})
	ops := str(e.do("POST", "/api/v1/operational-webhook/endpoint", obj{"url": "https://ops.example.com/x"}).
		want(http.StatusCreated).object(), "id")

	const httpURL = "http://receiver.example.com/hook"
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/app/shop/endpoint"},
		{"PUT", "/api/v1/app/shop/endpoint/ep"},
		{"PUT", "/api/v1/app/shop/endpoint/new-ep"},
		{"PATCH", "/api/v1/app/shop/endpoint/ep"},
		{"POST", "/api/v1/operational-webhook/endpoint"},
		{"PUT", "/api/v1/operational-webhook/endpoint/" + ops},
	} {
		r := e.do(c.method, c.path, obj{"url": httpURL})
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s %s with an http URL: status %d, want 422; body %s", c.method, c.path, r.Status, r.Body)
			continue
		}
		if locs := validationLocs(t, r); !slices.Contains(locs, "body.url") {
			t.Errorf("%s %s: 422 names %v, want body.url", c.method, c.path, locs)
		}
		if !strings.Contains(string(r.Body), "https") {
			t.Errorf("%s %s: 422 does not say why: %s", c.method, c.path, r.Body)
		}
	}
	list := e.do("GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK).object()
	data := list["data"].([]any)
	if len(data) != 1 || str(data[0].(map[string]any), "url") != "https://receiver.example.com/hook" {
		t.Errorf("endpoints after the refusals: %v, want the one https endpoint unchanged", data)
	}
	e.do("PATCH", "/api/v1/app/shop/endpoint/ep", obj{"url": "https://other.example.com/hook"}).want(http.StatusOK)
}
