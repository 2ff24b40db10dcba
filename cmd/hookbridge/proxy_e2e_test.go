package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestProxyEndToEnd: serve --proxy sends deliveries through the proxy.
func TestProxyEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var proxied atomic.Int64
	forward := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		// A forward proxy's request carries the absolute target URL.
		r.Out.URL = r.In.URL
	}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "a forward proxy takes absolute URLs", http.StatusBadRequest)
			return
		}
		proxied.Add(1)
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	srv := startTestServer(t, func(c *serveConfig) { c.Proxy = proxy.URL })
	recv := newReceiver(t)
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL + "/hooks"}, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	if id := got.Header.Get("webhook-id"); id != msg.Id {
		t.Errorf("webhook-id %q, want %s", id, msg.Id)
	}
	if n := proxied.Load(); n != 1 {
		t.Errorf("the proxy forwarded %d requests, want 1", n)
	}
}

// TestProxyFlagRefusesBadAddress: a --proxy that is not a proxy address
// stops serve before it opens anything.
func TestProxyFlagRefusesBadAddress(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	_, err := startServer(context.Background(), serveConfig{Addr: "127.0.0.1:0", DB: db, Proxy: "ftp://proxy:21"}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--proxy") {
		t.Fatalf("serve with --proxy ftp://proxy:21: %v, want an error naming --proxy", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("the database was created (%v)", err)
	}
}
