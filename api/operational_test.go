package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/operational"
)

// TestOperationalEndpointsSvixSDK manages operational webhook endpoints
// with the Svix Go SDK's OperationalWebhookEndpoint, which decodes into
// its typed models: the paths and the fields are Svix's.
func TestOperationalEndpointsSvixSDK(t *testing.T) {
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

	created, err := sx.OperationalWebhookEndpoint.Create(ctx, svix.OperationalWebhookEndpointIn{
		Url:         "https://ops.example.com/hooks",
		Description: ptr("pager"),
		FilterTypes: []string{"endpoint.disabled", "message.attempt.exhausted"},
		Uid:         ptr("pager"),
	}, nil)
	check("create", err)
	if created.Url != "https://ops.example.com/hooks" || len(created.FilterTypes) != 2 || created.Uid == nil || *created.Uid != "pager" {
		t.Fatalf("created %+v", created)
	}
	got, err := sx.OperationalWebhookEndpoint.Get(ctx, "pager")
	check("get by uid", err)
	if got.Id != created.Id {
		t.Fatalf("got %s by uid, want %s", got.Id, created.Id)
	}
	updated, err := sx.OperationalWebhookEndpoint.Update(ctx, created.Id, svix.OperationalWebhookEndpointUpdate{
		Url: "https://ops.example.com/v2", FilterTypes: []string{"endpoint.disabled"}, ThrottleRate: ptr(uint16(7)),
	})
	check("update", err)
	if updated.Url != "https://ops.example.com/v2" || len(updated.FilterTypes) != 1 ||
		updated.ThrottleRate == nil || *updated.ThrottleRate != 7 || updated.RateLimit == nil || *updated.RateLimit != 7 {
		t.Fatalf("updated %+v", updated)
	}
	secret, err := sx.OperationalWebhookEndpoint.GetSecret(ctx, created.Id)
	check("get secret", err)
	check("rotate secret", sx.OperationalWebhookEndpoint.RotateSecret(ctx, created.Id, svix.OperationalWebhookEndpointSecretIn{}, nil))
	rotated, err := sx.OperationalWebhookEndpoint.GetSecret(ctx, created.Id)
	check("get rotated secret", err)
	if rotated.Key == secret.Key {
		t.Error("secret unchanged by rotation")
	}
	list, err := sx.OperationalWebhookEndpoint.List(ctx, nil)
	check("list", err)
	if len(list.Data) != 1 || list.Data[0].Id != created.Id || !list.Done {
		t.Fatalf("list %+v", list)
	}

	// They are the endpoints of the reserved application: the ordinary
	// machinery delivers to them.
	app, err := operational.App(ctx, e.store, e.clock.Now())
	check("operational application", err)
	if ep, err := e.store.GetEndpoint(ctx, app.ID, created.Id); err != nil || ep.URL != "https://ops.example.com/v2" {
		t.Fatalf("stored endpoint %+v, %v", ep, err)
	}

	check("delete", sx.OperationalWebhookEndpoint.Delete(ctx, created.Id))
	if _, err := sx.OperationalWebhookEndpoint.Get(ctx, created.Id); err == nil {
		t.Fatal("deleted endpoint still found")
	}

	// Only operational event types can be filtered on.
	r := e.do("POST", "/api/v1/operational-webhook/endpoint", obj{"url": "https://ops.example.com/x", "filterTypes": []string{"payment.captured"}})
	r.want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.filterTypes" {
		t.Errorf("unknown type: errors at %v", locs)
	}
}

// TestEndpointChangeEvents: creating, updating and deleting an endpoint
// through the API records endpoint.created, endpoint.updated (for its
// filter, client certificate and OAuth credentials too) and
// endpoint.deleted, which the relay turns into messages (Svix's shapes) to
// the operational endpoints; no reserved application is created until one
// exists, events relayed before then are dropped, and changes of
// operational endpoints are not reported to themselves.
func TestEndpointChangeEvents(t *testing.T) {
	t.Parallel()
	var (
		e     *env
		kicks atomic.Int32
	)
	e = newEnv(t, func(c *Config) {
		c.EventsRecorded = func() { kicks.Add(1) }
	})
	relay := operational.NewRelay(&operational.Notifier{Store: e.store, Now: e.clock.Now}, 0, nil)
	ctx := context.Background()
	app := e.createApp("Shop", "shop")
	appID := app["id"].(string)
	e.createEndpoint(appID, obj{"url": "https://shop.example.com/early"})
	if _, err := e.store.GetApplication(ctx, operational.AppUID); !hookbridge.IsNotFound(err) {
		t.Fatalf("the reserved application exists before any operational endpoint (%v)", err)
	}
	// Relayed while no one listens, the early endpoint's event is dropped.
	if err := relay.Relay(ctx); err != nil {
		t.Fatal(err)
	}

	e.do("POST", "/api/v1/operational-webhook/endpoint", obj{"url": "https://ops.example.com/hooks"}).want(http.StatusCreated)
	ep := e.createEndpoint(appID, obj{"url": "https://shop.example.com/hooks", "uid": "orders"})
	epID := ep["id"].(string)
	e.do("PATCH", "/api/v1/app/"+appID+"/endpoint/"+epID, obj{"description": "orders"}).want(http.StatusOK)
	// Its sub-resources are the endpoint's settings too: each change is
	// an endpoint.updated.
	epPath := "/api/v1/app/" + appID + "/endpoint/" + epID
	cert, key := testCert(t, "hookbridge", e.clock.Now().Add(-time.Hour), e.clock.Now().Add(24*time.Hour))
	e.do("PUT", epPath+"/filter", obj{"filter": `payload.total > 10`}).want(http.StatusNoContent)
	e.do("PUT", epPath+"/mtls", obj{"clientCert": cert, "clientKey": key}).want(http.StatusOK)
	e.do("DELETE", epPath+"/mtls", nil).want(http.StatusNoContent)
	e.do("PUT", epPath+"/oauth", obj{"tokenUrl": "https://auth.example.com/token", "clientId": "c", "clientSecret": "s"}).want(http.StatusOK)
	e.do("DELETE", epPath+"/oauth", nil).want(http.StatusNoContent)
	e.do("DELETE", epPath+"/filter", nil).want(http.StatusNoContent)
	e.do("DELETE", epPath, nil).want(http.StatusNoContent)
	if n := kicks.Load(); n != 11 {
		t.Errorf("EventsRecorded called %d times for 11 endpoint changes", n)
	}
	if err := relay.Relay(ctx); err != nil {
		t.Fatal(err)
	}

	op, err := e.store.GetApplication(ctx, operational.AppUID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.store.ListMessages(ctx, op.ID, hookbridge.MessageFilter{ListOptions: hookbridge.ListOptions{Order: hookbridge.OrderAscending}})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range page.Data {
		types = append(types, m.EventType)
		want := `{"type":"` + m.EventType + `","data":{"appId":"` + appID + `","appUid":"shop","endpointId":"` + epID + `","endpointUid":"orders"}}`
		if string(m.Payload) != want {
			t.Errorf("%s payload\n got %s\nwant %s", m.EventType, m.Payload, want)
		}
	}
	updated := slices.Repeat([]string{"endpoint.updated"}, 7)
	if want := slices.Concat([]string{"endpoint.created"}, updated, []string{"endpoint.deleted"}); !slices.Equal(types, want) {
		t.Fatalf("operational events %v, want %v", types, want)
	}
}
