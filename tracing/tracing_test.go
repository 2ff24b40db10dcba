package tracing_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/hookbridge/hookbridge/tracing"
	"github.com/hookbridge/hookbridge/tracing/otlptest"
)

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
	sampledTP   = "00-" + callerTrace + "-" + callerSpan + "-01"
	unsampledTP = "00-" + callerTrace + "-" + callerSpan + "-00"
)

func ratio(r float64) *float64 { return &r }

// newTracer returns a Tracer for cfg, shut down when the test ends.
func newTracer(t *testing.T, cfg tracing.Config) *tracing.Tracer {
	t.Helper()
	tr, err := tracing.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		t.Fatalf("New(%+v) made no tracer", cfg)
	}
	t.Cleanup(func() { shutdown(t, tr) })
	return tr
}

// shutdown flushes tr: what was ended has reached the collector after it.
func shutdown(t *testing.T, tr *tracing.Tracer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestTraceparent: a message keeps its request's context as a W3C
// traceparent and a delivery attempt reads it back through the SDK's
// TraceContext propagator; what is malformed is not read.
func TestTraceparent(t *testing.T) {
	t.Parallel()
	tr := newTracer(t, tracing.Config{Endpoint: otlptest.NewHTTP(t).URL})
	ctx := context.Background()
	for _, tp := range []string{sampledTP, unsampledTP} {
		if got := tr.Traceparent(tr.WithTraceparent(ctx, tp)); got != tp {
			t.Errorf("traceparent %q read and written back as %q", tp, got)
		}
	}
	if sc := trace.SpanContextFromContext(tr.WithTraceparent(ctx, "01-"+callerTrace+"-"+callerSpan+"-01-future")); !sc.IsValid() {
		t.Error("a future version with more fields was refused")
	}
	for _, bad := range []string{
		"", "00-" + callerTrace + "-" + callerSpan + "-01-x", // version 00 has no more fields
		"ff-" + callerTrace + "-" + callerSpan + "-01",
		"00-00000000000000000000000000000000-" + callerSpan + "-01",
		"00-" + callerTrace + "-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" + callerSpan + "-01",
		"00-" + callerTrace + "-" + callerSpan + "-0g",
		"00_" + callerTrace + "-" + callerSpan + "-01",
	} {
		if sc := trace.SpanContextFromContext(tr.WithTraceparent(ctx, bad)); sc.IsValid() {
			t.Errorf("traceparent %q read as %v", bad, sc)
		}
	}
	if got := tr.Traceparent(ctx); got != "" {
		t.Errorf("a context without a span gives traceparent %q", got)
	}

	// Headers, as an API request and a delivery attempt carry them.
	in := http.Header{"Traceparent": {sampledTP}}
	ctx, span := tr.Start(tr.Extract(ctx, in), "x", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	out := http.Header{}
	tr.Inject(ctx, out)
	if sc := span.SpanContext(); out.Get("Traceparent") != "00-"+callerTrace+"-"+sc.SpanID().String()+"-01" {
		t.Errorf("injected %q, want the caller's trace with the span %s", out.Get("Traceparent"), sc.SpanID())
	}
}

// TestExport: spans reach an OTLP collector, over HTTP (protobuf) and over
// gRPC, with their parent, kind, attributes, status and resource, and a
// child continues its parent's trace.
func TestExport(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
			c := otlptest.NewHTTP(t)
			if protocol == "grpc" {
				c = otlptest.NewGRPC(t)
			}
			tr := newTracer(t, tracing.Config{Endpoint: c.URL, SampleRatio: ratio(1), Service: "hookbridge", Version: "v1.2.3"})
			ctx := tr.WithTraceparent(context.Background(), sampledTP)
			ctx, server := tr.Start(ctx, "POST /api/v1/app/{app_id}/msg", trace.WithSpanKind(trace.SpanKindServer))
			server.SetAttributes(attribute.Int("http.response.status_code", 202))
			_, client := tr.Start(ctx, "POST", trace.WithSpanKind(trace.SpanKindClient))
			client.SetAttributes(attribute.String("hookbridge.msg_id", "msg_1"))
			client.SetStatus(codes.Error, "receiver answered 500")
			client.End()
			server.End()
			shutdown(t, tr)

			spans := c.Spans()
			if len(spans) != 2 {
				t.Fatalf("collector got %d spans, want 2: %+v", len(spans), spans)
			}
			cs, ss := spans[0], spans[1]
			if ss.TraceID() != callerTrace || ss.ParentID() != callerSpan || ss.Kind != tracepb.Span_SPAN_KIND_SERVER ||
				ss.Name != "POST /api/v1/app/{app_id}/msg" || ss.Attr("http.response.status_code") != "202" {
				t.Errorf("server span %v", ss.Span)
			}
			if cs.TraceID() != callerTrace || cs.ParentID() != ss.SpanID() || cs.Kind != tracepb.Span_SPAN_KIND_CLIENT ||
				cs.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || cs.Attr("hookbridge.msg_id") != "msg_1" {
				t.Errorf("client span %v, want a failed child of %s", cs.Span, ss.SpanID())
			}
			if cs.StartTimeUnixNano == 0 || cs.EndTimeUnixNano < cs.StartTimeUnixNano {
				t.Errorf("client span times %d … %d", cs.StartTimeUnixNano, cs.EndTimeUnixNano)
			}
			if r := ss.Resource; r["service.name"] != "hookbridge" || r["service.version"] != "v1.2.3" || ss.Scope != tracing.ScopeName {
				t.Errorf("resource %v, scope %q", r, ss.Scope)
			}
		})
	}
}

