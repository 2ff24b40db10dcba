package api

import (
	"net/http"
	"testing"
	"time"
)

func TestAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("shop", "shop-1"), "id")
	ep1 := str(e.createEndpoint(app, obj{"uid": "one"}), "id")
	ep2 := str(e.createEndpoint(app, obj{"uid": "two"}), "id")
	msg := str(e.sendMessage(app, obj{"eventType": "payment.captured", "eventId": "evt-9", "channels": []string{"eu"}}), "id")
	attempts := e.deliver(503)
	if len(attempts) != 2 {
		t.Fatalf("%d attempts, want one per endpoint", len(attempts))
	}

	byMsg := e.do("GET", "/api/v1/app/shop-1/attempt/msg/evt-9", nil).want(http.StatusOK).object()
	data := byMsg["data"].([]any)
	if len(data) != 2 || byMsg["done"] != true {
		t.Fatalf("attempts by msg = %v", byMsg)
	}
	a := data[0].(map[string]any)
	for k, want := range map[string]any{
		"msgId": msg, "status": float64(2), "statusText": "fail", "triggerType": float64(0), "responseStatusCode": float64(503),
		"responseDurationMs": float64(12), "response": `{"ok":true}`, "url": "https://receiver.example.com/hook",
	} {
		if a[k] != want {
			t.Errorf("attempt[%s] = %v, want %v", k, a[k], want)
		}
	}
	if !timeFormat.MatchString(str(a, "timestamp")) {
		t.Errorf("timestamp = %v", a["timestamp"])
	}

	// Filters.
	count := func(path string) int {
		t.Helper()
		return len(e.do("GET", path, nil).want(http.StatusOK).object()["data"].([]any))
	}
	for path, want := range map[string]int{
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?endpoint_id=one":                         1,
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?status=0":                                0,
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?status=2&status_code_class=500":          2,
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?status_code_class=200":                   0,
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?channel=eu&event_types=payment.captured": 2,
		"/api/v1/app/shop-1/attempt/msg/" + msg + "?channel=us":                              0,
		"/api/v1/app/shop-1/attempt/endpoint/two":                                            1,
		"/api/v1/app/shop-1/attempt/endpoint/" + ep1 + "?event_types=order.ready":            0,
	} {
		if got := count(path); got != want {
			t.Errorf("GET %s: %d attempts, want %d", path, got, want)
		}
	}
	e.do("GET", "/api/v1/app/shop-1/attempt/msg/"+msg+"?endpoint_id=nope", nil).want(http.StatusNotFound)

	// with_content=false hides the response body; with_msg adds the message.
	bare := e.do("GET", "/api/v1/app/shop-1/attempt/endpoint/one?with_content=false&with_msg=true", nil).want(http.StatusOK).object()
	ba := bare["data"].([]any)[0].(map[string]any)
	if ba["response"] != "{}" {
		t.Errorf("response with_content=false = %v", ba["response"])
	}
	if m, _ := ba["msg"].(map[string]any); str(m, "id") != msg {
		t.Errorf("with_msg: msg = %v", ba["msg"])
	}

	// One attempt, and expunging its response.
	attemptID := attempts[0].ID
	got := e.do("GET", "/api/v1/app/shop-1/msg/evt-9/attempt/"+attemptID, nil).want(http.StatusOK).object()
	if str(got, "id") != attemptID {
		t.Errorf("GET attempt = %v", got)
	}
	e.do("DELETE", "/api/v1/app/shop-1/msg/evt-9/attempt/"+attemptID+"/content", nil).want(http.StatusNoContent)
	got = e.do("GET", "/api/v1/app/shop-1/msg/evt-9/attempt/"+attemptID, nil).want(http.StatusOK).object()
	if got["response"] == `{"ok":true}` {
		t.Errorf("response after expunge = %v", got["response"])
	}
	e.do("GET", "/api/v1/app/shop-1/msg/evt-9/attempt/atmpt_01HZZZZZZZZZZZZZZZZZZZZZZZ", nil).want(http.StatusNotFound)

	// Attempted destinations of the message, and messages of an endpoint.
	dests := e.do("GET", "/api/v1/app/shop-1/msg/"+msg+"/endpoint", nil).want(http.StatusOK).object()
	dd := dests["data"].([]any)
	if len(dd) != 2 {
		t.Fatalf("destinations = %v", dests)
	}
	d0 := dd[0].(map[string]any)
	if d0["status"] != float64(2) || d0["version"] != float64(1) || d0["nextAttempt"] != nil {
		t.Errorf("destination = %v", d0)
	}
	if _, ok := d0["metadata"]; ok {
		t.Errorf("destination has metadata, which Svix's MessageEndpointOut has not: %v", d0)
	}
	if _, ok := dests["prevIterator"]; ok {
		t.Errorf("destinations list has prevIterator: %v", dests)
	}
	msgs := e.do("GET", "/api/v1/app/shop-1/endpoint/two/msg", nil).want(http.StatusOK).object()
	md := msgs["data"].([]any)
	if len(md) != 1 || str(md[0].(map[string]any), "id") != msg || md[0].(map[string]any)["status"] != float64(2) {
		t.Errorf("attempted messages = %v", msgs)
	}
	if n := count("/api/v1/app/shop-1/endpoint/two/msg?status=0"); n != 0 {
		t.Errorf("attempted messages with status=0: %d", n)
	}

	// Resend to one endpoint: a manual attempt.
	wakes := e.wakes.Load()
	r := e.do("POST", "/api/v1/app/shop-1/msg/evt-9/endpoint/two/resend", nil).want(http.StatusAccepted)
	if string(r.Body) != "{}" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("resend answered %q (%s), want Svix's EmptyResponse {}", r.Body, r.Header.Get("Content-Type"))
	}
	if e.wakes.Load() != wakes+1 {
		t.Error("resend did not wake the dispatcher")
	}
	e.clock.Advance(time.Second)
	resent := e.deliver(200)
	if len(resent) != 1 || resent[0].EndpointID != ep2 {
		t.Fatalf("after resend: %+v", resent)
	}
	latest := e.do("GET", "/api/v1/app/shop-1/attempt/endpoint/two", nil).want(http.StatusOK).object()["data"].([]any)[0].(map[string]any)
	if latest["triggerType"] != float64(1) || latest["status"] != float64(0) {
		t.Errorf("resent attempt = %v, want manual and successful", latest)
	}
	e.do("POST", "/api/v1/app/shop-1/msg/evt-9/endpoint/nope/resend", nil).want(http.StatusNotFound)
}

func TestMessageScopedToApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := str(e.createApp("a", ""), "id")
	b := str(e.createApp("b", ""), "id")
	epA := str(e.createEndpoint(a, obj{}), "id")
	epB := str(e.createEndpoint(b, obj{}), "id")
	msg := str(e.sendMessage(a, obj{"eventId": "only-a"}), "id")
	attempt := e.deliver(200)[0].ID

	for _, ref := range []string{msg, "only-a"} {
		base := "/api/v1/app/" + b + "/msg/" + ref
		for _, c := range []struct{ method, path string }{
			{"GET", base}, {"DELETE", base + "/content"}, {"GET", base + "/endpoint"},
			{"GET", base + "/attempt/" + attempt}, {"DELETE", base + "/attempt/" + attempt + "/content"},
			{"POST", base + "/endpoint/" + epB + "/resend"}, {"GET", "/api/v1/app/" + b + "/attempt/msg/" + ref},
		} {
			if r := e.do(c.method, c.path, nil); r.Status != http.StatusNotFound {
				t.Errorf("%s %s via the other app: %d, want 404", c.method, c.path, r.Status)
			}
		}
	}
	// An endpoint of the other application cannot be a resend target.
	e.do("POST", "/api/v1/app/"+a+"/msg/"+msg+"/endpoint/"+epB+"/resend", nil).want(http.StatusNotFound)
	e.do("POST", "/api/v1/app/"+a+"/msg/"+msg+"/endpoint/"+epA+"/resend", nil).want(http.StatusAccepted)
}
