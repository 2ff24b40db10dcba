package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEndpointCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("payment.captured")
	e.createEventType("order.ready")
	app := str(e.createApp("shop", "shop-1"), "id")

	created := e.do("POST", "/api/v1/app/shop-1/endpoint", obj{
		"url":         "https://receiver.example.com/hook",
		"uid":         "main",
		"description": "payments",
		"filterTypes": []string{"payment.captured", "payment.captured"},
		"channels":    []string{"eu"},
		"rateLimit":   20,
		"metadata":    obj{"team": "pay"},
	}).want(http.StatusCreated).object()
	id := str(created, "id")
	if !strings.HasPrefix(id, "ep_") || str(created, "uid") != "main" || created["version"] != float64(1) {
		t.Errorf("created = %v", created)
	}
	if got := created["filterTypes"].([]any); len(got) != 1 || got[0] != "payment.captured" {
		t.Errorf("filterTypes = %v, want the set [payment.captured]", got)
	}
	// Both names are written, as the Svix server does: the reference's
	// (eventTypes, throttleRate) and the older ones SDKs still read.
	if got, _ := created["eventTypes"].([]any); len(got) != 1 || got[0] != "payment.captured" {
		t.Errorf("eventTypes = %v, want the set [payment.captured]", created["eventTypes"])
	}
	if created["throttleRate"] != float64(20) || created["rateLimit"] != float64(20) {
		t.Errorf("throttleRate, rateLimit = %v, %v, want 20", created["throttleRate"], created["rateLimit"])
	}
	for _, k := range []string{"secret", "fifo", "headers"} {
		if _, ok := created[k]; ok {
			t.Errorf("endpoint JSON has %q: %v", k, created)
		}
	}

	// By id or uid, through the app's id or uid.
	for _, path := range []string{"/api/v1/app/" + app + "/endpoint/" + id, "/api/v1/app/shop-1/endpoint/main"} {
		got := e.do("GET", path, nil).want(http.StatusOK).object()
		if str(got, "id") != id {
			t.Errorf("GET %s = %v", path, got)
		}
	}

	// The aliases eventTypes and throttleRate are accepted.
	put := e.do("PUT", "/api/v1/app/shop-1/endpoint/main", obj{
		"url": "https://receiver.example.com/v2", "eventTypes": []string{"order.ready"}, "throttleRate": 3,
	}).want(http.StatusOK).object()
	if str(put, "url") != "https://receiver.example.com/v2" || put["rateLimit"] != float64(3) || put["uid"] != nil {
		t.Errorf("PUT = %v", put)
	}
	if got := put["filterTypes"].([]any); len(got) != 1 || got[0] != "order.ready" {
		t.Errorf("filterTypes after PUT = %v", got)
	}
	if put["channels"] != nil {
		t.Errorf("channels after PUT without channels = %v, want null", put["channels"])
	}

	patched := e.do("PATCH", "/api/v1/app/shop-1/endpoint/"+id, obj{"disabled": true, "filterTypes": nil, "description": "off"}).
		want(http.StatusOK).object()
	if patched["disabled"] != true || patched["filterTypes"] != nil || str(patched, "description") != "off" || str(patched, "url") != "https://receiver.example.com/v2" {
		t.Errorf("PATCH = %v", patched)
	}

	// PUT on a uid that names nothing creates the endpoint with that uid.
	e.do("PUT", "/api/v1/app/shop-1/endpoint/backup", obj{"url": "https://backup.example.com/"}).want(http.StatusCreated)
	e.do("GET", "/api/v1/app/shop-1/endpoint/backup", nil).want(http.StatusOK)

	list := e.do("GET", "/api/v1/app/shop-1/endpoint", nil).want(http.StatusOK).object()
	if n := len(list["data"].([]any)); n != 2 || list["done"] != true {
		t.Errorf("list = %v", list)
	}
	// Newest first by default, as in Svix.
	if first := list["data"].([]any)[0].(map[string]any); str(first, "uid") != "backup" {
		t.Errorf("first endpoint = %v, want the newest", first)
	}

	e.do("DELETE", "/api/v1/app/shop-1/endpoint/"+id, nil).want(http.StatusNoContent)
	e.do("GET", "/api/v1/app/shop-1/endpoint/"+id, nil).want(http.StatusNotFound)
}

func TestEndpointUIDConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := str(e.createApp("a", ""), "id")
	b := str(e.createApp("b", ""), "id")
	e.createEndpoint(a, obj{"uid": "hook"})
	e.do("POST", "/api/v1/app/"+a+"/endpoint", obj{"url": "https://x.example.com/", "uid": "hook"}).want(http.StatusConflict)
	// Uids are unique within an application only.
	e.createEndpoint(b, obj{"uid": "hook"})
}

func TestEndpointScopedToApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := str(e.createApp("a", ""), "id")
	b := str(e.createApp("b", ""), "id")
	ep := str(e.createEndpoint(a, obj{"uid": "only-a"}), "id")

	for _, ref := range []string{ep, "only-a"} {
		base := "/api/v1/app/" + b + "/endpoint/" + ref
		for _, c := range []struct{ method, path string }{
			{"GET", base}, {"DELETE", base}, {"GET", base + "/secret"}, {"GET", base + "/headers"},
			{"GET", base + "/stats"}, {"GET", base + "/msg"}, {"GET", "/api/v1/app/" + b + "/attempt/endpoint/" + ref},
		} {
			if r := e.do(c.method, c.path, nil); r.Status != http.StatusNotFound {
				t.Errorf("%s %s via the other app: %d, want 404", c.method, c.path, r.Status)
			}
		}
	}
	e.do("GET", "/api/v1/app/"+a+"/endpoint/"+ep, nil).want(http.StatusOK)
}

func TestEndpointSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	ep := str(e.createEndpoint(app, obj{}), "id")
	base := "/api/v1/app/" + app + "/endpoint/" + ep

	first := str(e.do("GET", base+"/secret", nil).want(http.StatusOK).object(), "key")
	if !strings.HasPrefix(first, "whsec_") || len(first) != len("whsec_")+32 {
		t.Fatalf("generated secret %q, want whsec_ + base64 of 24 bytes", first)
	}

	// Rotation with the default grace: the old secret signs for 24 h more.
	e.do("POST", base+"/secret/rotate", nil).want(http.StatusNoContent)
	second := str(e.do("GET", base+"/secret", nil).want(http.StatusOK).object(), "key")
	if second == first || !strings.HasPrefix(second, "whsec_") {
		t.Fatalf("after rotate: %q (before %q)", second, first)
	}
	stored, err := e.store.GetEndpoint(context.Background(), app, ep)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	if got := stored.SigningSecrets(now); !slices.Equal(got, []string{second, first}) {
		t.Errorf("signing secrets now = %v, want [new old]", got)
	}
	if got := stored.SigningSecrets(now.Add(24*time.Hour + time.Second)); !slices.Equal(got, []string{second}) {
		t.Errorf("signing secrets after 24h = %v, want [new]", got)
	}

	// A given key, and a zero grace period: the old one stops at once; the
	// earlier rotated-out one keeps its own grace.
	given := "whsec_" + strings.Repeat("QUJD", 8) // 24 bytes
	e.do("POST", base+"/secret/rotate", obj{"key": given, "gracePeriodSeconds": 0}).want(http.StatusNoContent)
	stored, _ = e.store.GetEndpoint(context.Background(), app, ep)
	if got := stored.SigningSecrets(now); !slices.Equal(got, []string{given, first}) {
		t.Errorf("signing secrets = %v, want [given first]", got)
	}

	// Once the grace period is over, a rotation drops the expired secret.
	e.clock.Advance(25 * time.Hour)
	e.do("POST", base+"/secret/rotate", obj{"gracePeriodSeconds": 60}).want(http.StatusNoContent)
	stored, _ = e.store.GetEndpoint(context.Background(), app, ep)
	if len(stored.Secrets) != 2 || stored.Secrets[1].Key != given {
		t.Errorf("secrets after expiry = %+v, want [new given]", stored.Secrets)
	}

	// A secret given at creation is kept, the prefix added when missing.
	bare := strings.Repeat("QUJD", 8)
	ep2 := str(e.createEndpoint(app, obj{"secret": bare}), "id")
	got := str(e.do("GET", "/api/v1/app/"+app+"/endpoint/"+ep2+"/secret", nil).want(http.StatusOK).object(), "key")
	if got != "whsec_"+bare {
		t.Errorf("given secret stored as %q", got)
	}
}

func TestEndpointSecretRotationLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	base := "/api/v1/app/" + app + "/endpoint/" + str(e.createEndpoint(app, obj{}), "id")
	for range maxOldSecrets {
		e.do("POST", base+"/secret/rotate", obj{}).want(http.StatusNoContent)
	}
	r := e.do("POST", base+"/secret/rotate", obj{}).want(http.StatusBadRequest).object()
	if r["code"] != "bad_request" {
		t.Errorf("body = %v", r)
	}
}

func TestEndpointHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	base := "/api/v1/app/" + app + "/endpoint/" + str(e.createEndpoint(app, obj{}), "id") + "/headers"

	empty := e.do("GET", base, nil).want(http.StatusOK).object()
	if h := empty["headers"].(map[string]any); len(h) != 0 || len(empty["sensitive"].([]any)) != 0 {
		t.Errorf("new endpoint headers = %v", empty)
	}

	e.do("PUT", base, obj{"headers": obj{"X-Tenant": "42", "Authorization": "Bearer s3cret", "X-Gone": "1"}}).want(http.StatusNoContent)
	got := e.do("GET", base, nil).want(http.StatusOK).object()
	if h := got["headers"].(map[string]any); len(h) != 2 || h["X-Tenant"] != "42" {
		t.Errorf("headers = %v", got)
	}
	if s := got["sensitive"].([]any); len(s) != 1 || s[0] != "Authorization" {
		t.Errorf("sensitive = %v, want [Authorization] with its value withheld", got["sensitive"])
	}
	if strings.Contains(string(e.do("GET", base, nil).Body), "s3cret") {
		t.Error("sensitive header value was shown")
	}

	// PATCH merges; null deletes; names match regardless of case.
	e.do("PATCH", base, obj{"headers": obj{"x-tenant": "43", "X-GONE": nil, "X-New": "n"}}).want(http.StatusNoContent)
	h := e.do("GET", base, nil).want(http.StatusOK).object()["headers"].(map[string]any)
	if len(h) != 2 || h["x-tenant"] != "43" || h["X-New"] != "n" {
		t.Errorf("headers after PATCH = %v", h)
	}

	// A PUT of the endpoint without headers keeps them (Svix's
	// EndpointUpdate has none).
	e.do("PUT", strings.TrimSuffix(base, "/headers"), obj{"url": "https://receiver.example.com/other"}).want(http.StatusOK)
	h = e.do("GET", base, nil).want(http.StatusOK).object()["headers"].(map[string]any)
	if len(h) != 2 {
		t.Errorf("headers after endpoint PUT = %v, want kept", h)
	}
}

