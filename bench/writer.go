package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// WriterReport is what a SQLite server's one writer did during the load,
// from its /metrics read before the first message and after the last
// arrival (hookbridge_sqlite_*): whether slow answers came from the disk
// (long commits, a writer mostly idle) or from a writer with more to do
// than it carries (busy nearly all the time).
type WriterReport struct {
	Commits         uint64  `json:"commits"`
	WritesPerCommit float64 `json:"writes_per_commit"`
	CommitMeanMS    float64 `json:"commit_mean_ms"`
	// CommitP99WithinMS is the least bound of the commit histogram that
	// holds 99 % of the load's commits; null if only its last bucket
	// (beyond every bound) does.
	CommitP99WithinMS *float64 `json:"commit_p99_within_ms"`
	// Busy is the share of the load's time the writer spent running
	// writes, commits included.
	Busy float64 `json:"busy"`
}

// writerSample is one reading of the writer's figures.
type writerSample struct {
	at            time.Time
	commits       uint64
	commitSeconds float64
	bounds        []float64 // the histogram's upper bounds, ascending
	counts        []uint64  // cumulative, per bound
	busySeconds   float64
	writes        float64
	known         bool
}

// scrape reads the /metrics of the server whose API is at base, with the
// admin key, and when.
func scrape(ctx context.Context, base, apiKey string) (map[string]*dto.MetricFamily, time.Time, error) {
	at := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/api/v1")+"/metrics", nil)
	if err != nil {
		return nil, at, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, at, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, at, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, at, fmt.Errorf("GET /metrics: %w", err)
	}
	return families, at, nil
}

// figures are what the servers' /metrics said at one moment: the first
// server's SQLite writer, and every server's claims.
type figures struct {
	writer writerSample
	claims claimSample
}

// readFigures scrapes every server of srv. A server that cannot be read
// is told on stderr, and leaves the claims not known: the run goes on
// without them.
func (b *bench) readFigures(ctx context.Context, srv fleet) figures {
	f := figures{claims: claimSample{known: true}}
	for i := range srv {
		families, at, err := scrape(ctx, srv.base(i), b.apiKey)
		if err != nil {
			fmt.Fprintf(b.stderr, "hookbridge bench: the server's figures not read: %v\n", err)
			f.claims.known = false
			continue
		}
		if i == 0 {
			f.writer = parseWriter(families, at)
		}
		f.claims = f.claims.add(parseClaims(families))
	}
	return f
}

// parseWriter takes the writer's figures out of a scrape made at.
func parseWriter(families map[string]*dto.MetricFamily, at time.Time) writerSample {
	s := writerSample{at: at}
	one := func(name string) *dto.Metric {
		if f := families[name]; f != nil && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0]
		}
		return nil
	}
	h, busy, writes := one("hookbridge_sqlite_commit_duration_seconds"), one("hookbridge_sqlite_writer_busy_seconds_total"), one("hookbridge_sqlite_writes_total")
	if h.GetHistogram() == nil || busy.GetCounter() == nil || writes.GetCounter() == nil {
		return s
	}
	s.known = true
	s.commits, s.commitSeconds = h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum()
	for _, b := range h.GetHistogram().GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			s.bounds = append(s.bounds, b.GetUpperBound())
			s.counts = append(s.counts, b.GetCumulativeCount())
		}
	}
	s.busySeconds, s.writes = busy.GetCounter().GetValue(), writes.GetCounter().GetValue()
	return s
}

// writerBetween is what the writer did from a to b; nil if either is not
// known or nothing was committed in between.
func writerBetween(a, b writerSample) *WriterReport {
	if !a.known || !b.known || b.commits <= a.commits || !slices.Equal(a.bounds, b.bounds) {
		return nil
	}
	n := b.commits - a.commits
	r := &WriterReport{
		Commits:         n,
		WritesPerCommit: (b.writes - a.writes) / float64(n),
		CommitMeanMS:    (b.commitSeconds - a.commitSeconds) * 1e3 / float64(n),
	}
	if d := b.at.Sub(a.at).Seconds(); d > 0 {
		r.Busy = (b.busySeconds - a.busySeconds) / d
	}
	for i, le := range b.bounds {
		if float64(b.counts[i]-a.counts[i]) >= 0.99*float64(n) {
			ms := le * 1e3
			r.CommitP99WithinMS = &ms
			break
		}
	}
	return r
}

// String is the report's line.
func (r *WriterReport) String() string {
	p99 := "beyond the last bound"
	if r.CommitP99WithinMS != nil {
		p99 = fmt.Sprintf("within %g ms", *r.CommitP99WithinMS)
	}
	return fmt.Sprintf("%d commits (%.1f writes each), mean %.2f ms, 99 %% %s; busy %.0f %% of the time",
		r.Commits, r.WritesPerCommit, r.CommitMeanMS, p99, 100*r.Busy)
}
