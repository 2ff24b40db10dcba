package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// The operator dashboard: every application at a glance, one application's
// endpoints, messages and attempts, and the event type catalogue.

// appsPageSize is how many applications the overview lists per page.
const appsPageSize = 25

// healthWindow is the period an application's health is judged on.
const healthWindow = 24 * time.Hour

// overviewPage is the dashboard's front page.
type overviewPage struct {
	Backlog     hookbridge.Backlog
	Range       chartRange
	Ranges      []chartRange
	RangeAction string // where the period picker goes
	Chart       chart
	Apps        []appRow
	Next        string // iterator of the next page of applications
	Paged       bool   // this is not the first page
	// Messages this instance accepted with an event type not in the
	// catalogue, and the latest such type (api.Server.UncataloguedMessages).
	Uncatalogued     int64
	UncataloguedLast string
}

// appRow is an application with its endpoints and recent health.
type appRow struct {
	App       hookbridge.Application
	Endpoints int
	MoreEnds  bool // more endpoints than one page counts
	Disabled  int
	Success   int64 // attempts in the health window
	Fail      int64
	Health    string // idle, healthy, degraded or failing
}

func (h *Handler) dashOverview(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	now := h.now()
	p := overviewPage{Range: findRange(q.Get("range")), Ranges: chartRanges, RangeAction: dashPath}

	var err error
	if p.Backlog, err = h.store.Backlog(ctx, now); err != nil {
		return err
	}
	n, last := h.api.UncataloguedMessages()
	p.Uncatalogued, p.UncataloguedLast = int64(n), last
	since, until := p.Range.window(now)
	counts, err := h.store.AttemptCounts(ctx, "", "", since, until, p.Range.Width)
	if err != nil {
		return err
	}
	p.Chart = buildChart("Delivery attempts, "+strings.ToLower(p.Range.Label), counts, since, p.Range)

	it := q.Get("after")
	if !hookbridge.HasPrefix(it, hookbridge.PrefixApplication) {
		it = ""
	}
	p.Paged = it != ""
	apps, err := h.store.ListApplications(ctx, hookbridge.ListOptions{Limit: appsPageSize, Iterator: it, Order: hookbridge.OrderAscending})
	if err != nil {
		return err
	}
	for _, app := range apps.Data {
		row, err := h.appHealth(ctx, app, now)
		if err != nil {
			return err
		}
		p.Apps = append(p.Apps, row)
	}
	if !apps.Done && len(apps.Data) > 0 {
		p.Next = apps.Data[len(apps.Data)-1].ID
	}
	v.Title, v.Nav, v.Data = "Overview", "overview", p
	h.render(w, r, http.StatusOK, "overview", v)
	return nil
}

// appHealth summarises an application: its endpoints, and how its attempts
// fared over the health window.
func (h *Handler) appHealth(ctx context.Context, app hookbridge.Application, now time.Time) (appRow, error) {
	row := appRow{App: app}
	ends, err := h.store.ListEndpoints(ctx, app.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
	if err != nil {
		return row, err
	}
	row.Endpoints, row.MoreEnds = len(ends.Data), !ends.Done
	for _, e := range ends.Data {
		if e.Disabled {
			row.Disabled++
		}
	}
	counts, err := h.store.AttemptCounts(ctx, app.ID, "", now.Add(-healthWindow), now, healthWindow)
	if err != nil {
		return row, err
	}
	for _, c := range counts {
		row.Success += c.Success
		row.Fail += c.Fail
	}
	switch {
	case row.Success+row.Fail == 0:
		row.Health = "idle"
	case row.Fail == 0:
		row.Health = "healthy"
	case row.Success == 0:
		row.Health = "failing"
	default:
		row.Health = "degraded"
	}
	return row, nil
}

// appPage is one application: its endpoints with their counts, a message
// search, and the latest attempts.
type appPage struct {
	App       hookbridge.Application
	Endpoints []endpointRow
	Search    *messageSearch
	Attempts  []hookbridge.Attempt
	Health    appRow
}

// endpointRow is an endpoint with its messages counted by status.
type endpointRow struct {
	Endpoint hookbridge.Endpoint
	Stats    hookbridge.EndpointStats
	State    endpointState
}

// endpointState is what holds back or orders an endpoint's deliveries, as
// the pages show it next to its enabled or disabled badge: why messages
// may be waiting.
type endpointState struct {
	PausedUntil  time.Time // zero unless a pause the receiver asked for is in force
	FailingSince time.Time // zero unless its latest attempts failed
	FIFO         bool
	RateLimit    *int
}

func stateOf(e *hookbridge.Endpoint, now time.Time) endpointState {
	st := endpointState{FailingSince: e.FailingSince, FIFO: e.FIFO, RateLimit: e.RateLimit}
	if e.PausedUntil.After(now) {
		st.PausedUntil = e.PausedUntil
	}
	return st
}

// recentAttempts is how many attempts an application's page lists.
const recentAttempts = 20

func (h *Handler) dashApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderApp(w, r, v, "")
}

