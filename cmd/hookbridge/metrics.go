package main

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sqlite"
	"github.com/hookbridge/hookbridge/tracing"
)

// backlogTimeout bounds the one database read a scrape makes.
const backlogTimeout = 5 * time.Second

// metricsHandler serves GET /metrics with the Prometheus client: this
// instance's API and dispatcher figures, the database's backlog (shared by
// every instance), the trace exporter's losses, and the Go runtime's and
// the process's standard figures. The text format by default; OpenMetrics,
// which carries the attempt-duration exemplars, or protobuf to a scraper
// that asks for them.
func metricsHandler(srv *api.Server, disp *dispatch.Dispatcher, tracer *tracing.Tracer, store hookbridge.Store, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		srv,
		disp,
		&storeCollector{store: store, log: log},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hookbridge_build_info",
			Help:        "The running build: 1, labelled with its version.",
			ConstLabels: prometheus.Labels{"version": buildVersion(), "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	if tracer != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hookbridge_trace_spans_dropped_total",
			Help: "Trace spans not sent (--otel-endpoint): the export queue was full, or the collector refused or could not be reached.",
		}, func() float64 { return float64(tracer.Dropped()) }))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// storeCollector reads the database's backlog when a scrape asks: the
// only work a scrape adds. It also gives the figures the store keeps in
// memory: the filters' counts, and SQLite's writer's. If the database
// does not answer, hookbridge_store_up is 0 and the rest is still served.
type storeCollector struct {
	store hookbridge.Store
	log   *slog.Logger
}

var (
	queuedDesc = prometheus.NewDesc("hookbridge_deliveries_queued",
		"Deliveries not final yet, in the database (every instance's): pending (never tried) and sending (a retry scheduled).",
		[]string{"status"}, nil)
	dueDesc = prometheus.NewDesc("hookbridge_deliveries_due",
		"Of those, the deliveries due now: a backlog that grows here means delivery is behind.", nil, nil)
	eventsDesc = prometheus.NewDesc("hookbridge_operational_events_pending",
		"Operational events recorded and not yet turned into messages: more than a moment's worth means the relay is stuck.", nil, nil)
	storeUpDesc       = prometheus.NewDesc("hookbridge_store_up", "1 if the database answered this scrape's read, else 0.", nil, nil)
	filterSkippedDesc = prometheus.NewDesc("hookbridge_filter_skipped_total",
		"Deliveries this instance did not create because the endpoint's filter did not match the message (failed evaluations included).", nil, nil)
	filterFailedDesc = prometheus.NewDesc("hookbridge_filter_errors_total",
		"Of those, the filter evaluations that failed on the message (a missing field, a type that does not fit, the cost limit): no match.", nil, nil)
	commitDesc = prometheus.NewDesc("hookbridge_sqlite_commit_duration_seconds",
		"How long the SQLite writer's commits took: the write-ahead log written and synced to disk, now and then with a checkpoint into the database file. Every write waits for one, so slow commits with a writer not busy point at the disk.", nil, nil)
	writerBusyDesc = prometheus.NewDesc("hookbridge_sqlite_writer_busy_seconds_total",
		"Time the SQLite writer spent running writes, commits included: its rate is the share of the time the one writer was busy.", nil, nil)
	writesDesc = prometheus.NewDesc("hookbridge_sqlite_writes_total",
		"Writes the SQLite writer ran (a message's fan-out, a batch of results, a claim, …); over the commits' count, the writes each commit carried.", nil, nil)
	keptMovesDesc = prometheus.NewDesc("hookbridge_sqlite_kept_moves_total",
		"Moves of the rows SQLite keeps behind its log into the indexed tables (every 250 ms under load, and before a read or write that needs them).", nil, nil)
	keptMovedDesc = prometheus.NewDesc("hookbridge_sqlite_kept_moved_total",
		"Deliveries moved from behind SQLite's log into the indexed tables.", nil, nil)
	keptMoveFailuresDesc = prometheus.NewDesc("hookbridge_sqlite_kept_move_failures_total",
		"Moves of the rows kept behind SQLite's log that failed; the rows stay kept, durable, for the next move. Reads and writes that need them fail meanwhile.", nil, nil)
)

// writerStatser is a store with one writer connection (SQLite).
type writerStatser interface {
	WriterStats() sqlite.WriterStats
}

// filterCounter is a store that evaluates endpoint filters (both do).
type filterCounter interface {
	FilterCounts() storekit.FilterCounts
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queuedDesc
	ch <- dueDesc
	ch <- eventsDesc
	ch <- storeUpDesc
	if _, ok := c.store.(filterCounter); ok {
		ch <- filterSkippedDesc
		ch <- filterFailedDesc
	}
	if _, ok := c.store.(writerStatser); ok {
		ch <- commitDesc
		ch <- writerBusyDesc
		ch <- writesDesc
		ch <- keptMovesDesc
		ch <- keptMovedDesc
		ch <- keptMoveFailuresDesc
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	if fc, ok := c.store.(filterCounter); ok {
		n := fc.FilterCounts()
		ch <- prometheus.MustNewConstMetric(filterSkippedDesc, prometheus.CounterValue, float64(n.Skipped))
		ch <- prometheus.MustNewConstMetric(filterFailedDesc, prometheus.CounterValue, float64(n.Failed))
	}
	if ws, ok := c.store.(writerStatser); ok {
		st := ws.WriterStats()
		buckets := make(map[float64]uint64, len(st.CommitBuckets))
		for i, le := range st.CommitBuckets {
			buckets[le] = st.CommitCounts[i]
		}
		ch <- prometheus.MustNewConstHistogram(commitDesc, st.Commits, st.CommitSeconds, buckets)
		ch <- prometheus.MustNewConstMetric(writerBusyDesc, prometheus.CounterValue, st.BusySeconds)
		ch <- prometheus.MustNewConstMetric(writesDesc, prometheus.CounterValue, float64(st.Writes))
		ch <- prometheus.MustNewConstMetric(keptMovesDesc, prometheus.CounterValue, float64(st.KeptMoves))
		ch <- prometheus.MustNewConstMetric(keptMovedDesc, prometheus.CounterValue, float64(st.KeptMoved))
		ch <- prometheus.MustNewConstMetric(keptMoveFailuresDesc, prometheus.CounterValue, float64(st.KeptMoveFailures))
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	backlog, err := c.store.Backlog(ctx, time.Now())
	var events int64
	if err == nil {
		events, err = c.store.CountOperationalEvents(ctx)
	}
	if err != nil {
		c.log.Warn("metrics: read the backlog", "err", err)
		ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(backlog.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(backlog.Sending), "sending")
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(backlog.Due))
	ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.GaugeValue, float64(events))
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, 1)
}
