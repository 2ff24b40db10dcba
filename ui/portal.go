package ui

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/hookbridge/hookbridge"
)

// The consumer portal. Every page works on the session's application only:
// store reads take v.App.ID, and API calls put v.App.ID in the path, so an
// id of another application's endpoint or message, wherever it is given,
// is simply not found.

// visibleTypes returns the catalogue as the session may see it: not
// archived, and, in the portal, without a feature flag or with one the
// token granted. The operator sees every feature flag's types.
func (h *Handler) visibleTypes(ctx context.Context, s *session) ([]hookbridge.EventType, error) {
	all, err := h.eventTypes(ctx, false)
	if err != nil || s.Kind == kindAdmin {
		return all, err
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
