package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func TestCreateMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("shop", "shop-1"), "id")
	e.createEndpoint(app, obj{})

	wakes := e.wakes.Load()
	msg := e.do("POST", "/api/v1/app/shop-1/msg", obj{
		"eventType": "payment.captured",
		"eventId":   "evt-1",
		"channels":  []string{"eu", "eu", "web"},
		"payload":   obj{"paymentId": "pay_1", "amount": 1200},
		"unknown":   "ignored",
	}).want(http.StatusAccepted).object()
	id := str(msg, "id")
	if !strings.HasPrefix(id, "msg_") || str(msg, "eventId") != "evt-1" || str(msg, "eventType") != "payment.captured" {
		t.Errorf("message = %v", msg)
	}
	if p := msg["payload"].(map[string]any); p["paymentId"] != "pay_1" {
		t.Errorf("payload = %v", msg["payload"])
	}
	if ch := msg["channels"].([]any); len(ch) != 2 {
		t.Errorf("channels = %v, want the set [eu web]", ch)
	}
	if !timeFormat.MatchString(str(msg, "timestamp")) {
		t.Errorf("timestamp = %v", msg["timestamp"])
	}
	if e.wakes.Load() != wakes+1 {
		t.Error("an accepted message did not wake the dispatcher")
	}

	// A repeated eventId is a conflict, as the Svix reference says, naming
	// the original; nothing is written.
	again := e.do("POST", "/api/v1/app/"+app+"/msg", obj{"eventType": "other.type", "eventId": "evt-1", "payload": obj{}}).
		want(http.StatusConflict).object()
	if str(again, "code") != "conflict" || !strings.Contains(str(again, "detail"), id) {
		t.Errorf("duplicate eventId answered %v, want a conflict naming %s", again, id)
	}
	if e.wakes.Load() != wakes+1 {
		t.Error("a duplicate woke the dispatcher")
	}
	dests, err := e.store.ListMessageEndpoints(context.Background(), app, id, hookbridge.ListOptions{})
	if err != nil || len(dests.Data) != 1 {
		t.Errorf("deliveries of the message = %v (%v), want exactly one", dests.Data, err)
	}

	// By id and by eventId; with_content=false leaves the payload out.
	for _, ref := range []string{id, "evt-1"} {
		got := e.do("GET", "/api/v1/app/shop-1/msg/"+ref, nil).want(http.StatusOK).object()
		if str(got, "id") != id {
			t.Errorf("GET msg %s = %v", ref, got)
		}
	}
	bare := e.do("GET", "/api/v1/app/shop-1/msg/"+id+"?with_content=false", nil).want(http.StatusOK).object()
	if p := bare["payload"].(map[string]any); len(p) != 0 {
		t.Errorf("payload with_content=false = %v, want {}", p)
	}
	created := e.do("POST", "/api/v1/app/shop-1/msg?with_content=false", obj{"eventType": "a", "payload": obj{"x": 1}}).
		want(http.StatusAccepted).object()
	if p := created["payload"].(map[string]any); len(p) != 0 {
		t.Errorf("create with_content=false payload = %v", p)
	}

	// data is an alias of payload.
	alias := e.do("POST", "/api/v1/app/shop-1/msg", obj{"eventType": "a", "data": obj{"via": "data"}}).want(http.StatusAccepted).object()
	if p := alias["payload"].(map[string]any); p["via"] != "data" {
		t.Errorf("payload via data = %v", p)
	}

	// Expunging the content keeps the message; it can no longer be resent.
	e.do("DELETE", "/api/v1/app/shop-1/msg/evt-1/content", nil).want(http.StatusNoContent)
	expunged := e.do("GET", "/api/v1/app/shop-1/msg/"+id, nil).want(http.StatusOK).object()
	if p := expunged["payload"].(map[string]any); p["expired"] != true {
		t.Errorf("expunged payload = %v", p)
	}
	ep := e.createEndpoint(app, obj{})
	r := e.do("POST", "/api/v1/app/shop-1/msg/"+id+"/endpoint/"+str(ep, "id")+"/resend", nil).want(http.StatusBadRequest).object()
	if !strings.Contains(str(r, "detail"), "expunged") {
		t.Errorf("resend of expunged = %v", r)
	}
}

func TestCreateMessageCreatesApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Unknown application, no application in the body: 404, nothing made.
	e.do("POST", "/api/v1/app/merchant-9/msg", obj{"eventType": "a", "payload": obj{}}).want(http.StatusNotFound)

	msg := e.do("POST", "/api/v1/app/merchant-9/msg", obj{
		"eventType": "a", "payload": obj{}, "application": obj{"name": "Merchant 9"},
	}).want(http.StatusAccepted).object()
	app := e.do("GET", "/api/v1/app/merchant-9", nil).want(http.StatusOK).object()
	if str(app, "name") != "Merchant 9" {
		t.Errorf("created application = %v", app)
	}
	e.do("GET", "/api/v1/app/merchant-9/msg/"+str(msg, "id"), nil).want(http.StatusOK)

	// Existing application: the application in the body is ignored.
	e.do("POST", "/api/v1/app/merchant-9/msg", obj{
		"eventType": "a", "payload": obj{}, "application": obj{"name": "Renamed"},
	}).want(http.StatusAccepted)
	if got := e.do("GET", "/api/v1/app/merchant-9", nil).object(); str(got, "name") != "Merchant 9" {
		t.Errorf("application renamed by a message: %v", got)
	}
}

func TestMessagePayloadLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxPayload(1024))
	app := str(e.createApp("a", ""), "id")

	fits := `{"eventType":"a","payload":{"s":"` + strings.Repeat("x", 1000) + `"}}`
	e.do("POST", "/api/v1/app/"+app+"/msg", fits).want(http.StatusAccepted)

	over := `{"eventType":"a","payload":{"s":"` + strings.Repeat("x", 1100) + `"}}`
	r := e.do("POST", "/api/v1/app/"+app+"/msg", over).want(http.StatusRequestEntityTooLarge).object()
	if r["code"] != "payload_too_large" || !strings.Contains(str(r, "detail"), "1024") {
		t.Errorf("413 body = %v, want the limit named", r)
	}

	// A body far over the limit is refused while reading.
	huge := `{"eventType":"a","payload":{"s":"` + strings.Repeat("x", 200<<10) + `"}}`
	e.do("POST", "/api/v1/app/"+app+"/msg", huge).want(http.StatusRequestEntityTooLarge)

	// Without a Content-Length (chunked), the limit holds while reading.
	req := httptest.NewRequest("POST", "/api/v1/app/"+app+"/msg", io.MultiReader(strings.NewReader(huge)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if req.ContentLength != -1 || rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized body: status %d (content length %d), want 413", rec.Code, req.ContentLength)
	}

	msgs, err := e.store.ListMessages(context.Background(), app, hookbridge.MessageFilter{})
	if err != nil || len(msgs.Data) != 1 {
		t.Errorf("messages stored = %d (%v), want only the one that fits", len(msgs.Data), err)
	}
}

func TestListMessagesFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	e.sendMessage(app, obj{"eventType": "order.created", "channels": []string{"eu"}})
	e.clock.Advance(time.Second)
	mid := e.sendMessage(app, obj{"eventType": "order.ready"})
	midTime, _ := time.Parse(time.RFC3339Nano, str(mid, "timestamp"))
	e.clock.Advance(time.Second)
	e.sendMessage(app, obj{"eventType": "payment.failed", "channels": []string{"us"}})

	ids := func(query string) []string {
		t.Helper()
		body := e.do("GET", "/api/v1/app/"+app+"/msg"+query, nil).want(http.StatusOK).object()
		var out []string
		for _, m := range body["data"].([]any) {
			out = append(out, str(m.(map[string]any), "eventType"))
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  string
	}{
		{"", "payment.failed,order.ready,order.created"},
		{"?event_types=order.created,order.ready", "order.ready,order.created"},
		{"?event_types=order.created&event_types=payment.failed", "payment.failed,order.created"},
		{"?event_types[]=order.ready", "order.ready"},
		{"?channel=eu", "order.created"},
		{"?before=" + str(mid, "timestamp"), "order.created"},
		{"?after=" + str(mid, "timestamp"), "payment.failed"},
		// An offset whose "+" was not encoded arrives as a space.
		{"?before=" + url.QueryEscape(midTime.In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)), "order.created"},
		{"?before=" + strings.ReplaceAll(midTime.In(time.FixedZone("", 3600)).Format(time.RFC3339Nano), "+", "%20"), "order.created"},
	} {
		if got := strings.Join(ids(c.query), ","); got != c.want {
			t.Errorf("list%s = %s, want %s", c.query, got, c.want)
		}
	}
}
