package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge"
)

// TestIdempotencyKey: a POST retried with the same Idempotency-Key gets the
// first answer and does nothing twice; a failed first try is not kept; a
// key used for another route, or whose first request still runs, gets 409;
// a malformed key is refused.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := func(k string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + testKey, "Idempotency-Key": k}
	}

	first := e.doWith("POST", "/api/v1/app", obj{"name": "Shop"}, key("create-shop")).want(http.StatusCreated)
	again := e.doWith("POST", "/api/v1/app", obj{"name": "Shop"}, key("create-shop")).want(http.StatusCreated)
	if first.object()["id"] != again.object()["id"] {
		t.Fatalf("retry answered %v, first %v", again.object()["id"], first.object()["id"])
	}
	page, err := e.store.ListApplications(context.Background(), hookbridge.ListOptions{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("%d applications (%v), want 1", len(page.Data), err)
	}
	appID := first.object()["id"].(string)
	e.createEndpoint(appID, obj{"url": "https://shop.example.com/hooks"})

	// A failure is not kept: the corrected retry runs.
	e.doWith("POST", "/api/v1/app/"+appID+"/msg", obj{"eventType": "order.created"}, key("msg-1")).want(http.StatusUnprocessableEntity)
	sent := e.doWith("POST", "/api/v1/app/"+appID+"/msg", obj{"eventType": "order.created", "payload": obj{"n": 1}}, key("msg-1")).want(http.StatusAccepted)
	resent := e.doWith("POST", "/api/v1/app/"+appID+"/msg", obj{"eventType": "order.created", "payload": obj{"n": 1}}, key("msg-1")).want(http.StatusAccepted)
	if sent.object()["id"] != resent.object()["id"] {
		t.Fatalf("message retry answered %v, first %v", resent.object()["id"], sent.object()["id"])
	}
	msgs, err := e.store.ListMessages(context.Background(), appID, hookbridge.MessageFilter{})
	if err != nil || len(msgs.Data) != 1 {
		t.Fatalf("%d messages (%v), want 1", len(msgs.Data), err)
	}

	// The same key on another route, and a key whose request still runs.
	other := e.doWith("POST", "/api/v1/app/"+appID+"/endpoint", obj{"url": "https://x.example.com/"}, key("create-shop")).want(http.StatusConflict)
	if !strings.Contains(other.object()["detail"].(string), "another request") {
		t.Errorf("reused key: %v", other.object())
	}
	now := e.clock.Now()
	if _, started, err := e.store.BeginIdempotent(context.Background(), "running", "POST /api/v1/app", now, now, now); err != nil || !started {
		t.Fatal(started, err)
	}
	e.doWith("POST", "/api/v1/app", obj{"name": "Other"}, key("running")).want(http.StatusConflict)

	e.doWith("POST", "/api/v1/app", obj{"name": "Other"}, key(strings.Repeat("k", 300))).want(http.StatusBadRequest)
	e.doWith("POST", "/api/v1/app", obj{"name": "Other"}, key("has space")).want(http.StatusBadRequest)
}

// TestIdempotencyKeyPerCredential: keys belong to the credential that sent
// them. Two application keys, and the admin key, that reuse one
// Idempotency-Key on the same route each get their own request run and
// their own answer, never another's; each one's retry still gets its first
// answer.
func TestIdempotencyKeyPerCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop")
	path := "/api/v1/app/shop/endpoint"
	send := func(bearer, url string) string {
		t.Helper()
		r := e.doWith("POST", path, obj{"url": url},
			map[string]string{"Authorization": "Bearer " + bearer, "Idempotency-Key": "same-key"}).want(http.StatusCreated)
		return str(r.object(), "id")
	}
	one, two := e.portalToken("shop", obj{}), e.portalToken("shop", obj{})
	ids := map[string]string{
		"first token":  send(one, "https://one.example.com/"),
		"second token": send(two, "https://two.example.com/"),
		"admin key":    send(testKey, "https://admin.example.com/"),
	}
	seen := map[string]string{}
	for who, id := range ids {
		if other, ok := seen[id]; ok {
			t.Errorf("%s and %s were given the same answer, %s", who, other, id)
		}
		seen[id] = who
	}
	if again := send(one, "https://one.example.com/"); again != ids["first token"] {
		t.Errorf("the first token's retry answered %s, want its first answer %s", again, ids["first token"])
	}
	page, err := e.store.ListEndpoints(context.Background(), str(e.do("GET", "/api/v1/app/shop", nil).want(http.StatusOK).object(), "id"), hookbridge.ListOptions{})
	if err != nil || len(page.Data) != 3 {
		t.Fatalf("%d endpoints (%v), want 3: one per credential", len(page.Data), err)
	}
}
