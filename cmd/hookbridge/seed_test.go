package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hookbridge/hookbridge"
)

// TestSeededEventTypesCarrySchemas: a fresh server's catalogue has every
// canonical event type with its JSON Schema, and "send example" sends the
// schema's example.
func TestSeededEventTypesCarrySchemas(t *testing.T) {
	t.Parallel()
	srv := startTestServer(t)
	for _, et := range hookbridge.CanonicalEventTypes {
		code, body := callAPI(t, srv, "GET", "/api/v1/event-type/"+et.Name, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", et.Name, code, body)
		}
		var out struct {
			Schemas map[string]struct {
				Examples []json.RawMessage `json:"examples"`
			} `json:"schemas"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Schemas["1"].Examples) == 0 {
			t.Errorf("%s: seeded without a schema and example: %s", et.Name, body)
		}
	}

	callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Shop","uid":"shop"}`), nil)
	code, body := callAPI(t, srv, "POST", "/api/v1/app/shop/endpoint", []byte(`{"url":"http://127.0.0.1:9/hook"}`), nil)
	if code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}
	var ep struct{ ID string }
	_ = json.Unmarshal(body, &ep)
	code, body = callAPI(t, srv, "POST", "/api/v1/app/shop/endpoint/"+ep.ID+"/send-example", []byte(`{"eventType":"payment.updated"}`), nil)
	if code != http.StatusOK {
		t.Fatalf("send-example: %d %s", code, body)
	}
	var msg struct {
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(body, &msg)
	var want struct {
		One struct {
			Examples []json.RawMessage `json:"examples"`
		} `json:"1"`
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		if et.Name == "payment.updated" {
			_ = json.Unmarshal(et.Schemas, &want)
		}
	}
	var got, exp bytes.Buffer
	_ = json.Compact(&got, msg.Payload)
	_ = json.Compact(&exp, want.One.Examples[0])
	if got.String() != exp.String() {
		t.Errorf("send-example sent %s, want the schema's example %s", got.String(), exp.String())
	}
}
