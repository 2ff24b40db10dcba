package ui

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// The consumer portal. Every page works on the session's application only:
// store reads take v.App.ID, and API calls put v.App.ID in the path, so an
// id of another application's endpoint or message, wherever it is given,
// is simply not found.

// visibleTypes returns the catalogue as the session may see it: not
// archived, and without a feature flag or with one the token granted.
func (h *Handler) visibleTypes(ctx context.Context, s *session) ([]hookbridge.EventType, error) {
	all, err := h.eventTypes(ctx, false)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(et hookbridge.EventType) bool {
		return et.FeatureFlag != "" && !slices.Contains(s.Flags, et.FeatureFlag)
	}), nil
}

func typeNames(types []hookbridge.EventType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return names
}

// endpointsPage is the portal's front page.
type endpointsPage struct {
	Endpoints []endpointRow
}

func (h *Handler) portalEndpoints(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ctx := r.Context()
	ends, err := h.store.ListEndpoints(ctx, v.App.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending})
	if err != nil {
		return err
	}
	p := endpointsPage{}
	for _, e := range ends.Data {
		st, err := h.store.EndpointStats(ctx, v.App.ID, e.ID, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		p.Endpoints = append(p.Endpoints, endpointRow{Endpoint: e, Stats: st, State: stateOf(&e, h.now())})
	}
	v.Title, v.Nav, v.Data = "Endpoints", "endpoints", p
	h.render(w, r, http.StatusOK, "portal_endpoints", v)
	return nil
}

// endpoint resolves the {ep} of the path within the session's application.
func (h *Handler) endpoint(r *http.Request, v *view) (*hookbridge.Endpoint, error) {
	ref, err := pathRef(r, "ep")
	if err != nil {
		return nil, err
	}
	return h.store.GetEndpoint(r.Context(), v.App.ID, ref)
}

// endpointForm is the form that adds or edits an endpoint.
type endpointForm struct {
	Endpoint *hookbridge.Endpoint // nil when adding
	Types    []hookbridge.EventType
	URL      string
	Desc     string
	Selected []string
	Rate     string
	Action   string
}

func (h *Handler) portalNewEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.renderEndpointForm(w, r, v, s, nil, http.StatusOK)
}

func (h *Handler) portalEditEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	return h.renderEndpointForm(w, r, v, s, ep, http.StatusOK)
}

// renderEndpointForm shows the endpoint form, filled from the submitted
// form when there is one, else from ep.
func (h *Handler) renderEndpointForm(w http.ResponseWriter, r *http.Request, v *view, s *session, ep *hookbridge.Endpoint, status int) error {
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	f := endpointForm{Endpoint: ep, Types: types, Action: "/portal/endpoints/new"}
	switch {
	case r.Method == http.MethodPost:
		f.URL, f.Desc, f.Selected, f.Rate = r.PostForm.Get("url"), r.PostForm.Get("description"), r.PostForm["filterTypes"], r.PostForm.Get("rateLimit")
	case ep != nil:
		f.URL, f.Desc, f.Selected = ep.URL, ep.Description, ep.EventTypes
		if ep.RateLimit != nil {
			f.Rate = strconv.Itoa(*ep.RateLimit)
		}
	}
	if ep != nil {
		f.Action = "/portal/endpoints/" + ep.ID + "/edit"
		v.Title = "Edit endpoint"
	} else {
		v.Title = "Add endpoint"
	}
	v.Nav, v.Data = "endpoints", f
	h.render(w, r, status, "portal_endpoint_form", v)
	return nil
}

// endpointBody is the API's endpoint body as the form fills it. For an
// update every field is sent, null clearing a filter or a rate limit (a
// PATCH, so that what the form does not show, such as channels and
// metadata, stays).
type endpointBody struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	FilterTypes []string `json:"filterTypes"`
	RateLimit   *int     `json:"rateLimit"`
}

