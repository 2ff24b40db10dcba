package bench

import (
	"fmt"

	dto "github.com/prometheus/client_model/go"
)

// ClaimsReport is what the servers' dispatchers claimed from the store
// during the load, summed over the instances (hookbridge_delivery_claims_total):
// claims that found deliveries, and claims that found none. A delivery
// handed over as it is made needs no claim; a claim that finds nothing
// is the database's work for nothing. In a backlog run, the drain's.
type ClaimsReport struct {
	Found uint64 `json:"found"`
	Empty uint64 `json:"empty"`
}

// String is the report's line.
func (r *ClaimsReport) String() string {
	return fmt.Sprintf("%d found deliveries, %d found none", r.Found, r.Empty)
}

// claimSample is one reading of the claims' counters.
type claimSample struct {
	found, empty uint64
	known        bool
}

// add sums two servers' readings: known only if both are.
func (c claimSample) add(o claimSample) claimSample {
	return claimSample{found: c.found + o.found, empty: c.empty + o.empty, known: c.known && o.known}
}

// parseClaims takes the claims' counters out of a scrape; not known if the
// server reports none (a build from before them).
func parseClaims(families map[string]*dto.MetricFamily) claimSample {
	var c claimSample
	f := families["hookbridge_delivery_claims_total"]
	if f == nil {
		return c
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() != "result" {
				continue
			}
			switch l.GetValue() {
			case "found":
				c.found, c.known = uint64(m.GetCounter().GetValue()), true
			case "empty":
				c.empty = uint64(m.GetCounter().GetValue())
			}
		}
	}
	return c
}

// claimsBetween is what was claimed from a to b; nil unless both are known.
func claimsBetween(a, b claimSample) *ClaimsReport {
	if !a.known || !b.known || b.found < a.found || b.empty < a.empty {
		return nil
	}
	return &ClaimsReport{Found: b.found - a.found, Empty: b.empty - a.empty}
}
