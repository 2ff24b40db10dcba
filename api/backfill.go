package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/backfill"
	"github.com/hookbridge/hookbridge/inbound"
)

// Backfill: a source with read-only API credentials for its processor
// fetches the events the processor lists (package backfill) and receives
// each through the path a webhook takes (receiveEvent: de-duplication on
// the processor's event id, the payment's state, the canonical messages),
// marked via "backfill". An event that came by webhook first is a repeat
// and forwards nothing; a webhook that comes after the backfill brought
// its event is a repeat in turn. Every event fetched is also recorded as an
// observation, so that the webhook-vs-polling comparison sees what polling
// saw and when.

// Backfill limits and defaults.
const (
	// DefaultBackfillLookback is how far back a source's first periodic
	// run looks.
	DefaultBackfillLookback = 24 * time.Hour
	// BackfillOverlap is how far before the high-water mark a periodic
	// run starts: events created in the same second, or listed late.
	BackfillOverlap = 5 * time.Minute
	// MaxBackfillAge is the longest window a backfill may ask for: no
	// processor lists events further back (Stripe keeps 30 days).
	MaxBackfillAge = 31 * 24 * time.Hour

	minReconcileSeconds = 60
	maxReconcileSeconds = 7 * 24 * 3600
	observationBatch    = 500
)

// backfillMetrics count runs and events, by scheme.
type backfillMetrics struct {
	runs   *prometheus.CounterVec // scheme, result: ok or failed
	events *prometheus.CounterVec // scheme, outcome: backfilled or duplicate
	reqs   *prometheus.CounterVec // scheme
}

func newBackfillMetrics() backfillMetrics {
	return backfillMetrics{
		runs: counterVec("hookbridge_backfill_runs_total",
			"Backfill runs (fetching a processor's events list) this instance ended, by scheme and result (ok, failed).", "scheme", "result"),
		events: counterVec("hookbridge_backfill_events_total",
			"Events a backfill fetched, by scheme and outcome: backfilled (the webhooks had not brought it) or duplicate.", "scheme", "outcome"),
		reqs: counterVec("hookbridge_backfill_requests_total",
			"Requests a backfill made to a processor's API, retries included, by scheme.", "scheme"),
	}
}

// BackfillRun is what one backfill run did.
type BackfillRun struct {
	Since      time.Time
	Fetched    int64 // events listed
	Backfilled int64 // new to the source
	Duplicates int64 // the source had them already
	Requests   int64 // to the processor, retries included
	// Err is why the run failed (the processor's answer, a connection
	// that failed after retries); nil when it completed. Events received
	// before the failure stay received.
	Err error
}

// backfillReady says why src cannot be backfilled now, or nil.
func backfillReady(src *hookbridge.Source) error {
	switch {
	case !backfill.Supports(src.Scheme):
		return hookbridge.Errorf(hookbridge.ECONFLICT, "the %s scheme's processor has no events list to backfill from", src.Scheme)
	case src.Credentials.API == (hookbridge.SourceAPICredentials{}):
		return hookbridge.Errorf(hookbridge.ECONFLICT, "source %s has no API credentials: set apiCredentials (PUT /api/v1/source/%s)", src.ID, src.ID)
	case src.Rollout.State == hookbridge.RolloutOff:
		return hookbridge.Errorf(hookbridge.ECONFLICT, "source %s is off: it keeps nothing, backfilled or not", src.ID)
	}
	return nil
}

// httpClient is the client a backfill's requests go through: the retrying,
// counting transport over a dialer the network guard checks.
func (s *Server) backfillClient() (*http.Client, *backfill.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if s.guard != nil {
		base.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: s.guard.Control}).DialContext
	}
	tr := &backfill.Transport{Base: base}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, tr
}

