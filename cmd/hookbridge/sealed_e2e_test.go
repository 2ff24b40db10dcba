package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/sealed"
)

// TestSecretKeyEndToEnd: with --secret-key, an endpoint's secret is not in
// the database file, yet every delivery (handed straight to the dispatcher
// by the ingest transaction) is signed with it, and the API shows it.
// Started again without the key, the server refuses to start rather than
// send unsigned or wrongly signed webhooks, and leaves no key file.
func TestSecretKeyEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := sealed.NewKey()
	db := t.TempDir() + "/hookbridge.db"
	srv := startTestServer(t, func(c *serveConfig) { c.DB, c.SecretKey = db, key })
	sx := svixClient(t, srv)

	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL + "/hooks", Secret: ptr(secret)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("delivery not signed with the endpoint's secret: %v", err)
	}
	shown, err := sx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	if err != nil || shown.Key != secret {
		t.Fatalf("secret shown %+v, %v", shown, err)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(strings.TrimPrefix(secret, "whsec_"))) {
			t.Fatalf("%s holds the endpoint's secret in the clear", name)
		}
	}

	// Without the key (nor its file), the start makes a key file, finds
	// the secrets sealed with another key, refuses, and removes the file
	// it made: nothing was sealed with it.
	_, err = startServer(ctx, serveConfig{Addr: "127.0.0.1:0", DB: db, APIKey: testAPIKey}, srv.logger, nil)
	if err == nil || !strings.Contains(err.Error(), "not configured") || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Fatalf("start without the key: %v, want a refusal naming the missing key and how to give it", err)
	}
	if _, err := os.Stat(db + keyFileSuffix); !os.IsNotExist(err) {
		t.Fatalf("the key file made for the refused start is left behind: %v", err)
	}
}
