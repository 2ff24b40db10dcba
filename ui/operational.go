package ui

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/operational"
)

// The operator's operational webhooks (package operational): the endpoints
// that receive events about delivery itself. The page writes through the
// same API routes as Svix's OperationalWebhookEndpoint, so what it allows
// and refuses is what the API does.

// operationalTypes are the events an operational endpoint may subscribe
// to, with what each tells the operator, in operational.EventTypes order.
var operationalTypes = []hookbridge.EventType{
	{Name: hookbridge.EventEndpointCreated, Description: "An endpoint was created, through the API, the dashboard or a portal."},
	{Name: hookbridge.EventEndpointUpdated, Description: "An endpoint was changed: its settings, headers, secret, filter, client certificate or OAuth credentials."},
	{Name: hookbridge.EventEndpointDeleted, Description: "An endpoint was deleted."},
	{Name: hookbridge.EventEndpointDisabled, Description: "An endpoint was disabled: its receiver answered 410 Gone, or every attempt failed for the disable period."},
	{Name: hookbridge.EventAttemptExhausted, Description: "A message ran out of retries to an endpoint."},
	{Name: hookbridge.EventAttemptFailing, Description: "A message failed its fourth try to an endpoint."},
	{Name: hookbridge.EventAttemptRecovered, Description: "A message succeeded after it was reported failing."},
}

// operationalPage lists the operational endpoints, with the form that adds
// one.
type operationalPage struct {
	Endpoints []endpointRow
	AppID     string // the reserved application (its messages are the events sent), "" until it exists
	Types     []hookbridge.EventType
	Selected  []string // the form's ticked event types
	Reveal    string   // the endpoint whose secret is shown
	Secret    string
}

func (h *Handler) dashOperational(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderOperational(w, r, v, http.StatusOK)
}

func (h *Handler) renderOperational(w http.ResponseWriter, r *http.Request, v *view, status int) error {
	ctx := r.Context()
	p := operationalPage{Types: operationalTypes, Selected: v.Form["filterTypes"]}
	app, err := h.store.GetApplication(ctx, operational.AppUID)
	switch {
	case hookbridge.IsNotFound(err):
	case err != nil:
		return err
	default:
		p.AppID = app.ID
		ends, err := h.store.ListEndpoints(ctx, app.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending})
		if err != nil {
			return err
		}
		now := h.now()
		for i := range ends.Data {
			e := &ends.Data[i]
			p.Endpoints = append(p.Endpoints, endpointRow{Endpoint: *e, State: stateOf(e, now)})
		}
	}
	if r.URL.Query().Get("reveal") != "" && v.ReadOnly {
		h.refuseReadOnly(w, r, v) // as an endpoint's secret (renderEndpoint)
		return nil
	}
	if id := r.URL.Query().Get("reveal"); id != "" && slices.ContainsFunc(p.Endpoints, func(e endpointRow) bool { return e.Endpoint.ID == id }) {
		var out struct {
			Key string `json:"key"`
		}
		if err := h.callAPI(r, http.MethodGet, apiPath("operational-webhook", "endpoint", id, "secret"), nil, &out); err != nil {
			return err
		}
		p.Reveal, p.Secret = id, out.Key
	}
	v.Title, v.Nav, v.Data = "Operational webhooks", "operational", p
	h.render(w, r, status, "operational", v)
	return nil
}

func (h *Handler) dashCreateOperational(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	f := r.PostForm
	v.Form = f
	// The API's OperationalWebhookEndpointIn takes the same fields as an
	// ordinary endpoint's.
	body := endpointBody{
		URL:         strings.TrimSpace(f.Get("url")),
		Description: f.Get("description"),
		FilterTypes: f["filterTypes"],
	}
	var out struct {
		ID string `json:"id"`
	}
	err := h.callAPI(r, http.MethodPost, apiPath("operational-webhook", "endpoint"), body, &out)
	if formFailed(err, v) {
		return h.renderOperational(w, r, v, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/operational?done=op-created&reveal="+out.ID)
	return nil
}

func (h *Handler) dashDeleteOperational(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	id, err := pathRef(r, "ep")
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodDelete, apiPath("operational-webhook", "endpoint", id), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/operational?done=op-deleted")
	return nil
}
