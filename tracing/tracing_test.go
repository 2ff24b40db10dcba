package tracing

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestTraceparent(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc, ok := ParseTraceparent(tp)
	if !ok || !sc.Sampled || sc.Traceparent() != tp {
		t.Fatalf("ParseTraceparent(%q) = %+v, %v; formats back as %q", tp, sc, ok, sc.Traceparent())
	}
	unsampled, ok := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if !ok || unsampled.Sampled {
		t.Errorf("unsampled parent read as %+v, %v", unsampled, ok)
	}
	if _, ok := ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"); !ok {
		t.Error("a future version with more fields was refused")
	}
	for _, bad := range []string{
		"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // version 00 has no more fields
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		if sc, ok := ParseTraceparent(bad); ok {
			t.Errorf("ParseTraceparent(%q) = %+v: took it", bad, sc)
		}
	}
	if (SpanContext{}).Traceparent() != "" {
		t.Error("an invalid context formats as a header")
	}
}

// collector is an OTLP/HTTP endpoint that keeps the spans posted to it.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []otlpSpan
	resource []otlpKeyValue
	status   int
}

func newCollector(t *testing.T) *collector {
	c := &collector{status: http.StatusOK}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want OTLP/JSON at /v1/traces", http.StatusBadRequest)
			return
		}
		var req otlpRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.status != http.StatusOK {
			w.WriteHeader(c.status)
			return
		}
		for _, rs := range req.ResourceSpans {
			c.resource = rs.Resource.Attributes
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) got() []otlpSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]otlpSpan(nil), c.spans...)
}

// run runs the tracer until the test stops it, and returns the stop.
func run(t *testing.T, tr *Tracer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestExport: spans reach the collector in OTLP/JSON, with their parent,
// kind, attributes and status, and a child continues its parent's trace.
func TestExport(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	tr, err := New(Config{Endpoint: c.URL, SampleRatio: 1, Service: "hookbridge", Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, tr)
	parent, _ := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	server := tr.Start(parent, "POST /api/v1/app/{app_id}/msg", KindServer)
	server.SetInt("http.response.status_code", 202)
	client := tr.Start(server.Context(), "POST", KindClient)
	client.SetString("hookbridge.msg_id", "msg_1")
	client.SetError("receiver answered 500")
	client.End()
	server.End()
	server.End() // a second End does nothing
	stop()       // flushes

	spans := c.got()
	if len(spans) != 2 {
		t.Fatalf("collector got %d spans, want 2: %+v", len(spans), spans)
	}
	cs, ss := spans[0], spans[1]
	if ss.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || ss.ParentSpanID != "00f067aa0ba902b7" || ss.Kind != 2 ||
		ss.Name != "POST /api/v1/app/{app_id}/msg" || len(ss.Attributes) != 1 || *ss.Attributes[0].Value.IntValue != "202" {
		t.Errorf("server span %+v", ss)
	}
	if cs.TraceID != ss.TraceID || cs.ParentSpanID != ss.SpanID || cs.Kind != 3 || cs.Status == nil || cs.Status.Code != 2 ||
		*cs.Attributes[0].Value.StringValue != "msg_1" {
		t.Errorf("client span %+v, want a failed child of %s", cs, ss.SpanID)
	}
	if cs.StartTimeUnixNano == "" || cs.EndTimeUnixNano < cs.StartTimeUnixNano {
		t.Errorf("client span times %s … %s", cs.StartTimeUnixNano, cs.EndTimeUnixNano)
	}
	if len(c.resource) != 2 || *c.resource[0].Value.StringValue != "hookbridge" || *c.resource[1].Value.StringValue != "v1.2.3" {
		t.Errorf("resource %+v", c.resource)
	}
}

// TestSampling: a ratio of 0 records no new trace, but a caller's sampled
// trace is continued; an unsampled one is not.
func TestSampling(t *testing.T) {
	t.Parallel()
	tr, err := New(Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if s := tr.Start(SpanContext{}, "x", KindServer); s != nil {
			t.Fatal("a ratio of 0 sampled a new trace")
		}
	}
	sampled, _ := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if tr.Start(sampled, "x", KindServer) == nil {
		t.Error("a caller's sampled trace was not continued")
	}
	unsampled, _ := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if tr.Start(unsampled, "x", KindServer) != nil {
		t.Error("a caller's unsampled trace was recorded")
	}
	half, _ := New(Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 0.5})
	n := 0
	for range 2000 {
		if half.Start(SpanContext{}, "x", KindServer) != nil {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("a ratio of 0.5 sampled %d of 2000 traces", n)
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := New(Config{Endpoint: "http://127.0.0.1:1", SampleRatio: bad}); err == nil {
			t.Errorf("New took the sample ratio %v", bad)
		}
	}
	var nilTracer *Tracer
	if s := nilTracer.Start(sampled, "x", KindServer); s != nil {
		t.Error("a nil tracer made a span")
	}
	var nilSpan *Span
	nilSpan.SetString("k", "v")
	nilSpan.SetError("x")
	nilSpan.End()
	if nilSpan.Context().IsValid() {
		t.Error("a nil span has a context")
	}
}

// TestDrops: a collector that refuses, and a full queue, lose spans and
// count them; nothing waits on them.
func TestDrops(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.status = http.StatusServiceUnavailable
	tr, err := New(Config{Endpoint: c.URL, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Not running: the queue fills and then drops.
	start := time.Now()
	for range queueSize + 10 {
		tr.Start(SpanContext{}, "x", KindServer).End()
	}
	if d := tr.Dropped(); d != 10 {
		t.Errorf("dropped %d with the queue full, want 10", d)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("ending spans waited for the exporter")
	}
	run(t, tr)() // sends the queue, which the collector refuses
	if d := tr.Dropped(); d != queueSize+10 {
		t.Errorf("dropped %d in all, want %d", d, queueSize+10)
	}
}
