// Package metrics keeps the few figures Hookbridge exposes to Prometheus
// and writes them in its text exposition format (version 0.0.4), with the
// standard library only.
//
// Counters and histograms are updated with atomic operations on the paths
// they measure; everything else is read when a scrape asks (Writer), so an
// unscraped server pays for nothing but the atomics.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is a monotonically increasing count.
type Counter struct{ n atomic.Uint64 }

// Add adds n.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Value is the count so far.
func (c *Counter) Value() uint64 { return c.n.Load() }

// CounterVec is a family of counters told apart by label values. Label
// values must come from a small fixed set (route patterns, outcomes), since
// each distinct set is kept for the process's life.
type CounterVec struct {
	labels []string
	mu     sync.RWMutex
	by     map[string]*labeled
}

type labeled struct {
	values []string
	Counter
}

// NewCounterVec returns a family with the given label names.
func NewCounterVec(labels ...string) *CounterVec {
	return &CounterVec{labels: labels, by: make(map[string]*labeled)}
}

// With returns the counter of the label values, in the order of the names.
func (v *CounterVec) With(values ...string) *Counter {
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c, ok := v.by[key]
	v.mu.RUnlock()
	if ok {
		return &c.Counter
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok = v.by[key]; !ok {
		c = &labeled{values: slices.Clone(values)}
		v.by[key] = c
	}
	return &c.Counter
}

// Histogram counts observations in fixed buckets, as Prometheus's
// cumulative histograms do.
type Histogram struct {
	bounds []float64       // upper bounds, ascending; +Inf is implied
	counts []atomic.Uint64 // per bucket (not cumulative), +Inf last
	sum    atomic.Uint64   // float64 bits
}

// NewHistogram returns a histogram with the given ascending upper bounds.
func NewHistogram(bounds ...float64) *Histogram {
	if !slices.IsSorted(bounds) {
		panic("metrics: histogram bounds not ascending")
	}
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Writer writes metric families in the text exposition format. Errors are
// kept and returned by Flush.
type Writer struct {
	w *bufio.Writer
}

// ContentType is the exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// NewWriter writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

func (w *Writer) head(name, typ, help string) {
	fmt.Fprintf(w.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func (w *Writer) sample(name, labels string, v float64) {
	w.w.WriteString(name)
	w.w.WriteString(labels)
	w.w.WriteByte(' ')
	w.w.WriteString(formatFloat(v))
	w.w.WriteByte('\n')
}

// Counter writes one unlabeled counter.
func (w *Writer) Counter(name, help string, v uint64) {
	w.head(name, "counter", help)
	w.sample(name, "", float64(v))
}

// CounterVec writes a family of labeled counters, ordered by label values.
func (w *Writer) CounterVec(name, help string, v *CounterVec) {
	w.head(name, "counter", help)
	v.mu.RLock()
	all := make([]*labeled, 0, len(v.by))
	for _, c := range v.by {
		all = append(all, c)
	}
	v.mu.RUnlock()
	slices.SortFunc(all, func(a, b *labeled) int { return slices.Compare(a.values, b.values) })
	for _, c := range all {
		w.sample(name, labelString(v.labels, c.values), float64(c.Value()))
	}
}

// Gauge writes one unlabeled gauge.
func (w *Writer) Gauge(name, help string, v float64) {
	w.head(name, "gauge", help)
	w.sample(name, "", v)
}

// Sample is one value of a labeled family: its label values, in the order
// of the family's label names.
type Sample struct {
	Labels []string
	Value  float64
}

// GaugeVec writes a gauge for each sample, labeled with the given names.
func (w *Writer) GaugeVec(name, help string, labels []string, samples ...Sample) {
	w.head(name, "gauge", help)
	for _, s := range samples {
		w.sample(name, labelString(labels, s.Labels), s.Value)
	}
}

// Histogram writes h.
func (w *Writer) Histogram(name, help string, h *Histogram) {
	w.head(name, "histogram", help)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		w.sample(name+"_bucket", `{le="`+formatFloat(b)+`"}`, float64(cum))
	}
	cum += h.counts[len(h.bounds)].Load()
	w.sample(name+"_bucket", `{le="+Inf"}`, float64(cum))
	w.sample(name+"_sum", "", math.Float64frombits(h.sum.Load()))
	w.sample(name+"_count", "", float64(cum))
}

func labelString(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64) // whole numbers as such, not 1.7e+09
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
