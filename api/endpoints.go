package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/webhook"
)

// endpointIn is Svix's EndpointIn (POST) and, without secret, EndpointUpdate
// (PUT). filterTypes has the alias eventTypes and rateLimit the alias
// throttleRate. A null or absent list means no filter; an empty list is
// refused, as in Svix.
type endpointIn struct {
	endpointFields
	Version     *int              `json:"version"` // deprecated in Svix; accepted and checked, always 1
	FilterTypes []string          `json:"filterTypes"`
	EventTypes  []string          `json:"eventTypes"`
	Channels    []string          `json:"channels"`
	Headers     map[string]string `json:"headers"`
	// FIFO is a Hookbridge addition: strict message order for this
	// endpoint. Absent keeps it as it is, as Svix SDKs never send it.
	FIFO *bool `json:"fifo"`
	// Filter is a Hookbridge addition: a CEL expression over the message
	// (package filter), read back at …/filter. Absent keeps it as it is;
	// null or a blank string removes it.
	Filter optional[string] `json:"filter"`
}

// validEndpoint is a checked endpointIn, normalised.
type validEndpoint struct {
	in         *endpointIn
	eventTypes []string // nil: no filter
	channels   []string // nil: no filter
	rateLimit  *int
	secret     string // "" when none was given
	filter     string // when in.Filter.Set: "" for none
}

// validateEndpointIn checks every field of in, including that the event
// types it filters on exist.
func (s *Server) validateEndpointIn(ctx context.Context, in *endpointIn, withSecret bool) (*validEndpoint, error) {
	var fe fieldErrors
	v := &validEndpoint{in: in}
	if in.URL == nil {
		fe.body("field required", "url")
	} else if msg := s.checkURL(*in.URL); msg != "" {
		fe.body(msg, "url")
	}
	if msg := checkText(in.Description); msg != "" {
		fe.body(msg, "description")
	}
	checkMetadata(in.Metadata, &fe, "metadata")
	if in.UID != nil {
		if msg := checkUID(*in.UID, hookbridge.PrefixEndpoint); msg != "" {
			fe.body(msg, "uid")
		}
	}
	v.rateLimit = in.RateLimit
	rlField := "rateLimit"
	if in.RateLimit == nil && in.ThrottleRate != nil {
		v.rateLimit, rlField = in.ThrottleRate, "throttleRate"
	}
	if v.rateLimit != nil {
		if msg := checkRateLimit(*v.rateLimit); msg != "" {
			fe.body(msg, rlField)
		}
	}
	if in.Version != nil && *in.Version < 1 {
		fe.body("must be at least 1", "version")
	}
	typesField := "filterTypes"
	types := in.FilterTypes
	if types == nil && in.EventTypes != nil {
		types, typesField = in.EventTypes, "eventTypes"
	}
	if types != nil {
		v.eventTypes = normalizeSet(types, maxNameLen, 0, &fe, typesField)
	}
	if in.Channels != nil {
		v.channels = normalizeSet(in.Channels, maxChannelLen, maxEndpointChannels, &fe, "channels")
	}
	if withSecret && in.Secret != nil {
		var msg string
		if v.secret, msg = normalizeSecret(*in.Secret); msg != "" {
			fe.body(msg, "secret")
		}
	}
	checkHeaders(in.Headers, &fe)
	if in.Filter.Set {
		v.filter = checkFilter(in.Filter.Value, &fe, "filter")
	}
	if len(fe) == 0 && len(v.eventTypes) > 0 {
		missing, err := s.store.MissingEventTypes(ctx, v.eventTypes)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, missingEventTypes(missing, typesField)
		}
	}
	return v, fe.err()
}

// apply sets every field that PUT replaces. Headers are replaced only when
// given: Svix's EndpointUpdate has none, so an SDK update keeps them. A
// URL sent back as it was shown, its password masked, keeps the stored
// password (unmaskURL); it fails only for that.
func (v *validEndpoint) apply(ep *hookbridge.Endpoint) error {
	in := v.in
	url, err := unmaskURL(*in.URL, ep.URL)
	if err != nil {
		return err
	}
	ep.URL = url
	ep.Description = in.Description
	ep.UID = ""
	if in.UID != nil {
		ep.UID = *in.UID
	}
	ep.RateLimit = v.rateLimit
	ep.Disabled = in.Disabled
	ep.EventTypes = v.eventTypes
	ep.Channels = v.channels
	ep.Metadata = emptyIfNil(in.Metadata)
	if in.Headers != nil {
		ep.Headers = in.Headers
	}
	if ep.Headers == nil {
		ep.Headers = map[string]string{}
	}
	if in.FIFO != nil {
		ep.FIFO = *in.FIFO
	}
	if in.Filter.Set {
		ep.Filter = v.filter
	}
	return nil
}

