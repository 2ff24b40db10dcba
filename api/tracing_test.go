package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookbridge/hookbridge/tracing"
)

// TestTraceContextKeptWithMessages: with a tracer, every way a message is
// accepted — one, a batch, a processor's notification — keeps the trace
// context of the request that accepted it, in the caller's trace when the
// caller sent one; without a tracer nothing is kept.
func TestTraceContextKeptWithMessages(t *testing.T) {
	t.Parallel()
	tracer, err := tracing.New(tracing.Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 1, Service: "test"})
	if err != nil {
		t.Fatal(err)
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
		sc, ok := tracing.ParseTraceparent(m.TraceParent)
		if !ok || !strings.Contains(m.TraceParent, traceID) || strings.Contains(m.TraceParent, callerSpan) {
			t.Errorf("message %s keeps trace context %q (%v), want the caller's trace with the request's own span", id, m.TraceParent, sc)
		}
	}

	// No traceparent: a trace of its own.
	own := e.sendMessage("acme", obj{"eventType": "order.ready"})
	if m, _ := e.store.GetMessage(context.Background(), app, str(own, "id")); m == nil || strings.Contains(m.TraceParent, traceID) {
		t.Errorf("an untraced caller's message keeps %+v, want a trace of its own", m)
	} else if _, ok := tracing.ParseTraceparent(m.TraceParent); !ok {
		t.Errorf("an untraced caller's message keeps %q, want a new trace", m.TraceParent)
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
