package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// healthProbeSetting names a setting that is never stored: reading it is
// the cheapest query that proves the store answers.
const healthProbeSetting = "health_probe"

// ReadyInterval is how long an answer of the readiness check stands: the
// store's write probe (Store.ProbeWrite) runs at most once per interval,
// however many load balancers ask, and a write refused as EUNAVAILABLE
// keeps the instance not ready for an interval from then.
const ReadyInterval = 2 * time.Second

// readyProbeTimeout bounds one write probe, so that a database that does
// not answer makes the check fail rather than hang.
const readyProbeTimeout = 2 * time.Second

// unavailableRetryAfter is the Retry-After of a 503 that answers a write
// the store could not make: a guess at when to try again, no promise.
const unavailableRetryAfter = 5 * time.Second

// handlePing answers 204 as long as the process serves HTTP.
func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleHealth is liveness: 204 when the store answers a query, else 503,
// so that a load balancer takes an instance that lost its database out of
// rotation. A store that reads but cannot write (disk full, read-only)
// still answers 204 here: the instance is alive, and restarting it would
// not help; handleReady says whether it takes writes.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.store.Setting(r.Context(), healthProbeSetting); err != nil && !hookbridge.IsNotFound(err) {
		s.log.ErrorContext(r.Context(), "health check: store unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, httpErrorOut{Code: hookbridge.EUNAVAILABLE, Detail: "the store is not answering"})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleReady is readiness: 204 when the store can write, else 503 with
// Retry-After, so that a load balancer sends writes elsewhere while the
// disk is full or the database read-only or down, and back when it
// recovers. It answers from readiness, which probes at most once per
// ReadyInterval.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if err, probed := s.ready.check(r.Context(), s.now(), s.store.ProbeWrite); err != nil {
		if probed {
			s.log.WarnContext(r.Context(), "readiness check: store cannot write", "err", err)
		}
		setRetryAfter(w.Header(), unavailableRetryAfter)
		writeJSON(w, http.StatusServiceUnavailable, httpErrorOut{Code: hookbridge.EUNAVAILABLE,
			Detail: "the store cannot write for now"})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setRetryAfter sets Retry-After to d in whole seconds, at least one.
func setRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.FormatInt(max(1, int64(d/time.Second)), 10))
}

// readiness remembers the last answer about whether the store can write,
// for ReadyInterval: from a write probe, or from a write that was refused
// as EUNAVAILABLE (failed), which is news the probe need not repeat.
type readiness struct {
	mu  sync.Mutex
	at  time.Time // when err was learnt; zero: never
	err error     // nil: the store could write
}

// check returns the last answer if it is younger than ReadyInterval at now,
// else the answer of probe, which it then keeps (probed). Concurrent
// checks wait for one probe rather than each making their own.
func (rd *readiness) check(ctx context.Context, now time.Time, probe func(context.Context) error) (err error, probed bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if age := now.Sub(rd.at); !rd.at.IsZero() && age >= 0 && age < ReadyInterval {
		return rd.err, false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyProbeTimeout)
	defer cancel()
	rd.at, rd.err = now, probe(ctx)
	return rd.err, true
}

// failed records that a write was refused as EUNAVAILABLE at now: the
// instance is not ready until a probe, ReadyInterval later, says otherwise.
func (rd *readiness) failed(now time.Time, err error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.at, rd.err = now, err
}