// sampled reports whether a new span, a child of parent (a traceparent, or
// "" for a new trace), is recorded.
func sampled(tr *tracing.Tracer, parent string) bool {
	_, span := tr.Start(tr.WithTraceparent(context.Background(), parent), "x")
	defer span.End()
	return span.SpanContext().IsSampled() && span.IsRecording()
}

// TestSampling: a ratio of 0 records no new trace, but a caller's sampled
// trace is continued; an unsampled one is not; a ratio of 0.5 records
// about half.
func TestSampling(t *testing.T) {
	t.Parallel()
	c := otlptest.NewHTTP(t)
	none := newTracer(t, tracing.Config{Endpoint: c.URL, SampleRatio: ratio(0)})
	for range 100 {
		if sampled(none, "") {
			t.Fatal("a ratio of 0 sampled a new trace")
		}
	}
	if !sampled(none, sampledTP) {
		t.Error("a caller's sampled trace was not continued")
	}
	if sampled(none, unsampledTP) {
		t.Error("a caller's unsampled trace was recorded")
	}
	half := newTracer(t, tracing.Config{Endpoint: c.URL, SampleRatio: ratio(0.5)})
	n := 0
	for range 2000 {
		if sampled(half, "") {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("a ratio of 0.5 sampled %d of 2000 traces", n)
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		if tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: c.URL, SampleRatio: &bad}); err == nil {
			tr.Shutdown(context.Background())
			t.Errorf("New took the sample ratio %v", bad)
		}
	}
}

// TestEnvironment: the standard variables configure what Config leaves
// empty, and Config wins over them.
func TestEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Run("no endpoint, no tracing", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
		if tr, err := tracing.New(ctx, tracing.Config{}); tr != nil || err != nil {
			t.Errorf("New without an endpoint: %v, %v; want no tracer", tr, err)
		}
	})
	t.Run("OTEL_SDK_DISABLED", func(t *testing.T) {
		t.Setenv("OTEL_SDK_DISABLED", "true")
		if tr, err := tracing.New(ctx, tracing.Config{Endpoint: "http://127.0.0.1:1"}); tr != nil || err != nil {
			t.Errorf("New with the SDK disabled: %v, %v; want no tracer", tr, err)
		}
	})
	t.Run("endpoint and service name", func(t *testing.T) {
		c := otlptest.NewHTTP(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL)
		t.Setenv("OTEL_SERVICE_NAME", "hookbridge-eu")
		tr := newTracer(t, tracing.Config{Service: "hookbridge"})
		_, span := tr.Start(ctx, "x")
		span.End()
		shutdown(t, tr)
		if spans := c.Spans(); len(spans) != 1 || spans[0].Resource["service.name"] != "hookbridge-eu" {
			t.Errorf("spans %v, want one of service hookbridge-eu", spans)
		}
	})
	t.Run("Config's endpoint wins", func(t *testing.T) {
		env, flag := otlptest.NewHTTP(t), otlptest.NewHTTP(t)
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env.URL+"/v1/traces")
		tr := newTracer(t, tracing.Config{Endpoint: flag.URL})
		_, span := tr.Start(ctx, "x")
		span.End()
		shutdown(t, tr)
		if len(flag.Spans()) != 1 || len(env.Spans()) != 0 {
			t.Errorf("Config's collector got %d spans, the environment's %d; want 1 and 0", len(flag.Spans()), len(env.Spans()))
		}
	})
	t.Run("sampler", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
		c := otlptest.NewHTTP(t)
		if sampled(newTracer(t, tracing.Config{Endpoint: c.URL}), "") {
			t.Error("OTEL_TRACES_SAMPLER=always_off: a trace was sampled")
		}
		if !sampled(newTracer(t, tracing.Config{Endpoint: c.URL, SampleRatio: ratio(1)}), "") {
			t.Error("a sample ratio of 1 did not win over OTEL_TRACES_SAMPLER=always_off")
		}
	})
	t.Run("protocol", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
		if tr, err := tracing.New(ctx, tracing.Config{Endpoint: "http://127.0.0.1:1"}); err == nil {
			tr.Shutdown(ctx)
			t.Error("New took an unknown protocol")
		}
	})
}

// TestDrops: a collector that stops answering fills the queue, and a
// collector that refuses loses the batch; both are counted, and ending a
// span never waits.
func TestDrops(t *testing.T) {
	const queue = 10
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "10")
	c := otlptest.NewHTTP(t)
	release := c.Hold()
	tr := newTracer(t, tracing.Config{Endpoint: c.URL, SampleRatio: ratio(1)})
	end := func(n int) {
		start := time.Now()
		for range n {
			_, span := tr.Start(context.Background(), "x")
			span.End()
		}
		if time.Since(start) > 5*time.Second {
			t.Error("ending spans waited for the exporter")
		}
	}
	// A full batch goes out at once, and hangs: what follows is dropped.
	end(queue + 25)
	<-c.Arrived()
	if d := tr.Dropped(); d != 25 {
		t.Errorf("dropped %d with the collector hanging, want 25", d)
	}
	c.Refuse()
	release()
	end(queue) // a full batch again, refused
	shutdown(t, tr)
	if d := tr.Dropped(); d != 25+2*queue {
		t.Errorf("dropped %d in all, want %d", d, 25+2*queue)
	}
	if n := len(c.Spans()); n != 0 {
		t.Errorf("the collector kept %d spans, want none", n)
	}
	var off *tracing.Tracer
	if off.Dropped() != 0 || off.Shutdown(context.Background()) != nil {
		t.Error("a nil Tracer counts drops or fails to shut down")
	}
}
