package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DestinationFigures are one destination's figures in a comparison, or one
// server binary's: per round, and their medians. Ratios divide by the
// first one's figure of the same round, so that both come from one moment
// of a shared machine.
type DestinationFigures struct {
	Destination   string    `json:"destination"`
	ServerBinary  string    `json:"server_binary,omitempty"` // set when server binaries are compared
	DB            string    `json:"db,omitempty"`            // set when stores are compared (see Report.DB)
	DeliveredPerS []float64 `json:"delivered_per_s"`         // per round
	CPUUSPerDeliv []float64 `json:"cpu_us_per_delivery"`     // of the server, per round
	OfFirst       []float64 `json:"of_first"`                // delivered_per_s / the first destination's, per round
	P99MS         []float64 `json:"p99_ms"`                  // send→arrival, per round

	// With --baseline, --relay or --durable-relay, every run measures
	// them before and after its own server (see Report): its ratios to
	// them, per round, so that each comes from one moment of the machine.
	Ratio          []float64 `json:"ratio,omitempty"`                     // delivered_per_s / baseline_per_s
	OfRelay        []float64 `json:"of_relay,omitempty"`                  // delivered_per_s / relay_per_s
	RelayCPUUS     []float64 `json:"relay_cpu_us_per_delivery,omitempty"` // the store-less relay's
	OfDurableRelay []float64 `json:"of_durable_relay,omitempty"`          // delivered_per_s / durable_relay_per_s
	// DurableRelayCPUUS is the durable relay's CPU per delivery, per round.
	DurableRelayCPUUS []float64 `json:"durable_relay_cpu_us_per_delivery,omitempty"`
	// DBCPUUS is what PostgreSQL on this machine spent per delivery, per
	// round (see Report.DBCPUPerDelivUS): on a shared, noisy machine it
	// moves less from round to round than the rate does.
	DBCPUUS []float64 `json:"db_cpu_us_per_delivery,omitempty"`

	MedianPerS       float64  `json:"median_delivered_per_s"`
	MedianCPUUS      *float64 `json:"median_cpu_us_per_delivery"`
	MedianOfFirst    float64  `json:"median_of_first"`
	MedianCPUOfFirst *float64 `json:"median_cpu_of_first"` // CPU per delivery / the first destination's, per round, median
	MedianP99MS      float64  `json:"median_p99_ms"`

	MedianRatio          *float64 `json:"median_ratio,omitempty"`
	MedianOfRelay        *float64 `json:"median_of_relay,omitempty"`
	MedianRelayCPUUS     *float64 `json:"median_relay_cpu_us_per_delivery,omitempty"`
	MedianOfDurableRelay *float64 `json:"median_of_durable_relay,omitempty"`

	MedianDurableRelayCPUUS *float64 `json:"median_durable_relay_cpu_us_per_delivery,omitempty"`
	MedianDBCPUUS           *float64 `json:"median_db_cpu_us_per_delivery,omitempty"`
}

