package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/inbound"
)

// Inbound sources are Hookbridge's addition to the Svix API: one URL per
// payment processor (/in/{source_id}), managed under /api/v1/source in the
// same style as the rest (camelCase fields, iterator/done lists, 422s that
// name the field). Secrets are write-only: they are shown masked.

// Limits of the source API.
const (
	maxSourceMerchants   = 10000 // entries of merchantApplications, and of a rollout's merchant list
	maxMerchantFieldLen  = 256
	maxObservations      = 1000 // events in one POST …/observed
	maxToleranceSeconds  = 24 * 3600
	defaultComparisonAge = 7 * 24 * time.Hour
)

// adminActor is who a change made with the server-wide admin key is
// attributed to in the rollout audit, unless the dashboard names its
// signed-in user (WithActor).
const adminActor = "admin"

// sourceCredentialsIn are the credentials as the processor's dashboard
// shows them.
type sourceCredentialsIn struct {
	Secret    string        `json:"secret"`
	PublicKey string        `json:"publicKey"`
	KeyID     string        `json:"keyId"`
	CertPEM   string        `json:"certPem"`
	HMAC      *sourceHMACIO `json:"hmac"`
}

// sourceHMACIO configures the generic "hmac" scheme, in and out.
type sourceHMACIO struct {
	Header          string `json:"header"`
	Algorithm       string `json:"algorithm,omitempty"`
	Encoding        string `json:"encoding,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	TimestampHeader string `json:"timestampHeader,omitempty"`
}

// rolloutIO is a rollout, in and out.
type rolloutIO struct {
	State     hookbridge.RolloutState `json:"state"`
	Merchants []string                `json:"merchants,omitempty"`
	Percent   *int                    `json:"percent,omitempty"`
}

// sourceIn is the body of POST /source and PUT /source/{id}. On PUT,
// credentials may be left out to keep the stored ones (they are never
// shown, so a client cannot send them back), and rollout is refused: it
// changes through PATCH …/rollout, which audits it.
type sourceIn struct {
	Name                 *string              `json:"name"`
	Scheme               *string              `json:"scheme"`
	Credentials          *sourceCredentialsIn `json:"credentials"`
	ToleranceSeconds     *int                 `json:"toleranceSeconds"`
	Application          *string              `json:"application"`
	MerchantApplications map[string]string    `json:"merchantApplications"`
	MerchantField        *string              `json:"merchantField"`
	StalePolicy          *string              `json:"stalePolicy"`
	Rollout              *rolloutIO           `json:"rollout"`
	// APICredentials are read-only credentials for the processor's API
	// (backfill); on PUT, absent keeps them and null removes them.
	APICredentials        optional[apiCredentialsIO] `json:"apiCredentials"`
	ReconcileEverySeconds *int                       `json:"reconcileEverySeconds"`
}

// sourceOut is a source as the API shows it.
type sourceOut struct {
	ID                    string            `json:"id"`
	Name                  string            `json:"name"`
	Scheme                string            `json:"scheme"`
	URL                   string            `json:"url"`
	Credentials           credentialsOut    `json:"credentials"`
	ToleranceSeconds      *int              `json:"toleranceSeconds"`
	Application           *string           `json:"application"`
	MerchantApplications  map[string]string `json:"merchantApplications"`
	MerchantField         *string           `json:"merchantField"`
	DefaultMerchantFields []string          `json:"defaultMerchantFields"`
	StalePolicy           string            `json:"stalePolicy"`
	Normalized            bool              `json:"normalized"`
	Rollout               rolloutIO         `json:"rollout"`
	APICredentials        *apiCredentialsIO `json:"apiCredentials"`
	ReconcileEverySeconds *int              `json:"reconcileEverySeconds"`
	CreatedAt             string            `json:"createdAt"`
	UpdatedAt             string            `json:"updatedAt"`
}

// credentialsOut shows which credentials are set, the secret masked. The
// public key, key id and certificate are not secret and are shown whole.
type credentialsOut struct {
	Secret    *string       `json:"secret"`
	PublicKey *string       `json:"publicKey"`
	KeyID     *string       `json:"keyId"`
	CertPEM   *string       `json:"certPem"`
	HMAC      *sourceHMACIO `json:"hmac"`
}

// maskSecret shows the last four characters of a long secret and nothing
// of a short one: enough to tell two secrets apart, not to use one.
func maskSecret(s string) *string {
	if s == "" {
		return nil
	}
	m := "********"
	if len(s) >= 16 {
		m = "****" + s[len(s)-4:]
	}
	return &m
}

func (s *Server) toSourceOut(r *http.Request, src *hookbridge.Source) sourceOut {
	c := src.Credentials
	out := sourceOut{
		ID:     src.ID,
		Name:   src.Name,
		Scheme: src.Scheme,
		URL:    s.baseURL(r) + "/in/" + src.ID,
		Credentials: credentialsOut{
			Secret: maskSecret(c.Secret), PublicKey: nullable(c.PublicKey), KeyID: nullable(c.KeyID), CertPEM: nullable(c.CertPEM),
		},
		Application:           nullable(src.Routing.App),
		MerchantApplications:  emptyIfNil(src.Routing.Merchants),
		MerchantField:         nullable(src.Routing.MerchantField),
		DefaultMerchantFields: inbound.MerchantFields(src.Scheme),
		StalePolicy:           string(src.StalePolicy.Or()),
		Normalized:            inbound.Normalizes(src.Scheme),
		Rollout:               rolloutIO{State: src.Rollout.State, Merchants: src.Rollout.Merchants, Percent: src.Rollout.Percent},
		APICredentials:        apiCredentialsOut(c.API),
		ReconcileEverySeconds: reconcileSeconds(src),
		CreatedAt:             formatTime(src.CreatedAt),
		UpdatedAt:             formatTime(src.UpdatedAt),
	}
	if out.DefaultMerchantFields == nil {
		out.DefaultMerchantFields = []string{}
	}
	if c.HMAC != (hookbridge.SourceHMAC{}) {
		out.Credentials.HMAC = &sourceHMACIO{Header: c.HMAC.Header, Algorithm: c.HMAC.Algorithm, Encoding: c.HMAC.Encoding,
			Prefix: c.HMAC.Prefix, TimestampHeader: c.HMAC.TimestampHeader}
	}
	if src.Tolerance > 0 {
		secs := int(src.Tolerance / time.Second)
		out.ToleranceSeconds = &secs
	}
	return out
}

// credentials converts the body's credentials to the domain's.
func (c *sourceCredentialsIn) credentials() hookbridge.SourceCredentials {
	out := hookbridge.SourceCredentials{Secret: c.Secret, PublicKey: c.PublicKey, KeyID: c.KeyID, CertPEM: c.CertPEM}
	if c.HMAC != nil {
		out.HMAC = hookbridge.SourceHMAC{Header: c.HMAC.Header, Algorithm: c.HMAC.Algorithm, Encoding: c.HMAC.Encoding,
			Prefix: c.HMAC.Prefix, TimestampHeader: c.HMAC.TimestampHeader}
	}
	return out
}

// schemeCredentials is what inbound.New takes for a source's credentials.
func schemeCredentials(c hookbridge.SourceCredentials) inbound.Credentials {
	return inbound.Credentials{
		Secret: c.Secret, PublicKey: c.PublicKey, KeyID: c.KeyID, CertPEM: []byte(c.CertPEM),
		HMAC: inbound.HMACOptions{Header: c.HMAC.Header, Algorithm: c.HMAC.Algorithm, Encoding: c.HMAC.Encoding,
			Prefix: c.HMAC.Prefix, TimestampHeader: c.HMAC.TimestampHeader},
	}
}

// checkRollout validates a rollout at the given body location.
func checkRollout(r hookbridge.Rollout, fe *fieldErrors, at ...string) {
	loc := func(field string) []string { return append(slices.Clip(at), field) }
	if !r.State.Valid() {
		fe.body(`must be "off", "shadow" or "on"`, loc("state")...)
	}
	if r.Percent != nil && (*r.Percent < 0 || *r.Percent > 100) {
		fe.body("must be from 0 to 100", loc("percent")...)
	}
	if len(r.Merchants) > maxSourceMerchants {
		fe.body(fmt.Sprintf("must have at most %d items", maxSourceMerchants), loc("merchants")...)
	}
	for _, m := range r.Merchants {
		if m == "" || len(m) > maxNameLen {
			fe.body(fmt.Sprintf("merchant ids must have 1 to %d characters", maxNameLen), loc("merchants")...)
			break
		}
	}
}

// buildSource validates a sourceIn into src. With update, src holds the
// stored source: absent credentials keep it, and rollout is refused. It
// returns the collected field errors, after checking that the scheme
// accepts the credentials and that every application named exists.
func (s *Server) buildSource(r *http.Request, in *sourceIn, src *hookbridge.Source, update bool) error {
	var fe fieldErrors
	if in.Name != nil {
		if msg := checkText(*in.Name); msg != "" {
			fe.body(msg, "name")
		} else if len(*in.Name) > maxNameLen {
			fe.body(fmt.Sprintf("must be at most %d characters", maxNameLen), "name")
		}
		src.Name = *in.Name
	}
	switch {
	case in.Scheme == nil:
		fe.body("field required, one of: "+strings.Join(inbound.Names(), ", "), "scheme")
	case !slices.Contains(inbound.Names(), *in.Scheme):
		fe.body("must be one of: "+strings.Join(inbound.Names(), ", "), "scheme")
	default:
		src.Scheme = *in.Scheme
	}
	switch {
	case in.Credentials != nil:
		api := src.Credentials.API // set apart, by apiCredentials
		src.Credentials = in.Credentials.credentials()
		src.Credentials.API = api
	case !update:
		fe.body("field required: the secret or key as the processor's dashboard shows it", "credentials")
	}
	src.Tolerance = 0
	if in.ToleranceSeconds != nil {
		if n := *in.ToleranceSeconds; n < 1 || n > maxToleranceSeconds {
			fe.body(fmt.Sprintf("must be from 1 to %d seconds; leave it out for the default (300)", maxToleranceSeconds), "toleranceSeconds")
		} else {
			src.Tolerance = time.Duration(n) * time.Second
		}
	}
	src.Routing = hookbridge.Routing{}
	if in.Application != nil {
		src.Routing.App = *in.Application
	}
	if len(in.MerchantApplications) > maxSourceMerchants {
		fe.body(fmt.Sprintf("must have at most %d entries", maxSourceMerchants), "merchantApplications")
	}
	if len(in.MerchantApplications) > 0 {
		src.Routing.Merchants = in.MerchantApplications
	}
	if in.MerchantField != nil {
		if f := *in.MerchantField; len(f) > maxMerchantFieldLen || strings.Contains(f, "..") || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") {
			fe.body(fmt.Sprintf("must be a dotted path of at most %d characters, e.g. data.object.on_behalf_of", maxMerchantFieldLen), "merchantField")
		}
		src.Routing.MerchantField = *in.MerchantField
	}
	src.StalePolicy = hookbridge.StaleForwardFlagged
	if in.StalePolicy != nil {
		if p := hookbridge.StalePolicy(*in.StalePolicy); p.Valid() {
			src.StalePolicy = p
		} else {
			fe.body(`must be "forward-flagged" (deliver a stale notification with "stale": true) or "hold" (keep it until released)`, "stalePolicy")
		}
	}
	s.buildBackfill(in, src, &fe)
	switch {
	case update && in.Rollout != nil:
		fe.body("is changed with PATCH /api/v1/source/{source_id}/rollout, which audits the change", "rollout")
	case in.Rollout != nil:
		src.Rollout = hookbridge.Rollout{State: in.Rollout.State, Merchants: in.Rollout.Merchants, Percent: in.Rollout.Percent}
		checkRollout(src.Rollout, &fe, "rollout")
	case !update:
		src.Rollout = hookbridge.Rollout{State: hookbridge.RolloutOff}
	}
	if err := fe.err(); err != nil {
		return err
	}
	if _, err := inbound.New(src.Scheme, schemeCredentials(src.Credentials), inbound.WithTolerance(src.Tolerance)); err != nil {
		fe.body(strings.TrimPrefix(err.Error(), inbound.ErrConfig.Error()+": "), "credentials")
		return fe.err()
	}
	// Every application named must exist now: a typo would otherwise
	// surface as events silently held back.
	check := func(ref string, loc ...string) {
		if _, err := s.store.GetApplication(r.Context(), ref); hookbridge.IsNotFound(err) {
			fe.body(fmt.Sprintf("no application has the id or uid %q", ref), loc...)
		}
	}
	if src.Routing.App != "" {
		check(src.Routing.App, "application")
	}
	for _, m := range sortedKeys(src.Routing.Merchants) {
		if m == "" {
			fe.body("merchant ids must not be empty", "merchantApplications")
			continue
		}
		check(src.Routing.Merchants[m], "merchantApplications", m)
	}
	return fe.err()
}

// source resolves {source_id}.
func (s *Server) source(r *http.Request) (*hookbridge.Source, error) {
	id := r.PathValue("source_id")
	if !hookbridge.HasPrefix(id, hookbridge.PrefixSource) {
		return nil, hookbridge.NotFound("source")
	}
	return s.store.GetSource(r.Context(), id)
}

func (s *Server) handleCreateSource(w http.ResponseWriter, r *http.Request) error {
	var in sourceIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	now := s.timeNow()
	src := &hookbridge.Source{ID: hookbridge.NewIDAt(hookbridge.PrefixSource, now), CreatedAt: now, UpdatedAt: now}
	if err := s.buildSource(r, &in, src, false); err != nil {
		return err
	}
	if err := s.store.CreateSource(r.Context(), src, actorOf(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.toSourceOut(r, src))
	return nil
}

func (s *Server) handleListSources(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixSource), true, hookbridge.OrderAscending)
	if err := fe.err(); err != nil {
		return err
	}
	page, err := s.store.ListSources(r.Context(), q.opt)
	if err != nil {
		return err
	}
	conv := func(src *hookbridge.Source) sourceOut { return s.toSourceOut(r, src) }
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(src *hookbridge.Source) string { return src.ID }, true))
	return nil
}

func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toSourceOut(r, src))
	return nil
}

// handleUpdateSource replaces a source's configuration; its rollout is
// left as it is.
func (s *Server) handleUpdateSource(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	var in sourceIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	if err := s.buildSource(r, &in, src, true); err != nil {
		return err
	}
	if err := s.store.UpdateSource(r.Context(), src); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toSourceOut(r, src))
	return nil
}

func (s *Server) handleDeleteSource(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSource(r.Context(), src.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rolloutPatch is the body of PATCH …/rollout: absent fields are kept,
// null clears a limit.
type rolloutPatch struct {
	State     optional[hookbridge.RolloutState] `json:"state"`
	Merchants optional[[]string]                `json:"merchants"`
	Percent   optional[int]                     `json:"percent"`
}

// handlePatchRollout changes a source's rollout; the store records who
// changed it, when, from what and to what.
func (s *Server) handlePatchRollout(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	var in rolloutPatch
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	next := src.Rollout
	var fe fieldErrors
	switch {
	case in.State.Null:
		fe.body(`must be "off", "shadow" or "on"`, "state")
	case in.State.Set:
		next.State = in.State.Value
	}
	if in.Merchants.Set {
		next.Merchants = nil
		if in.Merchants.has() && len(in.Merchants.Value) > 0 {
			next.Merchants = in.Merchants.Value
		}
	}
	if in.Percent.Set {
		next.Percent = nil
		if in.Percent.has() {
			p := in.Percent.Value
			next.Percent = &p
		}
	}
	checkRollout(next, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	actor := actorOf(r)
	updated, err := s.store.SetRollout(r.Context(), src.ID, next, actor, s.timeNow())
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "source rollout changed", "source", src.ID, "scheme", src.Scheme,
		"from", src.Rollout.State, "to", updated.Rollout.State, "actor", actor)
	writeJSON(w, http.StatusOK, s.toSourceOut(r, updated))
	return nil
}

// rolloutChangeOut is one entry of the rollout audit.
type rolloutChangeOut struct {
	ID    string     `json:"id"`
	Actor string     `json:"actor"`
	From  *rolloutIO `json:"from"` // null for the source's creation
	To    rolloutIO  `json:"to"`
	At    string     `json:"at"`
}

func toRolloutChangeOut(c *hookbridge.RolloutChange) rolloutChangeOut {
	out := rolloutChangeOut{
		ID: c.ID, Actor: c.Actor, At: formatTime(c.At),
		To: rolloutIO{State: c.To.State, Merchants: c.To.Merchants, Percent: c.To.Percent},
	}
	if c.From.State != "" {
		out.From = &rolloutIO{State: c.From.State, Merchants: c.From.Merchants, Percent: c.From.Percent}
	}
	return out
}

func (s *Server) handleListRolloutChanges(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixRollout), false, hookbridge.OrderDescending)
	if err := fe.err(); err != nil {
		return err
	}
	src, err := s.source(r)
	if err != nil {
		return err
	}
	page, err := s.store.ListRolloutChanges(r.Context(), src.ID, q.opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writePage(page, q, toRolloutChangeOut, func(c *hookbridge.RolloutChange) string { return c.ID }, true))
	return nil
}

// inboundEventOut is one received notification event, for audit.
type inboundEventOut struct {
	ID            string            `json:"id"`
	EventID       string            `json:"eventId"`
	Type          *string           `json:"type"`
	Merchant      *string           `json:"merchant"`
	ReceivedAt    string            `json:"receivedAt"`
	OccurredAt    *string           `json:"occurredAt"`
	Headers       map[string]string `json:"headers"`
	Body          *string           `json:"body,omitempty"`
	BodyEncoding  string            `json:"bodyEncoding,omitempty"` // "text" or "base64"
	BodyDroppedAt *string           `json:"bodyDroppedAt"`
	Note          string            `json:"note"`
	Forwarded     bool              `json:"forwarded"`
	ApplicationID *string           `json:"applicationId"`
	MessageIDs    []string          `json:"messageIds"`
	Payments      []paymentStepOut  `json:"payments"`
	Stale         bool              `json:"stale"`
	Held          bool              `json:"held"`
	ReleasedAt    *string           `json:"releasedAt"`
	ReleasedBy    *string           `json:"releasedBy"`
}

// paymentStepOut is what one canonical message of an event did to its
// payment.
type paymentStepOut struct {
	EventType      string  `json:"eventType"`
	PaymentID      string  `json:"paymentId"`
	Sequence       int64   `json:"sequence"`
	PreviousStatus *string `json:"previousStatus"`
	Status         *string `json:"status"`
	Stale          bool    `json:"stale"`
}

func toInboundEventOut(ev *hookbridge.InboundEvent, withContent bool) inboundEventOut {
	out := inboundEventOut{
		ID: ev.ID, EventID: ev.EventID, Type: nullable(ev.Type), Merchant: nullable(ev.Merchant),
		ReceivedAt: formatTime(ev.ReceivedAt), OccurredAt: formatTimePtr(ev.OccurredAt),
		Headers: emptyIfNil(ev.Headers), Note: ev.Note, Forwarded: ev.Forward,
		ApplicationID: nullable(ev.AppID), MessageIDs: ev.MessageIDs,
		BodyDroppedAt: formatTimePtr(ev.BodyDroppedAt), Payments: []paymentStepOut{},
		Stale: ev.Stale, Held: ev.Held, ReleasedAt: formatTimePtr(ev.ReleasedAt), ReleasedBy: nullable(ev.ReleasedBy),
	}
	if out.MessageIDs == nil {
		out.MessageIDs = []string{}
	}
	for _, p := range ev.Payments {
		if p.PaymentID == "" {
			continue
		}
		out.Payments = append(out.Payments, paymentStepOut{
			EventType: p.EventType, PaymentID: p.PaymentID, Sequence: p.Sequence,
			PreviousStatus: nullable(string(p.Previous)), Status: nullable(string(p.Status)), Stale: p.Stale,
		})
	}
	if withContent && ev.Body != nil {
		body, enc := string(ev.Body), "text"
		if !utf8.Valid(ev.Body) {
			body, enc = base64.StdEncoding.EncodeToString(ev.Body), "base64"
		}
		out.Body, out.BodyEncoding = &body, enc
	}
	return out
}

func (s *Server) handleListInboundEvents(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	q := listParams(query, &fe, idIterator(hookbridge.PrefixInbound), false, hookbridge.OrderDescending)
	withContent := boolParam(query, "with_content", true, &fe)
	held := boolParam(query, "held", false, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	src, err := s.source(r)
	if err != nil {
		return err
	}
	page, err := s.store.ListInboundEvents(r.Context(), src.ID, hookbridge.InboundFilter{ListOptions: q.opt, Held: held})
	if err != nil {
		return err
	}
	conv := func(ev *hookbridge.InboundEvent) inboundEventOut { return toInboundEventOut(ev, withContent) }
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(ev *hookbridge.InboundEvent) string { return ev.ID }, true))
	return nil
}

// inboundEvent resolves {source_id} and {event_id}.
func (s *Server) inboundEvent(r *http.Request) (*hookbridge.Source, string, error) {
	src, err := s.source(r)
	if err != nil {
		return nil, "", err
	}
	id := r.PathValue("event_id")
	if !hookbridge.HasPrefix(id, hookbridge.PrefixInbound) {
		return nil, "", hookbridge.NotFound("inbound event")
	}
	return src, id, nil
}

func (s *Server) handleGetInboundEvent(w http.ResponseWriter, r *http.Request) error {
	src, id, err := s.inboundEvent(r)
	if err != nil {
		return err
	}
	ev, err := s.store.GetInboundEvent(r.Context(), src.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInboundEventOut(ev, true))
	return nil
}

// handleReleaseInboundEvent releases an event its source's stale policy
// held, and forwards it as it arrived (with "stale": true). Releasing an
// event released before forwards it if that did not happen yet, and
// answers as the first release did; an event never held is a 409.
func (s *Server) handleReleaseInboundEvent(w http.ResponseWriter, r *http.Request) error {
	src, id, err := s.inboundEvent(r)
	if err != nil {
		return err
	}
	now := s.timeNow()
	actor := actorOf(r)
	ev, err := s.store.ReleaseInboundEvent(r.Context(), src.ID, id, actor, now)
	if err != nil {
		return err
	}
	if ev.Forward && ev.MessageIDs == nil {
		created, err := s.forward(r.Context(), s.traceParent(r), src, ev, nil, now)
		if err != nil {
			return err
		}
		if created {
			s.wakeCreated()
		}
		s.log.InfoContext(r.Context(), "held inbound event released", "source", src.ID, "event", ev.EventID, "actor", actor)
	}
	writeJSON(w, http.StatusOK, toInboundEventOut(ev, true))
	return nil
}

// observedIn is the body of POST …/observed: processor events the platform
// saw by polling.
type observedIn struct {
	Events []struct {
		EventID    *string `json:"eventId"`
		OccurredAt *string `json:"occurredAt"`
		SeenAt     *string `json:"seenAt"`
	} `json:"events"`
}

func (s *Server) handleObserved(w http.ResponseWriter, r *http.Request) error {
	src, err := s.source(r)
	if err != nil {
		return err
	}
	var in observedIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	switch n := len(in.Events); {
	case in.Events == nil:
		fe.body("field required", "events")
	case n > maxObservations:
		fe.body(fmt.Sprintf("must have at most %d items", maxObservations), "events")
	}
	now := s.timeNow()
	obs := make([]hookbridge.Observation, 0, len(in.Events))
	for i, e := range in.Events {
		at := func(field string) []string { return []string{"events", fmt.Sprint(i), field} }
		o := hookbridge.Observation{SourceID: src.ID, SeenAt: now}
		if e.EventID == nil || *e.EventID == "" || len(*e.EventID) > maxNameLen {
			fe.body(fmt.Sprintf("field required: the event's id as the source's events list shows it (1 to %d characters)", maxNameLen), at("eventId")...)
		} else {
			o.EventID = *e.EventID
		}
		if e.OccurredAt != nil {
			if o.OccurredAt, err = parseTime(*e.OccurredAt); err != nil {
				fe.body(err.Error(), at("occurredAt")...)
			}
		}
		if e.SeenAt != nil {
			if o.SeenAt, err = parseTime(*e.SeenAt); err != nil {
				fe.body(err.Error(), at("seenAt")...)
			} else if o.SeenAt.After(now.Add(time.Minute)) {
				fe.body("must not be in the future", at("seenAt")...)
			}
		}
		obs = append(obs, o)
	}
	if err := fe.err(); err != nil {
		return err
	}
	added, err := s.store.AddObservations(r.Context(), src.ID, obs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"added": added})
	return nil
}

// comparisonOut answers GET …/comparison.
type comparisonOut struct {
	Since        string                  `json:"since"`
	Until        string                  `json:"until"`
	Rollout      hookbridge.RolloutState `json:"rollout"`
	Webhook      int64                   `json:"webhook"`
	Polling      int64                   `json:"polling"`
	Both         int64                   `json:"both"`
	WebhookOnly  int64                   `json:"webhookOnly"`
	PollingOnly  int64                   `json:"pollingOnly"`
	Backfilled   int64                   `json:"backfilled"`
	LeadMedianMS *int64                  `json:"leadMedianMs"`
	LeadP95MS    *int64                  `json:"leadP95Ms"`
}

func (s *Server) handleComparison(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	since, until := timeParam(query, "since", &fe), timeParam(query, "until", &fe)
	if err := fe.err(); err != nil {
		return err
	}
	src, err := s.source(r)
	if err != nil {
		return err
	}
	if until.IsZero() {
		until = s.timeNow().Add(time.Millisecond) // include what arrived this millisecond
	}
	if since.IsZero() {
		since = until.Add(-defaultComparisonAge)
	}
	if !since.Before(until) {
		fe.query("since", "must be before until")
		return fe.err()
	}
	c, err := s.store.CompareObservations(r.Context(), src.ID, since, until)
	if err != nil {
		return err
	}
	out := comparisonOut{
		Since: formatTime(since), Until: formatTime(until), Rollout: src.Rollout.State,
		Webhook: c.Webhook, Polling: c.Polling, Both: c.Both, WebhookOnly: c.WebhookOnly, PollingOnly: c.PollingOnly,
		Backfilled: c.Backfilled,
	}
	if d, ok := c.LeadPercentile(50); ok {
		ms := d.Milliseconds()
		out.LeadMedianMS = &ms
	}
	if d, ok := c.LeadPercentile(95); ok {
		ms := d.Milliseconds()
		out.LeadP95MS = &ms
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