// readEndpointForm reads the endpoint form. What the API cannot be asked
// (a rate limit that is not a number, an event type the session may not
// see) is reported beside its field here; everything else is the API's to
// judge.
func readEndpointForm(r *http.Request, v *view, visible []string) endpointBody {
	f := r.PostForm
	b := endpointBody{URL: strings.TrimSpace(f.Get("url")), Description: f.Get("description")}
	if sel := f["filterTypes"]; len(sel) > 0 {
		b.FilterTypes = sel
		for _, t := range sel {
			if !slices.Contains(visible, t) {
				v.Errors["filterTypes"] = "Pick event types from the list."
			}
		}
	}
	if rate := strings.TrimSpace(f.Get("rateLimit")); rate != "" {
		n, err := strconv.Atoi(rate)
		if err != nil {
			v.Errors["rateLimit"] = "Enter a whole number of messages per second, or leave it empty for no limit."
		} else {
			b.RateLimit = &n
		}
	}
	return b
}

func (h *Handler) portalCreateEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	body := readEndpointForm(r, v, typeNames(types))
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEndpointForm(w, r, v, s, nil, http.StatusUnprocessableEntity)
	}
	var out struct {
		ID string `json:"id"`
	}
	// The API omits nothing here: null filterTypes and rateLimit mean none.
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint"), body, &out)
	if formFailed(err, v) {
		return h.renderEndpointForm(w, r, v, s, nil, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/portal/endpoints/"+out.ID+"?done=created&reveal=1")
	return nil
}

func (h *Handler) portalUpdateEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	// Types the endpoint already has stay acceptable even if the session
	// cannot see them any more, so saving the form does not fail on them.
	body := readEndpointForm(r, v, append(typeNames(types), ep.EventTypes...))
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	err = h.callAPI(r, http.MethodPatch, apiPath("app", v.App.ID, "endpoint", ep.ID), body, nil)
	if formFailed(err, v) {
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/portal/endpoints/"+ep.ID+"?done=updated")
	return nil
}

// endpointPage is one endpoint: its secret, its test and recovery forms,
// and the messages sent to it.
type endpointPage struct {
	Endpoint  hookbridge.Endpoint
	State     endpointState
	Stats     hookbridge.EndpointStats
	Reveal    bool
	Secret    string
	TestTypes []hookbridge.EventType
	TestType  string
	Since     string // the recovery form's default: a day ago
	Messages  []hookbridge.EndpointMessage
}

// recentMessages is how many messages an endpoint's page lists.
const recentMessages = 20

func (h *Handler) portalEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.renderEndpoint(w, r, v, s, http.StatusOK)
}

func (h *Handler) renderEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session, status int) error {
	ctx := r.Context()
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	p := endpointPage{Endpoint: *ep, State: stateOf(ep, h.now()), Reveal: r.URL.Query().Get("reveal") == "1"}
	if p.Reveal && len(ep.Secrets) > 0 {
		p.Secret = ep.Secrets[0].Key
	}
	if p.Stats, err = h.store.EndpointStats(ctx, v.App.ID, ep.ID, time.Time{}, time.Time{}); err != nil {
		return err
	}
	types, err := h.visibleTypes(ctx, s)
	if err != nil {
		return err
	}
	// A test event is of a type the endpoint would receive.
	for _, t := range types {
		if len(ep.EventTypes) == 0 || slices.Contains(ep.EventTypes, t.Name) {
			p.TestTypes = append(p.TestTypes, t)
		}
	}
	p.TestType = r.PostForm.Get("eventType")
	p.Since = r.PostForm.Get("since")
	if p.Since == "" {
		p.Since = h.now().UTC().Add(-24 * time.Hour).Format(inputTimeLayout)
	}
	msgs, err := h.store.ListEndpointMessages(ctx, v.App.ID, ep.ID, hookbridge.EndpointMessageFilter{
		ListOptions: hookbridge.ListOptions{Limit: recentMessages},
	})
	if err != nil {
		return err
	}
	p.Messages = msgs.Data
	v.Title, v.Nav, v.Data = "Endpoint", "endpoints", p
	h.render(w, r, status, "portal_endpoint", v)
	return nil
}

