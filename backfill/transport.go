package backfill

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Retry defaults of a Transport.
const (
	DefaultAttempts   = 5
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After waited for within a
	// run; a processor that asks for longer fails the run, which the next
	// one retries.
	DefaultMaxRetryAfter = 2 * time.Minute
)

// Transport is an http.RoundTripper for the processors' APIs: it counts
// every request it sends, waits as a 429's Retry-After says (or backs off
// when it says nothing), and retries 5xx answers and failed connections
// with exponential backoff, up to Attempts tries in all. Requests with a
// body must have GetBody (http.NewRequest sets it). Its zero value uses
// http.DefaultTransport and the defaults above.
type Transport struct {
	Base          http.RoundTripper
	Attempts      int
	Backoff       time.Duration // the first wait; each doubles, up to MaxBackoff
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration

	requests atomic.Int64
	retries  atomic.Int64
}

// Requests is how many requests the transport sent, retries included.
func (t *Transport) Requests() int64 { return t.requests.Load() }

// Retries is how many of them were retries.
func (t *Transport) Retries() int64 { return t.retries.Load() }

// RoundTrip sends req, retrying as the type's comment says.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	attempts := max(cmp.Or(t.Attempts, DefaultAttempts), 1)
	backoff := cmp.Or(t.Backoff, DefaultBackoff)
	maxBackoff := cmp.Or(t.MaxBackoff, DefaultMaxBackoff)
	maxRetryAfter := cmp.Or(t.MaxRetryAfter, DefaultMaxRetryAfter)
	for try := 1; ; try++ {
		r := req
		if try > 1 {
			t.retries.Add(1)
			r = req.Clone(req.Context())
			if req.Body != nil && req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		t.requests.Add(1)
		resp, err := base.RoundTrip(r)
		wait := backoff
		switch {
		case err != nil:
			if req.Context().Err() != nil || try >= attempts || (req.Body != nil && req.GetBody == nil) {
				return nil, err
			}
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			if try >= attempts {
				return resp, nil // the caller reports the status
			}
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				if d > maxRetryAfter {
					return resp, nil
				}
				wait = d
			}
			drain(resp)
		default:
			return resp, nil
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// StatusError is an answer the processor gave that was not a success,
// after any retries.
type StatusError struct {
	Processor string
	Status    int
	Body      string // the start of the answer, for the operator
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Processor, e.Status, http.StatusText(e.Status), e.Body)
}

// statusError reads a failed answer into a StatusError.
func statusError(processor string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Processor: processor, Status: resp.StatusCode, Body: string(b)}
}
