package tracing

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Export bounds: spans wait in a queue of queueSize; a batch of up to
// batchSize goes out when full or every flushEvery. A full queue drops
// new spans: tracing must never hold up the data path.
const (
	queueSize   = 4096
	batchSize   = 512
	flushEvery  = time.Second
	postTimeout = 10 * time.Second
	// drainTimeout bounds the last flush when Run stops.
	drainTimeout = 5 * time.Second
)

type exporter struct {
	url, service, version string
	client                *http.Client
	spans                 chan *Span
	dropped               atomic.Int64
}

func newExporter(cfg Config) *exporter {
	return &exporter{
		url:     strings.TrimRight(cfg.Endpoint, "/") + "/v1/traces",
		service: cfg.Service,
		version: cfg.Version,
		client:  &http.Client{Timeout: postTimeout},
		spans:   make(chan *Span, queueSize),
	}
}

func (e *exporter) add(s *Span) {
	select {
	case e.spans <- s:
	default:
		e.dropped.Add(1)
	}
}

func (e *exporter) run(ctx context.Context) {
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	batch := make([]*Span, 0, batchSize)
	send := func(ctx context.Context) {
		if len(batch) > 0 {
			e.post(ctx, batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case s := <-e.spans:
			if batch = append(batch, s); len(batch) == batchSize {
				send(ctx)
			}
		case <-tick.C:
			send(ctx)
		case <-ctx.Done():
			// What was queued before the stop still goes out, within a
			// bound of its own.
			dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			defer cancel()
			for {
				select {
				case s := <-e.spans:
					if batch = append(batch, s); len(batch) == batchSize {
						send(dctx)
					}
				default:
					send(dctx)
					return
				}
			}
		}
	}
}

// post sends one batch; a batch the collector does not take is dropped
// (and counted), not retried: spans are worth less than the data path's
// time.
func (e *exporter) post(ctx context.Context, batch []*Span) {
	body, err := json.Marshal(e.request(batch))
	if err == nil {
		var req *http.Request
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body)); err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = e.client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					err = fmt.Errorf("collector answered %s", resp.Status)
				}
			}
		}
	}
	if err != nil {
		e.dropped.Add(int64(len(batch)))
	}
}

// The OTLP/JSON request: ExportTraceServiceRequest in the protobuf JSON
// mapping, with trace and span ids in hex as OTLP/JSON specifies.
type (
	otlpRequest struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource   otlpResource     `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	}
	otlpResource struct {
		Attributes []otlpKeyValue `json:"attributes"`
	}
	otlpScopeSpans struct {
		Scope otlpScope  `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	}
	otlpScope struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	}
	otlpSpan struct {
		TraceID           string         `json:"traceId"`
		SpanID            string         `json:"spanId"`
		ParentSpanID      string         `json:"parentSpanId,omitempty"`
		Name              string         `json:"name"`
		Kind              int            `json:"kind"`
		StartTimeUnixNano string         `json:"startTimeUnixNano"`
		EndTimeUnixNano   string         `json:"endTimeUnixNano"`
		Attributes        []otlpKeyValue `json:"attributes,omitempty"`
		Status            *otlpStatus    `json:"status,omitempty"`
	}
	otlpKeyValue struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct {
		StringValue *string `json:"stringValue,omitempty"`
		IntValue    *string `json:"intValue,omitempty"` // int64 as a JSON string
	}
	otlpStatus struct {
		Code    int    `json:"code"`
		Message string `json:"message,omitempty"`
	}
)

func stringKV(k, v string) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{StringValue: &v}}
}

func (e *exporter) request(batch []*Span) otlpRequest {
	spans := make([]otlpSpan, len(batch))
	for i, s := range batch {
		o := otlpSpan{
			TraceID:           hex.EncodeToString(s.sc.TraceID[:]),
			SpanID:            hex.EncodeToString(s.sc.SpanID[:]),
			Name:              s.name,
			Kind:              int(s.kind),
			StartTimeUnixNano: strconv.FormatInt(s.start.UnixNano(), 10),
			EndTimeUnixNano:   strconv.FormatInt(s.end.UnixNano(), 10),
		}
		if s.parent != [8]byte{} {
			o.ParentSpanID = hex.EncodeToString(s.parent[:])
		}
		for _, a := range s.attrs {
			if a.isNum {
				n := strconv.FormatInt(a.num, 10)
				o.Attributes = append(o.Attributes, otlpKeyValue{Key: a.key, Value: otlpAnyValue{IntValue: &n}})
			} else {
				o.Attributes = append(o.Attributes, stringKV(a.key, a.str))
			}
		}
		if s.status != 0 {
			o.Status = &otlpStatus{Code: s.status, Message: s.msg}
		}
		spans[i] = o
	}
	resource := []otlpKeyValue{stringKV("service.name", e.service)}
	if e.version != "" {
		resource = append(resource, stringKV("service.version", e.version))
	}
	return otlpRequest{ResourceSpans: []otlpResourceSpans{{
		Resource:   otlpResource{Attributes: resource},
		ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: "hookbridge", Version: e.version}, Spans: spans}},
	}}}
}
