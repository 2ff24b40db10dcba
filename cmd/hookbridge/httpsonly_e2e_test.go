package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestHTTPSOnlyEndToEnd: a server restarted with --https-only refuses a new
// http endpoint through the Svix SDK, and sends nothing to the http endpoint
// stored before: its message gets a failed attempt that says why.
func TestHTTPSOnlyEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	recv := newReceiver(t)

	first := startTestServer(t, func(c *serveConfig) { c.DB = db })
	sx := svixClient(t, first)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL + "/hooks"}, nil)
	if err != nil {
		t.Fatalf("http endpoint without --https-only: %v", err)
	}
	if err := first.Shutdown(); err != nil {
		t.Fatal(err)
	}

	srv := startTestServer(t, func(c *serveConfig) { c.DB, c.HTTPSOnly = db, true })
	sx = svixClient(t, srv)
	_, err = sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL + "/other"}, nil)
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("http endpoint with --https-only: %v, want a 422", err)
	}
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var attempts *svix.ListResponseMessageAttemptOut
	waitFor(t, "the refused attempt to be listed", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(attempts.Data) == 1
	})
	a := attempts.Data[0]
	if a.EndpointId != ep.Id || a.ResponseStatusCode != 0 || !strings.Contains(a.Response, "only https URLs") {
		t.Errorf("attempt = %+v, want a failed attempt to %s saying only https URLs are allowed", a, ep.Id)
	}
	// The attempt is recorded after the refusal: a request that reached
	// the receiver would be in got by now.
	if len(recv.got) != 0 {
		t.Error("the http receiver was reached")
	}
}
