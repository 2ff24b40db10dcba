package bench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Report is the result of a run. Figures that were not measured are
// null in JSON: latency in a backlog run, the baseline without --baseline,
// resource usage of a server the bench did not start.
type Report struct {
	Destination string `json:"destination"` // http, amqp, nats or redis; several, comma-separated, for a comparison
	CPUs        int    `json:"cpus"`        // of this machine
	Store       string `json:"store"`       // sqlite, postgres, or unknown (--url)
	Server      string `json:"server"`      // process, in-process, or remote
	Instances   int    `json:"instances"`
	Sealed      bool   `json:"sealed"`           // --sealed: the server kept secrets encrypted
	Filter      bool   `json:"filter"`           // --filter: every endpoint had a filter, which half of each application's passed
	Idempotency bool   `json:"idempotency_keys"` // --idempotency-keys
	Endpoints   int    `json:"endpoints"`
	Fanout      int    `json:"fanout"`
	Messages    int    `json:"messages"`
	Concurrency int    `json:"concurrency"`
	Rate        int    `json:"rate"`
	Batch       int    `json:"batch"`
	// Where the receiver and the server(s) listened (--receiver-addr,
	// --addr, or free ports on loopback).
	ReceiverAddr string   `json:"receiver_addr"`
	ServerAddrs  []string `json:"server_addrs"`
	// The --server-binary the bench ran as the server (omitted for the
	// running executable); several, comma-separated, for a comparison.
	ServerBinary string `json:"server_binary,omitempty"`
	// The stores compared (--db sqlite,postgres://…): sqlite, or a
	// PostgreSQL URL without its password; several, comma-separated, for
	// the comparison. Omitted when stores are not compared.
	DB string `json:"db,omitempty"`

	Accepted   int   `json:"accepted"`   // messages the server accepted (2xx)
	Refused    int   `json:"refused"`    // messages it did not (error status or no answer)
	Deliveries int64 `json:"deliveries"` // owed: accepted × fanout

	IngestPerS    float64   `json:"ingest_per_s"`
	DeliveredPerS float64   `json:"delivered_per_s"`     // deliveries (arrivals) per second, end to end
	BaselinePerS  *float64  `json:"baseline_per_s"`      // the higher of the two below
	BaselineRuns  []float64 `json:"baseline_runs_per_s"` // before the server started, after it stopped
	Ratio         *float64  `json:"ratio"`               // delivered_per_s / baseline_per_s
	RelayPerS     *float64  `json:"relay_per_s"`         // --relay: the store-less relay's deliveries per second, the mean of the two below
	RelayRuns     []float64 `json:"relay_runs_per_s"`    // before the server started, after it stopped
	RelayRatio    *float64  `json:"relay_ratio"`         // relay_per_s / baseline_per_s
	OfRelay       *float64  `json:"of_relay"`            // delivered_per_s / relay_per_s
	// --durable-relay: the same relay writing each message to an fsynced,
	// group-committed log before answering (see relayLog), run and
	// averaged as the store-less one is.
	DurableRelayPerS *float64  `json:"durable_relay_per_s,omitempty"`
	DurableRelayRuns []float64 `json:"durable_relay_runs_per_s,omitempty"`
	OfDurableRelay   *float64  `json:"of_durable_relay,omitempty"` // delivered_per_s / durable_relay_per_s
	P50MS            *float64  `json:"p50_ms"`
	P95MS            *float64  `json:"p95_ms"`
	P99MS            *float64  `json:"p99_ms"`
	MaxMS            *float64  `json:"max_ms"`
	Lost             int64     `json:"lost"`
	Duplicates       int64     `json:"duplicates"`         // repeated arrivals the server's attempt log shows as delivered twice (or could not explain)
	Abandoned        int64     `json:"abandoned_requests"` // repeated arrivals of requests the server had given up on (no successful attempt of theirs in its log)
	Unexpected       int64     `json:"unexpected"`         // arrivals of messages this run did not send
	Invalid          int64     `json:"invalid"`            // messages without the Standard Webhooks headers or a valid signature: refused, not counted as arrived
	PeakRSSBytes     *int64    `json:"peak_rss_bytes"`
	CPUS             *float64  `json:"cpu_s"`
	CPULoadS         *float64  `json:"cpu_load_s"`          // of cpu_s, what the server used from the first message on (its start and the setup left out), where the platform tells
	CPUPerDelivUS    *float64  `json:"cpu_us_per_delivery"` // cpu_load_s (else cpu_s) / deliveries, in µs
	// With --relay (not --in-process): the relay's CPU per delivery, from
	// its first message to its last arrival, measured as the server's is
	// (the relay is a child process too). cpu_us_per_delivery less this
	// is what Hookbridge spends beyond what the HTTP exchanges alone cost
	// at the same load.
	RelayCPUPerDelivUS *float64 `json:"relay_cpu_us_per_delivery,omitempty"`
	// With --durable-relay (not --in-process): the durable relay's, the
	// same way.
	DurableRelayCPUPerDelivUS *float64 `json:"durable_relay_cpu_us_per_delivery,omitempty"`
	// With --db postgres://… served from this machine (a loopback address
	// or a Unix socket) and readable in /proc: the CPU of the PostgreSQL
	// server's processes (the postmaster, every backend, the WAL writer
	// and the other background processes) from the first message to the
	// last arrival, per delivery. It shares the cores with the server.
	DBCPUPerDelivUS *float64 `json:"db_cpu_us_per_delivery,omitempty"`
	// A SQLite server's writer during the load (see WriterReport).
	Writer *WriterReport `json:"sqlite_writer,omitempty"`
	// The servers' claims during the load (see ClaimsReport).
	Claims   *ClaimsReport `json:"claims,omitempty"`
	ElapsedS float64       `json:"elapsed_s"`

	Backlog *BacklogReport `json:"backlog,omitempty"`

	// With several destinations or rounds: each run, in the order run
	// (rounds interleaved: every destination once per round), and the
	// figures of each destination side by side. The counts above are
	// then the sums over the runs, the rate the first destination's median.
	Runs       []*Report            `json:"runs,omitempty"`
	Comparison []DestinationFigures `json:"comparison,omitempty"`
	// Unfinished is why a comparison stopped before its last round; the
	// runs above are the rounds completed before it.
	Unfinished string `json:"unfinished,omitempty"`
	// With --hang: the endpoints that hung, and the delivery rate of the
	// others while they did (deliveries to them / time to their last).
	Hanging              int      `json:"hanging,omitempty"`
	HealthyDeliveredPerS *float64 `json:"healthy_delivered_per_s,omitempty"`

	firstError string
}

