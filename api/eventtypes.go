package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// eventTypeIn is Svix's EventTypeIn (POST) and, without name, EventTypeUpdate
// (PUT).
type eventTypeIn struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Archived    bool            `json:"archived"`
	Deprecated  bool            `json:"deprecated"`
	Schemas     json.RawMessage `json:"schemas"`
	FeatureFlag *string         `json:"featureFlag"`
	// RetrySchedule is input-only (see eventtype_schedule.go): absent
	// keeps the stored schedule, null removes it.
	RetrySchedule optional[[]string] `json:"retrySchedule"`

	retry     []time.Duration // read by validate
	keepRetry bool
}

// validate checks the fields, naming the wrong ones; withName for POST,
// where the name is in the body rather than the path.
func (in *eventTypeIn) validate(withName bool) error {
	var fe fieldErrors
	if withName {
		if in.Name == nil {
			fe.body("field required", "name")
		} else if msg := checkLimitedString(*in.Name, maxNameLen); msg != "" {
			fe.body(msg, "name")
		}
	}
	if in.Description == nil {
		fe.body("field required", "description")
	} else if msg := checkText(*in.Description); msg != "" {
		fe.body(msg, "description")
	}
	checkSchemas(in.Schemas, &fe)
	if in.FeatureFlag != nil {
		if msg := checkLimitedString(*in.FeatureFlag, maxNameLen); msg != "" {
			fe.body(msg, "featureFlag")
		}
	}
	in.retry, in.keepRetry = retryScheduleField(in.RetrySchedule, &fe)
	return fe.err()
}

// apply sets every field of et from in (a replace).
func (in *eventTypeIn) apply(et *hookbridge.EventType) {
	et.Description = *in.Description
	et.Archived = in.Archived
	et.Deprecated = in.Deprecated
	et.Schemas = schemasOrNil(in.Schemas)
	et.FeatureFlag = ""
	if in.FeatureFlag != nil {
		et.FeatureFlag = *in.FeatureFlag
	}
	if !in.keepRetry {
		et.RetrySchedule = in.retry
	}
}

// checkSchemas checks that schemas, when given, is a JSON object of objects
// (JSON Schemas keyed by version).
func checkSchemas(raw json.RawMessage, fe *fieldErrors) {
	if schemasOrNil(raw) == nil {
		return
	}
	var versions map[string]json.RawMessage
	if err := json.Unmarshal(raw, &versions); err != nil {
		fe.body("must be an object of JSON Schemas keyed by version", "schemas")
		return
	}
	for _, v := range sortedKeys(versions) {
		if !isJSONObject(versions[v]) {
			fe.body("must be a JSON Schema object", "schemas", v)
		}
	}
	var doc any
	if json.Unmarshal(raw, &doc) == nil && containsNUL(doc) {
		// Text in a database (PostgreSQL's jsonb, for one) cannot hold it.
		fe.body("must not contain the character U+0000", "schemas")
	}
}

// containsNUL reports whether any string (key or value) in a decoded JSON
// value contains U+0000.
func containsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		return slices.ContainsFunc(v, containsNUL)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || containsNUL(e) {
				return true
			}
		}
	}
	return false
}

// schemasOrNil returns raw, or nil for an absent or null value.
func schemasOrNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// isJSONObject reports whether raw (valid JSON) is an object.
func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// eventTypePatch is Svix's EventTypePatch.
type eventTypePatch struct {
	Description optional[string]          `json:"description"`
	Archived    optional[bool]            `json:"archived"`
	Deprecated  optional[bool]            `json:"deprecated"`
	Schemas     optional[json.RawMessage] `json:"schemas"`
	FeatureFlag optional[string]          `json:"featureFlag"`
	// RetrySchedule is input-only, as in eventTypeIn.
	RetrySchedule optional[[]string] `json:"retrySchedule"`
}

// eventTypeOut is Svix's EventTypeOut.
type eventTypeOut struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Archived    bool            `json:"archived"`
	Deprecated  bool            `json:"deprecated"`
	Schemas     json.RawMessage `json:"schemas"`
	CreatedAt   string          `json:"createdAt"`
	UpdatedAt   string          `json:"updatedAt"`
	FeatureFlag *string         `json:"featureFlag"`
}

func toEventTypeOut(et *hookbridge.EventType) eventTypeOut {
	schemas := et.Schemas
	if schemas == nil {
		schemas = json.RawMessage("null")
	}
	return eventTypeOut{
		Name:        et.Name,
		Description: et.Description,
		Archived:    et.Archived,
		Deprecated:  et.Deprecated,
		Schemas:     schemas,
		CreatedAt:   formatTime(et.CreatedAt),
		UpdatedAt:   formatTime(et.UpdatedAt),
		FeatureFlag: nullable(et.FeatureFlag),
	}
}