func TestEndpointStatsAndRecover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	ep := str(e.createEndpoint(app, obj{}), "id")
	base := "/api/v1/app/" + app + "/endpoint/" + ep
	start := e.clock.Now()

	e.sendMessage(app, obj{})
	e.sendMessage(app, obj{})
	e.deliver(500) // both fail (given up, for this test)
	e.clock.Advance(time.Second)
	e.sendMessage(app, obj{})

	stats := e.do("GET", base+"/stats", nil).want(http.StatusOK).object()
	want := map[string]any{"success": float64(0), "pending": float64(1), "sending": float64(0), "fail": float64(2), "canceled": float64(0)}
	for k, v := range want {
		if stats[k] != v {
			t.Errorf("stats[%s] = %v, want %v (%v)", k, stats[k], v, stats)
		}
	}
	since := start.Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	windowed := e.do("GET", base+"/stats?since="+since, nil).want(http.StatusOK).object()
	if windowed["fail"] != float64(0) || windowed["pending"] != float64(1) {
		t.Errorf("stats since %s = %v", since, windowed)
	}

	wakes := e.wakes.Load()
	rec := e.do("POST", base+"/recover", obj{"since": start.Add(-time.Minute).Format(time.RFC3339)}).want(http.StatusAccepted).object()
	if !strings.HasPrefix(str(rec, "id"), "qtask_") || rec["status"] != "running" || rec["task"] != "endpoint.recover" ||
		str(rec, "updatedAt") != e.clock.Now().Format("2006-01-02T15:04:05.000Z") || len(rec) != 4 {
		t.Errorf("recover = %v", rec)
	}
	e.runTasks(t)
	e.waitTask(t, str(rec, "id"))
	if e.wakes.Load() <= wakes {
		t.Errorf("the recovery did not wake the dispatcher")
	}
	// The two failed messages are due again.
	if attempts := e.deliver(200); len(attempts) != 3 {
		t.Errorf("after recover, %d deliveries due, want 2 recovered + 1 pending", len(attempts))
	}
	stats = e.do("GET", base+"/stats", nil).want(http.StatusOK).object()
	if stats["success"] != float64(3) || stats["fail"] != float64(0) {
		t.Errorf("stats after recovery = %v", stats)
	}
}

func TestSendExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/api/v1/event-type", obj{
		"name": "payment.captured", "description": "captured",
		"schemas": obj{"1": obj{"type": "object", "examples": []any{obj{"paymentId": "pay_1", "amount": 1200}, obj{"paymentId": "pay_2"}}}},
	}).want(http.StatusCreated)
	e.createEventType("order.ready")
	app := str(e.createApp("a", ""), "id")
	target := str(e.createEndpoint(app, obj{"filterTypes": []string{"order.ready"}}), "id")
	e.createEndpoint(app, obj{}) // subscribed to everything: must not get the example
	base := "/api/v1/app/" + app + "/endpoint/" + target + "/send-example"

	wakes := e.wakes.Load()
	msg := e.do("POST", base, obj{"eventType": "payment.captured"}).want(http.StatusOK).object()
	if p := msg["payload"].(map[string]any); p["paymentId"] != "pay_1" || str(msg, "eventType") != "payment.captured" {
		t.Errorf("example message = %v, want the schema's example", msg)
	}
	if e.wakes.Load() != wakes+1 {
		t.Error("send-example did not wake the dispatcher")
	}
	// The target gets it although its filter does not name the type, and
	// no other endpoint does.
	dests := e.do("GET", "/api/v1/app/"+app+"/msg/"+str(msg, "id")+"/endpoint", nil).want(http.StatusOK).object()
	if d := dests["data"].([]any); len(d) != 1 || str(d[0].(map[string]any), "id") != target {
		t.Errorf("destinations = %v, want the target endpoint", dests)
	}

	second := e.do("POST", base, obj{"eventType": "payment.captured", "exampleIndex": 1}).want(http.StatusOK).object()
	if p := second["payload"].(map[string]any); p["paymentId"] != "pay_2" {
		t.Errorf("example 1 = %v", second)
	}
	e.do("POST", base, obj{"eventType": "payment.captured", "exampleIndex": 2}).want(http.StatusUnprocessableEntity)

	generic := e.do("POST", base, obj{"eventType": "order.ready"}).want(http.StatusOK).object()
	if p := generic["payload"].(map[string]any); p["eventType"] != "order.ready" {
		t.Errorf("generic example = %v", generic)
	}
	ping := e.do("POST", base, obj{"eventType": "svix.ping"}).want(http.StatusOK).object()
	if p := ping["payload"].(map[string]any); p["success"] != true {
		t.Errorf("ping example = %v", ping)
	}
	e.do("POST", base, obj{"eventType": "no.such.type"}).want(http.StatusNotFound)
}