// BacklogReport is what --backlog measures.
type BacklogReport struct {
	Pending int `json:"pending"` // deliveries built up
	// HeldPeakRSSBytes is the peak RSS of the server that accepted the
	// backlog and held it.
	HeldPeakRSSBytes *int64 `json:"held_peak_rss_bytes"`
	// RestartFirstDeliveryMS is from starting the new server to the first
	// delivery arriving.
	RestartFirstDeliveryMS float64 `json:"restart_first_delivery_ms"`
	// DrainPerS is the rate at which the restarted server delivered it.
	DrainPerS float64 `json:"drain_per_s"`
}

// hang, from their arrivals so far: every one of them, since the hanging
// endpoints have had none.
func (r *Report) addHealthy(recv *receiver, ing *ingestResult, hang int) {
	r.Hanging = hang
	_, last, n := recv.arrivalsAfter(ing.t0)
	if n > 0 && last.After(ing.t0) {
		rate := float64(n) / last.Sub(ing.t0).Seconds()
		r.HealthyDeliveredPerS = &rate
	}
}

// addBacklog fills in what a backlog run measured: the peak RSS of the
// server that held the backlog, and how soon after restart the first
// delivery arrived and how fast the rest followed.
func (r *Report) addBacklog(recv *receiver, restart time.Time, held serverUsage) {
	br := &BacklogReport{Pending: int(r.Deliveries)}
	if held.rssKnown {
		br.HeldPeakRSSBytes = &held.peakRSS
	}
	if first, last, n := recv.arrivalsAfter(restart); n > 0 {
		br.RestartFirstDeliveryMS = ms(first.Sub(restart))
		if d := last.Sub(restart); d > 0 {
			br.DrainPerS = float64(n) / d.Seconds()
		}
		r.DeliveredPerS = br.DrainPerS
	}
	r.Backlog = br
}

