package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	svix "github.com/svix/svix-webhooks/go"
)

// family is what a dashboard relies on in a metric family: its type and
// its label names (sorted).
type family struct {
	typ    dto.MetricType
	labels []string
}

// monitoredFamilies are the figures of the README's Monitoring table,
// with their types and labels: a dashboard built on them keeps working as
// long as this holds.
var monitoredFamilies = map[string]family{
	"hookbridge_messages_accepted_total":           {dto.MetricType_COUNTER, nil},
	"hookbridge_messages_unknown_event_type_total": {dto.MetricType_COUNTER, nil},
	"hookbridge_http_requests_total":               {dto.MetricType_COUNTER, []string{"code", "route"}},
	"hookbridge_delivery_attempts_total":           {dto.MetricType_COUNTER, []string{"outcome"}},
	"hookbridge_delivery_attempt_duration_seconds": {dto.MetricType_HISTOGRAM, nil},
	"hookbridge_delivery_claims_total":             {dto.MetricType_COUNTER, []string{"result"}},
	"hookbridge_deliveries_in_flight":              {dto.MetricType_GAUGE, nil},
	"hookbridge_deliveries_waiting_for_endpoint":   {dto.MetricType_GAUGE, nil},
	"hookbridge_deliveries_queued":                 {dto.MetricType_GAUGE, []string{"status"}},
	"hookbridge_deliveries_due":                    {dto.MetricType_GAUGE, nil},
	"hookbridge_operational_events_pending":        {dto.MetricType_GAUGE, nil},
	"hookbridge_store_up":                          {dto.MetricType_GAUGE, nil},
	"hookbridge_filter_skipped_total":              {dto.MetricType_COUNTER, nil},
	"hookbridge_filter_errors_total":               {dto.MetricType_COUNTER, nil},
	"hookbridge_sqlite_commit_duration_seconds":    {dto.MetricType_HISTOGRAM, nil},
	"hookbridge_sqlite_writer_busy_seconds_total":  {dto.MetricType_COUNTER, nil},
	"hookbridge_sqlite_writes_total":               {dto.MetricType_COUNTER, nil},
	"go_goroutines":                                {dto.MetricType_GAUGE, nil},
	"go_memstats_heap_alloc_bytes":                 {dto.MetricType_GAUGE, nil},
	"process_start_time_seconds":                   {dto.MetricType_GAUGE, nil},
	"hookbridge_build_info":                        {dto.MetricType_GAUGE, []string{"goversion", "version"}},
}

// attemptBuckets are the duration histogram's upper bounds, which
// dashboards' quantile queries are written against; commitBuckets the
// SQLite commits'.
var (
	attemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, math.Inf(1)}
	commitBuckets  = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, math.Inf(1)}
)

// scrape gets /metrics with key in the text format and parses it.
func scrape(t *testing.T, srv *server, key string) (status int, contentType string, families map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+srv.Addr+"/metrics", nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), nil
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err = parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), families
}

// labelNames returns the sorted label names of a family's first metric.
func labelNames(f *dto.MetricFamily) []string {
	var names []string
	if len(f.GetMetric()) > 0 {
		for _, l := range f.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName())
		}
	}
	slices.Sort(names)
	return names
}

