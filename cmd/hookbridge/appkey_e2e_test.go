package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestApplicationKeyWithSDK: the token of app-portal-access drives the
// Svix SDK as its application's key, as with Svix: the consumer's own
// backend manages its endpoints and reads its messages, and nothing of
// another application.
func TestApplicationKeyWithSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	admin := svixClient(t, srv)
	shop, err := admin.Application.Create(ctx, svix.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Application.Create(ctx, svix.ApplicationIn{Name: "Other", Uid: ptr("other")}, nil); err != nil {
		t.Fatal(err)
	}
	access, err := admin.Authentication.AppPortalAccess(ctx, "shop", svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://" + srv.Addr)
	consumer, err := svix.New(access.Token, &svix.SvixOptions{ServerUrl: u})
	if err != nil {
		t.Fatal(err)
	}

	recv := newReceiver(t)
	ep, err := consumer.Endpoint.Create(ctx, "shop", svix.EndpointIn{Url: recv.URL + "/mine", FilterTypes: []string{"payment.captured"}}, nil)
	if err != nil {
		t.Fatalf("create an endpoint with the application's key: %v", err)
	}
	secret, err := consumer.Endpoint.GetSecret(ctx, "shop", ep.Id)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := admin.Message.Create(ctx, shop.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	wh, _ := svix.NewWebhook(secret.Key)
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Errorf("the delivery does not verify with the secret the key read: %v", err)
	}
	msgs, err := consumer.Message.List(ctx, "shop", nil)
	if err != nil || len(msgs.Data) != 1 || msgs.Data[0].Id != msg.Id {
		t.Errorf("messages read with the application's key: %+v, %v", msgs, err)
	}

	if _, err := consumer.Endpoint.List(ctx, "other", nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("another application's endpoints with the key: %v, want 403", err)
	}
	if _, err := consumer.Message.Create(ctx, "shop", svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{}}, nil); err == nil {
		t.Error("the application's key sent a message")
	}
	if _, err := consumer.Application.List(ctx, nil); err == nil {
		t.Error("the application's key listed the applications")
	}
}
