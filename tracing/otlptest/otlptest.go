// Package otlptest runs OTLP trace endpoints inside tests, so that what
// Hookbridge's exporter sends is checked on the wire: an OTLP/HTTP one
// (protobuf, optionally gzipped) and an OTLP/gRPC one implementing the
// collector's TraceService. Both decode requests with the OTLP protocol's
// own generated types (go.opentelemetry.io/proto/otlp) and keep the spans.
package otlptest

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Collector is a running OTLP trace endpoint.
type Collector struct {
	// URL is where exporters send: for OTLP/HTTP the base URL (spans are
	// posted to URL + "/v1/traces"), for gRPC http://host:port.
	URL string

	mu      sync.Mutex
	spans   []Span
	refuse  bool
	hold    chan struct{} // while non-nil, requests wait for it to close
	arrived chan struct{} // signalled (capacity 1) when a request arrives
}

// Span is one span received, with what the request said around it.
type Span struct {
	*tracepb.Span
	Resource map[string]string // the resource's attributes, as text
	Scope    string            // the instrumentation scope's name
}

// TraceID, SpanID and ParentID are the span's ids in lower-case hex, as
// traceparent writes them; ParentID is "" for a root span.
func (s Span) TraceID() string  { return hex.EncodeToString(s.Span.TraceId) }
func (s Span) SpanID() string   { return hex.EncodeToString(s.Span.SpanId) }
func (s Span) ParentID() string { return hex.EncodeToString(s.Span.ParentSpanId) }

// Attr returns an attribute's value as text ("" when absent).
func (s Span) Attr(key string) string { return attrs(s.Attributes)[key] }

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.Value.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = strconv.FormatBool(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
		}
	}
	return m
}

// Spans returns the spans received so far, in the order they came.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Refuse makes the collector refuse every request from now on with an
// error that exporters do not retry (HTTP 400, gRPC InvalidArgument).
func (c *Collector) Refuse() {
	c.mu.Lock()
	c.refuse = true
	c.mu.Unlock()
}

// Hold makes requests wait until the returned release is called: a
// collector that has stopped answering. Arrived signals each request.
func (c *Collector) Hold() (release func()) {
	c.mu.Lock()
	if c.hold == nil {
		c.hold = make(chan struct{})
	}
	c.mu.Unlock()
	return c.release
}

// Arrived is signalled when a request arrives (coalesced: one pending
// signal at most).
func (c *Collector) Arrived() <-chan struct{} { return c.arrived }

// receive handles one export request; false means it is refused.
func (c *Collector) receive(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) bool {
	select {
	case c.arrived <- struct{}{}:
	default:
	}
	c.mu.Lock()
	hold := c.hold
	c.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse {
		return false
	}
	for _, rs := range req.ResourceSpans {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, Span{Span: s, Resource: res, Scope: ss.GetScope().GetName()})
			}
		}
	}
	return true
}

// NewHTTP starts an OTLP/HTTP endpoint that takes protobuf requests at
// /v1/traces, and stops it when the test ends.
func NewHTTP(t testing.TB) *Collector {
	c := &Collector{arrived: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "want POST /v1/traces", http.StatusNotFound)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !c.receive(r.Context(), &req) {
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	c.URL = srv.URL
	t.Cleanup(func() {
		c.release()
		srv.Close()
	})
	return c
}

// NewGRPC starts an OTLP/gRPC endpoint (the collector's TraceService,
// without TLS), and stops it when the test ends.
func NewGRPC(t testing.TB) *Collector {
	c := &Collector{arrived: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, traceService{c: c})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	c.URL = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		c.release()
		srv.Stop()
		<-done
	})
	return c
}

// release lets held requests go, so that servers can stop.
func (c *Collector) release() {
	c.mu.Lock()
	hold := c.hold
	c.hold = nil
	c.mu.Unlock()
	if hold != nil {
		close(hold)
	}
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *Collector
}

func (s traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if !s.c.receive(ctx, req) {
		return nil, status.Error(codes.InvalidArgument, "refused")
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}
