package main

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	rtmetrics "runtime/metrics"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/metrics"
	"github.com/hookbridge/hookbridge/tracing"
)

// backlogTimeout bounds the one database read a scrape makes.
const backlogTimeout = 5 * time.Second

// metricsHandler serves GET /metrics in Prometheus's text format: this
// instance's API and dispatcher figures, the database's backlog (shared by
// every instance), and the process's. The backlog reads are the only work a
// scrape adds; if the database does not answer, hookbridge_store_up is 0
// and the rest is still served.
func metricsHandler(srv *api.Server, disp *dispatch.Dispatcher, tracer *tracing.Tracer, store hookbridge.Store, started time.Time, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), backlogTimeout)
		backlog, err := store.Backlog(ctx, time.Now())
		var events int64
		if err == nil {
			events, err = store.CountOperationalEvents(ctx)
		}
		cancel()
		if err != nil {
			log.Warn("metrics: read the backlog", "err", err)
		}

		w.Header().Set("Content-Type", metrics.ContentType)
		mw := metrics.NewWriter(w)
		srv.WriteMetrics(mw)
		disp.WriteMetrics(mw)
		up := 0.0
		if err == nil {
			up = 1
			mw.GaugeVec("hookbridge_deliveries_queued",
				"Deliveries not final yet, in the database (every instance's): pending (never tried) and sending (a retry scheduled).",
				[]string{"status"},
				metrics.Sample{Labels: []string{"pending"}, Value: float64(backlog.Pending)},
				metrics.Sample{Labels: []string{"sending"}, Value: float64(backlog.Sending)})
			mw.Gauge("hookbridge_deliveries_due",
				"Of those, the deliveries due now: a backlog that grows here means delivery is behind.", float64(backlog.Due))
			mw.Gauge("hookbridge_operational_events_pending",
				"Operational events recorded and not yet turned into messages: more than a moment's worth means the relay is stuck.", float64(events))
		}
		mw.Gauge("hookbridge_store_up", "1 if the database answered this scrape's read, else 0.", up)
		if tracer != nil {
			mw.Counter("hookbridge_trace_spans_dropped_total",
				"Trace spans not sent (--otel-endpoint): the export queue was full, or the collector refused or could not be reached.",
				uint64(tracer.Dropped()))
		}

		samples := []rtmetrics.Sample{{Name: "/sched/goroutines:goroutines"}, {Name: "/memory/classes/heap/objects:bytes"}}
		rtmetrics.Read(samples)
		mw.Gauge("go_goroutines", "Goroutines that exist.", float64(samples[0].Value.Uint64()))
		mw.Gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", float64(samples[1].Value.Uint64()))
		mw.Gauge("process_start_time_seconds", "When this server started, in Unix seconds.", float64(started.Unix()))
		mw.GaugeVec("hookbridge_build_info", "The running build: 1, labelled with its version.",
			[]string{"version", "goversion"}, metrics.Sample{Labels: []string{buildVersion(), runtime.Version()}, Value: 1})
		if err := mw.Flush(); err != nil {
			log.Debug("metrics: write", "err", err)
		}
	})
}
