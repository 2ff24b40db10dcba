package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookbridge/hookbridge/storetest"
	"github.com/hookbridge/hookbridge/tracing"
)

// BenchmarkHotPath is the instrumentation of one message, as the
// API and the dispatcher do it: the ingest request's server span
// (continuing the producer's traceparent) and its counter, the message's
// kept traceparent, the delivery attempt's client span with the
// traceparent sent to the receiver, the attempt counter and the duration
// histogram with its exemplar; every span exported over OTLP/HTTP to a
// local server. cpu-ns/op is the process's CPU time, the exporter's
// goroutine and the final flush included. Without tracing, what is left
// is the counters and the histogram.
// docs/decisions.md compares it with the hand-written code it replaced.
//
//	go test -run '^$' -bench HotPath -benchtime 2000x -benchmem ./tracing/
func BenchmarkHotPath(b *testing.B) {
	b.Run("traced", benchmarkTraced)
	b.Run("untraced", func(b *testing.B) {
		requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"route", "code"})
		attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attempts_total"}, []string{"outcome"})
		success := attempts.WithLabelValues("success")
		duration := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "duration_seconds",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}})
		cpu0, _ := storetest.ProcessCPU()
		for range b.N {
			requests.WithLabelValues("POST /api/v1/app/{app_id}/msg", "2xx").Inc()
			success.Inc()
			duration.Observe(0.003)
		}
		cpu1, _ := storetest.ProcessCPU()
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

func benchmarkTraced(b *testing.B) {
	b.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4096") // as the hand-written exporter's queue
	// A collector that takes and discards: its decoding is no part of
	// Hookbridge's cost.
	collector := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer collector.Close()
	every := 1.0
	tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: collector.URL, SampleRatio: &every, Service: "hookbridge", Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"route", "code"})
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attempts_total"}, []string{"outcome"})
	success := attempts.WithLabelValues("success")
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "duration_seconds",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}})
	in, _ := http.NewRequest("POST", "http://h/api/v1/app/a/msg", nil)
	in.Header.Set("Traceparent", sampledTP)
	in.Pattern = "POST /api/v1/app/{app_id}/msg"
	const endpointURL = "http://recv:8080/hooks?k=v"

	cpu0, _ := storetest.ProcessCPU()
	b.ResetTimer()
	for range b.N {
		// The API request.
		ctx, span := tr.Start(tr.Extract(in.Context(), in.Header), in.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodPost, semconv.URLScheme("http"), semconv.URLPath(in.URL.Path),
				semconv.UserAgentOriginal(in.UserAgent())))
		r := in.WithContext(ctx)
		stored := tr.Traceparent(r.Context())
		if span.IsRecording() {
			span.SetName(r.Pattern)
			span.SetAttributes(semconv.HTTPRoute("/api/v1/app/{app_id}/msg"), semconv.HTTPResponseStatusCode(202),
				attribute.String("hookbridge.request_id", "req_1"))
		}
		span.End()
		requests.WithLabelValues(r.Pattern, "2xx").Inc()

		// The delivery attempt.
		actx, a := tr.Start(tr.WithTraceparent(context.Background(), stored), http.MethodPost, trace.WithSpanKind(trace.SpanKindClient))
		if a.IsRecording() {
			attrs := []attribute.KeyValue{semconv.HTTPRequestMethodPost,
				attribute.String("hookbridge.msg_id", "msg_1"), attribute.String("hookbridge.endpoint_id", "ep_1"),
				attribute.String("hookbridge.app_id", "app_1"), attribute.Int("hookbridge.attempt", 1)}
			if u, err := url.Parse(endpointURL); err == nil {
				port, _ := strconv.Atoi(u.Port())
				full := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
				attrs = append(attrs, semconv.ServerAddress(u.Hostname()), semconv.ServerPort(port), semconv.URLFull(full.String()))
			}
			a.SetAttributes(attrs...)
		}
		h := http.Header{}
		tr.Inject(actx, h)
		if a.IsRecording() {
			a.SetAttributes(semconv.HTTPResponseStatusCode(200))
		}
		a.End()
		success.Inc()
		sc := a.SpanContext()
		duration.(prometheus.ExemplarObserver).ObserveWithExemplar(0.003,
			prometheus.Labels{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu1, _ := storetest.ProcessCPU()
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(tr.Dropped()), "dropped")
}