// compare sums the runs of a comparison (rounds × variants, in that
// order) and sets their figures side by side.
func compare(runs []*Report, variants []variant) *Report {
	first := runs[0]
	var dests, bins, dbs, kinds []string
	for i, v := range variants {
		if !slices.Contains(dests, v.destination) {
			dests = append(dests, v.destination)
		}
		switch v.by {
		case byServer:
			bins = append(bins, v.serverBinary)
		case byStore:
			dbs = append(dbs, storeLabel(v.db))
		}
		if !slices.Contains(kinds, runs[i].Store) {
			kinds = append(kinds, runs[i].Store)
		}
	}
	instances := 0 // of the PostgreSQL stores, when stores are compared
	for _, r := range runs {
		instances = max(instances, r.Instances)
	}
	out := &Report{
		Destination: strings.Join(dests, ","), ServerBinary: strings.Join(bins, ","), DB: strings.Join(dbs, ","),
		CPUs: first.CPUs, Store: strings.Join(kinds, ","), Server: first.Server,
		Instances: instances, Sealed: first.Sealed, Filter: first.Filter, Idempotency: first.Idempotency,
		Endpoints: first.Endpoints, Fanout: first.Fanout, Concurrency: first.Concurrency, Rate: first.Rate, Batch: first.Batch,
		ReceiverAddr: first.ReceiverAddr, Runs: runs,
	}
	var cpu float64
	cpuKnown := true
	for _, r := range runs {
		out.Messages += r.Messages
		out.Accepted += r.Accepted
		out.Refused += r.Refused
		out.Deliveries += r.Deliveries
		out.Lost += r.Lost
		out.Duplicates += r.Duplicates
		out.Abandoned += r.Abandoned
		out.Unexpected += r.Unexpected
		out.Invalid += r.Invalid
		out.ElapsedS += r.ElapsedS
		out.firstError = cmp.Or(out.firstError, r.firstError)
		if r.CPUS == nil {
			cpuKnown = false
		} else {
			cpu += *r.CPUS
		}
		if r.PeakRSSBytes != nil && (out.PeakRSSBytes == nil || *r.PeakRSSBytes > *out.PeakRSSBytes) {
			out.PeakRSSBytes = r.PeakRSSBytes
		}
	}
	if cpuKnown {
		out.CPUS = &cpu
	}
	n := len(variants)
	for j, v := range variants {
		f := DestinationFigures{Destination: v.destination}
		switch v.by {
		case byServer:
			f.ServerBinary = v.serverBinary
		case byStore:
			f.DB = storeLabel(v.db)
		}
		var cpuRatios []float64
		var mine []*Report // this variant's runs, one per round
		for i := j; i < len(runs); i += n {
			r, base := runs[i], runs[i-j]
			mine = append(mine, r)
			f.DeliveredPerS = append(f.DeliveredPerS, r.DeliveredPerS)
			if base.DeliveredPerS > 0 {
				f.OfFirst = append(f.OfFirst, r.DeliveredPerS/base.DeliveredPerS)
			}
			if r.CPUPerDelivUS != nil {
				f.CPUUSPerDeliv = append(f.CPUUSPerDeliv, *r.CPUPerDelivUS)
				if base.CPUPerDelivUS != nil && *base.CPUPerDelivUS > 0 {
					cpuRatios = append(cpuRatios, *r.CPUPerDelivUS / *base.CPUPerDelivUS)
				}
			}
		}
		f.MedianPerS = median(f.DeliveredPerS)
		f.MedianOfFirst = median(f.OfFirst)
		if len(f.CPUUSPerDeliv) > 0 {
			m := median(f.CPUUSPerDeliv)
			f.MedianCPUUS = &m
		}
		if len(cpuRatios) > 0 {
			m := median(cpuRatios)
			f.MedianCPUOfFirst = &m
		}
		f.P99MS, _ = perRound(mine, func(r *Report) *float64 { return r.P99MS })
		f.MedianP99MS = median(f.P99MS)
		f.Ratio, f.MedianRatio = perRound(mine, func(r *Report) *float64 { return r.Ratio })
		f.OfRelay, f.MedianOfRelay = perRound(mine, func(r *Report) *float64 { return r.OfRelay })
		f.RelayCPUUS, f.MedianRelayCPUUS = perRound(mine, func(r *Report) *float64 { return r.RelayCPUPerDelivUS })
		f.OfDurableRelay, f.MedianOfDurableRelay = perRound(mine, func(r *Report) *float64 { return r.OfDurableRelay })
		f.DurableRelayCPUUS, f.MedianDurableRelayCPUUS = perRound(mine, func(r *Report) *float64 { return r.DurableRelayCPUPerDelivUS })
		f.DBCPUUS, f.MedianDBCPUUS = perRound(mine, func(r *Report) *float64 { return r.DBCPUPerDelivUS })
		out.Comparison = append(out.Comparison, f)
	}
	out.DeliveredPerS = out.Comparison[0].MedianPerS
	return out
}

