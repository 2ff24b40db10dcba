package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// An endpoint's OAuth 2.0 client credentials (a Hookbridge addition), for
// receivers that demand a bearer token: set with PUT
// …/endpoint/{endpoint_id}/oauth, read with GET (never the client secret),
// removed with DELETE. A sub-resource, never a field of EndpointOut.

const (
	maxOAuthField  = 1024 // client id, client secret, audience, one scope
	maxOAuthScopes = 50
)

// endpointOAuthIn is EndpointOauthIn, the body of PUT …/oauth.
type endpointOAuthIn struct {
	TokenURL     *string  `json:"tokenUrl"`
	ClientID     *string  `json:"clientId"`
	ClientSecret *string  `json:"clientSecret"`
	Scopes       []string `json:"scopes"`
	Audience     *string  `json:"audience"`
}

// endpointOAuthOut is EndpointOauthOut: what is set, without the secret.
type endpointOAuthOut struct {
	TokenURL  string   `json:"tokenUrl"`
	ClientID  string   `json:"clientId"`
	Scopes    []string `json:"scopes"`
	Audience  *string  `json:"audience"`
	UpdatedAt string   `json:"updatedAt"`
}

func oauthOut(o *hookbridge.EndpointOAuth) endpointOAuthOut {
	return endpointOAuthOut{TokenURL: o.TokenURL, ClientID: o.ClientID, Scopes: nonNil(o.Scopes),
		Audience: nullable(o.Audience), UpdatedAt: formatTime(o.UpdatedAt)}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// checkOAuth checks OAuth client credentials as given.
func (s *Server) checkOAuth(in *endpointOAuthIn, fe *fieldErrors) *hookbridge.EndpointOAuth {
	text := func(v *string, field string, required bool) string {
		switch {
		case v == nil || *v == "":
			if required {
				fe.body("field required", field)
			}
		case len(*v) > maxOAuthField:
			fe.body(fmt.Sprintf("must be at most %d characters", maxOAuthField), field)
		case strings.TrimSpace(*v) != *v || strings.ContainsAny(*v, "\r\n"):
			fe.body("must not have leading or trailing blanks or line breaks", field)
		default:
			return *v
		}
		return ""
	}
	o := &hookbridge.EndpointOAuth{
		ClientID:     text(in.ClientID, "clientId", true),
		ClientSecret: text(in.ClientSecret, "clientSecret", true),
		Audience:     text(in.Audience, "audience", false),
	}
	switch {
	case in.TokenURL == nil || *in.TokenURL == "":
		fe.body("field required", "tokenUrl")
	case !isHTTPURL(*in.TokenURL):
		fe.body("must be an http or https URL", "tokenUrl")
	default:
		if msg := s.checkURL(*in.TokenURL); msg != "" {
			fe.body(msg, "tokenUrl")
		}
		o.TokenURL = *in.TokenURL
	}
	if len(in.Scopes) > maxOAuthScopes {
		fe.body(fmt.Sprintf("must have at most %d items", maxOAuthScopes), "scopes")
	}
	for i, sc := range in.Scopes {
		if sc == "" || len(sc) > maxOAuthField || strings.ContainsAny(sc, " \t\r\n\"\\") {
			fe.body("must be a non-empty scope token without blanks, quotes or backslashes", "scopes", fmt.Sprint(i))
		}
	}
	o.Scopes = in.Scopes
	return o
}

// isHTTPURL reports whether raw starts with http:// or https://.
func isHTTPURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"))
}

func (s *Server) handleGetEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	o, err := s.store.GetEndpointOAuth(r.Context(), app.ID, ep.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, oauthOut(o))
	return nil
}

// handlePutEndpointOAuth sets the endpoint's OAuth client credentials,
// replacing any; the next request to the endpoint gets a token with them.
func (s *Server) handlePutEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	var in endpointOAuthIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	o := s.checkOAuth(&in, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.PutEndpointOAuth(r.Context(), app.ID, ep.ID, o); err != nil {
		return err
	}
	s.eventsRecorded()
	writeJSON(w, http.StatusOK, oauthOut(o))
	return nil
}

// handleDeleteEndpointOAuth removes them: requests go without a token.
func (s *Server) handleDeleteEndpointOAuth(w http.ResponseWriter, r *http.Request) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEndpointOAuth(r.Context(), app.ID, ep.ID); err != nil {
		return err
	}
	s.eventsRecorded()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