// endpointPatch is Svix's EndpointPatch.
type endpointPatch struct {
	URL          optional[string]            `json:"url"`
	Description  optional[string]            `json:"description"`
	UID          optional[string]            `json:"uid"`
	RateLimit    optional[int]               `json:"rateLimit"`
	ThrottleRate optional[int]               `json:"throttleRate"`
	Version      optional[int]               `json:"version"`
	Disabled     optional[bool]              `json:"disabled"`
	FilterTypes  optional[[]string]          `json:"filterTypes"`
	EventTypes   optional[[]string]          `json:"eventTypes"`
	Channels     optional[[]string]          `json:"channels"`
	Secret       optional[string]            `json:"secret"`
	Metadata     optional[map[string]string] `json:"metadata"`
	FIFO         optional[bool]              `json:"fifo"`   // Hookbridge addition
	Filter       optional[string]            `json:"filter"` // Hookbridge addition; null removes it
}

// endpointCommon is the part of Svix's EndpointOut shared with
// MessageEndpointOut. The event types and the rate limit are written under
// both their names, as the Svix server does: eventTypes and throttleRate,
// the reference's, and filterTypes and rateLimit, which older SDKs read;
// version (always 1) is still written by the Svix server too.
type endpointCommon struct {
	ID           string   `json:"id"`
	Description  string   `json:"description"`
	RateLimit    *int     `json:"rateLimit"`
	ThrottleRate *int     `json:"throttleRate"`
	UID          *string  `json:"uid"`
	URL          string   `json:"url"`
	Version      int      `json:"version"`
	Disabled     bool     `json:"disabled"`
	FilterTypes  []string `json:"filterTypes"`
	EventTypes   []string `json:"eventTypes"`
	Channels     []string `json:"channels"`
	CreatedAt    string   `json:"createdAt"`
	UpdatedAt    string   `json:"updatedAt"`
}

// endpointOut is Svix's EndpointOut, and nothing more: Svix SDKs decode it
// as their model, so Hookbridge's own settings of an endpoint (strict
// order, the filter) are sub-resources, …/endpoint/{endpoint_id}/fifo and
// …/filter. The URL is shown with its password masked (a broker's), as
// everywhere.
type endpointOut struct {
	endpointCommon
	Metadata map[string]string `json:"metadata"`
}

func toEndpointCommon(ep *hookbridge.Endpoint) endpointCommon {
	return endpointCommon{
		ID:           ep.ID,
		Description:  ep.Description,
		RateLimit:    ep.RateLimit,
		ThrottleRate: ep.RateLimit,
		UID:          nullable(ep.UID),
		URL:          hookbridge.MaskURL(ep.URL),
		Version:      1,
		Disabled:     ep.Disabled,
		FilterTypes:  nilIfEmpty(ep.EventTypes),
		EventTypes:   nilIfEmpty(ep.EventTypes),
		Channels:     nilIfEmpty(ep.Channels),
		CreatedAt:    formatTime(ep.CreatedAt),
		UpdatedAt:    formatTime(ep.UpdatedAt),
	}
}

func toEndpointOut(ep *hookbridge.Endpoint) endpointOut {
	return endpointOut{endpointCommon: toEndpointCommon(ep), Metadata: emptyIfNil(ep.Metadata)}
}

// endpoint resolves {app_id} and {endpoint_id} (each an id or a uid); an
// endpoint of another application is not found.
func (s *Server) endpoint(r *http.Request) (*hookbridge.Application, *hookbridge.Endpoint, error) {
	app, err := s.application(r)
	if err != nil {
		return nil, nil, err
	}
	ep, err := s.store.GetEndpoint(r.Context(), app.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return nil, nil, err
	}
	return app, ep, nil
}

// handleListEndpoints lists an application's endpoints, newest first by
// default as in Svix.
func (s *Server) handleListEndpoints(w http.ResponseWriter, r *http.Request) error {
	return listEndpoints(s, w, r, s.application, toEndpointOut)
}