// portalDisableEndpoint disables (disabled=true) or enables the endpoint.
func (h *Handler) portalDisableEndpoint(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	disable := r.PostForm.Get("disabled") == "true"
	if err := h.callAPI(r, http.MethodPatch, apiPath("app", v.App.ID, "endpoint", ep.ID), map[string]bool{"disabled": disable}, nil); err != nil {
		return err
	}
	done := "enabled"
	if disable {
		done = "disabled"
	}
	redirect(w, r, "/portal/endpoints/"+ep.ID+"?done="+done)
	return nil
}

func (h *Handler) portalRotateSecret(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "secret", "rotate"), struct{}{}, nil); err != nil {
		return err
	}
	redirect(w, r, "/portal/endpoints/"+ep.ID+"?done=rotated&reveal=1")
	return nil
}

// portalSendTest sends an example event of the chosen type to this endpoint
// only, then shows the message, which follows its attempt as it happens.
func (h *Handler) portalSendTest(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	eventType := r.PostForm.Get("eventType")
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	if !slices.Contains(typeNames(types), eventType) {
		v.Errors["eventType"] = "Pick an event type from the list."
		v.Error = "Please correct the fields marked below."
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	var out struct {
		ID string `json:"id"`
	}
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "send-example"), map[string]string{"eventType": eventType}, &out)
	if formFailed(err, v) {
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/portal/msg/"+out.ID+"?done=sent")
	return nil
}

// portalRecover sends again, once, every message that failed at this
// endpoint since the given time.
func (h *Handler) portalRecover(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	since, ok := parseInputTime(r.PostForm.Get("since"))
	if !ok || since.IsZero() {
		v.Errors["since"] = "Enter a date and time (UTC), e.g. 2025-06-01T12:00."
		v.Error = "Please correct the fields marked below."
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "recover"),
		map[string]string{"since": since.Format(time.RFC3339)}, nil)
	if formFailed(err, v) {
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/portal/endpoints/"+ep.ID+"?done=recovering")
	return nil
}

// confirmPage asks before deleting an endpoint; without a script, a page
// of its own is the accessible way to ask.
type confirmPage struct {
	Endpoint hookbridge.Endpoint
}

func (h *Handler) portalConfirmDelete(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Delete endpoint", "endpoints", confirmPage{Endpoint: *ep}
	h.render(w, r, http.StatusOK, "portal_delete", v)
	return nil
}

func (h *Handler) portalDeleteEndpoint(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodDelete, apiPath("app", v.App.ID, "endpoint", ep.ID), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/portal/?done=deleted")
	return nil
}

// messagesPage is the portal's message log.
type messagesPage struct {
	Search *messageSearch
}

func (h *Handler) portalMessages(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ctx := r.Context()
	search, err := h.searchMessages(ctx, r.URL.Query(), v.App.ID, v)
	if err != nil {
		return err
	}
	search.Action, search.MsgBase = "/portal/msg", "/portal/msg/"
	if search.Types, err = h.visibleTypes(ctx, s); err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Messages", "messages", messagesPage{Search: search}
	status := http.StatusOK
	if len(v.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.render(w, r, status, "portal_messages", v)
	return nil
}

func (h *Handler) portalMessage(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ref, err := pathRef(r, "msg")
	if err != nil {
		return err
	}
	p, err := h.loadMessage(r.Context(), v.App.ID, ref)
	if err != nil {
		return err
	}
	p.ResendPath = "/portal/msg/" + p.Message.ID + "/resend"
	p.BackPath, p.BackLabel = "/portal/msg", "Messages"
	v.Title, v.Nav, v.Data = "Message", "messages", p
	h.render(w, r, http.StatusOK, "message", v)
	return nil
}

func (h *Handler) portalResend(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ref, err := pathRef(r, "msg")
	if err != nil {
		return err
	}
	ep, err := resendTarget(r)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "msg", ref, "endpoint", ep, "resend"), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/portal/msg/"+ref+"?done=resent")
	return nil
}

// catalogPage is the event types the consumer can subscribe to.
type catalogPage struct {
	Types []hookbridge.EventType
}

func (h *Handler) portalEventTypes(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Event types", "event-types", catalogPage{Types: types}
	h.render(w, r, http.StatusOK, "portal_event_types", v)
	return nil
}
