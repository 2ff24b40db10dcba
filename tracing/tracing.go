// Package tracing records OpenTelemetry traces of Hookbridge's data path
// and sends them to an OTLP/HTTP collector (the OpenTelemetry Collector,
// Jaeger, Tempo, Honeycomb, …) in OTLP's JSON encoding.
//
// Three kinds of span are recorded: one per API request (server), one per
// delivery attempt (client), and their links through W3C Trace Context: an
// API request continues the trace its caller sent in a traceparent header,
// a message keeps the context of the request that accepted it, each of its
// delivery attempts is a child of that request, and each attempt sends its
// own traceparent to the receiver. So one trace shows a message from the
// producer's call, through Hookbridge, to the receiver's handling of it,
// retries included.
//
// A nil *Tracer records nothing and costs a nil check: tracing is off
// unless an endpoint is configured.
//
// This is a small, self-contained implementation of the parts of the
// OpenTelemetry specification it needs (see docs/decisions.md for why not
// the SDK): W3C traceparent, ratio sampling by trace id, a bounded batch
// exporter that drops spans rather than hold up deliveries when the
// collector is slow or down.
package tracing

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"time"
)

// SpanContext identifies a span within its trace, as W3C Trace Context
// carries it.
type SpanContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Sampled bool
}

// IsValid reports whether sc names a span: ids of all zeros are invalid.
func (sc SpanContext) IsValid() bool {
	return sc.TraceID != [16]byte{} && sc.SpanID != [8]byte{}
}

// Traceparent formats sc as a W3C traceparent header value (version 00),
// or "" when sc is invalid.
func (sc SpanContext) Traceparent() string {
	if !sc.IsValid() {
		return ""
	}
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], sc.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], sc.SpanID[:])
	copy(b[52:], "-00")
	if sc.Sampled {
		b[54] = '1'
	}
	return string(b[:])
}

// ParseTraceparent reads a W3C traceparent header value. It accepts future
// versions' longer values as the specification asks, and refuses anything
// malformed, version ff, and all-zero ids.
func ParseTraceparent(s string) (SpanContext, bool) {
	var sc SpanContext
	s = strings.TrimSpace(s)
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return sc, false
	}
	version := s[0:2]
	if version == "ff" || !isLowerHex(version) || (version == "00" && len(s) != 55) || (len(s) > 55 && s[55] != '-') {
		return sc, false
	}
	if !isLowerHex(s[3:35]) || !isLowerHex(s[36:52]) || !isLowerHex(s[53:55]) {
		return sc, false
	}
	hex.Decode(sc.TraceID[:], []byte(s[3:35]))
	hex.Decode(sc.SpanID[:], []byte(s[36:52]))
	var flags [1]byte
	hex.Decode(flags[:], []byte(s[53:55]))
	sc.Sampled = flags[0]&1 == 1
	return sc, sc.IsValid()
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Kind is a span's kind, as OTLP numbers them.
type Kind int

const (
	KindServer Kind = 2
	KindClient Kind = 3
)

// Span is one operation being timed. A nil *Span (from a nil Tracer, or a
// trace not sampled) ignores every call. A span belongs to the goroutine
// that started it until End, which hands it to the exporter.
type Span struct {
	t      *Tracer
	sc     SpanContext
	parent [8]byte
	name   string
	kind   Kind
	start  time.Time
	end    time.Time
	attrs  []attr
	status int // 0 unset, 2 error
	msg    string
	ended  atomic.Bool
}

// attr is one attribute: a string or an int64 value.
type attr struct {
	key   string
	str   string
	num   int64
	isNum bool
}

// Context returns the span's context, to pass on (a traceparent header, a
// message's stored context). A nil span has none.
func (s *Span) Context() SpanContext {
	if s == nil {
		return SpanContext{}
	}
	return s.sc
}

// SetName renames the span, for a name known only once the work is done
// (a request's route).
func (s *Span) SetName(name string) {
	if s != nil {
		s.name = name
	}
}

