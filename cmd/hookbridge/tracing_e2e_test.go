package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// otlpCollector is an OTLP/HTTP trace endpoint that keeps the spans it is
// sent, decoded from OTLP's JSON encoding.
type otlpCollector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []collectedSpan
}

type collectedSpan struct {
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId"`
	Name         string `json:"name"`
	Kind         int    `json:"kind"`
	Attributes   []struct {
		Key   string `json:"key"`
		Value struct {
			StringValue *string `json:"stringValue"`
			IntValue    *string `json:"intValue"`
		} `json:"value"`
	} `json:"attributes"`
}

// attr returns an attribute's value as text, "" when absent.
func (s collectedSpan) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			switch {
			case a.Value.StringValue != nil:
				return *a.Value.StringValue
			case a.Value.IntValue != nil:
				return *a.Value.IntValue
			}
		}
	}
	return ""
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []collectedSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if r.URL.Path != "/v1/traces" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "want OTLP/JSON at /v1/traces", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
	}))
	t.Cleanup(c.Close)
	return c
}

// TestTracingEndToEnd: with --otel-endpoint, one trace follows a message
// from the producer's request to the receiver: the API's span continues
// the producer's traceparent, the delivery attempt's span is its child,
// and the receiver gets the attempt's traceparent.
func TestTracingEndToEnd(t *testing.T) {
	t.Parallel()
	collector := newOTLPCollector(t)
	srv := startTestServer(t, func(c *serveConfig) { c.OTelEndpoint, c.OTelSampleRatio = collector.URL, 1 })
	recv := newReceiver(t)
	call := func(method, path, body string, header map[string]string) map[string]any {
		t.Helper()
		status, raw := callAPI(t, srv, method, "/api/v1"+path, []byte(body), header)
		if status/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, status, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	call("POST", "/app", `{"name":"shop","uid":"shop"}`, nil)
	call("POST", "/app/shop/endpoint", `{"url":"`+recv.URL+`/hooks"}`, nil)

	const traceID, producerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	msg := call("POST", "/app/shop/msg", `{"eventType":"payment.captured","payload":{"n":1}}`,
		map[string]string{"traceparent": "00-" + traceID + "-" + producerSpan + "-01"})
	got := recv.next(t)
	tp := strings.Split(got.Header.Get("traceparent"), "-")
	if len(tp) != 4 || tp[1] != traceID || tp[2] == producerSpan {
		t.Fatalf("the receiver got traceparent %q, want the producer's trace with the attempt's span", got.Header.Get("traceparent"))
	}
	if status, body := callAPI(t, srv, "GET", "/metrics", nil, nil); status != http.StatusOK ||
		!strings.Contains(string(body), "\nhookbridge_trace_spans_dropped_total 0\n") {
		t.Errorf("/metrics: %d, without hookbridge_trace_spans_dropped_total 0:\n%s", status, body)
	}
	if err := srv.Shutdown(); err != nil { // flushes the spans
		t.Fatal(err)
	}

	collector.mu.Lock()
	defer collector.mu.Unlock()
	var ingest, attempt *collectedSpan
	for i, s := range collector.spans {
		switch {
		case s.Name == "POST /api/v1/app/{app_id}/msg":
			ingest = &collector.spans[i]
		case s.Kind == 3:
			attempt = &collector.spans[i]
		}
	}
	if ingest == nil || attempt == nil {
		t.Fatalf("spans %+v: want the ingest request's and the attempt's", collector.spans)
	}
	if ingest.TraceID != traceID || ingest.ParentSpanID != producerSpan || ingest.Kind != 2 || ingest.attr("http.response.status_code") != "202" {
		t.Errorf("ingest span %+v, want a server span under the producer's, answered 202", *ingest)
	}
	if attempt.TraceID != traceID || attempt.ParentSpanID != ingest.SpanID || attempt.SpanID != tp[2] ||
		attempt.attr("hookbridge.msg_id") != msg["id"] || attempt.attr("http.response.status_code") != "200" {
		t.Errorf("attempt span %+v, want the child of %s that the receiver saw, for %v, answered 200", *attempt, ingest.SpanID, msg["id"])
	}
}
