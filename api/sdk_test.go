package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/utils"
)

// TestSvixSDK drives every route with the official Svix Go SDK. The SDK
// decodes every response into its typed models (enums must hold a known
// value, numbers and times must parse), so this checks the wire format
// field by field.
func TestSvixSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.server()
	u, _ := url.Parse(srv.URL)
	sx, err := svix.New(testKey, &svix.SvixOptions{ServerUrl: u})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			var se *svix.Error
			if errors.As(err, &se) {
				t.Fatalf("%s: %v (status %d, body %s)", what, err, se.Status(), se.Body())
			}
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Event types.
	_, err = sx.EventType.Create(ctx, svix.EventTypeIn{
		Name: "payment.captured", Description: "captured",
		Schemas: &map[string]any{"1": map[string]any{"type": "object", "examples": []any{map[string]any{"paymentId": "pay_x"}}}},
	}, nil)
	check("create event type", err)
	_, err = sx.EventType.Create(ctx, svix.EventTypeIn{Name: "order.ready", Description: "ready"}, nil)
	check("create event type", err)
	_, err = sx.EventType.Update(ctx, "order.ready", svix.EventTypeUpdate{Description: "Ready."})
	check("update event type", err)
	et, err := sx.EventType.Patch(ctx, "order.ready", svix.EventTypePatch{})
	check("patch event type", err)
	if et.Description != "Ready." {
		t.Errorf("event type = %+v", et)
	}
	ets, err := sx.EventType.List(ctx, &svix.EventTypeListOptions{WithContent: ptr(true)})
	check("list event types", err)
	if len(ets.Data) != 2 || !ets.Done {
		t.Errorf("event types = %+v", ets)
	}
	_, err = sx.EventType.Get(ctx, "payment.captured")
	check("get event type", err)

	// Applications.
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Pizza Place", Uid: ptr("merchant-42"), RateLimit: ptr[uint16](9)}, nil)
	check("create application", err)
	again, err := sx.Application.GetOrCreate(ctx, svix.ApplicationIn{Name: "other", Uid: ptr("merchant-42")}, nil)
	check("get or create application", err)
	if again.Id != app.Id {
		t.Errorf("GetOrCreate made %s, want %s", again.Id, app.Id)
	}
	_, err = sx.Application.Update(ctx, app.Id, svix.ApplicationIn{Name: "Pizza Palace", Uid: ptr("merchant-42")})
	check("update application", err)
	patch := svix.ApplicationPatch{RateLimit: utils.NewNullableFromPtr[uint16](nil)}
	got, err := sx.Application.Patch(ctx, "merchant-42", patch)
	check("patch application", err)
	if got.RateLimit != nil || got.Name != "Pizza Palace" {
		t.Errorf("patched application = %+v", got)
	}
	for range 3 {
		_, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "filler"}, nil)
		check("create application", err)
	}
	order := svix.Ordering("descending")
	page, err := sx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr[uint64](2), Order: &order})
	check("list applications", err)
	if len(page.Data) != 2 || page.Done || page.Iterator == nil {
		t.Errorf("application page = %+v", page)
	}
	page, err = sx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr[uint64](2), Order: &order, Iterator: page.Iterator})
	check("list applications, page 2", err)
	if len(page.Data) != 2 || !page.Done {
		t.Errorf("application page 2 = %+v", page)
	}
	_, err = sx.Application.Get(ctx, "merchant-42")
	check("get application", err)

	// Endpoints.
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{
		Url: "https://receiver.example.com/hook", Uid: ptr("main"), Description: ptr("payments"),
		FilterTypes: []string{"payment.captured"}, Channels: []string{"eu"}, RateLimit: ptr[uint16](5),
		Metadata: &map[string]string{"team": "pay"},
	}, nil)
	check("create endpoint", err)
	if ep.Version != 1 || len(ep.FilterTypes) != 1 || ep.RateLimit == nil || *ep.RateLimit != 5 {
		t.Errorf("endpoint = %+v", ep)
	}
	_, err = sx.Endpoint.Update(ctx, app.Id, "main", svix.EndpointUpdate{Url: "https://receiver.example.com/v2", Uid: ptr("main")})
	check("update endpoint", err)
	epPatch := svix.EndpointPatch{
		FilterTypes: utils.NewNullable([]string{"payment.captured", "order.ready"}),
		RateLimit:   utils.NewNullableFromPtr[uint16](nil),
	}
	patched, err := sx.Endpoint.Patch(ctx, app.Id, ep.Id, epPatch)
	check("patch endpoint", err)
	if len(patched.FilterTypes) != 2 || patched.RateLimit != nil {
		t.Errorf("patched endpoint = %+v", patched)
	}
	_, err = sx.Endpoint.Get(ctx, "merchant-42", "main")
	check("get endpoint", err)
	eps, err := sx.Endpoint.List(ctx, app.Id, nil)
	check("list endpoints", err)
	if len(eps.Data) != 1 {
		t.Errorf("endpoints = %+v", eps)
	}
	secret, err := sx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	check("get secret", err)
	check("rotate secret", sx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, svix.EndpointSecretRotateIn{}, nil))
	rotated, err := sx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	check("get secret", err)
	if rotated.Key == secret.Key {
		t.Error("rotation kept the secret")
	}
	check("update headers", sx.Endpoint.UpdateHeaders(ctx, app.Id, ep.Id, svix.EndpointHeadersIn{Headers: map[string]string{"X-A": "1", "Authorization": "Bearer x"}}))
	check("patch headers", sx.Endpoint.PatchHeaders(ctx, app.Id, ep.Id, svix.EndpointHeadersPatchIn{Headers: map[string]string{"X-B": "2"}}))
	headers, err := sx.Endpoint.GetHeaders(ctx, app.Id, ep.Id)
	check("get headers", err)
	if len(headers.Headers) != 2 || len(headers.Sensitive) != 1 {
		t.Errorf("headers = %+v", headers)
	}

	// Messages and attempts.
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{
		EventType: "payment.captured", EventId: ptr("evt-1"), Channels: []string{"eu"},
		Payload: map[string]any{"paymentId": "pay_1"},
	}, nil)
	check("create message", err)
	_, err = sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", EventId: ptr("evt-1"), Payload: map[string]any{}}, nil)
	if se := (*svix.Error)(nil); !errors.As(err, &se) || se.Status() != http.StatusConflict {
		t.Errorf("duplicate eventId: %v, want a 409 error", err)
	}
	_, err = sx.Message.Get(ctx, app.Id, "evt-1", nil)
	check("get message", err)
	msgs, err := sx.Message.List(ctx, app.Id, &svix.MessageListOptions{EventTypes: &[]string{"payment.captured"}, Channel: ptr("eu")})
	check("list messages", err)
	if len(msgs.Data) != 1 {
		t.Errorf("messages = %+v", msgs)
	}
	e.deliver(500)

	attempts, err := sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListByMsgOptions{EndpointId: ptr("main")})
	check("list attempts by msg", err)
	if len(attempts.Data) != 1 || attempts.Data[0].ResponseStatusCode != 500 || attempts.Data[0].Status != svix.MessageStatus(2) {
		t.Fatalf("attempts = %+v", attempts)
	}
	byEndpoint, err := sx.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListByEndpointOptions{WithMsg: ptr(true), Before: ptr(time.Now().Add(time.Hour))})
	check("list attempts by endpoint", err)
	if len(byEndpoint.Data) != 1 || byEndpoint.Data[0].Msg == nil {
		t.Errorf("attempts by endpoint = %+v", byEndpoint)
	}
	_, err = sx.MessageAttempt.Get(ctx, app.Id, msg.Id, attempts.Data[0].Id, nil)
	check("get attempt", err)
	dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
	check("list attempted destinations", err)
	if len(dests.Data) != 1 || dests.Data[0].Status != svix.MessageStatus(2) {
		t.Errorf("destinations = %+v", dests)
	}
	attempted, err := sx.MessageAttempt.ListAttemptedMessages(ctx, app.Id, ep.Id, nil)
	check("list attempted messages", err)
	if len(attempted.Data) != 1 {
		t.Errorf("attempted messages = %+v", attempted)
	}
	_, err = sx.MessageAttempt.Resend(ctx, app.Id, msg.Id, ep.Id, nil)
	check("resend", err)
	check("expunge attempt", sx.MessageAttempt.ExpungeContent(ctx, app.Id, msg.Id, attempts.Data[0].Id))

	stats, err := sx.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
	check("stats", err)
	if stats.Pending != 1 {
		t.Errorf("stats = %+v, want the resend pending", stats)
	}
	rec, err := sx.Endpoint.Recover(ctx, app.Id, ep.Id, svix.RecoverIn{Since: time.Now().Add(-time.Hour)}, nil)
	check("recover", err)
	if rec.Status != "running" || rec.Task != "endpoint.recover" {
		t.Errorf("recover = %+v", rec)
	}
	example, err := sx.Endpoint.SendExample(ctx, app.Id, ep.Id, svix.EventExampleIn{EventType: "payment.captured"}, nil)
	check("send example", err)
	if example.EventType != "payment.captured" || example.Payload["paymentId"] != "pay_x" {
		t.Errorf("example message = %+v, want the schema's example", example)
	}
	check("expunge message", sx.Message.ExpungeContent(ctx, app.Id, msg.Id))
	// Logout ends an application's token; the admin key cannot be logged out.
	access, err := sx.Authentication.AppPortalAccess(ctx, app.Id, svix.AppPortalAccessIn{}, nil)
	check("portal access", err)
	consumer, err := svix.New(access.Token, &svix.SvixOptions{ServerUrl: u})
	check("client with the application's key", err)
	check("logout", consumer.Authentication.Logout(ctx, nil))
	var lse *svix.Error
	if _, err := consumer.Endpoint.List(ctx, app.Id, nil); !errors.As(err, &lse) || lse.Status() != http.StatusUnauthorized {
		t.Errorf("the logged-out key lists endpoints: %v, want 401", err)
	}
	if err := sx.Authentication.Logout(ctx, nil); !errors.As(err, &lse) || lse.Status() != http.StatusBadRequest {
		t.Errorf("logout with the admin key: %v, want 400", err)
	}

	// Errors surface with their status.
	_, err = sx.Application.Get(ctx, "nope")
	var se *svix.Error
	if !errors.As(err, &se) || se.Status() != http.StatusNotFound {
		t.Errorf("get unknown application: %v", err)
	}
	_, err = sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: "http://127.0.0.1/"}, nil)
	if !errors.As(err, &se) || se.Status() != http.StatusUnprocessableEntity {
		t.Errorf("create loopback endpoint: %v", err)
	}

	check("delete endpoint", sx.Endpoint.Delete(ctx, app.Id, ep.Id))
	check("delete event type", sx.EventType.Delete(ctx, "order.ready", &svix.EventTypeDeleteOptions{Expunge: ptr(true)}))
	check("delete application", sx.Application.Delete(ctx, app.Id))
}

func ptr[T any](v T) *T { return &v }
