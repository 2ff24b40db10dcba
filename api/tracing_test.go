package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/hookbridge/hookbridge/tracing"
	"github.com/hookbridge/hookbridge/tracing/otlptest"
)

// TestTraceContextKeptWithMessages: with a tracer, every way a message is
// accepted — one, a batch, a processor's notification — keeps the trace
// context of the request that accepted it, in the caller's trace when the
// caller sent one; without a tracer nothing is kept. The requests' spans
// carry OpenTelemetry's HTTP server attributes.
func TestTraceContextKeptWithMessages(t *testing.T) {
	t.Parallel()
	collector := otlptest.NewHTTP(t)
	every := 1.0
	tracer, err := tracing.New(context.Background(), tracing.Config{Endpoint: collector.URL, SampleRatio: &every, Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tracer.Shutdown(context.Background()) })
	parse := func(tp string) (trace.SpanContext, bool) {
		sc := trace.SpanContextFromContext(tracer.WithTraceparent(context.Background(), tp))
		return sc, sc.IsValid()
	}
	e := newEnv(t, func(c *Config) { c.Tracer = tracer })
	e.createEventType("order.ready")
	app := str(e.createApp("Acme", "acme"), "id")
	e.createEndpoint(app, obj{})
	src := e.stripeSource("acme", "on", nil)

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	caller := map[string]string{"Authorization": "Bearer " + testKey, "traceparent": "00-" + traceID + "-" + callerSpan + "-01"}
	one := e.doWith("POST", "/api/v1/app/acme/msg", obj{"eventType": "order.ready", "payload": obj{}}, caller).want(http.StatusAccepted).object()
	var batch struct {
		Data []struct {
			Message struct {
				ID string `json:"id"`
			} `json:"message"`
		} `json:"data"`
	}
	e.doWith("POST", "/api/v1/app/acme/msg/batch", obj{"messages": []obj{{"eventType": "order.ready", "payload": obj{}}, {"eventType": "order.ready", "payload": obj{}}}},
		caller).want(http.StatusOK).decode(&batch)
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: stripeEvent("evt_traced", "acct_A", 100), Secret: testStripeSecret, Timestamp: e.clock.Now(),
	})
	e.doWith("POST", "/in/"+src, signed.Payload, map[string]string{"Stripe-Signature": signed.Header, "traceparent": caller["traceparent"]}).
		want(http.StatusOK)
	processor, err := e.store.GetMessage(context.Background(), app, "stripe.evt_traced")
	if err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{str(one, "id"), batch.Data[0].Message.ID, batch.Data[1].Message.ID, processor.ID} {
		m, err := e.store.GetMessage(context.Background(), app, id)
		if err != nil {
			t.Fatal(err)
		}
		sc, ok := parse(m.TraceParent)
		if !ok || !strings.Contains(m.TraceParent, traceID) || strings.Contains(m.TraceParent, callerSpan) {
			t.Errorf("message %s keeps trace context %q (%v), want the caller's trace with the request's own span", id, m.TraceParent, sc)
		}
	}

	// No traceparent: a trace of its own.
	own := e.sendMessage("acme", obj{"eventType": "order.ready"})
	if m, _ := e.store.GetMessage(context.Background(), app, str(own, "id")); m == nil || strings.Contains(m.TraceParent, traceID) {
		t.Errorf("an untraced caller's message keeps %+v, want a trace of its own", m)
	} else if _, ok := parse(m.TraceParent); !ok {
		t.Errorf("an untraced caller's message keeps %q, want a new trace", m.TraceParent)
	}

	// The ingest request's span, as the collector got it.
	if err := tracer.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ingest *otlptest.Span
	for _, s := range collector.Spans() {
		if s.Attr("hookbridge.request_id") != "" && s.Name == "POST /api/v1/app/{app_id}/msg" && s.ParentID() == callerSpan {
			ingest = &s
			break
		}
	}
	if ingest == nil {
		t.Fatalf("no span of the traced POST …/msg among %d", len(collector.Spans()))
	}
	for k, v := range map[string]string{
		"http.request.method": "POST", "url.scheme": "http", "url.path": "/api/v1/app/acme/msg",
		"http.route": "/api/v1/app/{app_id}/msg", "http.response.status_code": "202",
	} {
		if got := ingest.Attr(k); got != v {
			t.Errorf("ingest span: %s = %q, want %q", k, got, v)
		}
	}
	if ingest.Kind != tracepb.Span_SPAN_KIND_SERVER || ingest.TraceID() != traceID {
		t.Errorf("ingest span %v, want a server span in the caller's trace", ingest.Span)
	}

	// Without a tracer nothing is kept, whatever the caller sends.
	plain := newEnv(t)
	plain.createEventType("order.ready")
	plainApp := str(plain.createApp("Acme", "acme"), "id")
	msg := plain.doWith("POST", "/api/v1/app/acme/msg", obj{"eventType": "order.ready", "payload": obj{}}, caller).want(http.StatusAccepted).object()
	if m, err := plain.store.GetMessage(context.Background(), plainApp, str(msg, "id")); err != nil || m.TraceParent != "" {
		t.Errorf("without a tracer the message keeps %+v, %v; want nothing", m, err)
	}
}
