package api

import (
	"context"
	"net/http"

	"github.com/hookbridge/hookbridge"
)

// applicationIn is Svix's ApplicationIn (POST /app, PUT /app/{id}, and the
// optional application of a message). throttleRate is accepted as an alias
// of rateLimit.
type applicationIn struct {
	Name         *string           `json:"name"`
	UID          *string           `json:"uid"`
	RateLimit    *int              `json:"rateLimit"`
	ThrottleRate *int              `json:"throttleRate"`
	Metadata     map[string]string `json:"metadata"`
}

// validate checks the fields; path locates the object in the body (empty
// at the top level, "application" inside a message).
func (in *applicationIn) validate(fe *fieldErrors, path ...string) {
	at := func(field string) []string { return append(append([]string{}, path...), field) }
	switch {
	case in.Name == nil:
		fe.body("field required", at("name")...)
	case *in.Name == "":
		fe.body("must be at least one character", at("name")...)
	default:
		if msg := checkText(*in.Name); msg != "" {
			fe.body(msg, at("name")...)
		}
	}
	if in.UID != nil {
		if msg := checkUID(*in.UID, hookbridge.PrefixApplication); msg != "" {
			fe.body(msg, at("uid")...)
		}
	}
	if rl, field := in.rateLimit(); rl != nil {
		if msg := checkRateLimit(*rl); msg != "" {
			fe.body(msg, at(field)...)
		}
	}
	checkMetadata(in.Metadata, fe, at("metadata")...)
}

// rateLimit returns the rate limit under whichever name was used.
func (in *applicationIn) rateLimit() (*int, string) {
	if in.RateLimit != nil || in.ThrottleRate == nil {
		return in.RateLimit, "rateLimit"
	}
	return in.ThrottleRate, "throttleRate"
}

// apply sets every field of app from in (a replace, as PUT is).
func (in *applicationIn) apply(app *hookbridge.Application) {
	app.Name = *in.Name
	app.UID = ""
	if in.UID != nil {
		app.UID = *in.UID
	}
	app.RateLimit, _ = in.rateLimit()
	app.Metadata = emptyIfNil(in.Metadata)
}

// applicationPatch is Svix's ApplicationPatch: absent fields stay, null
// clears the nullable ones (uid, rateLimit).
type applicationPatch struct {
	Name         optional[string]            `json:"name"`
	UID          optional[string]            `json:"uid"`
	RateLimit    optional[int]               `json:"rateLimit"`
	ThrottleRate optional[int]               `json:"throttleRate"`
	Metadata     optional[map[string]string] `json:"metadata"`
}

// applicationOut is Svix's ApplicationOut. The rate limit is written under
// both its names, as the Svix server does: throttleRate, the reference's,
// and rateLimit, which older SDKs read.
type applicationOut struct {
	UID          *string           `json:"uid,omitempty"`
	Name         string            `json:"name"`
	RateLimit    *int              `json:"rateLimit,omitempty"`
	ThrottleRate *int              `json:"throttleRate,omitempty"`
	ID           string            `json:"id"`
	CreatedAt    string            `json:"createdAt"`
	UpdatedAt    string            `json:"updatedAt"`
	Metadata     map[string]string `json:"metadata"`
}

func toApplicationOut(a *hookbridge.Application) applicationOut {
	return applicationOut{
		UID:          nullable(a.UID),
		Name:         a.Name,
		RateLimit:    a.RateLimit,
		ThrottleRate: a.RateLimit,
		ID:           a.ID,
		CreatedAt:    formatTime(a.CreatedAt),
		UpdatedAt:    formatTime(a.UpdatedAt),
		Metadata:     emptyIfNil(a.Metadata),
	}
}

// application resolves the {app_id} of the request, an id or a uid.
func (s *Server) application(r *http.Request) (*hookbridge.Application, error) {
	return s.store.GetApplication(r.Context(), r.PathValue("app_id"))
}

// checkedApplication answers the request's input errors in fe, if any,
// before it reads the application {app_id} names: bad input is 4xx
// whether or not the application exists.
func (s *Server) checkedApplication(r *http.Request, fe *fieldErrors) (*hookbridge.Application, error) {
	if err := fe.err(); err != nil {
		return nil, err
	}
	return s.application(r)
}

func (s *Server) handleListApplications(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixApplication), true, hookbridge.OrderAscending)
	if err := fe.err(); err != nil {
		return err
	}
	page, err := s.store.ListApplications(r.Context(), q.opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writePage(page, q, toApplicationOut, func(a *hookbridge.Application) string { return a.ID }, true))
	return nil
}

