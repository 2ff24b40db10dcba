package hookbridge

import (
	"fmt"
	"testing"
	"time"
)

func TestRolloutForwards(t *testing.T) {
	t.Parallel()
	pct := func(n int) *int { return &n }
	// MerchantBucket is pinned (values computed independently of this
	// code): changing the hash would move merchants in and out of every
	// percentage rollout in place.
	for m, want := range map[string]int{"": 61, "acct_1": 62, "PizzaEU": 47, "Merchant0": 71} {
		if got := MerchantBucket(m); got != want {
			t.Errorf("MerchantBucket(%q) = %d, want %d", m, got, want)
		}
	}
	for _, tc := range []struct {
		rollout  Rollout
		merchant string
		payment  string
		want     bool
	}{
		{Rollout{State: RolloutOff}, "acct_1", "", false},
		{Rollout{State: RolloutShadow}, "acct_1", "", false},
		{Rollout{State: RolloutOn}, "acct_1", "", true},
		{Rollout{State: RolloutOn}, "", "", true},
		{Rollout{State: RolloutShadow, Merchants: []string{"acct_1"}}, "acct_1", "", false},
		{Rollout{State: RolloutOn, Merchants: []string{"acct_1"}}, "acct_1", "", true},
		{Rollout{State: RolloutOn, Merchants: []string{"acct_1"}}, "acct_2", "", false},
		{Rollout{State: RolloutOn, Merchants: []string{"acct_1"}}, "", "", false},
		{Rollout{State: RolloutOn, Percent: pct(62)}, "acct_1", "", false}, // bucket 62
		{Rollout{State: RolloutOn, Percent: pct(63)}, "acct_1", "", true},
		{Rollout{State: RolloutOn, Percent: pct(0)}, "acct_1", "", false},
		{Rollout{State: RolloutOn, Percent: pct(100)}, "acct_1", "", true},
		{Rollout{State: RolloutOn, Percent: pct(100)}, "", "", false}, // a limit needs a merchant, or a payment
		{Rollout{State: RolloutOn, Merchants: []string{"PizzaEU"}, Percent: pct(10)}, "PizzaEU", "", true},
		// Without a merchant, the percentage selects by payment (bucket of
		// "acct_1" is 62), a merchant list selects nothing.
		{Rollout{State: RolloutOn, Percent: pct(63)}, "", "acct_1", true},
		{Rollout{State: RolloutOn, Percent: pct(62)}, "", "acct_1", false},
		{Rollout{State: RolloutOn, Merchants: []string{"acct_1"}}, "", "acct_1", false},
		{Rollout{State: RolloutOn}, "", "acct_1", true},
		{Rollout{State: RolloutShadow, Percent: pct(100)}, "", "acct_1", false},
		// A merchant's bucket wins over its payment's.
		{Rollout{State: RolloutOn, Percent: pct(50)}, "PizzaEU", "acct_1", true},
	} {
		if got := tc.rollout.Forwards(tc.merchant, tc.payment); got != tc.want {
			t.Errorf("%+v.Forwards(%q, %q) = %v, want %v", tc.rollout, tc.merchant, tc.payment, got, tc.want)
		}
	}
}

// Raising the percentage only adds merchants: none that was on goes off.
func TestRolloutPercentMonotone(t *testing.T) {
	t.Parallel()
	on := map[string]bool{}
	for p := 0; p <= 100; p += 5 {
		r := Rollout{State: RolloutOn, Percent: &p}
		count := 0
		for i := range 1000 {
			m := fmt.Sprintf("merchant-%d", i)
			f := r.Forwards(m, "")
			if on[m] && !f {
				t.Fatalf("%s was on at a lower percentage and is off at %d%%", m, p)
			}
			on[m] = on[m] || f
			if f {
				count++
			}
		}
		// The hash spreads merchants evenly enough for a share to mean
		// something.
		if d := count - 10*p; d < -60 || d > 60 {
			t.Errorf("%d%% selects %d of 1000 merchants", p, count)
		}
	}
}

func TestRoutingAndComparison(t *testing.T) {
	t.Parallel()
	r := Routing{App: "fallback", Merchants: map[string]string{"acct_1": "one"}}
	for m, want := range map[string]string{"acct_1": "one", "acct_2": "fallback", "": "fallback"} {
		if got := r.AppFor(m); got != want {
			t.Errorf("AppFor(%q) = %q, want %q", m, got, want)
		}
	}
	if got := (Routing{}).AppFor("acct_1"); got != "" {
		t.Errorf("no routing: AppFor = %q", got)
	}

	c := Comparison{Leads: []time.Duration{-time.Second, time.Second, 2 * time.Second, 3 * time.Second, 10 * time.Second}}
	for p, want := range map[float64]time.Duration{50: 2 * time.Second, 95: 10 * time.Second, 0: -time.Second, 100: 10 * time.Second} {
		if got, ok := c.LeadPercentile(p); !ok || got != want {
			t.Errorf("LeadPercentile(%v) = %v, %v; want %v", p, got, ok, want)
		}
	}
	if _, ok := (Comparison{}).LeadPercentile(50); ok {
		t.Error("a comparison without leads has a median")
	}
}
