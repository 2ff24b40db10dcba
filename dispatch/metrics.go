package dispatch

import (
	"github.com/hookbridge/hookbridge/metrics"
)

// attemptBuckets are the upper bounds, in seconds, of the request-duration
// histogram: from a loopback answer to the default request timeout.
var attemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}

// stats are the dispatcher's counters, updated as attempts end.
type stats struct {
	attempts *metrics.CounterVec // outcome: success, failure (an answer other than 2xx), error (no answer)
	duration *metrics.Histogram  // seconds per request made
}

func newStats() stats {
	s := stats{attempts: metrics.NewCounterVec("outcome"), duration: metrics.NewHistogram(attemptBuckets...)}
	for _, outcome := range []string{"success", "failure", "error"} {
		s.attempts.With(outcome) // shown at 0 before the first attempt
	}
	return s
}

// observe counts one request made: its status code (0 without an answer)
// and how long it took.
func (s *stats) observe(code int, seconds float64) {
	outcome := "failure"
	switch {
	case code == 0:
		outcome = "error"
	case code >= 200 && code < 300:
		outcome = "success"
	}
	s.attempts.With(outcome).Inc()
	s.duration.Observe(seconds)
}

// WriteMetrics writes the dispatcher's figures: attempts by outcome, their
// durations, and the deliveries it holds.
func (d *Dispatcher) WriteMetrics(w *metrics.Writer) {
	w.CounterVec("hookbridge_delivery_attempts_total",
		"Delivery requests this instance made, by outcome: success (2xx), failure (another status) or error (no answer: refused, timed out, reset).",
		d.stats.attempts)
	w.Histogram("hookbridge_delivery_attempt_duration_seconds",
		"How long delivery requests took, from sending to the end of the answer.", d.stats.duration)
	w.Gauge("hookbridge_deliveries_in_flight",
		"Deliveries this instance holds: queued for a worker, being sent, or waiting behind their endpoint's concurrency cap.",
		float64(d.inflight.Load()))
	d.slots.mu.Lock()
	waiting := d.slots.waiting
	d.slots.mu.Unlock()
	w.Gauge("hookbridge_deliveries_waiting_for_endpoint",
		"Of those, the deliveries beyond their endpoint's concurrency cap.", float64(waiting))
}