// listEndpoints answers a list of the endpoints of the application that
// resolve finds, newest first by default, each written with out. The
// application's endpoints and the operator's operational endpoints share it.
func listEndpoints[O any](s *Server, w http.ResponseWriter, r *http.Request,
	resolve func(*http.Request) (*hookbridge.Application, error), out func(*hookbridge.Endpoint) O) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixEndpoint), true, hookbridge.OrderDescending)
	if err := fe.err(); err != nil {
		return err
	}
	app, err := resolve(r)
	if err != nil {
		return err
	}
	page, err := s.store.ListEndpoints(r.Context(), app.ID, q.opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writePage(page, q, out, func(ep *hookbridge.Endpoint) string { return ep.ID }, true))
	return nil
}

// handleCreateEndpoint adds an endpoint; without a secret, one is generated.
func (s *Server) handleCreateEndpoint(w http.ResponseWriter, r *http.Request) error {
	app, v, err := s.readEndpointIn(r, true)
	if err != nil {
		return err
	}
	ep, err := s.createEndpoint(r.Context(), app, v, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toEndpointOut(ep))
	return nil
}

// readEndpointIn reads the endpointIn body of a request on the path's
// application and validates it; withSecret for a create, which may set the
// secret.
func (s *Server) readEndpointIn(r *http.Request, withSecret bool) (*hookbridge.Application, *validEndpoint, error) {
	var in endpointIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return nil, nil, err
	}
	app, err := s.application(r)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.validateEndpointIn(r.Context(), &in, withSecret)
	if err != nil {
		return nil, nil, err
	}
	return app, v, nil
}

// createEndpoint stores a new endpoint of app from v, with uid as its uid
// when v has none.
func (s *Server) createEndpoint(ctx context.Context, app *hookbridge.Application, v *validEndpoint, uid string) (*hookbridge.Endpoint, error) {
	secret := v.secret
	if secret == "" {
		var err error
		if secret, err = webhook.NewSecret(); err != nil {
			return nil, fmt.Errorf("new endpoint secret: %w", err)
		}
	}
	now := s.timeNow()
	ep := &hookbridge.Endpoint{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixEndpoint, now),
		AppID:     app.ID,
		Secrets:   []hookbridge.Secret{{Key: secret}},
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := v.apply(ep); err != nil {
		return nil, err
	}
	if ep.UID == "" {
		ep.UID = uid
	}
	if err := s.store.CreateEndpoint(ctx, ep); err != nil {
		return nil, err
	}
	s.eventsRecorded()
	return ep, nil
}

// replaceEndpoint stores ep with the settings of v in place of its own, as
// a PUT does; its secrets stay.
func (s *Server) replaceEndpoint(ctx context.Context, ep *hookbridge.Endpoint, v *validEndpoint) error {
	if err := v.apply(ep); err != nil {
		return err
	}
	return s.updateEndpoint(ctx, ep)
}

func (s *Server) handleGetEndpoint(w http.ResponseWriter, r *http.Request) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