// eventTypeName reads and checks {event_type_name}.
func eventTypeName(r *http.Request) (string, error) {
	name := r.PathValue("event_type_name")
	if msg := checkLimitedString(name, maxNameLen); msg != "" {
		var fe fieldErrors
		fe.add(msg, "path", "event_type_name")
		return "", fe.err()
	}
	return name, nil
}

// handleListEventTypes lists the catalogue by name. Schemas are left out
// unless with_content=true, and archived types unless include_archived=true,
// as in Svix. An application's key sees the catalogue as its portal does:
// see visibleEventTypes.
func (s *Server) handleListEventTypes(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	validName := func(it string) bool { return checkLimitedString(it, maxNameLen) == "" }
	q := listParams(query, &fe, validName, true, hookbridge.OrderAscending)
	includeArchived := boolParam(query, "include_archived", false, &fe)
	withContent := boolParam(query, "with_content", false, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	var (
		page hookbridge.Page[hookbridge.EventType]
		err  error
	)
	if access := appAccess(r); access != nil {
		page, err = s.visibleEventTypes(r.Context(), access, q.opt, includeArchived)
	} else {
		page, err = s.store.ListEventTypes(r.Context(), q.opt, includeArchived)
	}
	if err != nil {
		return err
	}

	conv := func(et *hookbridge.EventType) eventTypeOut {
		out := toEventTypeOut(et)
		if !withContent {
			out.Schemas = json.RawMessage("null")
		}
		return out
	}
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(et *hookbridge.EventType) string { return et.Name }, true))
	return nil
}

// visibleEventTypes is the page of the catalogue that access may see:
// opt.Limit event types it sees (those gated by a feature flag it was not
// given are skipped), read on through the store's pages until there are
// that many or the catalogue ends. The page's iterators are made from its
// own items only, so that neither iterator names a hidden type, and Done
// says whether another visible one follows.
func (s *Server) visibleEventTypes(ctx context.Context, access *PortalAccess, opt hookbridge.ListOptions, includeArchived bool) (hookbridge.Page[hookbridge.EventType], error) {
	want := opt.Limit
	read := opt
	read.Limit = hookbridge.MaxListLimit
	var seen []hookbridge.EventType
	for {
		page, err := s.store.ListEventTypes(ctx, read, includeArchived)
		if err != nil {
			return page, err
		}
		for i := range page.Data {
			if access.sees(&page.Data[i]) {
				if len(seen) == want {
					// One more follows: this page is full, and not the last.
					return hookbridge.Page[hookbridge.EventType]{Data: seen}, nil
				}
				seen = append(seen, page.Data[i])
			}
		}
		if page.Done || len(page.Data) == 0 {
			return hookbridge.Page[hookbridge.EventType]{Data: seen, Done: true}, nil
		}
		read.Iterator = page.Data[len(page.Data)-1].Name
	}
}

// handleCreateEventType adds an event type. Creating one that is archived
// unarchives it with the new fields (201, as in Svix); one that exists is
// 409.
func (s *Server) handleCreateEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	if err := in.validate(true); err != nil {
		return err
	}
	ctx := r.Context()
	existing, err := s.store.GetEventType(ctx, *in.Name)
	switch {
	case err == nil && existing.Archived:
		in.apply(existing)
		return s.saveEventType(ctx, w, existing, false, http.StatusCreated)
	case err == nil:
		return hookbridge.Errorf(hookbridge.ECONFLICT, "an event type named %q already exists", *in.Name)
	case !hookbridge.IsNotFound(err):
		return err
	}
	et := &hookbridge.EventType{Name: *in.Name}
	in.apply(et)
	return s.saveEventType(ctx, w, et, true, http.StatusCreated)
}

// saveEventType stores et, a new event type or a changed one (written only
// if unchanged since it was read), tells the dispatcher its retry schedule
// may have changed, and writes it with status.
func (s *Server) saveEventType(ctx context.Context, w http.ResponseWriter, et *hookbridge.EventType, isNew bool, status int) error {
	var err error
	if isNew {
		now := s.timeNow()
		et.CreatedAt, et.UpdatedAt = now, now
		err = s.store.CreateEventType(ctx, et)
	} else {
		err = s.store.UpdateEventType(ctx, et)
	}
	if err != nil {
		return err
	}
	s.retryScheduleChanged(et.Name)
	writeJSON(w, status, toEventTypeOut(et))
	return nil
}

