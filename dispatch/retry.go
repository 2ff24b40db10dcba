package dispatch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// RetryPolicy decides when a scheduled delivery whose try failed is tried
// again. Implementations must be safe for concurrent use: every worker asks.
type RetryPolicy interface {
	// NextAttempt returns when to try again after the attempts-th try of a
	// delivery failed at now (attempts counts that failed try, so it is 1
	// after the first), or false to give up. retryAfter is the receiver's
	// Retry-After on a 429 or 503, and 0 when it sent none.
	NextAttempt(attempts int, now time.Time, retryAfter time.Duration) (time.Time, bool)
}

// DefaultJitter is the default spread of each retry delay: ±20 %.
const DefaultJitter = 0.2

// DefaultDelays returns the Svix schedule: after a first immediate try, retry
// after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight tries in all.
// It returns a new slice each time, so callers may modify it.
func DefaultDelays() []time.Duration {
	return []time.Duration{
		5 * time.Second,
		5 * time.Minute,
		30 * time.Minute,
		2 * time.Hour,
		5 * time.Hour,
		10 * time.Hour,
		10 * time.Hour,
	}
}

// Bounds of a retry schedule given by an operator (ParseDelays).
const (
	MaxDelays = hookbridge.MaxRetryDelays
	MaxDelay  = hookbridge.MaxRetryDelay
)

// ParseDelays reads a retry schedule as serve --retry-schedule takes it:
// comma-separated Go durations ("5s,5m,30m,2h"), the delays between tries,
// or "none" for a single try and no retry. Each delay is from 1ms to
// MaxDelay, and there are at most MaxDelays (hookbridge.ParseRetryDelays).
func ParseDelays(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return []time.Duration{}, nil
	}
	delays, err := hookbridge.ParseRetryDelays(strings.Split(s, ","))
	if err != nil {
		return nil, fmt.Errorf("%w (want e.g. 5s,5m,30m,2h, or none)", err)
	}
	return delays, nil
}

// Schedule is a RetryPolicy with a fixed list of delays: after the n-th
// failed try the delivery is retried after Delays[n-1], spread by Jitter;
// once every delay has been used it is given up. A Schedule must not be
// copied after first use.
type Schedule struct {
	// Delays between tries; len(Delays)+1 tries are made in all.
	Delays []time.Duration
	// Jitter spreads each delay uniformly over [d·(1−Jitter), d·(1+Jitter)),
	// so that deliveries that failed together (a receiver outage) do not
	// come back together. 0 means none.
	Jitter float64
	// MaxRetryAfter caps a receiver's Retry-After, so that a receiver cannot
	// park a delivery for days. Zero means the longest of Delays.
	MaxRetryAfter time.Duration
	// Rand supplies the jitter. Nil means the process-wide source; tests
	// inject a seeded one. It is used under the Schedule's lock, since a
	// *rand.Rand is not safe for concurrent use.
	Rand *rand.Rand

	mu sync.Mutex // guards Rand
}

// DefaultRetryPolicy returns the Svix schedule (DefaultDelays) with
// DefaultJitter, Retry-After capped at its longest delay.
func DefaultRetryPolicy() *Schedule {
	return &Schedule{Delays: DefaultDelays(), Jitter: DefaultJitter}
}

// NextAttempt implements RetryPolicy.
//
// A Retry-After replaces the scheduled delay and is not jittered: it is the
// receiver's own lower bound, and shortening it would only earn another 429.
// It does not buy extra tries: after the last scheduled try the delivery is
// given up whatever the receiver asks.
func (s *Schedule) NextAttempt(attempts int, now time.Time, retryAfter time.Duration) (time.Time, bool) {
	if attempts < 1 || attempts > len(s.Delays) {
		return time.Time{}, false
	}
	if retryAfter > 0 {
		return now.Add(min(retryAfter, s.maxRetryAfter())), true
	}
	return now.Add(s.jitter(s.Delays[attempts-1])), true
}

func (s *Schedule) maxRetryAfter() time.Duration {
	if s.MaxRetryAfter > 0 {
		return s.MaxRetryAfter
	}
	var longest time.Duration
	for _, d := range s.Delays {
		longest = max(longest, d)
	}
	return longest
}

// jitter returns d moved by a uniform random fraction in [−Jitter, +Jitter).
func (s *Schedule) jitter(d time.Duration) time.Duration {
	if s.Jitter <= 0 || d <= 0 {
		return d
	}
	var r float64
	if s.Rand != nil {
		s.mu.Lock()
		r = s.Rand.Float64()
		s.mu.Unlock()
	} else {
		r = rand.Float64()
	}
	return time.Duration(float64(d) * (1 + s.Jitter*(2*r-1)))
}

// ParseRetryAfter reads a Retry-After header value, delay-seconds or an
// HTTP-date (RFC 9110, section 10.2.3), as a duration from now. It returns 0
// for an absent, malformed, zero or past value: the caller then falls back to
// its own schedule.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// Too many digits to be a real delay: treat it as "very long"
			// and let the policy's cap apply.
			if errors.Is(err, strconv.ErrRange) {
				return maxDuration
			}
			return 0
		}
		if secs > int64(maxDuration/time.Second) {
			return maxDuration
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), 0)
}

const maxDuration = time.Duration(1<<63 - 1)