// Backfill fetches the events src's processor lists from since on, and
// receives each one the source has not seen as a backfilled event. It
// records the run on the source's backfill state (and in the metrics and
// the log); a run that fails is returned with Err set, not as an error,
// which is kept for the store failing or src not being ready.
func (s *Server) Backfill(ctx context.Context, src *hookbridge.Source, since time.Time) (BackfillRun, error) {
	run := BackfillRun{Since: since}
	if err := backfillReady(src); err != nil {
		return run, err
	}
	hc, tr := s.backfillClient()
	lister, err := backfill.New(src.Scheme, src.Credentials.API, hc)
	if err != nil {
		return run, hookbridge.Errorf(hookbridge.ECONFLICT, "%v", err)
	}
	var (
		high  time.Time
		obs   []hookbridge.Observation
		woke  bool
		flush = func() error {
			if len(obs) == 0 {
				return nil
			}
			_, err := s.store.AddObservations(ctx, src.ID, obs)
			obs = obs[:0]
			return err
		}
	)
	listErr := lister.List(ctx, since, func(ev backfill.Event) error {
		isNew, created, err := s.receiveBackfilled(ctx, src, ev, &obs)
		if err != nil {
			return err
		}
		run.Fetched++
		if isNew {
			run.Backfilled++
		} else {
			run.Duplicates++
		}
		woke = woke || created
		if ev.Created.After(high) {
			high = ev.Created
		}
		if len(obs) >= observationBatch {
			return flush()
		}
		return nil
	})
	listErr = errors.Join(listErr, flush())
	if woke {
		s.wakeCreated()
	}
	run.Requests = tr.Requests()
	var storeErr *hookbridge.Error
	if listErr != nil && errors.As(listErr, &storeErr) && storeErr.Code == hookbridge.ENOTFOUND {
		return run, listErr // the source was deleted meanwhile
	}
	run.Err = listErr
	if err := s.recordBackfill(ctx, src, run, high); err != nil {
		return run, err
	}
	return run, nil
}

// receiveBackfilled receives one listed event: normalised and keyed as its
// webhook would be, stored via backfill, observed. It reports whether the
// event was new to the source and whether it created a message.
func (s *Server) receiveBackfilled(ctx context.Context, src *hookbridge.Source, ev backfill.Event, obs *[]hookbridge.Observation) (bool, bool, error) {
	v := &inbound.Verified{Scheme: src.Scheme, EventIDs: []string{ev.ID}}
	events, nerr := inbound.Normalize(src.Scheme, ev.Body, v, inbound.NormalizeOptions{MerchantField: src.Routing.MerchantField})
	if nerr != nil {
		events = []inbound.Event{{ID: ev.ID, Note: nerr.Error() + "; stored, not forwarded"}}
	}
	now := s.timeNow()
	in := arrival{src: src, body: inbound.Redact(ev.Body), v: v, now: now, via: hookbridge.ViaBackfill,
		headers: map[string]string{}}
	anyNew, anyCreated := false, false
	for i, e := range events {
		key := eventKey(src.Scheme, e, ev.Body, i, len(events))
		isNew, created, err := s.receiveEvent(ctx, in, e, key)
		if err != nil {
			return false, false, err
		}
		anyNew, anyCreated = anyNew || isNew, anyCreated || created
		*obs = append(*obs, hookbridge.Observation{SourceID: src.ID, EventID: key, OccurredAt: ev.Created, SeenAt: now})
	}
	return anyNew, anyCreated, nil
}

// recordBackfill adds run to the source's backfill state, the metrics and
// the log. A run that completed moves the high-water mark to the newest
// event it fetched.
func (s *Server) recordBackfill(ctx context.Context, src *hookbridge.Source, run BackfillRun, high time.Time) error {
	now := s.timeNow()
	st := &hookbridge.BackfillState{SourceID: src.ID, LastRunAt: now, Runs: 1, Fetched: run.Fetched, Backfilled: run.Backfilled,
		Duplicates: run.Duplicates, Requests: run.Requests}
	result := "ok"
	log := s.log.With("source", src.ID, "scheme", src.Scheme, "since", run.Since, "fetched", run.Fetched,
		"backfilled", run.Backfilled, "duplicates", run.Duplicates, "requests", run.Requests)
	if run.Err != nil {
		result = "failed"
		st.Failures = 1
		st.LastError = run.Err.Error()
		log.WarnContext(ctx, "backfill failed; the next run starts from the same point", "err", run.Err)
	} else {
		st.LastSuccessAt, st.HighWater = now, high
		log.InfoContext(ctx, "backfill completed")
	}
	s.backfill.runs.WithLabelValues(src.Scheme, result).Inc()
	s.backfill.events.WithLabelValues(src.Scheme, "backfilled").Add(float64(run.Backfilled))
	s.backfill.events.WithLabelValues(src.Scheme, "duplicate").Add(float64(run.Duplicates))
	s.backfill.reqs.WithLabelValues(src.Scheme).Add(float64(run.Requests))
	return s.store.RecordBackfillRun(ctx, st)
}