// renderApp renders the application's page for the search in r's query;
// replayErr, when set, says why the replay of that search was refused.
func (h *Handler) renderApp(w http.ResponseWriter, r *http.Request, v *view, replayErr string) error {
	ctx := r.Context()
	app := v.App
	p := appPage{App: *app}
	var err error
	if p.Health, err = h.appHealth(ctx, *app, h.now()); err != nil {
		return err
	}
	if p.Search, err = h.searchMessages(ctx, r.URL.Query(), app.ID, v); err != nil {
		return err
	}
	for _, e := range p.Search.Ends {
		st, err := h.store.EndpointStats(ctx, app.ID, e.ID, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		p.Endpoints = append(p.Endpoints, endpointRow{Endpoint: e, Stats: st, State: stateOf(&e, h.now())})
	}
	p.Search.Action, p.Search.MsgBase = "/ui/apps/"+app.ID, "/ui/apps/"+app.ID+"/msg/"
	p.Search.ReplayAction = "/ui/apps/" + app.ID + "/replay"
	if p.Search.Types, err = h.eventTypes(ctx, true); err != nil {
		return err
	}
	attempts, err := h.store.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{ListOptions: hookbridge.ListOptions{Limit: recentAttempts}})
	if err != nil {
		return err
	}
	p.Attempts = attempts.Data
	if replayErr != "" {
		v.Error, v.Errors["replay"] = replayErr, replayErr
	}
	v.Title, v.Nav, v.Data = app.Name, "overview", p
	status := http.StatusOK
	if len(v.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.render(w, r, status, "app", v)
	return nil
}

// dashOpenPortal opens the application's consumer portal in the
// operator's browser, through the same call a platform makes for its users.
func (h *Handler) dashOpenPortal(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ref, err := pathRef(r, "app")
	if err != nil {
		return err
	}
	var out struct {
		URL string `json:"url"`
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("auth", "app-portal-access", ref), struct{}{}, &out); err != nil {
		return err
	}
	link, err := portalLink(out.URL)
	if err != nil {
		return err
	}
	redirect(w, r, link)
	return nil
}

// dashExpirePortal revokes the application's portal links and sessions at
// once, through Svix's expire-all.
func (h *Handler) dashExpirePortal(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ref, err := pathRef(r, "app")
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("auth", "app", ref, "expire-all"), struct{}{}, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/apps/"+ref+"?done=revoked")
	return nil
}

func (h *Handler) dashMessage(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	app := v.App
	msgRef, err := pathRef(r, "msg")
	if err != nil {
		return err
	}
	p, err := h.loadMessage(r.Context(), app.ID, msgRef)
	if err != nil {
		return err
	}
	base := "/ui/apps/" + app.ID
	p.ResendPath = base + "/msg/" + p.Message.ID + "/resend"
	p.BackPath, p.BackLabel = base, app.Name
	v.Title, v.Nav, v.Data = "Message "+p.Message.ID, "overview", p
	h.render(w, r, http.StatusOK, "message", v)
	return nil
}

func (h *Handler) dashResend(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	appRef, err := pathRef(r, "app")
	if err != nil {
		return err
	}
	msgRef, err := pathRef(r, "msg")
	if err != nil {
		return err
	}
	ep, err := resendTarget(r)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("app", appRef, "msg", msgRef, "endpoint", ep, "resend"), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/apps/"+appRef+"/msg/"+msgRef+"?done=resent")
	return nil
}

// eventTypes returns the whole catalogue, A first; it is small (tens of
// types), so it is read whole rather than paged.
func (h *Handler) eventTypes(ctx context.Context, includeArchived bool) ([]hookbridge.EventType, error) {
	var all []hookbridge.EventType
	opt := hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending}
	for {
		page, err := h.store.ListEventTypes(ctx, opt, includeArchived)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.Done || len(page.Data) == 0 {
			return all, nil
		}
		opt.Iterator = page.Data[len(page.Data)-1].Name
	}
}

