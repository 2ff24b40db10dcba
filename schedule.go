package hookbridge

import (
	"fmt"
	"strings"
	"time"
)

// Bounds of a retry schedule, the server's (serve --retry-schedule) or an
// event type's (EventType.RetrySchedule): at most MaxRetryDelays delays,
// each from MinRetryDelay to MaxRetryDelay.
const (
	MaxRetryDelays = 50
	MinRetryDelay  = time.Millisecond
	MaxRetryDelay  = 7 * 24 * time.Hour
)

// RetryDelayError says which delay of a schedule is wrong (Index from 0).
type RetryDelayError struct {
	Index int
	Err   error
}

func (e *RetryDelayError) Error() string { return fmt.Sprintf("delay %d: %v", e.Index+1, e.Err) }
func (e *RetryDelayError) Unwrap() error { return e.Err }

// ParseRetryDelays reads the delays of a retry schedule, each a Go duration
// ("5s", "1m30s", "2h"), within the bounds above. A wrong delay is a
// *RetryDelayError; too many is a plain error.
func ParseRetryDelays(parts []string) ([]time.Duration, error) {
	if len(parts) > MaxRetryDelays {
		return nil, fmt.Errorf("%d delays: at most %d", len(parts), MaxRetryDelays)
	}
	delays := make([]time.Duration, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		switch {
		case err != nil:
			return nil, &RetryDelayError{i, fmt.Errorf("%q is not a duration such as 5s, 5m or 2h", p)}
		case d < MinRetryDelay || d > MaxRetryDelay:
			return nil, &RetryDelayError{i, fmt.Errorf("%s is not from %s to %s", FormatRetryDelay(d), MinRetryDelay, FormatRetryDelay(MaxRetryDelay))}
		}
		delays[i] = d
	}
	return delays, nil
}

// FormatRetryDelay writes a delay as ParseRetryDelays reads it, without
// the zero units time.Duration's String adds: "5m", "1h30m", "168h".
func FormatRetryDelay(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