// value returns the value of the family's counter or gauge whose labels
// are labels (name, value, …), and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	for _, m := range f.GetMetric() {
		match := len(m.GetLabel())*2 == len(labels)
		for i := 0; match && i < len(labels); i += 2 {
			match = slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			})
		}
		if match {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestMetricsEndpoint: GET /metrics needs the admin key and reports, in
// Prometheus's text format, the figures of the README's table with their
// names, types and labels unchanged: what this instance did (a message
// accepted, delivered at the first try), the database's backlog, and the
// process's.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	if code, _, _ := scrape(t, srv, ""); code != http.StatusUnauthorized {
		t.Fatalf("without the key: %d, want 401", code)
	}
	if code, _, _ := scrape(t, srv, "hbk_wrong_0123456789abcdefghij"); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong key: %d, want 401", code)
	}
	if _, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Keyed", Uid: ptr("keyed")}, nil); err != nil {
		t.Fatal(err)
	}
	access, err := sx.Authentication.AppPortalAccess(ctx, "keyed", svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := scrape(t, srv, access.Token); code != http.StatusForbidden {
		t.Fatalf("with an application's key: %d, want 403", code)
	}

	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t)
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	recv.next(t)

	var families map[string]*dto.MetricFamily
	// The attempt is counted when it ends, its result written just after;
	// the endpoint's endpoint.created is relayed (dropped: no operational
	// endpoint listens) soon after it was recorded.
	waitFor(t, "the attempt to be counted and recorded", func() bool {
		code, ctype, f := scrape(t, srv, testAPIKey)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
			t.Fatalf("GET /metrics: %d %q", code, ctype)
		}
		families = f
		success, _ := value(f, "hookbridge_delivery_attempts_total", "outcome", "success")
		pending, _ := value(f, "hookbridge_deliveries_queued", "status", "pending")
		events, _ := value(f, "hookbridge_operational_events_pending")
		return success == 1 && pending == 0 && events == 0 // the endpoint.created, relayed
	})

	for name, want := range monitoredFamilies {
		f, ok := families[name]
		if !ok {
			t.Errorf("/metrics has no %s", name)
			continue
		}
		if f.GetType() != want.typ || !slices.Equal(labelNames(f), want.labels) {
			t.Errorf("%s is a %v labelled %v, want a %v labelled %v", name, f.GetType(), labelNames(f), want.typ, want.labels)
		}
	}
	if _, ok := families["hookbridge_trace_spans_dropped_total"]; ok {
		t.Error("hookbridge_trace_spans_dropped_total reported without tracing")
	}
	var bounds []float64
	for _, b := range families["hookbridge_delivery_attempt_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if !slices.Equal(bounds, attemptBuckets) {
		t.Errorf("duration buckets %v, want %v", bounds, attemptBuckets)
	}

	// The writer committed the applications, the endpoint, the message and
	// its result at least: each commit counted once, in its bucket.
	commits := families["hookbridge_sqlite_commit_duration_seconds"].GetMetric()[0].GetHistogram()
	bounds = bounds[:0]
	var last uint64
	for _, b := range commits.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		if b.GetCumulativeCount() < last {
			t.Errorf("commit bucket %v holds %d, fewer than the bucket before it (%d)", b.GetUpperBound(), b.GetCumulativeCount(), last)
		}
		last = b.GetCumulativeCount()
	}
	if !slices.Equal(bounds, commitBuckets) {
		t.Errorf("commit buckets %v, want %v", bounds, commitBuckets)
	}
	writes, _ := value(families, "hookbridge_sqlite_writes_total")
	busy, _ := value(families, "hookbridge_sqlite_writer_busy_seconds_total")
	if n := commits.GetSampleCount(); n < 5 || last != n || float64(n) > writes || commits.GetSampleSum() <= 0 || busy < commits.GetSampleSum() {
		t.Errorf("%d commits (%d within the last bound) taking %v s, %v writes, writer busy %v s: want at least 5 commits, all within 2.5 s, no more than the writes, taking some time and no more than the writer's busy time",
			n, last, commits.GetSampleSum(), writes, busy)
	}

	// The claimer's first claim, before anything was due, found nothing.
	if empty, _ := value(families, "hookbridge_delivery_claims_total", "result", "empty"); empty < 1 {
		t.Errorf("hookbridge_delivery_claims_total{result=empty} = %v, want at least the first claim", empty)
	}
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hookbridge_messages_accepted_total", nil, 1},
		{"hookbridge_messages_unknown_event_type_total", nil, 0}, // order.created is seeded
		{"hookbridge_http_requests_total", []string{"route", "POST /api/v1/app/{app_id}/msg", "code", "2xx"}, 1},
		{"hookbridge_delivery_attempts_total", []string{"outcome", "failure"}, 0},
		{"hookbridge_delivery_attempts_total", []string{"outcome", "error"}, 0},
		{"hookbridge_delivery_attempt_duration_seconds", nil, 1},
		{"hookbridge_deliveries_queued", []string{"status", "sending"}, 0},
		{"hookbridge_deliveries_due", nil, 0},
		{"hookbridge_store_up", nil, 1},
		{"hookbridge_build_info", []string{"version", buildVersion(), "goversion", runtime.Version()}, 1},
	} {
		if got, ok := value(families, w.name, w.labels...); !ok || got != w.want {
			t.Errorf("%s%v = %v (%v), want %v", w.name, w.labels, got, ok, w.want)
		}
	}
}

// TestREADMEDocumentsMetrics: every figure of monitoredFamilies is in the
// README's Monitoring section.
func TestREADMEDocumentsMetrics(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Monitoring\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for name := range monitoredFamilies {
		if !strings.Contains(section, "`"+name) {
			t.Errorf("README's Monitoring section does not name %s", name)
		}
	}
}
