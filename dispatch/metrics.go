package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// attemptBuckets are the upper bounds, in seconds, of the request-duration
// histogram: from a loopback answer to the default request timeout.
var attemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}

// stats are the dispatcher's figures: counters and a histogram updated as
// attempts end, gauges read when a scrape asks.
type stats struct {
	// attempts by outcome: success, failure (an answer other than 2xx),
	// error (no answer); each outcome's counter is looked up once.
	attempts                  *prometheus.CounterVec
	success, failure, errored prometheus.Counter
	duration                  prometheus.Histogram // seconds per request made
	// claims of due deliveries from the store, by whether they found any.
	claims                 *prometheus.CounterVec
	claimFound, claimEmpty prometheus.Counter
	gauges                 []prometheus.Collector
}

func newStats(d *Dispatcher) stats {
	s := stats{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookbridge_delivery_attempts_total",
			Help: "Delivery attempts this instance made, by outcome: success (2xx, or the broker's acknowledgement), failure (another status, or the broker's refusal) or error (no answer: refused, timed out, reset).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookbridge_delivery_attempt_duration_seconds",
			Help:    "How long delivery attempts took, from sending to the end of the answer (the broker's acknowledgement).",
			Buckets: attemptBuckets,
		}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookbridge_delivery_claims_total",
			Help: "Claims of due deliveries this instance's dispatcher made from the store (deliveries handed over as they are made need none), by result: found (some) or empty (none).",
		}, []string{"result"}),
	}
	// Created now, so that each is shown at 0 before the first attempt.
	s.success, s.failure, s.errored = s.attempts.WithLabelValues("success"), s.attempts.WithLabelValues("failure"), s.attempts.WithLabelValues("error")
	s.claimFound, s.claimEmpty = s.claims.WithLabelValues("found"), s.claims.WithLabelValues("empty")
	s.gauges = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookbridge_deliveries_in_flight",
			Help: "Deliveries this instance holds: queued for a worker, being sent, or waiting behind their endpoint's concurrency cap.",
		}, func() float64 { return float64(d.inflight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookbridge_deliveries_waiting_for_endpoint",
			Help: "Of those, the deliveries beyond their endpoint's concurrency cap.",
		}, func() float64 {
			d.slots.mu.Lock()
			defer d.slots.mu.Unlock()
			return float64(d.slots.waiting)
		}),
	}
	return s
}

// observe counts one try made: its outcome (see sendResult.outcome) and
// how long it took. When the attempt's trace is sampled, its duration
// carries the trace as an exemplar, so that a slow bucket leads to a
// trace of a slow request.
func (s *stats) observe(r *sendResult, seconds float64, span trace.Span) {
	switch {
	case r.accepted:
		s.success.Inc()
	case r.refused:
		s.failure.Inc()
	default:
		s.errored.Inc()
	}
	if span != nil {
		if sc := span.SpanContext(); sc.IsSampled() {
			s.duration.(prometheus.ExemplarObserver).ObserveWithExemplar(seconds,
				prometheus.Labels{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()})
			return
		}
	}
	s.duration.Observe(seconds)
}

// Describe and Collect make the Dispatcher a prometheus.Collector of its
// figures: attempts by outcome, their durations, its claims, and the
// deliveries it holds.
func (d *Dispatcher) Describe(ch chan<- *prometheus.Desc) {
	d.stats.attempts.Describe(ch)
	d.stats.duration.Describe(ch)
	d.stats.claims.Describe(ch)
	for _, g := range d.stats.gauges {
		g.Describe(ch)
	}
}

// Collect sends the figures' current values; see Describe.
func (d *Dispatcher) Collect(ch chan<- prometheus.Metric) {
	d.stats.attempts.Collect(ch)
	d.stats.duration.Collect(ch)
	d.stats.claims.Collect(ch)
	for _, g := range d.stats.gauges {
		g.Collect(ch)
	}
}
