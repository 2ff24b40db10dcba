package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/hookbridge/hookbridge/tracing/otlptest"
)

// TestTracingEndToEnd: with --otel-endpoint, one trace follows a message
// from the producer's request to the receiver: the API's span continues
// the producer's traceparent, the delivery attempt's span is its child,
// the receiver gets the attempt's traceparent, and the attempt's duration
// carries the trace as an exemplar. The collector decodes OTLP/HTTP
// protobuf.
func TestTracingEndToEnd(t *testing.T) {
	t.Parallel()
	collector := otlptest.NewHTTP(t)
	traceEndToEnd(t, collector, func(c *serveConfig) { c.OTelEndpoint, c.OTelSampleRatio = collector.URL, "1" })
}

// TestTracingFromEnvironment: without the flags, the standard
// OTEL_EXPORTER_OTLP_* variables configure the export, here to a gRPC
// collector.
func TestTracingFromEnvironment(t *testing.T) {
	collector := otlptest.NewGRPC(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	traceEndToEnd(t, collector)
}

func traceEndToEnd(t *testing.T, collector *otlptest.Collector, edit ...func(*serveConfig)) {
	srv := startTestServer(t, edit...)
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
	// The query may hold a credential: it is not recorded.
	call("POST", "/app/shop/endpoint", `{"url":"`+recv.URL+`/hooks?token=s3cret"}`, nil)

	const traceID, producerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	msg := call("POST", "/app/shop/msg", `{"eventType":"payment.captured","payload":{"n":1}}`,
		map[string]string{"traceparent": "00-" + traceID + "-" + producerSpan + "-01"})
	got := recv.next(t)
	tp := strings.Split(got.Header.Get("traceparent"), "-")
	if len(tp) != 4 || tp[1] != traceID || tp[2] == producerSpan || tp[3] != "01" {
		t.Fatalf("the receiver got traceparent %q, want the producer's trace with the attempt's span", got.Header.Get("traceparent"))
	}
	var exemplar *dto.Exemplar
	waitFor(t, "the attempt to be counted", func() bool {
		exemplar = attemptExemplar(t, srv)
		return exemplar != nil
	})
	labels := map[string]string{}
	for _, l := range exemplar.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["trace_id"] != traceID || labels["span_id"] != tp[2] {
		t.Errorf("the attempt duration's exemplar is labelled %v, want the attempt's trace_id %s and span_id %s", labels, traceID, tp[2])
	}
	if status, body := callAPI(t, srv, "GET", "/metrics", nil, nil); status != http.StatusOK ||
		!strings.Contains(string(body), "\nhookbridge_trace_spans_dropped_total 0\n") {
		t.Errorf("/metrics: %d, without hookbridge_trace_spans_dropped_total 0:\n%s", status, body)
	}
	if err := srv.Shutdown(); err != nil { // flushes the spans
		t.Fatal(err)
	}

	var ingest, attempt *otlptest.Span
	spans := collector.Spans()
	for i, s := range spans {
		switch {
		case s.Name == "POST /api/v1/app/{app_id}/msg":
			ingest = &spans[i]
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT:
			attempt = &spans[i]
		}
	}
	if ingest == nil || attempt == nil {
		t.Fatalf("spans %v: want the ingest request's and the attempt's", spans)
	}
	if ingest.TraceID() != traceID || ingest.ParentID() != producerSpan || ingest.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		ingest.Attr("http.response.status_code") != "202" || ingest.Attr("http.route") != "/api/v1/app/{app_id}/msg" {
		t.Errorf("ingest span %v, want a server span under the producer's, answered 202", ingest.Span)
	}
	if attempt.TraceID() != traceID || attempt.ParentID() != ingest.SpanID() || attempt.SpanID() != tp[2] ||
		attempt.Attr("hookbridge.msg_id") != msg["id"] || attempt.Attr("http.response.status_code") != "200" {
		t.Errorf("attempt span %v, want the child of %s that the receiver saw, for %v, answered 200", attempt.Span, ingest.SpanID(), msg["id"])
	}
	host, port, _ := strings.Cut(strings.TrimPrefix(recv.URL, "http://"), ":")
	for k, v := range map[string]string{
		"http.request.method": "POST", "server.address": host, "server.port": port, "url.full": recv.URL + "/hooks",
	} {
		if got := attempt.Attr(k); got != v {
			t.Errorf("attempt span: %s = %q, want %q", k, got, v)
		}
	}
	if r := attempt.Resource; r["service.name"] != "hookbridge" || r["service.version"] != buildVersion() {
		t.Errorf("resource %v", r)
	}
}

// attemptExemplar scrapes /metrics in the protobuf format, as Prometheus
// does when it stores exemplars, and returns the exemplar of the attempt
// duration histogram, or nil.
func attemptExemplar(t *testing.T, srv *server) *dto.Exemplar {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+srv.Addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			t.Fatalf("decode /metrics (%s): %v", resp.Header.Get("Content-Type"), err)
		}
		if f.GetName() != "hookbridge_delivery_attempt_duration_seconds" {
			continue
		}
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			if e := b.GetExemplar(); e != nil {
				return e
			}
		}
	}
}

// TestTracingFlagsChecked: a malformed --otel-endpoint or
// --otel-sample-ratio stops the start with a usage error naming the flag,
// before anything is opened.
func TestTracingFlagsChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag string
		edit func(*serveConfig)
	}{
		{"--otel-endpoint", func(c *serveConfig) { c.OTelEndpoint = "collector:4318" }},
		{"--otel-sample-ratio", func(c *serveConfig) { c.OTelEndpoint, c.OTelSampleRatio = "http://127.0.0.1:4318", "1.5" }},
		{"--otel-sample-ratio", func(c *serveConfig) { c.OTelEndpoint, c.OTelSampleRatio = "http://127.0.0.1:4318", "half" }},
	} {
		cfg := serveConfig{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "hookbridge.db")}
		tc.edit(&cfg)
		srv, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err == nil {
			srv.Shutdown()
			t.Errorf("%s: started with %+v", tc.flag, cfg)
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: %v, want a usage error naming the flag", tc.flag, err)
		}
		if _, err := os.Stat(cfg.DB); !os.IsNotExist(err) {
			t.Errorf("%s: the database was created", tc.flag)
		}
	}
}
