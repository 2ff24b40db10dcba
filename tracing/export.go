package tracing

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newExporter returns the OTLP exporter that OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// (or OTEL_EXPORTER_OTLP_PROTOCOL) names: grpc, or http/protobuf (the
// default) or http/json. The exporters read the rest of their
// configuration (headers, TLS, timeout, compression, the endpoint when
// endpoint is "") from the environment themselves.
func newExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	protocol := cmp.Or(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf")
	switch protocol {
	case "grpc":
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	case "http/protobuf", "http/json":
		var opts []otlptracehttp.Option
		if endpoint != "" {
			// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
			opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("OTLP protocol %q (OTEL_EXPORTER_OTLP_PROTOCOL): want grpc, http/protobuf or http/json", protocol)
}

// boundedQueue is the span processor: the SDK's batch span processor, and
// a count of the spans it loses, which the SDK does not expose (outside
// its experimental self-observability metrics).
//
// pending counts the sampled spans handed to the batch processor and not
// yet to the exporter: those in its queue, its current batch, or its
// export call. A span that would take pending past limit is dropped here,
// as the batch processor would drop it on a full queue, and counted; the
// batch processor's own queue, as large as limit, so never fills. A batch
// the exporter fails to send (after its own retries) is counted too.
type boundedQueue struct {
	sdktrace.SpanProcessor
	limit   int64
	pending atomic.Int64
	dropped atomic.Int64
	log     *slog.Logger
}

func newBoundedQueue(exp sdktrace.SpanExporter, log *slog.Logger) *boundedQueue {
	q := &boundedQueue{limit: int64(maxQueueSize()), log: log}
	q.SpanProcessor = sdktrace.NewBatchSpanProcessor(countingExporter{exp, q}, sdktrace.WithMaxQueueSize(int(q.limit)))
	return q
}

// OnEnd queues an ended span for export, or drops it when the queue is
// full: ending a span never waits for the collector.
func (q *boundedQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // not exported anyway
	}
	if q.pending.Add(1) > q.limit {
		q.pending.Add(-1)
		q.dropped.Add(1)
		return
	}
	q.SpanProcessor.OnEnd(s)
}

// maxQueueSize is OTEL_BSP_MAX_QUEUE_SIZE when it is a positive number,
// else the SDK's default, as the batch processor itself reads it.
func maxQueueSize() int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OTEL_BSP_MAX_QUEUE_SIZE"))); err == nil && n > 0 {
		return n
	}
	return sdktrace.DefaultMaxQueueSize
}

// countingExporter counts what the batch processor hands the exporter,
// and what the exporter fails to send.
type countingExporter struct {
	sdktrace.SpanExporter
	q *boundedQueue
}

// ExportSpans sends spans. A failure is logged and counted here, and not
// returned: the batch processor would only hand it to OpenTelemetry's
// global error handler, and the batch is gone either way (the exporter
// has already retried it).
func (e countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.q.pending.Add(-int64(len(spans)))
	if err != nil {
		e.q.dropped.Add(int64(len(spans)))
		e.q.log.Warn("tracing: spans not exported", "spans", len(spans), "err", err)
	}
	return nil
}
