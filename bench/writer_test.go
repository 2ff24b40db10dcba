package bench

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeAt parses a server's /metrics holding the writer's figures: commit
// counts within 1, 10 and 100 ms, and in all.
func scrapeAt(t *testing.T, at time.Time, within [3]int, commits int, sum, busy float64, writes int) writerSample {
	t.Helper()
	var b strings.Builder
	b.WriteString("# TYPE hookbridge_sqlite_commit_duration_seconds histogram\n")
	for i, le := range []string{"0.001", "0.01", "0.1"} {
		fmt.Fprintf(&b, "hookbridge_sqlite_commit_duration_seconds_bucket{le=%q} %d\n", le, within[i])
	}
	fmt.Fprintf(&b, "hookbridge_sqlite_commit_duration_seconds_bucket{le=\"+Inf\"} %d\n", commits)
	fmt.Fprintf(&b, "hookbridge_sqlite_commit_duration_seconds_sum %g\nhookbridge_sqlite_commit_duration_seconds_count %d\n", sum, commits)
	fmt.Fprintf(&b, "# TYPE hookbridge_sqlite_writer_busy_seconds_total counter\nhookbridge_sqlite_writer_busy_seconds_total %g\n", busy)
	fmt.Fprintf(&b, "# TYPE hookbridge_sqlite_writes_total counter\nhookbridge_sqlite_writes_total %d\n", writes)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return parseWriter(families, at)
}

// TestWriterBetween: the writer's figures over a load are the differences
// of two scrapes, its 99th percentile the least bound holding 99 % of the
// load's commits, not of every commit since the server started.
func TestWriterBetween(t *testing.T) {
	t0 := time.Now()
	// Before the load: 100 commits, all within 1 ms.
	before := scrapeAt(t, t0, [3]int{100, 100, 100}, 100, 0.05, 0.2, 150)
	// The load: 1 000 more, 989 within 10 ms and 1 beyond 100 ms, taking
	// 4 s of the writer's 8 s busy in 10 s, for 5 000 writes. Counted
	// since the start, 99 % of the commits would be within 10 ms.
	after := scrapeAt(t, t0.Add(10*time.Second), [3]int{600, 1089, 1099}, 1100, 4.05, 8.2, 5150)
	r := writerBetween(before, after)
	if r == nil {
		t.Fatal("no report")
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if r.Commits != 1000 || !near(r.WritesPerCommit, 5) || !near(r.CommitMeanMS, 4) || !near(r.Busy, 0.8) {
		t.Errorf("report %+v, want 1000 commits of 5 writes, 4 ms each, busy 0.8", r)
	}
	if r.CommitP99WithinMS == nil || *r.CommitP99WithinMS != 100 {
		t.Errorf("99 %% within %v ms, want 100 (989 of the load's 1 000 are within 10)", r.CommitP99WithinMS)
	}
	if want := "1000 commits (5.0 writes each), mean 4.00 ms, 99 % within 100 ms; busy 80 % of the time"; r.String() != want {
		t.Errorf("line %q, want %q", r.String(), want)
	}

	// More than 1 % beyond the last bound: no bound holds the 99th.
	slow := scrapeAt(t, t0.Add(10*time.Second), [3]int{100, 100, 1080}, 1100, 40, 9, 5150)
	if r := writerBetween(before, slow); r == nil || r.CommitP99WithinMS != nil {
		t.Errorf("with 20 of 1 000 beyond 100 ms: %+v, want no bound", r)
	}
	// A server without the figures (PostgreSQL), or no commit: no report.
	none := parseWriter(nil, t0)
	if none.known || writerBetween(none, after) != nil || writerBetween(before, before) != nil {
		t.Error("a report without figures, or without commits")
	}
}
