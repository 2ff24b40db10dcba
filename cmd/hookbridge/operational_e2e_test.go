package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestOperationalWebhooksEndToEnd: through the served API, an operational
// endpoint created with the Svix SDK hears that a customer endpoint
// answering 410 Gone was disabled. The event is recorded by the store with
// the disabling and relayed by the server's relay, kicked by the
// dispatcher: the relay's poll alone would also get there, within a second.
func TestOperationalWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)

	ops := newReceiver(t)
	op, err := sx.OperationalWebhookEndpoint.Create(ctx, svix.OperationalWebhookEndpointIn{
		Url:         ops.URL + "/ops",
		FilterTypes: []string{"endpoint.disabled"},
	}, nil)
	if err != nil {
		t.Fatalf("create operational endpoint: %v", err)
	}
	opSecret, err := sx.OperationalWebhookEndpoint.GetSecret(ctx, op.Id)
	if err != nil {
		t.Fatal(err)
	}

	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop", Uid: ptr("shop-9")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone := newReceiver(t)
	gone.setStatus(http.StatusGone)
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: gone.URL + "/hooks", Uid: ptr("orders")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	gone.next(t)

	got := ops.next(t)
	wh, err := svix.NewWebhook(opSecret.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("operational webhook not signed with its endpoint's secret: %v", err)
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			AppID       string `json:"appId"`
			AppUID      string `json:"appUid"`
			EndpointID  string `json:"endpointId"`
			EndpointUID string `json:"endpointUid"`
			FailSince   string `json:"failSince"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got.Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "endpoint.disabled" || ev.Data.AppID != app.Id || ev.Data.AppUID != "shop-9" ||
		ev.Data.EndpointID != ep.Id || ev.Data.EndpointUID != "orders" || ev.Data.FailSince == "" {
		t.Fatalf("operational webhook %s", got.Body)
	}
	disabled, err := sx.Endpoint.Get(ctx, app.Id, ep.Id)
	if err != nil || disabled.Disabled == nil || !*disabled.Disabled {
		t.Fatalf("endpoint after a 410: %+v, %v", disabled, err)
	}
	// The relay deletes the event once its message is stored.
	waitFor(t, "the relayed event to be deleted", func() bool {
		events, err := srv.store.OperationalEvents(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(events) == 0
	})
}
