package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownEventTypes: by default serve accepts a message whose event
// type is not in the catalogue and counts it in /metrics; started with
// --strict-event-types it answers 422 naming body.eventType, single or in
// a batch, and still accepts the catalogue's (seeded) types.
func TestUnknownEventTypes(t *testing.T) {
	t.Parallel()
	send := func(srv *server, path, body string) (int, string) {
		t.Helper()
		code, out := callAPI(t, srv, "POST", path, []byte(body), nil)
		return code, string(out)
	}
	const typo = `{"eventType":"order.craeted","payload":{}}`

	t.Run("default", func(t *testing.T) {
		t.Parallel()
		srv := startTestServer(t)
		callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Shop","uid":"shop"}`), nil)
		if code, body := send(srv, "/api/v1/app/shop/msg", typo); code != http.StatusAccepted {
			t.Fatalf("unknown type: %d %s, want 202", code, body)
		}
		_, metrics := callAPI(t, srv, "GET", "/metrics", nil, nil)
		if !strings.Contains(string(metrics), "\nhookbridge_messages_unknown_event_type_total 1\n") {
			t.Errorf("/metrics does not count the message:\n%s", metrics)
		}
	})

	t.Run("strict", func(t *testing.T) {
		t.Parallel()
		var cfg serveConfig
		fs := newFlagSet("serve", "", io.Discard)
		cfg.register(fs)
		if err := fs.parse([]string{"--strict-event-types", "--addr", "127.0.0.1:0", "--api-key", testAPIKey,
			"--db", filepath.Join(t.TempDir(), "hookbridge.db")}); err != nil {
			t.Fatal(err)
		}
		srv, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Shop","uid":"shop"}`), nil)

		code, body := send(srv, "/api/v1/app/shop/msg", typo)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"loc":["body","eventType"]`) || !strings.Contains(body, "order.craeted") {
			t.Errorf("unknown type: %d %s, want 422 on body.eventType", code, body)
		}
		if code, body := send(srv, "/api/v1/app/shop/msg", `{"eventType":"order.created","payload":{}}`); code != http.StatusAccepted {
			t.Errorf("seeded type: %d %s, want 202", code, body)
		}
		code, body = send(srv, "/api/v1/app/shop/msg/batch", `{"messages":[`+typo+`,{"eventType":"order.created","payload":{}}]}`)
		if code != http.StatusOK || !strings.Contains(body, `"loc":["body","messages","0","eventType"]`) ||
			strings.Count(body, `"status":202`) != 1 || strings.Count(body, `"status":422`) != 1 {
			t.Errorf("batch: %d %s, want message 0 refused on its eventType and message 1 accepted", code, body)
		}
	})
}
