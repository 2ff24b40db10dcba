package api

import (
	"context"
	"encoding/json"

	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge"
)

// batchOut is the answer of POST …/msg/batch.
type batchOut struct {
	Data []struct {
		Status  int `json:"status"`
		Message *struct {
			ID        string          `json:"id"`
			EventID   *string         `json:"eventId"`
			EventType string          `json:"eventType"`
			Payload   json.RawMessage `json:"payload"`
		} `json:"message"`
		Error *struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
			Fields []struct {
				Loc  []string `json:"loc"`
				Msg  string   `json:"msg"`
				Type string   `json:"type"`
			} `json:"fields"`
		} `json:"error"`
	} `json:"data"`
}

func (e *env) sendBatch(path string, body any) batchOut {
	e.t.Helper()
	var out batchOut
	e.do("POST", path, body).want(http.StatusOK).decode(&out)
	return out
}

func TestCreateMessageBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("shop", "shop-1"), "id")
	e.createEndpoint(app, obj{})
	first := str(e.sendMessage(app, obj{"eventId": "evt-old"}), "id")

	wakes := e.wakes.Load()
	out := e.sendBatch("/api/v1/app/shop-1/msg/batch", obj{"messages": []obj{
		{"eventType": "payment.captured", "eventId": "evt-1", "payload": obj{"n": 1}},
		{"eventType": "payment.captured", "payload": obj{"n": 2}, "channels": []string{"eu", "eu"}},
		{"eventType": "other", "eventId": "evt-1", "payload": obj{"n": 3}},   // repeats message 0
		{"eventType": "other", "eventId": "evt-old", "payload": obj{"n": 4}}, // repeats an earlier message
	}})
	if len(out.Data) != 4 {
		t.Fatalf("%d results, want 4", len(out.Data))
	}
	for i, r := range out.Data {
		want := http.StatusAccepted
		if i >= 2 {
			want = http.StatusConflict // a repeated eventId, answered with the original
		}
		if r.Status != want || r.Message == nil || (r.Error != nil) != (i >= 2) {
			t.Fatalf("result %d = %+v, want %d with the message", i, r, want)
		}
	}
	if out.Data[2].Error.Code != "conflict" {
		t.Errorf("repeated eventId error = %+v", out.Data[2].Error)
	}
	ids := []string{out.Data[0].Message.ID, out.Data[1].Message.ID, out.Data[2].Message.ID, out.Data[3].Message.ID}
	if ids[0] == ids[1] || !strings.HasPrefix(ids[0], "msg_") {
		t.Errorf("ids = %v, want two new message ids first", ids)
	}
	if ids[2] != ids[0] || out.Data[2].Message.EventType != "payment.captured" {
		t.Errorf("a repeated eventId within the batch answered %+v, want message 0", out.Data[2].Message)
	}
	if ids[3] != first {
		t.Errorf("a repeated eventId of an earlier message answered %s, want %s", ids[3], first)
	}
	if string(out.Data[1].Message.Payload) != `{"n":2}` {
		t.Errorf("payload = %s", out.Data[1].Message.Payload)
	}
	if e.wakes.Load() != wakes+1 {
		t.Errorf("the batch woke the dispatcher %d times, want once", e.wakes.Load()-wakes)
	}

	// Accepted means stored, each with its delivery, before the answer.
	ctx := context.Background()
	msgs, err := e.store.ListMessages(ctx, app, hookbridge.MessageFilter{})
	if err != nil || len(msgs.Data) != 3 {
		t.Fatalf("messages stored = %d (%v), want 3", len(msgs.Data), err)
	}
	for _, id := range ids[:2] {
		dests, err := e.store.ListMessageEndpoints(ctx, app, id, hookbridge.ListOptions{})
		if err != nil || len(dests.Data) != 1 {
			t.Errorf("deliveries of %s = %v (%v), want one", id, dests.Data, err)
		}
	}

	// with_content=false leaves the payloads out, as for one message.
	bare := e.sendBatch("/api/v1/app/"+app+"/msg/batch?with_content=false", obj{"messages": []obj{{"eventType": "a", "payload": obj{"x": 1}}}})
	if p := string(bare.Data[0].Message.Payload); p != "{}" {
		t.Errorf("payload with_content=false = %s, want {}", p)
	}

	// A duplicate-only batch creates nothing and wakes nobody.
	wakes = e.wakes.Load()
	e.sendBatch("/api/v1/app/"+app+"/msg/batch", obj{"messages": []obj{{"eventType": "a", "eventId": "evt-1", "payload": obj{}}}})
	if e.wakes.Load() != wakes {
		t.Error("a batch of duplicates woke the dispatcher")
	}
}