func (r *Report) addIngest(ing *ingestResult, fanout int) {
	r.Accepted, r.Refused = ing.accepted, ing.refused
	r.Deliveries = int64(ing.accepted * ing.owedPer(fanout))
	r.firstError = ing.firstError
	if ing.lastAccept > 0 {
		r.IngestPerS = float64(ing.accepted) / ing.lastAccept.Seconds()
	}
}

// addDeliveries matches the receiver's arrivals against the accepted
// messages: lost and duplicate counts and, with latency, the delivery rate
// and the accept-to-arrival percentiles.
func (r *Report) addDeliveries(recv *receiver, ing *ingestResult, fanout int, latency bool) {
	lat, dups, unexpected := recv.collect(ing, fanout)
	r.Lost = r.Deliveries - int64(len(lat))
	r.Duplicates, r.Unexpected = dups, unexpected
	if !latency || len(lat) == 0 {
		return
	}
	// lat holds, per delivery, arrival minus send; the last arrival
	// (since t0) is the largest send offset plus latency.
	var last time.Duration
	for i := range lat {
		if a := lat[i].sentAt + lat[i].latency; a > last {
			last = a
		}
	}
	if last > 0 {
		r.DeliveredPerS = float64(len(lat)) / last.Seconds()
	}
	ds := make([]time.Duration, len(lat))
	for i := range lat {
		ds[i] = lat[i].latency
	}
	slices.Sort(ds)
	pct := func(q float64) *float64 {
		i := max(int(float64(len(ds))*q+0.999999)-1, 0)
		v := ms(ds[min(i, len(ds)-1)])
		return &v
	}
	r.P50MS, r.P95MS, r.P99MS, r.MaxMS = pct(0.50), pct(0.95), pct(0.99), pct(1)
}

// addUsage fills in what the servers used: u in all, of which the CPU time
// before the load began was cpu0 (where known).
func (r *Report) addUsage(u serverUsage, cpu0 time.Duration, cpu0Known bool) {
	if u.rssKnown {
		r.PeakRSSBytes = &u.peakRSS
	}
	if u.cpuKnown {
		s := u.cpu.Seconds()
		r.CPUS = &s
		load := s
		if cpu0Known && cpu0 <= u.cpu {
			load = (u.cpu - cpu0).Seconds()
			r.CPULoadS = &load
		}
		if r.Deliveries > 0 {
			us := load * 1e6 / float64(r.Deliveries)
			r.CPUPerDelivUS = &us
		}
	}
}

// addDBCPU adds the database server's CPU per delivery, cpu in all.
func (r *Report) addDBCPU(cpu time.Duration) {
	if r.Deliveries > 0 {
		us := float64(cpu.Microseconds()) / float64(r.Deliveries)
		r.DBCPUPerDelivUS = &us
	}
}

// addRelay records the relay's runs, the one before the server and the one
// after it. The machine is shared and its speed drifts over a run, so the
// relay's rate is the mean of the two: the relay at the server's middle
// moment, to set the server against (unlike the baseline, a ceiling, which
// takes the higher). Its CPU per delivery is over both runs, if both were
// measured.
func (r *Report) addRelay(runs []relayResult) {
	r.RelayRuns, r.RelayPerS, r.RelayCPUPerDelivUS = relayFigures(runs)
}