// perRound collects a figure that runs may lack (a ratio to the relay,
// say): its value in each run that has it, and their median; nil, nil
// when none has it.
func perRound(runs []*Report, figure func(*Report) *float64) ([]float64, *float64) {
	var xs []float64
	for _, r := range runs {
		if v := figure(r); v != nil {
			xs = append(xs, *v)
		}
	}
	if len(xs) == 0 {
		return nil, nil
	}
	m := median(xs)
	return xs, &m
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printComparison writes a comparison: each run in a line, then the
// destinations (or server binaries) side by side.
func (r *Report) printComparison(w io.Writer) {
	rounds := len(r.Runs) / len(r.Comparison)
	// What tells the runs apart: the destination, the server binary
	// when builds are compared, or the store when stores are.
	builds, stores := r.ServerBinary != "", r.DB != ""
	label := func(destination, serverBinary, db string) string {
		switch {
		case builds:
			return serverBinary
		case stores:
			return db
		}
		return destination
	}
	compared, width := r.Destination, 6
	switch {
	case builds:
		compared = r.ServerBinary + " (to " + r.Destination + ")"
	case stores:
		compared = r.DB
	}
	if builds || stores {
		for _, f := range r.Comparison {
			width = max(width, len(label(f.Destination, f.ServerBinary, f.DB)))
		}
	}
	interleaved := ", interleaved"
	if len(r.Comparison) == 1 {
		interleaved = ""
	}
	fmt.Fprintf(w, "hookbridge bench: %s store; %d application(s) × %d endpoint(s); %d messages per run; %d message(s) per request, concurrency %d; %d round(s) of %s%s\n",
		r.Store, r.Endpoints, r.Fanout, r.Runs[0].Messages, r.Batch, r.Concurrency, rounds, compared, interleaved)
	for i, run := range r.Runs {
		fmt.Fprintf(w, "  round %d  %-*s %9.0f deliveries/s", i/len(r.Comparison)+1, width, label(run.Destination, run.ServerBinary, run.DB), run.DeliveredPerS)
		// The figures the run measured, in this order; the relays' CPU
		// also at a --rate, where the rates match.
		for _, m := range []struct {
			format string
			v      *float64
		}{
			{"server CPU %6.1f µs per delivery", run.CPUPerDelivUS}, {"p99 %6.1f ms", run.P99MS},
			{"%.3f × relay", run.OfRelay}, {"relay CPU %.1f µs", run.RelayCPUPerDelivUS},
			{"%.3f × durable relay", run.OfDurableRelay}, {"durable relay CPU %.1f µs", run.DurableRelayCPUPerDelivUS},
			{"%.3f × baseline", run.Ratio}, {"PostgreSQL CPU %.1f µs", run.DBCPUPerDelivUS},
		} {
			if m.v != nil {
				fmt.Fprintf(w, "   "+m.format, *m.v)
			}
		}
		fmt.Fprintf(w, "   lost %d, duplicates %d\n", run.Lost, run.Duplicates)
	}
	first := label(r.Comparison[0].Destination, r.Comparison[0].ServerBinary, r.Comparison[0].DB)
	if builds || len(first) > 12 {
		first = "first" // a path or a URL is too long for a column heading
	}
	if len(r.Comparison) == 1 {
		// One run repeated (--rounds alone): nothing to set beside it.
		f := r.Comparison[0]
		fmt.Fprintf(w, "  median   %-*s %9.0f deliveries/s", width, label(f.Destination, f.ServerBinary, f.DB), f.MedianPerS)
		if f.MedianCPUUS != nil {
			fmt.Fprintf(w, "   server CPU %6.1f µs per delivery", *f.MedianCPUUS)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "  median   %-*s %9s  %-12s %-14s %s\n", width, "", "deliv/s", "× "+first, "CPU µs/deliv", "CPU × "+first)
		for _, f := range r.Comparison {
			fmt.Fprintf(w, "           %-*s %9.0f  %-12.2f", width, label(f.Destination, f.ServerBinary, f.DB), f.MedianPerS, f.MedianOfFirst)
			if f.MedianCPUUS != nil {
				fmt.Fprintf(w, " %-14.1f", *f.MedianCPUUS)
			}
			if f.MedianCPUOfFirst != nil {
				fmt.Fprintf(w, " %.2f", *f.MedianCPUOfFirst)
			}
			fmt.Fprintln(w)
		}
	}
	for _, f := range r.Comparison {
		var figures []string
		for _, m := range []struct {
			name string
			v    *float64
			unit string
		}{{"× relay", f.MedianOfRelay, ""}, {"relay CPU", f.MedianRelayCPUUS, " µs"},
			{"× durable relay", f.MedianOfDurableRelay, ""}, {"durable relay CPU", f.MedianDurableRelayCPUUS, " µs"},
			{"× baseline", f.MedianRatio, ""}, {"PostgreSQL CPU", f.MedianDBCPUUS, " µs"}} {
			if m.v != nil {
				figures = append(figures, fmt.Sprintf("%s %.3g%s", m.name, *m.v, m.unit))
			}
		}
		figures = append(figures, fmt.Sprintf("p99 %.1f ms", f.MedianP99MS))
		fmt.Fprintf(w, "           %-*s %s\n", width, label(f.Destination, f.ServerBinary, f.DB), strings.Join(figures, ", "))
	}
	fmt.Fprintf(w, "  lost %d, duplicates %d, abandoned requests %d, invalid %d   (%.1f s in all)\n",
		r.Lost, r.Duplicates, r.Abandoned, r.Invalid, r.ElapsedS)
}
