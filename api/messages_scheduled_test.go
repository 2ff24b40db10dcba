package api

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestScheduledMessage: a message with deliverAt is accepted at once,
// listed as scheduled with its deliverAt, not due before it, and once
// cancelled never due, shown as failed and counted as canceled.
func TestScheduledMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Shop", "shop"), "id")
	ep := str(e.createEndpoint(app, obj{}), "id")
	deliverAt := e.clock.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)

	msg := e.sendMessage(app, obj{"eventId": "later", "deliverAt": deliverAt.Format(time.RFC3339Nano)})
	if _, shown := msg["deliverAt"]; shown {
		t.Errorf("MessageOut shows the input-only deliverAt: %v", msg)
	}
	plain := e.sendMessage(app, obj{})
	past := e.sendMessage(app, obj{"deliverAt": e.clock.Now().Add(-time.Minute).Format(time.RFC3339)})
	batch := e.do("POST", "/api/v1/app/"+app+"/msg/batch", obj{"messages": []obj{
		{"eventType": "order.created", "payload": obj{}, "deliverAt": deliverAt.Add(time.Hour).Format(time.RFC3339Nano)},
	}}).want(http.StatusOK).object()
	batchID := str(batch["data"].([]any)[0].(map[string]any)["message"].(map[string]any), "id")

	scheduled := func() []string {
		t.Helper()
		list := e.do("GET", "/api/v1/app/"+app+"/scheduled-msg?limit=10", nil).want(http.StatusOK).object()
		var ids []string
		for _, it := range list["data"].([]any) {
			m := it.(map[string]any)
			ids = append(ids, str(m, "id"))
			if str(m, "id") == str(msg, "id") && str(m, "deliverAt") != formatTime(deliverAt) {
				t.Errorf("listed deliverAt %q, want %q", str(m, "deliverAt"), formatTime(deliverAt))
			}
		}
		return ids
	}
	if got := scheduled(); !slices.Equal(got, []string{batchID, str(msg, "id")}) {
		t.Errorf("scheduled = %v, want the batch's and the first message, newest first", got)
	}

	// Only the messages due now are sent now.
	sent := e.deliver(200)
	var ids []string
	for _, a := range sent {
		ids = append(ids, a.MsgID)
	}
	slices.Sort(ids)
	want := []string{str(plain, "id"), str(past, "id")}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("sent now %v, want %v (deliverAt in the past means now)", ids, want)
	}

	e.do("POST", "/api/v1/app/"+app+"/msg/later/cancel", nil).want(http.StatusNoContent)
	e.do("POST", "/api/v1/app/"+app+"/msg/later/cancel", nil).want(http.StatusConflict)
	e.do("POST", "/api/v1/app/"+app+"/msg/"+str(plain, "id")+"/cancel", nil).want(http.StatusConflict)
	e.do("POST", "/api/v1/app/"+app+"/msg/msg_nope/cancel", nil).want(http.StatusNotFound)
	if got := scheduled(); !slices.Equal(got, []string{batchID}) {
		t.Errorf("scheduled after cancelling = %v, want only the batch's", got)
	}
	e.clock.Advance(3 * time.Hour)
	if sent := e.deliver(200); len(sent) != 1 || sent[0].MsgID != batchID {
		t.Errorf("sent after deliverAt: %+v, want the batch's message only", sent)
	}
	dest := e.do("GET", "/api/v1/app/"+app+"/msg/later/endpoint", nil).want(http.StatusOK).object()["data"].([]any)
	if d := dest[0].(map[string]any); d["status"] != float64(2) || str(d, "statusText") != "fail" {
		t.Errorf("cancelled message at its endpoint: %v, want status 2 (fail)", d)
	}
	stats := e.do("GET", "/api/v1/app/"+app+"/endpoint/"+ep+"/stats", nil).want(http.StatusOK).object()
	if stats["canceled"] != float64(1) || stats["success"] != float64(3) {
		t.Errorf("stats = %v, want 1 canceled and 3 success", stats)
	}
}

// TestScheduledMessageRefused: deliverAt more than 30 days ahead, or not
// a time, is 422 on deliverAt; nothing is stored.
func TestScheduledMessageRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Shop", "shop"), "id")
	for _, v := range []any{
		e.clock.Now().Add(MaxDeliverAhead + time.Minute).Format(time.RFC3339),
		"tomorrow",
		"2026-13-01T00:00:00Z",
		12345,
	} {
		r := e.do("POST", "/api/v1/app/"+app+"/msg", obj{"eventType": "order.created", "payload": obj{}, "deliverAt": v}).
			want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); !slices.Equal(locs, []string{"body.deliverAt"}) {
			t.Errorf("deliverAt %v: %v %s, want body.deliverAt", v, locs, r.Body)
		}
	}
	e.sendMessage(app, obj{"deliverAt": e.clock.Now().Add(MaxDeliverAhead - time.Minute).Format(time.RFC3339)})
	if n := len(e.do("GET", "/api/v1/app/"+app+"/msg", nil).object()["data"].([]any)); n != 1 {
		t.Errorf("%d messages stored, want only the one within 30 days", n)
	}
}