// addDurableRelay records the durable relay's runs as addRelay does the
// store-less relay's.
func (r *Report) addDurableRelay(runs []relayResult) {
	r.DurableRelayRuns, r.DurableRelayPerS, r.DurableRelayCPUPerDelivUS = relayFigures(runs)
}

// relayFigures returns the rates of a relay's runs, their mean and, if
// every run's was measured, the CPU per delivery over all of them.
func relayFigures(runs []relayResult) (rates []float64, mean, cpuUS *float64) {
	if len(runs) == 0 {
		return nil, nil, nil
	}
	var (
		sum        float64
		cpu        time.Duration
		deliveries int64
		cpuKnown   = true
	)
	for _, run := range runs {
		rates = append(rates, run.perS)
		sum += run.perS
		cpu += run.cpu
		deliveries += run.deliveries
		cpuKnown = cpuKnown && run.cpuKnown
	}
	m := sum / float64(len(runs))
	mean = &m
	if cpuKnown && deliveries > 0 {
		us := float64(cpu.Microseconds()) / float64(deliveries)
		cpuUS = &us
	}
	return rates, mean, cpuUS
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Print writes the report as the lines `hookbridge bench` prints.
func (r *Report) Print(w io.Writer) {
	if len(r.Runs) > 0 {
		r.printComparison(w)
		return
	}
	mode := fmt.Sprintf("%d message(s) per request, concurrency %d", r.Batch, r.Concurrency)
	if r.Rate > 0 {
		mode += fmt.Sprintf(", at %d msg/s", r.Rate)
	}
	if r.Filter {
		mode += "; a filter on every endpoint, half of them passing"
	}
	server := r.Server
	if r.Instances > 1 {
		server = fmt.Sprintf("%d × %s", r.Instances, r.Server)
	}
	if r.Destination != "" && r.Destination != DestHTTP {
		fmt.Fprintf(w, "hookbridge bench: to %s\n", r.Destination)
	}
	fmt.Fprintf(w, "hookbridge bench: %s store, server %s; %d application(s) × %d endpoint(s); %d messages; %s\n",
		r.Store, server, r.Endpoints, r.Fanout, r.Messages, mode)
	if r.BaselinePerS != nil {
		fmt.Fprintf(w, "  baseline (straight to the receiver)  %9.0f req/s   (before %.0f, after %.0f)\n",
			*r.BaselinePerS, r.BaselineRuns[0], r.BaselineRuns[1])
	}
	if r.RelayPerS != nil {
		fmt.Fprintf(w, "  store-less relay (writes nothing)    %9.0f deliveries/s", *r.RelayPerS)
		if r.RelayRatio != nil {
			fmt.Fprintf(w, "   = %.2f × baseline", *r.RelayRatio)
		}
		if len(r.RelayRuns) == 2 {
			fmt.Fprintf(w, "   (mean of before %.0f, after %.0f)", r.RelayRuns[0], r.RelayRuns[1])
		}
		fmt.Fprintln(w)
	}
	if r.DurableRelayPerS != nil {
		fmt.Fprintf(w, "  durable relay (an fsynced log)       %9.0f deliveries/s", *r.DurableRelayPerS)
		if r.RelayPerS != nil && *r.RelayPerS > 0 && r.Rate == 0 {
			fmt.Fprintf(w, "   = %.2f × relay", *r.DurableRelayPerS / *r.RelayPerS)
		}
		if len(r.DurableRelayRuns) == 2 {
			fmt.Fprintf(w, "   (mean of before %.0f, after %.0f)", r.DurableRelayRuns[0], r.DurableRelayRuns[1])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  ingest                               %9.0f msg/s   (%d accepted, %d refused)\n", r.IngestPerS, r.Accepted, r.Refused)
	fmt.Fprintf(w, "  delivered                            %9.0f deliveries/s", r.DeliveredPerS)
	if r.Ratio != nil {
		fmt.Fprintf(w, "   = %.2f × baseline", *r.Ratio)
	}
	if r.OfRelay != nil {
		fmt.Fprintf(w, ", %.2f × relay", *r.OfRelay)
	}
	if r.OfDurableRelay != nil {
		fmt.Fprintf(w, ", %.2f × durable relay", *r.OfDurableRelay)
	}
	fmt.Fprintln(w)
	if r.P50MS != nil {
		fmt.Fprintf(w, "  latency send→arrival                 p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			*r.P50MS, *r.P95MS, *r.P99MS, *r.MaxMS)
	}
	if r.HealthyDeliveredPerS != nil {
		fmt.Fprintf(w, "  healthy endpoints                    %9.0f deliveries/s   while %d hung (compare with 1-%d/%d × delivered of a run without --hang)\n",
			*r.HealthyDeliveredPerS, r.Hanging, r.Hanging, r.Endpoints*r.Fanout)
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(w, "  backlog                              %d pending deliveries", b.Pending)
		if b.HeldPeakRSSBytes != nil {
			fmt.Fprintf(w, " held in %.1f MB peak RSS", float64(*b.HeldPeakRSSBytes)/1e6)
		}
		fmt.Fprintf(w, "\n  restart                              first delivery after %.0f ms, drained at %.0f deliveries/s\n",
			b.RestartFirstDeliveryMS, b.DrainPerS)
	}
	if r.PeakRSSBytes != nil || r.CPUS != nil {
		fmt.Fprint(w, "  server")
		if r.PeakRSSBytes != nil {
			fmt.Fprintf(w, "                               peak RSS %.1f MB", float64(*r.PeakRSSBytes)/1e6)
		}
		if r.CPUS != nil {
			fmt.Fprintf(w, ", CPU %.2f s", *r.CPUS)
		}
		if r.CPULoadS != nil {
			fmt.Fprintf(w, ", %.2f s of it from the first message on", *r.CPULoadS)
		}
		if r.CPUPerDelivUS != nil {
			fmt.Fprintf(w, " (%.1f µs per delivery)", *r.CPUPerDelivUS)
		}
		fmt.Fprintln(w)
	}
	if r.DBCPUPerDelivUS != nil {
		fmt.Fprintf(w, "  PostgreSQL (on this machine)         CPU %.1f µs per delivery\n", *r.DBCPUPerDelivUS)
	}
	if r.Writer != nil {
		fmt.Fprintf(w, "  SQLite writer                        %s\n", r.Writer)
	}
	if r.Claims != nil {
		fmt.Fprintf(w, "  claims from the store                %s\n", r.Claims)
	}
	if r.RelayCPUPerDelivUS != nil {
		fmt.Fprintf(w, "  store-less relay                     CPU %.1f µs per delivery", *r.RelayCPUPerDelivUS)
		if r.CPUPerDelivUS != nil {
			fmt.Fprintf(w, " (the server spent %.1f µs more)", *r.CPUPerDelivUS-*r.RelayCPUPerDelivUS)
		}
		fmt.Fprintln(w)
	}
	if r.DurableRelayCPUPerDelivUS != nil {
		fmt.Fprintf(w, "  durable relay                        CPU %.1f µs per delivery", *r.DurableRelayCPUPerDelivUS)
		if r.CPUPerDelivUS != nil {
			fmt.Fprintf(w, " (the server spent %.1f µs more)", *r.CPUPerDelivUS-*r.DurableRelayCPUPerDelivUS)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  lost %d, duplicates %d", r.Lost, r.Duplicates)
	if r.Abandoned > 0 {
		fmt.Fprintf(w, ", abandoned requests %d (the server gave up on them and tried again)", r.Abandoned)
	}
	if r.Unexpected > 0 {
		fmt.Fprintf(w, ", unexpected %d", r.Unexpected)
	}
	if r.Invalid > 0 {
		fmt.Fprintf(w, ", invalid (unsigned or badly signed) %d", r.Invalid)
	}
	fmt.Fprintf(w, "   (%.1f s in all)\n", r.ElapsedS)
	if r.Refused > 0 && r.firstError != "" {
		fmt.Fprintf(w, "  first refusal: %s\n", r.firstError)
	}
}