// SetString sets a string attribute.
func (s *Span) SetString(key, value string) {
	if s != nil {
		s.attrs = append(s.attrs, attr{key: key, str: value})
	}
}

// SetInt sets an integer attribute.
func (s *Span) SetInt(key string, value int64) {
	if s != nil {
		s.attrs = append(s.attrs, attr{key: key, num: value, isNum: true})
	}
}

// SetError marks the span as failed, with a description.
func (s *Span) SetError(msg string) {
	if s != nil {
		s.status, s.msg = 2, msg
	}
}

// End ends the span and queues it for export. Later calls do nothing.
func (s *Span) End() {
	if s == nil || s.ended.Swap(true) {
		return
	}
	s.end = s.t.now()
	s.t.queue(s)
}

// Config configures a Tracer.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://otel-collector:4318; spans go to Endpoint + "/v1/traces".
	Endpoint string
	// SampleRatio is the share of new traces recorded, from 0 to 1. A
	// trace begun by a caller that sent a traceparent follows the caller's
	// sampled flag instead.
	SampleRatio float64
	// Service is the service.name resource attribute; Version goes in
	// service.version.
	Service, Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Tracer makes spans and exports them. Create one with New and run Run;
// cancelling Run's context flushes what is queued.
type Tracer struct {
	cfg       Config
	threshold uint64 // a trace id's low 8 bytes below this are sampled
	exp       *exporter
}

// New returns a Tracer for cfg. Its spans wait in a bounded queue until
// Run sends them.
func New(cfg Config) (*Tracer, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("tracing: no endpoint")
	}
	if !(cfg.SampleRatio >= 0 && cfg.SampleRatio <= 1) { // NaN too
		return nil, errors.New("tracing: the sample ratio must be from 0 to 1")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tracer{cfg: cfg}
	switch {
	case cfg.SampleRatio >= 1:
		t.threshold = ^uint64(0)
	default:
		t.threshold = uint64(cfg.SampleRatio * float64(^uint64(0)))
	}
	t.exp = newExporter(cfg)
	return t, nil
}

func (t *Tracer) now() time.Time { return t.cfg.Now() }

// Start begins a span named name, a child of parent when parent is valid,
// else the root of a new trace. It returns nil — a span that records
// nothing — when t is nil or the trace is not sampled.
func (t *Tracer) Start(parent SpanContext, name string, kind Kind) *Span {
	if t == nil {
		return nil
	}
	s := &Span{t: t, name: name, kind: kind, start: t.now()}
	if parent.IsValid() {
		if !parent.Sampled {
			return nil
		}
		s.sc.TraceID, s.parent = parent.TraceID, parent.SpanID
	} else {
		randomID(s.sc.TraceID[:])
		if binary.BigEndian.Uint64(s.sc.TraceID[8:]) > t.threshold || t.threshold == 0 {
			return nil
		}
	}
	randomID(s.sc.SpanID[:])
	s.sc.Sampled = true
	return s
}

// randomID fills b with random bytes, never all zeros.
func randomID(b []byte) {
	for {
		_, _ = rand.Read(b)
		for _, c := range b {
			if c != 0 {
				return
			}
		}
	}
}

func (t *Tracer) queue(s *Span) { t.exp.add(s) }

// Run exports queued spans until ctx ends, then flushes what is left
// (bounded by a few seconds). It returns when done.
func (t *Tracer) Run(ctx context.Context) {
	if t != nil {
		t.exp.run(ctx)
	}
}

// Dropped returns how many spans were dropped: the queue was full, or the
// collector refused or could not be reached.
func (t *Tracer) Dropped() int64 {
	if t == nil {
		return 0
	}
	return t.exp.dropped.Load()
}

// spanKey carries the current span in a context.
type spanKey struct{}

// WithSpan returns ctx carrying s.
func WithSpan(ctx context.Context, s *Span) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, spanKey{}, s)
}

// FromContext returns the span ctx carries, or nil.
func FromContext(ctx context.Context) *Span {
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}
