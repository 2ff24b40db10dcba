package metrics_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/hookbridge/hookbridge/metrics"
)

func TestExposition(t *testing.T) {
	var c metrics.Counter
	c.Add(41)
	c.Inc()
	v := metrics.NewCounterVec("route", "code")
	v.With("POST /b", "2xx").Inc()
	v.With("GET /a", "4xx").Add(2)
	v.With("POST /b", "2xx").Inc()
	h := metrics.NewHistogram(0.1, 1)
	for _, x := range []float64{0.05, 0.1, 0.5, 3} {
		h.Observe(x)
	}

	var b strings.Builder
	w := metrics.NewWriter(&b)
	w.Counter("c_total", "A count.\nTwo lines, a \\.", c.Value())
	w.CounterVec("r_total", "Requests.", v)
	w.Histogram("d_seconds", "Durations.", h)
	w.Gauge("g", "A gauge.", 1.5)
	w.GaugeVec("i", "Info.", []string{"version"}, metrics.Sample{Labels: []string{`v"1\`}, Value: 1})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `# HELP c_total A count.\nTwo lines, a \\.
# TYPE c_total counter
c_total 42
# HELP r_total Requests.
# TYPE r_total counter
r_total{route="GET /a",code="4xx"} 2
r_total{route="POST /b",code="2xx"} 2
# HELP d_seconds Durations.
# TYPE d_seconds histogram
d_seconds_bucket{le="0.1"} 2
d_seconds_bucket{le="1"} 3
d_seconds_bucket{le="+Inf"} 4
d_seconds_sum 3.65
d_seconds_count 4
# HELP g A gauge.
# TYPE g gauge
g 1.5
# HELP i Info.
# TYPE i gauge
i{version="v\"1\\"} 1
`
	if got := b.String(); got != want {
		t.Fatalf("exposition\n got:\n%s\nwant:\n%s", got, want)
	}
}

// TestConcurrentUpdates: counters and histograms lose nothing under
// concurrent updates (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	v := metrics.NewCounterVec("outcome")
	h := metrics.NewHistogram(1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				v.With([]string{"a", "b"}[i%2]).Inc()
				h.Observe(0.5)
			}
		})
	}
	wg.Wait()
	if a, b := v.With("a").Value(), v.With("b").Value(); a != 4000 || b != 4000 {
		t.Fatalf("counts %d and %d, want 4000 each", a, b)
	}
	var sb strings.Builder
	w := metrics.NewWriter(&sb)
	w.Histogram("h", "h", h)
	w.Flush()
	if !strings.Contains(sb.String(), "h_sum 4000\nh_count 8000\n") {
		t.Fatalf("histogram:\n%s", sb.String())
	}
}
