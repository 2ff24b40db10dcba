package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/operational"
)

// TestOperationalEndpointsSvixSDK manages operational webhook endpoints
// with the Svix Go SDK's OperationalWebhookEndpoint, which decodes strictly:
// the paths and the fields are Svix's.
func TestOperationalEndpointsSvixSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	sx := svix.New(testKey, &svix.SvixOptions{ServerUrl: u})
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

	created, err := sx.OperationalWebhookEndpoint.Create(ctx, &svix.OperationalWebhookEndpointIn{
		Url:         "https://ops.example.com/hooks",
		Description: ptr("pager"),
		FilterTypes: []string{"endpoint.disabled", "message.attempt.exhausted"},
		Uid:         ptr("pager"),
	})
	check("create", err)
	if created.Url != "https://ops.example.com/hooks" || len(created.FilterTypes) != 2 || created.Uid == nil || *created.Uid != "pager" {
		t.Fatalf("created %+v", created)
	}
	got, err := sx.OperationalWebhookEndpoint.Get(ctx, "pager")
	check("get by uid", err)
	if got.Id != created.Id {
		t.Fatalf("got %s by uid, want %s", got.Id, created.Id)
	}
	updated, err := sx.OperationalWebhookEndpoint.Update(ctx, created.Id, &svix.OperationalWebhookEndpointUpdate{
		Url: "https://ops.example.com/v2", FilterTypes: []string{"endpoint.disabled"},
	})
	check("update", err)
	if updated.Url != "https://ops.example.com/v2" || len(updated.FilterTypes) != 1 {
		t.Fatalf("updated %+v", updated)
	}
	secret, err := sx.OperationalWebhookEndpoint.GetSecret(ctx, created.Id)
	check("get secret", err)
	check("rotate secret", sx.OperationalWebhookEndpoint.RotateSecret(ctx, created.Id, &svix.OperationalWebhookEndpointSecretIn{}))
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
