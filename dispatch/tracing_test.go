package dispatch_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/tracing"
	"github.com/hookbridge/hookbridge/tracing/otlptest"
)

// attemptFigures returns the dispatcher's duration histogram, as a
// Prometheus registry gathers it.
func attemptFigures(t *testing.T, d *dispatch.Dispatcher) *dto.Histogram {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "hookbridge_delivery_attempt_duration_seconds" {
			return f.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatal("no hookbridge_delivery_attempt_duration_seconds")
	return nil
}

func exemplars(h *dto.Histogram) []*dto.Exemplar {
	var out []*dto.Exemplar
	for _, b := range h.GetBucket() {
		if e := b.GetExemplar(); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// TestAttemptTraced: a delivery attempt of a message kept with a sampled
// trace context is a client span, a child of that context, with the HTTP
// client conventions' attributes and an error for a 500; the receiver gets
// its traceparent, and its duration carries the trace as an exemplar. A
// message of an unsampled trace passes its trace on, unsampled, and
// records nothing.
func TestAttemptTraced(t *testing.T) {
	t.Parallel()
	const traceID, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, sampled := range []bool{true, false} {
		flags := map[bool]string{true: "01", false: "00"}[sampled]
		t.Run("sampled="+flags, func(t *testing.T) {
			t.Parallel()
			collector := otlptest.NewHTTP(t)
			every := 1.0
			tracer, err := tracing.New(context.Background(), tracing.Config{Endpoint: collector.URL, SampleRatio: &every, Service: "test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tracer.Shutdown(context.Background()) })
			e := newEnv(t)
			srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusInternalServerError) })
			e.endpoint(srv.URL + "/hooks?token=s3cret")
			msg := &hookbridge.Message{AppID: e.app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`),
				CreatedAt: e.clock.Now(), TraceParent: "00-" + traceID + "-" + parentSpan + "-" + flags}
			if _, _, err := e.store.CreateMessage(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			d, stop := e.start(dispatch.Config{Tracer: tracer})
			tp := strings.Split(receive(t, got).header.Get("Traceparent"), "-")
			if len(tp) != 4 || tp[1] != traceID || tp[2] == parentSpan || tp[3] != flags {
				t.Fatalf("the receiver got traceparent %q, want the message's trace (flags %s) with a span of its own", strings.Join(tp, "-"), flags)
			}
			var h *dto.Histogram
			waitFor(t, "the attempt to be timed", func() bool {
				h = attemptFigures(t, d)
				return h.GetSampleCount() == 1
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if err := tracer.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			spans := collector.Spans()
			if !sampled {
				if len(spans) != 0 || len(exemplars(h)) != 0 {
					t.Errorf("an unsampled trace recorded spans %v and exemplars %v", spans, exemplars(h))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("spans %v, want the attempt's", spans)
			}
			s := spans[0]
			if s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.TraceID() != traceID || s.ParentID() != parentSpan || s.SpanID() != tp[2] ||
				s.Name != "POST" || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("attempt span %v, want a failed client span, the child of %s that the receiver saw", s.Span, parentSpan)
			}
			for k, v := range map[string]string{
				"http.request.method": "POST", "http.response.status_code": "500", "error.type": "500",
				"url.full": srv.URL + "/hooks", "server.address": "127.0.0.1",
				"hookbridge.msg_id": msg.ID, "hookbridge.attempt": "1",
			} {
				if got := s.Attr(k); got != v {
					t.Errorf("attempt span: %s = %q, want %q", k, got, v)
				}
			}
			ex := exemplars(h)
			if len(ex) != 1 {
				t.Fatalf("exemplars %v, want the attempt's", ex)
			}
			labels := map[string]string{}
			for _, l := range ex[0].GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["trace_id"] != traceID || labels["span_id"] != tp[2] {
				t.Errorf("exemplar labelled %v, want trace_id %s and span_id %s", labels, traceID, tp[2])
			}
		})
	}
}