// Reconcile runs the periodic backfill of every source whose
// reconcileEvery has passed since its last run, one after the other: from
// a little before its high-water mark, or DefaultBackfillLookback back for
// a first run. `hookbridge serve` calls it on one instance at a time. A
// source that fails is logged and recorded, and the others still run.
func (s *Server) Reconcile(ctx context.Context) error {
	opt := hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}
	for {
		page, err := s.store.ListSources(ctx, opt)
		if err != nil {
			return err
		}
		for i := range page.Data {
			src := &page.Data[i]
			if src.ReconcileEvery <= 0 || backfillReady(src) != nil {
				continue
			}
			st, err := s.store.GetBackfillState(ctx, src.ID)
			if err != nil {
				return err
			}
			now := s.timeNow()
			if !st.LastRunAt.IsZero() && now.Sub(st.LastRunAt) < src.ReconcileEvery {
				continue
			}
			since := now.Add(-DefaultBackfillLookback)
			if !st.HighWater.IsZero() {
				since = st.HighWater.Add(-BackfillOverlap)
			}
			if _, err := s.Backfill(ctx, src, since); err != nil && !hookbridge.IsNotFound(err) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.log.WarnContext(ctx, "periodic backfill not run", "source", src.ID, "err", err)
			}
		}
		if page.Done || len(page.Data) == 0 {
			return nil
		}
		opt.Iterator = page.Data[len(page.Data)-1].ID
	}
}

// apiCredentialsIO are a source's API credentials: in, as the processor
// shows them; out, the secrets masked.
type apiCredentialsIO struct {
	Key          *string `json:"key"`
	ClientID     *string `json:"clientId"`
	ClientSecret *string `json:"clientSecret"`
	BaseURL      *string `json:"baseUrl"`
}

func (c *apiCredentialsIO) credentials() hookbridge.SourceAPICredentials {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return hookbridge.SourceAPICredentials{Key: deref(c.Key), ClientID: deref(c.ClientID), ClientSecret: deref(c.ClientSecret), BaseURL: deref(c.BaseURL)}
}

func apiCredentialsOut(c hookbridge.SourceAPICredentials) *apiCredentialsIO {
	if c == (hookbridge.SourceAPICredentials{}) {
		return nil
	}
	return &apiCredentialsIO{Key: maskSecret(c.Key), ClientID: nullable(c.ClientID), ClientSecret: maskSecret(c.ClientSecret), BaseURL: nullable(c.BaseURL)}
}

// buildBackfill validates the backfill fields of a sourceIn into src: on
// PUT, absent apiCredentials keep the stored ones and null removes them.
func (s *Server) buildBackfill(in *sourceIn, src *hookbridge.Source, fe *fieldErrors) {
	switch {
	case in.APICredentials.has():
		src.Credentials.API = in.APICredentials.Value.credentials()
	case in.APICredentials.Null:
		src.Credentials.API = hookbridge.SourceAPICredentials{}
	}
	if api := src.Credentials.API; api != (hookbridge.SourceAPICredentials{}) && src.Scheme != "" {
		if msg := backfill.CheckCredentials(src.Scheme, api); msg != "" {
			fe.body(msg, "apiCredentials")
		} else if s.guard != nil && api.BaseURL != "" {
			if err := s.guard.CheckURL(api.BaseURL); err != nil {
				fe.body(err.Error(), "apiCredentials", "baseUrl")
			}
		}
	}
	src.ReconcileEvery = 0
	if in.ReconcileEverySeconds != nil {
		switch n := *in.ReconcileEverySeconds; {
		case n < minReconcileSeconds || n > maxReconcileSeconds:
			fe.body(fmt.Sprintf("must be from %d to %d seconds; leave it out (or null) for no periodic backfill", minReconcileSeconds, maxReconcileSeconds),
				"reconcileEverySeconds")
		case src.Credentials.API == (hookbridge.SourceAPICredentials{}):
			fe.body("needs apiCredentials: the periodic backfill reads the processor's events list with them", "reconcileEverySeconds")
		default:
			src.ReconcileEvery = time.Duration(n) * time.Second
		}
	}
}

