package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/operational"
)

// Operational webhook endpoints: the operator's URLs for events about
// delivery itself (package operational). They are the endpoints of the
// reserved operational application, so the paths below are Svix's
// /api/v1/operational-webhook/endpoint, and the work is the ordinary
// endpoint code run on that application.

// operationalEndpointIn is Svix's OperationalWebhookEndpointIn (and,
// without secret, OperationalWebhookEndpointUpdate).
type operationalEndpointIn struct {
	endpointFields
	// FilterTypes name operational event types, checked here rather than
	// against the catalogue.
	FilterTypes []string `json:"filterTypes"`
}

// operationalEndpointOut is Svix's OperationalWebhookEndpointOut: its
// fields only, the rate limit under both its names as the Svix server
// writes it.
type operationalEndpointOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid,omitempty"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	RateLimit    *int              `json:"rateLimit,omitempty"`
	ThrottleRate *int              `json:"throttleRate,omitempty"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  []string          `json:"filterTypes,omitempty"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    string            `json:"createdAt"`
	UpdatedAt    string            `json:"updatedAt"`
}

func toOperationalEndpointOut(ep *hookbridge.Endpoint) operationalEndpointOut {
	return operationalEndpointOut{
		ID:           ep.ID,
		UID:          nullable(ep.UID),
		URL:          hookbridge.MaskURL(ep.URL),
		Description:  ep.Description,
		RateLimit:    ep.RateLimit,
		ThrottleRate: ep.RateLimit,
		Disabled:     ep.Disabled,
		FilterTypes:  nilIfEmpty(ep.EventTypes),
		Metadata:     emptyIfNil(ep.Metadata),
		CreatedAt:    formatTime(ep.CreatedAt),
		UpdatedAt:    formatTime(ep.UpdatedAt),
	}
}

// operationalApp resolves the reserved application and makes the request
// address it, so that the ordinary endpoint handlers serve it.
func (s *Server) operationalApp(r *http.Request) (*hookbridge.Application, error) {
	app, err := operational.App(r.Context(), s.store, s.timeNow())
	if err != nil {
		return nil, err
	}
	r.SetPathValue("app_id", app.ID)
	return app, nil
}

// validateOperationalEndpoint checks in as an ordinary endpoint, except
// that filterTypes name operational event types, which are not in the
// event type catalogue.
func (s *Server) validateOperationalEndpoint(r *http.Request, in *operationalEndpointIn, withSecret bool) (*validEndpoint, error) {
	v, err := s.validateEndpointIn(r.Context(), &endpointIn{endpointFields: in.endpointFields}, withSecret)
	var fe fieldErrors
	if in.FilterTypes != nil {
		types := normalizeSet(in.FilterTypes, maxNameLen, 0, &fe, "filterTypes")
		for _, t := range types {
			if !slices.Contains(operational.EventTypes, t) {
				fe.body("unknown operational event type "+t+"; one of "+strings.Join(operational.EventTypes, ", "), "filterTypes")
				break
			}
		}
		if v != nil {
			v.eventTypes = types
		}
	}
	if err != nil {
		return nil, err
	}
	return v, fe.err()
}

func (s *Server) handleListOperationalEndpoints(w http.ResponseWriter, r *http.Request) error {
	return listEndpoints(s, w, r, s.operationalApp, toOperationalEndpointOut)
}

func (s *Server) handleCreateOperationalEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in operationalEndpointIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	app, err := s.operationalApp(r)
	if err != nil {
		return err
	}
	v, err := s.validateOperationalEndpoint(r, &in, true)
	if err != nil {
		return err
	}
	ep, err := s.createEndpoint(r.Context(), app, v, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toOperationalEndpointOut(ep))
	return nil
}

func (s *Server) handleGetOperationalEndpoint(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.operationalApp(r); err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOperationalEndpointOut(ep))
	return nil
}

// handleUpdateOperationalEndpoint replaces an operational endpoint's
// settings; its secrets stay.
func (s *Server) handleUpdateOperationalEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in operationalEndpointIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	if _, err := s.operationalApp(r); err != nil {
		return err
	}
	v, err := s.validateOperationalEndpoint(r, &in, false)
	if err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.replaceEndpoint(r.Context(), ep, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOperationalEndpointOut(ep))
	return nil
}

// operationalHandler serves h on the reserved application: delete, the
// secret and its rotation answer exactly as for any endpoint.
func (s *Server) operationalHandler(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.operationalApp(r); err != nil {
			return err
		}
		return h(w, r)
	}
}