// handleUpdateEndpoint replaces an endpoint's settings (its secrets and,
// unless given, its headers stay), or creates it (201) when {endpoint_id}
// names none: with the uid of the body, else {endpoint_id} as the uid.
func (s *Server) handleUpdateEndpoint(w http.ResponseWriter, r *http.Request) error {
	app, v, err := s.readEndpointIn(r, false)
	if err != nil {
		return err
	}
	ep, err := s.store.GetEndpoint(r.Context(), app.ID, r.PathValue("endpoint_id"))
	if hookbridge.IsNotFound(err) {
		pathID := r.PathValue("endpoint_id")
		if v.in.UID == nil && checkUID(pathID, hookbridge.PrefixEndpoint) != "" {
			return err
		}
		ep, err = s.createEndpoint(r.Context(), app, v, pathID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, toEndpointOut(ep))
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.replaceEndpoint(r.Context(), ep, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

// handlePatchEndpoint changes the fields present in the body. A secret
// given here replaces the current one at once (use rotate for a grace
// period).
func (s *Server) handlePatchEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in endpointPatch
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	ctx := r.Context()

	var fe fieldErrors
	notNull := func(set, null bool, field string) {
		if set && null {
			fe.body("must not be null", field)
		}
	}
	notNull(in.URL.Set, in.URL.Null, "url")
	notNull(in.Description.Set, in.Description.Null, "description")
	notNull(in.Disabled.Set, in.Disabled.Null, "disabled")
	notNull(in.Metadata.Set, in.Metadata.Null, "metadata")
	notNull(in.Version.Set, in.Version.Null, "version")
	notNull(in.FIFO.Set, in.FIFO.Null, "fifo")
	checkMetadata(in.Metadata.Value, &fe, "metadata")
	if in.URL.has() {
		if msg := s.checkURL(in.URL.Value); msg != "" {
			fe.body(msg, "url")
		}
	}
	if in.Description.has() {
		if msg := checkText(in.Description.Value); msg != "" {
			fe.body(msg, "description")
		}
	}
	if in.UID.has() {
		if msg := checkUID(in.UID.Value, hookbridge.PrefixEndpoint); msg != "" {
			fe.body(msg, "uid")
		}
	}
	rateLimit, rlField := pick(in.RateLimit, "rateLimit", in.ThrottleRate, "throttleRate")
	if rateLimit.has() {
		if msg := checkRateLimit(rateLimit.Value); msg != "" {
			fe.body(msg, rlField)
		}
	}
	if in.Version.has() && in.Version.Value < 1 {
		fe.body("must be at least 1", "version")
	}
	types, typesField := pick(in.FilterTypes, "filterTypes", in.EventTypes, "eventTypes")
	var eventTypes, channels []string
	if types.has() {
		eventTypes = normalizeSet(types.Value, maxNameLen, 0, &fe, typesField)
	}
	if in.Channels.has() {
		channels = normalizeSet(in.Channels.Value, maxChannelLen, maxEndpointChannels, &fe, "channels")
	}
	var filterExpr string
	if in.Filter.Set {
		filterExpr = checkFilter(in.Filter.Value, &fe, "filter")
	}
	var secret string
	if in.Secret.has() {
		var msg string
		if secret, msg = normalizeSecret(in.Secret.Value); msg != "" {
			fe.body(msg, "secret")
		}
	}
	if len(fe) == 0 && len(eventTypes) > 0 {
		missing, err := s.store.MissingEventTypes(ctx, eventTypes)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return missingEventTypes(missing, typesField)
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	if in.URL.Set {
		url, err := unmaskURL(in.URL.Value, ep.URL)
		if err != nil {
			return err
		}
		ep.URL = url
	}
	if in.Description.Set {
		ep.Description = in.Description.Value
	}
	if in.UID.Set {
		ep.UID = in.UID.Value
	}
	if rateLimit.Set {
		ep.RateLimit = nil
		if rateLimit.has() {
			ep.RateLimit = &rateLimit.Value
		}
	}
	if in.Disabled.Set {
		ep.Disabled = in.Disabled.Value
	}
	if in.FIFO.Set {
		ep.FIFO = in.FIFO.Value
	}
	if in.Filter.Set {
		ep.Filter = filterExpr
	}
	if types.Set {
		ep.EventTypes = eventTypes // nil when null: no filter
	}
	if in.Channels.Set {
		ep.Channels = channels
	}
	if in.Metadata.Set {
		ep.Metadata = emptyIfNil(in.Metadata.Value)
	}
	now := s.timeNow()
	if secret != "" {
		ep.Secrets = append([]hookbridge.Secret{{Key: secret}}, liveOldSecrets(ep.Secrets, now)...)
	}
	if err := s.updateEndpoint(ctx, ep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

func (s *Server) handleDeleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEndpoint(r.Context(), app.ID, ep.ID); err != nil {
		return err
	}
	s.eventsRecorded()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// updateEndpoint stores the changed ep; the store records endpoint.updated
// with it.
func (s *Server) updateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	if err := s.store.UpdateEndpoint(ctx, ep); err != nil {
		return err
	}
	s.eventsRecorded()
	return nil
}

// eventsRecorded is called after a write that recorded an operational event
// (the store records endpoint.created, endpoint.updated and
// endpoint.deleted with the change).
func (s *Server) eventsRecorded() {
	if s.onEvents != nil {
		s.onEvents()
	}
}

// liveOldSecrets returns the rotated-out secrets of secrets (all but the
// first) that still sign at now.
func liveOldSecrets(secrets []hookbridge.Secret, now time.Time) []hookbridge.Secret {
	var out []hookbridge.Secret
	for i, sec := range secrets {
		if i > 0 && !sec.Expires.IsZero() && now.Before(sec.Expires) {
			out = append(out, sec)
		}
	}
	return out
}
