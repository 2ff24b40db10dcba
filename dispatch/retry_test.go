package dispatch

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestScheduleWithoutJitter(t *testing.T) {
	t.Parallel()
	s := &Schedule{Delays: DefaultDelays()}
	want := []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
	for i, w := range want {
		attempts := i + 1
		next, ok := s.NextAttempt(attempts, epoch, 0)
		if !ok {
			t.Fatalf("attempt %d: gave up, want a retry after %s", attempts, w)
		}
		if got := next.Sub(epoch); got != w {
			t.Errorf("after attempt %d: delay %s, want %s", attempts, got, w)
		}
	}
	// Eight tries in all: the eighth failure is final.
	if next, ok := s.NextAttempt(8, epoch, 0); ok {
		t.Errorf("after attempt 8: retry at %s, want give-up", next)
	}
	if _, ok := s.NextAttempt(0, epoch, 0); ok {
		t.Error("attempts 0: want give-up for an out-of-range count")
	}
}

func TestScheduleJitterBounds(t *testing.T) {
	t.Parallel()
	s := DefaultRetryPolicy()
	s.Rand = rand.New(rand.NewPCG(1, 2))
	for attempts, base := range s.Delays {
		lo := time.Duration(float64(base) * (1 - DefaultJitter))
		hi := time.Duration(float64(base) * (1 + DefaultJitter))
		var below, above bool // both halves of the range are reached
		for range 500 {
			next, ok := s.NextAttempt(attempts+1, epoch, 0)
			if !ok {
				t.Fatalf("attempt %d: gave up", attempts+1)
			}
			d := next.Sub(epoch)
			if d < lo || d > hi {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", attempts+1, d, lo, hi)
			}
			below = below || d < base
			above = above || d > base
		}
		if !below || !above {
			t.Errorf("attempt %d: jitter one-sided (below %v, above %v)", attempts+1, below, above)
		}
	}
}

func TestScheduleJitterDeterministic(t *testing.T) {
	t.Parallel()
	delays := func() []time.Duration {
		s := DefaultRetryPolicy()
		s.Rand = rand.New(rand.NewPCG(7, 7))
		var out []time.Duration
		for a := 1; a <= 7; a++ {
			next, _ := s.NextAttempt(a, epoch, 0)
			out = append(out, next.Sub(epoch))
		}
		return out
	}
	a, b := delays(), delays()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different delays: %v vs %v", a, b)
		}
	}
	// With the source fixed the exact value follows from the formula.
	r := rand.New(rand.NewPCG(7, 7)).Float64()
	want := time.Duration(float64(5*time.Second) * (1 + DefaultJitter*(2*r-1)))
	if a[0] != want {
		t.Errorf("first delay %s, want %s", a[0], want)
	}
}

func TestScheduleRetryAfter(t *testing.T) {
	t.Parallel()
	s := DefaultRetryPolicy()
	s.Rand = rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name       string
		attempts   int
		retryAfter time.Duration
		want       time.Duration // exact: Retry-After is not jittered
		giveUp     bool
	}{
		{"replaces a shorter delay", 1, 2 * time.Minute, 2 * time.Minute, false},
		{"replaces a longer delay", 4, 10 * time.Second, 10 * time.Second, false},
		{"capped at the longest step", 2, 48 * time.Hour, 10 * time.Hour, false},
		{"no extra tries", 8, time.Minute, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, ok := s.NextAttempt(tt.attempts, epoch, tt.retryAfter)
			if ok == tt.giveUp {
				t.Fatalf("ok = %v, want %v", ok, !tt.giveUp)
			}
			if ok && next.Sub(epoch) != tt.want {
				t.Errorf("delay %s, want %s", next.Sub(epoch), tt.want)
			}
		})
	}

	capped := &Schedule{Delays: DefaultDelays(), MaxRetryAfter: time.Hour}
	if next, _ := capped.NextAttempt(1, epoch, 3*time.Hour); next.Sub(epoch) != time.Hour {
		t.Errorf("MaxRetryAfter 1h: delay %s", next.Sub(epoch))
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999999", maxDuration},
		{epoch.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{epoch.Add(-time.Hour).Format(http.TimeFormat), 0},
		{epoch.Add(time.Hour).Format(time.RFC850), time.Hour},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, epoch); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseDelays(t *testing.T) {
	t.Parallel()
	got, err := ParseDelays(" 5s, 5m,30m ,2h")
	if err != nil || !slices.Equal(got, []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}) {
		t.Errorf("ParseDelays = %v, %v", got, err)
	}
	if got, err := ParseDelays("none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ParseDelays(none) = %#v, %v; want no delays", got, err)
	}
	for _, bad := range []string{"", "5", "5s,,5m", "0s", "-1s", "500us", "169h", "5s;5m", strings.Repeat("1s,", MaxDelays) + "1s"} {
		if got, err := ParseDelays(bad); err == nil {
			t.Errorf("ParseDelays(%q) = %v: took it", bad, got)
		}
	}
}