// checkedEventType answers the request's input errors in fe, if any,
// before it reads the event type name: bad input is 4xx whether or not
// the event type exists.
func (s *Server) checkedEventType(ctx context.Context, name string, fe *fieldErrors) (*hookbridge.EventType, error) {
	if err := fe.err(); err != nil {
		return nil, err
	}
	return s.store.GetEventType(ctx, name)
}

// eventTypeBody reads {event_type_name} and decodes the request's body
// into in.
func (s *Server) eventTypeBody(r *http.Request, in any) (string, error) {
	name, err := eventTypeName(r)
	if err != nil {
		return "", err
	}
	return name, s.decodeBody(r, in, false)
}

// eventType reads {event_type_name} and the event type it names.
func (s *Server) eventType(r *http.Request) (*hookbridge.EventType, error) {
	name, err := eventTypeName(r)
	if err != nil {
		return nil, err
	}
	return s.store.GetEventType(r.Context(), name)
}

func (s *Server) handleGetEventType(w http.ResponseWriter, r *http.Request) error {
	et, err := s.eventType(r)
	if err != nil {
		return err
	}
	if access := appAccess(r); access != nil && !access.sees(et) {
		return hookbridge.Errorf(hookbridge.ENOTFOUND, "event type %q not found", et.Name)
	}
	writeJSON(w, http.StatusOK, toEventTypeOut(et))
	return nil
}

// handleUpdateEventType replaces an event type, or creates it (201).
func (s *Server) handleUpdateEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeIn
	name, err := s.eventTypeBody(r, &in)
	if err != nil {
		return err
	}
	if err := in.validate(false); err != nil {
		return err
	}
	ctx := r.Context()
	et, err := s.store.GetEventType(ctx, name)
	if hookbridge.IsNotFound(err) {
		et = &hookbridge.EventType{Name: name}
		in.apply(et)
		return s.saveEventType(ctx, w, et, true, http.StatusCreated)
	}
	if err != nil {
		return err
	}
	in.apply(et)
	return s.saveEventType(ctx, w, et, false, http.StatusOK)
}

func (s *Server) handlePatchEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypePatch
	name, err := s.eventTypeBody(r, &in)
	if err != nil {
		return err
	}
	var fe fieldErrors
	if in.Description.Null {
		fe.body("must not be null", "description")
	} else if in.Description.Set {
		if msg := checkText(in.Description.Value); msg != "" {
			fe.body(msg, "description")
		}
	}
	if in.Archived.Null {
		fe.body("must not be null", "archived")
	}
	if in.Deprecated.Null {
		fe.body("must not be null", "deprecated")
	}
	if in.Schemas.has() {
		checkSchemas(in.Schemas.Value, &fe)
	}
	if in.FeatureFlag.has() {
		if msg := checkLimitedString(in.FeatureFlag.Value, maxNameLen); msg != "" {
			fe.body(msg, "featureFlag")
		}
	}
	retry, keepRetry := retryScheduleField(in.RetrySchedule, &fe)
	ctx := r.Context()
	et, err := s.checkedEventType(ctx, name, &fe)
	if err != nil {
		return err
	}
	if in.Description.Set {
		et.Description = in.Description.Value
	}
	if in.Archived.Set {
		et.Archived = in.Archived.Value
	}
	if in.Deprecated.Set {
		et.Deprecated = in.Deprecated.Value
	}
	if in.Schemas.Set {
		et.Schemas = schemasOrNil(in.Schemas.Value) // nil when null
	}
	if in.FeatureFlag.Set {
		et.FeatureFlag = in.FeatureFlag.Value // "" when null
	}
	if !keepRetry {
		et.RetrySchedule = retry
	}
	return s.saveEventType(ctx, w, et, false, http.StatusOK)
}

// handleDeleteEventType archives an event type, or with expunge=true
// removes it for good.
func (s *Server) handleDeleteEventType(w http.ResponseWriter, r *http.Request) error {
	name, err := eventTypeName(r)
	if err != nil {
		return err
	}
	var fe fieldErrors
	expunge := boolParam(r.URL.Query(), "expunge", false, &fe)
	ctx := r.Context()
	et, err := s.checkedEventType(ctx, name, &fe)
	if err != nil {
		return err
	}
	if expunge {
		err = s.store.DeleteEventType(ctx, et.Name)
	} else {
		et.Archived = true
		err = s.store.UpdateEventType(ctx, et)
	}
	if err != nil {
		return err
	}
	s.retryScheduleChanged(name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