// TestCreateMessageBatchInvalidMessages checks that each message is judged
// on its own: the invalid ones get their error, located by index, and the
// valid ones are stored.
func TestCreateMessageBatchInvalidMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxPayload(1024))
	app := str(e.createApp("shop", ""), "id")
	big := strings.Repeat("x", 2000)
	body := `{"messages": [
		{"eventType": "ok.one", "payload": {}},
		{"payload": {}},
		{"eventType": "a", "payload": [1]},
		{"eventType": 7, "payload": {}},
		5,
		{"eventType": "a", "payload": {"big": "` + big + `"}},
		{"eventType": "a", "payload": {}, "application": {"name": "x"}},
		{"eventType": "bad type!", "eventId": "", "payload": {}, "channels": ["ok", "no way"]},
		{"eventType": "ok.two", "payload": {}}
	]}`
	out := e.sendBatch("/api/v1/app/"+app+"/msg/batch", body)
	type want struct {
		status int
		code   string
		locs   []string
	}
	wants := []want{
		{http.StatusAccepted, "", nil},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.1.eventType"}},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.2.payload"}},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.3.eventType"}},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.4"}},
		{http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.6.application"}},
		{http.StatusUnprocessableEntity, "invalid", []string{"body.messages.7.eventType", "body.messages.7.eventId", "body.messages.7.channels"}},
		{http.StatusAccepted, "", nil},
	}
	if len(out.Data) != len(wants) {
		t.Fatalf("%d results, want %d", len(out.Data), len(wants))
	}
	for i, w := range wants {
		r := out.Data[i]
		if r.Status != w.status {
			t.Errorf("result %d: status %d, want %d (%+v)", i, r.Status, w.status, r.Error)
			continue
		}
		if w.code == "" {
			if r.Message == nil || r.Error != nil {
				t.Errorf("result %d = %+v, want the message", i, r)
			}
			continue
		}
		if r.Message != nil || r.Error == nil || r.Error.Code != w.code || r.Error.Detail == "" {
			t.Errorf("result %d = %+v, want error %s", i, r, w.code)
			continue
		}
		var locs []string
		for _, f := range r.Error.Fields {
			if f.Msg == "" || f.Type == "" {
				t.Errorf("result %d: field error without msg or type: %+v", i, f)
			}
			locs = append(locs, strings.Join(f.Loc, "."))
		}
		if !slices.Equal(locs, w.locs) {
			t.Errorf("result %d: locations %v, want %v", i, locs, w.locs)
		}
	}
	if !strings.Contains(out.Data[5].Error.Detail, "messages.5.payload") {
		t.Errorf("413 detail %q does not name the payload", out.Data[5].Error.Detail)
	}
	msgs, err := e.store.ListMessages(context.Background(), app, hookbridge.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range msgs.Data {
		types = append(types, m.EventType)
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{"ok.one", "ok.two"}) {
		t.Errorf("stored %v, want only the two valid messages", types)
	}
}

// TestCreateMessageBatchRequestErrors covers what fails the whole request.
func TestCreateMessageBatchRequestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("shop", ""), "id")
	many := make([]obj, MaxBatchMessages+1)
	for i := range many {
		many[i] = obj{"eventType": "a", "payload": obj{}}
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		loc    string
	}{
		{"EmptyBody", "", "", http.StatusBadRequest, ""},
		{"Malformed", "", `{"messages": [`, http.StatusBadRequest, ""},
		{"NotAnObject", "", `[1]`, http.StatusBadRequest, ""},
		{"MessagesMissing", "", obj{}, http.StatusUnprocessableEntity, "body.messages"},
		{"MessagesNull", "", obj{"messages": nil}, http.StatusUnprocessableEntity, "body.messages"},
		{"MessagesEmpty", "", obj{"messages": []obj{}}, http.StatusUnprocessableEntity, "body.messages"},
		{"MessagesNotAList", "", obj{"messages": 5}, http.StatusUnprocessableEntity, "body.messages"},
		{"TooMany", "", obj{"messages": many}, http.StatusUnprocessableEntity, "body.messages"},
		{"BadQuery", "?with_content=maybe", obj{"messages": many[:1]}, http.StatusUnprocessableEntity, "query.with_content"},
		{"TooLarge", "", `{"messages": [{"eventType": "a", "payload": {"x": "` + strings.Repeat("x", MaxBatchBody) + `"}}]}`, http.StatusRequestEntityTooLarge, ""},
		{"UnknownApplication", "/api/v1/app/nobody/msg/batch", obj{"messages": many[:1]}, http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := cmpOr(tc.path, "/api/v1/app/"+app+"/msg/batch")
			if strings.HasPrefix(tc.path, "?") {
				path = "/api/v1/app/" + app + "/msg/batch" + tc.path
			}
			r := e.do("POST", path, tc.body).want(tc.status)
			if tc.loc != "" {
				if locs := validationLocs(t, r); !slices.Contains(locs, tc.loc) {
					t.Errorf("locations %v, want %s", locs, tc.loc)
				}
			}
		})
	}
	msgs, err := e.store.ListMessages(context.Background(), app, hookbridge.MessageFilter{})
	if err != nil || len(msgs.Data) != 0 {
		t.Errorf("failed requests stored %d messages (%v)", len(msgs.Data), err)
	}
}

// TestCreateMessageBatchCreatesApplication: as a single message does, a
// batch with an application creates it when it does not exist.
func TestCreateMessageBatchCreatesApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.sendBatch("/api/v1/app/new-shop/msg/batch", obj{
		"application": obj{"name": "New shop"},
		"messages":    []obj{{"eventType": "a", "payload": obj{}}, {"eventType": "b", "payload": obj{}}},
	})
	if len(out.Data) != 2 || out.Data[0].Status != http.StatusAccepted || out.Data[1].Status != http.StatusAccepted {
		t.Fatalf("results = %+v", out.Data)
	}
	app := e.do("GET", "/api/v1/app/new-shop", nil).want(http.StatusOK).object()
	if str(app, "name") != "New shop" {
		t.Errorf("application = %v", app)
	}
	e.do("POST", "/api/v1/app/other/msg/batch", obj{
		"application": obj{"name": 7},
		"messages":    []obj{{"eventType": "a", "payload": obj{}}},
	}).want(http.StatusUnprocessableEntity)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
