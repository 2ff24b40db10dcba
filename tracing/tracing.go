// Package tracing sets up OpenTelemetry tracing for Hookbridge's data path
// with the OpenTelemetry Go SDK, and keeps the one piece of it that is
// Hookbridge's own: a message's trace context, stored as a W3C traceparent.
//
// Two kinds of span are recorded: one per API request (server), one per
// delivery attempt (client), linked through W3C Trace Context. An API
// request continues the trace its caller sent in a traceparent header, a
// message keeps the context of the request that accepted it
// (Tracer.Traceparent), each of its delivery attempts is a child of that
// request (Tracer.WithTraceparent), even after a restart or on another
// instance, and each attempt sends its own traceparent to the receiver
// (Tracer.Inject). So one trace shows a message from the producer's call,
// through Hookbridge, to the receiver's handling of it, retries included.
//
// Spans go to an OTLP collector over HTTP (protobuf or JSON) or gRPC, as
// the standard OTEL_EXPORTER_OTLP_* variables choose; sampling follows
// OTEL_TRACES_SAMPLER unless a ratio is given. Export is batched on the
// SDK's own goroutine and never waits: a span that finds the queue full is
// dropped and counted (Dropped), as is a batch the collector does not take.
//
// A nil *Tracer means tracing is off; its callers check for nil, and
// Dropped and Shutdown accept it.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of Hookbridge's spans.
const ScopeName = "github.com/hookbridge/hookbridge"

// Config configures a Tracer. Whatever it leaves empty comes from the
// standard OpenTelemetry environment variables, which the SDK reads.
type Config struct {
	// Endpoint is the collector's URL: for OTLP/HTTP its base URL, e.g.
	// http://otel-collector:4318, spans going to Endpoint + "/v1/traces";
	// for gRPC its address, e.g. http://otel-collector:4317. It wins over
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT;
	// empty with neither set means no tracing.
	Endpoint string
	// SampleRatio, when set, is the share of new traces recorded, from 0
	// to 1; a trace begun by a caller that sent a traceparent follows the
	// caller's sampled flag (parentbased_traceidratio). It wins over
	// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; nil with neither
	// set records every trace (parentbased_always_on).
	SampleRatio *float64
	// Service is the service.name resource attribute and Version
	// service.version; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override them.
	Service, Version string
	// Logger receives export failures; nil means slog.Default().
	Logger *slog.Logger
}

// Tracer makes spans with the SDK and sends them to the collector. Create
// one with New and stop it with Shutdown, which flushes what is queued.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
	queue    *boundedQueue
}

// New returns a Tracer for cfg and the environment, or nil (and no error)
// when no collector is configured or OTEL_SDK_DISABLED is true.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	if disabled, _ := strconv.ParseBool(os.Getenv("OTEL_SDK_DISABLED")); disabled {
		return nil, nil
	}
	if cfg.Endpoint == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return nil, nil
	}
	opts := []sdktrace.TracerProviderOption{}
	if r := cfg.SampleRatio; r != nil {
		if !(*r >= 0 && *r <= 1) { // NaN too
			return nil, errors.New("the sample ratio must be from 0 to 1")
		}
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	exp, err := newExporter(ctx, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(cfg.Service), semconv.ServiceVersion(cfg.Version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: say so rather than send
		// spans under a name nobody looks for.
		return nil, fmt.Errorf("resource attributes: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	q := newBoundedQueue(exp, logger)
	t := &Tracer{queue: q}
	t.provider = sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res), sdktrace.WithSpanProcessor(q))...)
	t.tracer = t.provider.Tracer(ScopeName, trace.WithInstrumentationVersion(cfg.Version))
	return t, nil
}

// Start starts a span, a child of the span ctx carries (a local one, or a
// remote one from Extract or WithTraceparent), else the root of a new
// trace. The span records only if the trace is sampled; it must be ended.
func (t *Tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, opts...)
}

// Extract returns ctx carrying the remote span context of the traceparent
// (and tracestate) in h; ctx unchanged when there is none or it is
// malformed.
func (t *Tracer) Extract(ctx context.Context, h http.Header) context.Context {
	return t.prop.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject sets h's traceparent (and tracestate) to the span context of
// ctx: what a receiver gets with a delivery attempt.
func (t *Tracer) Inject(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// Traceparent returns the span context of ctx as a W3C traceparent value,
// "" when ctx has none: what a message keeps of the request that accepted
// it. An unsampled trace's context is kept too, so that its attempts stay
// unsampled with it.
func (t *Tracer) Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceparent returns ctx carrying the remote span context tp names
// (a message's kept traceparent); ctx unchanged when tp is empty or
// malformed.
func (t *Tracer) WithTraceparent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return t.prop.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

// Dropped returns how many spans were not sent: the export queue was full,
// or the collector refused the batch or could not be reached (after the
// exporter's retries). 0 for a nil Tracer.
func (t *Tracer) Dropped() int64 {
	if t == nil {
		return 0
	}
	return t.queue.dropped.Load()
}

// Shutdown sends what is queued, within ctx, and stops the exporter. A
// nil Tracer has nothing to do.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