// eventTypesPage lists the catalogue, with the form that adds to it.
type eventTypesPage struct {
	Types []hookbridge.EventType
}

func (h *Handler) dashEventTypes(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderEventTypes(w, r, v, http.StatusOK)
}

func (h *Handler) renderEventTypes(w http.ResponseWriter, r *http.Request, v *view, status int) error {
	types, err := h.eventTypes(r.Context(), true)
	if err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Event types", "event-types", eventTypesPage{Types: types}
	h.render(w, r, status, "event_types", v)
	return nil
}

// eventTypeBody is the API's EventTypeIn/EventTypePatch as the forms fill
// it.
type eventTypeBody struct {
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description"`
	Schemas     json.RawMessage `json:"schemas"`
	FeatureFlag *string         `json:"featureFlag,omitempty"`
	Deprecated  bool            `json:"deprecated"`
}

// schemasField reads the schemas textarea: blank is none (JSON null);
// anything else must be JSON, which the API then checks is an object of
// JSON Schemas keyed by version.
func schemasField(v *view, text string) json.RawMessage {
	text = strings.TrimSpace(text)
	if text == "" {
		return json.RawMessage("null")
	}
	if !json.Valid([]byte(text)) {
		v.Errors["schemas"] = `Not valid JSON. Write an object keyed by version, e.g. {"1": {"type": "object"}}.`
		return nil
	}
	return json.RawMessage(text)
}

func (h *Handler) dashCreateEventType(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	f := r.PostForm
	v.Form = f
	body := eventTypeBody{
		Name:        strings.TrimSpace(f.Get("name")),
		Description: f.Get("description"),
		Schemas:     schemasField(v, f.Get("schemas")),
		Deprecated:  f.Get("deprecated") == "on",
	}
	if flag := strings.TrimSpace(f.Get("featureFlag")); flag != "" {
		body.FeatureFlag = &flag
	}
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEventTypes(w, r, v, http.StatusUnprocessableEntity)
	}
	err := h.callAPI(r, http.MethodPost, apiPath("event-type"), body, nil)
	if formFailed(err, v) {
		return h.renderEventTypes(w, r, v, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/event-types/"+body.Name+"?done=et-created")
	return nil
}

// eventTypePage is one event type, with the form that edits it.
type eventTypePage struct {
	Type    hookbridge.EventType
	Schemas string // the schemas as the form shows them
}

func (h *Handler) dashEventType(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderEventType(w, r, v, http.StatusOK)
}

func (h *Handler) renderEventType(w http.ResponseWriter, r *http.Request, v *view, status int) error {
	name, err := pathRef(r, "name")
	if err != nil {
		return err
	}
	et, err := h.store.GetEventType(r.Context(), name)
	if err != nil {
		return err
	}
	p := eventTypePage{Type: *et}
	if et.Schemas != nil {
		p.Schemas = prettyJSON(et.Schemas)
	}
	if v.Form.Has("schemas") {
		p.Schemas = v.Form.Get("schemas")
	}
	v.Title, v.Nav, v.Data = et.Name, "event-types", p
	h.render(w, r, status, "event_type", v)
	return nil
}

func (h *Handler) dashUpdateEventType(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	name, err := pathRef(r, "name")
	if err != nil {
		return err
	}
	f := r.PostForm
	v.Form = f
	body := eventTypeBody{
		Description: f.Get("description"),
		Schemas:     schemasField(v, f.Get("schemas")),
		Deprecated:  f.Get("deprecated") == "on",
	}
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEventType(w, r, v, http.StatusUnprocessableEntity)
	}
	err = h.callAPI(r, http.MethodPatch, apiPath("event-type", name), body, nil)
	if formFailed(err, v) {
		return h.renderEventType(w, r, v, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/event-types/"+name+"?done=et-updated")
	return nil
}

// dashArchiveEventType archives an event type, or restores an archived one.
func (h *Handler) dashArchiveEventType(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	name, err := pathRef(r, "name")
	if err != nil {
		return err
	}
	archive := r.PostForm.Get("archived") == "true"
	if err := h.callAPI(r, http.MethodPatch, apiPath("event-type", name), map[string]bool{"archived": archive}, nil); err != nil {
		return err
	}
	done := "archived"
	if !archive {
		done = "restored"
	}
	redirect(w, r, "/ui/event-types/"+name+"?done="+done)
	return nil
}