// backfillStateOut answers GET …/backfill.
type backfillStateOut struct {
	Supported             bool    `json:"supported"`
	Configured            bool    `json:"configured"`
	ReconcileEverySeconds *int    `json:"reconcileEverySeconds"`
	HighWater             *string `json:"highWater"`
	LastRunAt             *string `json:"lastRunAt"`
	LastSuccessAt         *string `json:"lastSuccessAt"`
	LastError             *string `json:"lastError"`
	Runs                  int64   `json:"runs"`
	Failures              int64   `json:"failures"`
	Fetched               int64   `json:"fetched"`
	Backfilled            int64   `json:"backfilled"`
	Duplicates            int64   `json:"duplicates"`
	Requests              int64   `json:"requests"`
}

func toBackfillStateOut(src *hookbridge.Source, st *hookbridge.BackfillState) backfillStateOut {
	return backfillStateOut{
		Supported: backfill.Supports(src.Scheme), Configured: src.Credentials.API != (hookbridge.SourceAPICredentials{}),
		ReconcileEverySeconds: reconcileSeconds(src), HighWater: formatTimePtr(st.HighWater),
		LastRunAt: formatTimePtr(st.LastRunAt), LastSuccessAt: formatTimePtr(st.LastSuccessAt), LastError: nullable(st.LastError),
		Runs: st.Runs, Failures: st.Failures, Fetched: st.Fetched, Backfilled: st.Backfilled, Duplicates: st.Duplicates, Requests: st.Requests,
	}
}

func reconcileSeconds(src *hookbridge.Source) *int {
	if src.ReconcileEvery <= 0 {
		return nil
	}
	n := int(src.ReconcileEvery / time.Second)
	return &n
}

func (s *Server) handleGetBackfill(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	st, err := s.store.GetBackfillState(r.Context(), src.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBackfillStateOut(src, st))
	return nil
}

// backfillIn is the body of POST …/backfill.
type backfillIn struct {
	Since *string `json:"since"`
}

// backfillRunOut answers POST …/backfill.
type backfillRunOut struct {
	Since      string           `json:"since"`
	Fetched    int64            `json:"fetched"`
	Backfilled int64            `json:"backfilled"`
	Duplicates int64            `json:"duplicates"`
	Requests   int64            `json:"requests"`
	Error      *string          `json:"error"`
	State      backfillStateOut `json:"state"`
}

// handleRunBackfill runs a backfill now, from since, and answers when it
// has ended: 200 whether or not the processor answered, with error saying
// why not (the state's lastError too). A caller that stops waiting stops
// the run (the request's context): events received so far stay received,
// and the next run starts from the same high-water mark.
func (s *Server) handleRunBackfill(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	var in backfillIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	now := s.timeNow()
	var since time.Time
	switch {
	case in.Since == nil:
		fe.body("field required: the creation time of the oldest event to fetch", "since")
	default:
		if since, err = parseTime(*in.Since); err != nil {
			fe.body(err.Error(), "since")
		} else if since.After(now) || now.Sub(since) > MaxBackfillAge {
			fe.body(fmt.Sprintf("must be in the last %d days: no processor lists events older", MaxBackfillAge/(24*time.Hour)), "since")
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	run, err := s.Backfill(r.Context(), src, since)
	if err != nil {
		return err
	}
	st, err := s.store.GetBackfillState(r.Context(), src.ID)
	if err != nil {
		return err
	}
	out := backfillRunOut{Since: formatTime(since), Fetched: run.Fetched, Backfilled: run.Backfilled, Duplicates: run.Duplicates,
		Requests: run.Requests, State: toBackfillStateOut(src, st)}
	if run.Err != nil {
		msg := run.Err.Error()
		out.Error = &msg
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
