package bench

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestClaimsBetween: the claims over a load are the differences of the
// counters summed over the servers; a server that reports none (an older
// build) or counters that went back (a restart) give no figure.
func TestClaimsBetween(t *testing.T) {
	parse := func(text string) claimSample {
		t.Helper()
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return parseClaims(families)
	}
	counters := func(found, empty string) string {
		return "# TYPE hookbridge_delivery_claims_total counter\n" +
			"hookbridge_delivery_claims_total{result=\"found\"} " + found + "\n" +
			"hookbridge_delivery_claims_total{result=\"empty\"} " + empty + "\n"
	}
	a := parse(counters("3", "10")).add(parse(counters("1", "4")))
	b := parse(counters("13", "12")).add(parse(counters("6", "9")))
	if r := claimsBetween(a, b); r == nil || *r != (ClaimsReport{Found: 15, Empty: 7}) {
		t.Errorf("claims between = %+v, want 15 found and 7 empty", r)
	}
	old := parse("# TYPE go_goroutines gauge\ngo_goroutines 12\n")
	if old.known {
		t.Error("a scrape without the claims' counters read as known")
	}
	if r := claimsBetween(a, b.add(old)); r != nil {
		t.Errorf("with a server that reports no claims: %+v, want none", r)
	}
	if r := claimsBetween(b, a); r != nil {
		t.Errorf("counters that went back: %+v, want none", r)
	}
	if got := (&ClaimsReport{Found: 15, Empty: 7}).String(); got != "15 found deliveries, 7 found none" {
		t.Errorf("line %q", got)
	}
}