// handleCreateApplication creates an application. A taken uid is 409, or,
// with get_if_exists=true, answers the existing application with 200.
func (s *Server) handleCreateApplication(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	getIfExists := boolParam(r.URL.Query(), "get_if_exists", false, &fe)
	var in applicationIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	in.validate(&fe)
	if err := fe.err(); err != nil {
		return err
	}
	app, created, err := s.createApplication(r.Context(), &in, "", getIfExists)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, toApplicationOut(app))
	return nil
}

// createApplication creates the application described by in (validated),
// with uid as its uid when in has none. When the uid is taken it returns
// the existing application if getIfExists, else ECONFLICT.
func (s *Server) createApplication(ctx context.Context, in *applicationIn, uid string, getIfExists bool) (*hookbridge.Application, bool, error) {
	now := s.timeNow()
	app := &hookbridge.Application{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixApplication, now),
		CreatedAt: now,
		UpdatedAt: now,
	}
	in.apply(app)
	if app.UID == "" {
		app.UID = uid
	}
	if app.UID != "" {
		existing, err := s.store.GetApplication(ctx, app.UID)
		switch {
		case err == nil && getIfExists:
			return existing, false, nil
		case err == nil:
			return nil, false, hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", app.UID)
		case !hookbridge.IsNotFound(err):
			return nil, false, err
		}
	}
	err := s.store.CreateApplication(ctx, app)
	if hookbridge.ErrorCode(err) == hookbridge.ECONFLICT && getIfExists {
		// Created by a concurrent request since we looked.
		existing, gerr := s.store.GetApplication(ctx, app.UID)
		if gerr == nil {
			return existing, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return app, true, nil
}

func (s *Server) handleGetApplication(w http.ResponseWriter, r *http.Request) error {
	app, err := s.application(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApplicationOut(app))
	return nil
}

// handleUpdateApplication replaces an application, or creates it (201)
// when {app_id} names none: with the uid of the body, else {app_id} itself
// as the uid.
func (s *Server) handleUpdateApplication(w http.ResponseWriter, r *http.Request) error {
	var in applicationIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	in.validate(&fe)
	app, err := s.checkedApplication(r, &fe)
	if hookbridge.IsNotFound(err) {
		pathID := r.PathValue("app_id")
		if in.UID == nil && checkUID(pathID, hookbridge.PrefixApplication) != "" {
			return err // an id, or not a possible uid: nothing to create
		}
		app, _, err = s.createApplication(r.Context(), &in, pathID, false)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, toApplicationOut(app))
		return nil
	}
	if err != nil {
		return err
	}
	in.apply(app)
	if err := s.store.UpdateApplication(r.Context(), app); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApplicationOut(app))
	return nil
}

func (s *Server) handlePatchApplication(w http.ResponseWriter, r *http.Request) error {
	var in applicationPatch
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	if in.Name.Set {
		switch {
		case in.Name.Null:
			fe.body("must not be null", "name")
		case in.Name.Value == "":
			fe.body("must be at least one character", "name")
		default:
			if msg := checkText(in.Name.Value); msg != "" {
				fe.body(msg, "name")
			}
		}
	}
	if in.UID.has() {
		if msg := checkUID(in.UID.Value, hookbridge.PrefixApplication); msg != "" {
			fe.body(msg, "uid")
		}
	}
	rateLimit, rlField := pick(in.RateLimit, "rateLimit", in.ThrottleRate, "throttleRate")
	if rateLimit.has() {
		if msg := checkRateLimit(rateLimit.Value); msg != "" {
			fe.body(msg, rlField)
		}
	}
	if in.Metadata.Null {
		fe.body("must be an object", "metadata")
	}
	checkMetadata(in.Metadata.Value, &fe, "metadata")
	if err := fe.err(); err != nil {
		return err
	}

	app, err := s.application(r)
	if err != nil {
		return err
	}
	if in.Name.Set {
		app.Name = in.Name.Value
	}
	if in.UID.Set {
		app.UID = in.UID.Value // "" when null
	}
	if rateLimit.Set {
		app.RateLimit = nil
		if rateLimit.has() {
			app.RateLimit = &rateLimit.Value
		}
	}
	if in.Metadata.Set {
		app.Metadata = emptyIfNil(in.Metadata.Value)
	}
	if err := s.store.UpdateApplication(r.Context(), app); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApplicationOut(app))
	return nil
}

func (s *Server) handleDeleteApplication(w http.ResponseWriter, r *http.Request) error {
	app, err := s.application(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteApplication(r.Context(), app.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
