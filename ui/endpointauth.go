package ui

import (
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// How an endpoint authenticates to its receiver, besides the signature:
// a client certificate (mutual TLS) and OAuth 2.0 client credentials, each
// shown on the endpoint's page and set, replaced or removed with a form
// there. The forms send the API's own bodies to …/mtls and …/oauth
// (apicall.go), so the API checks them and stores them; the page reads
// them back from the API, which never answers the private key or the
// client secret: they are never put in a page, not even after a form
// that was refused.

// mtlsState is the endpoint's client certificate as the page shows it
// (EndpointMtlsOut, and the certificate's fingerprint).
type mtlsState struct {
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"notAfter"`
	UpdatedAt   time.Time `json:"updatedAt"`
	ClientCert  string    `json:"clientCert"`
	CABundle    *string   `json:"caBundle"`
	Fingerprint string    `json:"-"` // SHA-256 of the certificate, hex in pairs
}

// oauthState is the endpoint's OAuth client credentials as the page shows
// them (EndpointOauthOut: without the secret).
type oauthState struct {
	TokenURL  string    `json:"tokenUrl"`
	ClientID  string    `json:"clientId"`
	Scopes    []string  `json:"scopes"`
	Audience  *string   `json:"audience"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// authForms is what the endpoint page's mTLS and OAuth forms hold: the
// current settings (nil when none), and the fields' values: what a
// refused form sent back, less its secrets, or else the OAuth settings
// in place, less the secret.
type authForms struct {
	MTLS  *mtlsState
	OAuth *oauthState
	// The refilled fields of a refused form: the certificate and CA
	// bundle (public), the token URL, client id, scopes and audience.
	CertPEM, CAPEM                                   string
	TokenURL, ClientID, Scopes, Audience             string
	MTLSAction, MTLSRemove, OAuthAction, OAuthRemove string
}

// loadAuthForms reads the endpoint's client certificate and OAuth
// credentials through the API (absent ones are nil) and fills the forms
// from a refused POST, if this is one.
func (h *Handler) loadAuthForms(r *http.Request, v *view, epID string) (authForms, error) {
	f := authForms{
		MTLSAction: endpointPath(v, epID, "/mtls"), MTLSRemove: endpointPath(v, epID, "/mtls/delete"),
		OAuthAction: endpointPath(v, epID, "/oauth"), OAuthRemove: endpointPath(v, epID, "/oauth/delete"),
	}
	var m mtlsState
	if found, err := h.getOptional(r, apiPath("app", v.App.ID, "endpoint", epID, "mtls"), &m); err != nil {
		return f, err
	} else if found {
		m.Fingerprint = certFingerprint(m.ClientCert)
		f.MTLS = &m
	}
	var o oauthState
	if found, err := h.getOptional(r, apiPath("app", v.App.ID, "endpoint", epID, "oauth"), &o); err != nil {
		return f, err
	} else if found {
		f.OAuth = &o
	}
	switch pf := r.PostForm; {
	case strings.HasSuffix(r.URL.Path, "/mtls"):
		f.CertPEM, f.CAPEM = pf.Get("clientCert"), pf.Get("caBundle")
	case strings.HasSuffix(r.URL.Path, "/oauth"):
		f.TokenURL, f.ClientID, f.Scopes, f.Audience = pf.Get("tokenUrl"), pf.Get("clientId"), pf.Get("scopes"), pf.Get("audience")
	}
	if o := f.OAuth; o != nil && !strings.HasSuffix(r.URL.Path, "/oauth") {
		// Replacing starts from what is set, but for the secret.
		f.TokenURL, f.ClientID, f.Scopes = o.TokenURL, o.ClientID, strings.Join(o.Scopes, " ")
		if o.Audience != nil {
			f.Audience = *o.Audience
		}
	}
	return f, nil
}

// getOptional GETs a sub-resource that may not exist: found is false on
// the API's 404.
func (h *Handler) getOptional(r *http.Request, path string, out any) (found bool, err error) {
	err = h.callAPI(r, http.MethodGet, path, nil, out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// certFingerprint is the SHA-256 fingerprint of the PEM certificate, as
// openssl x509 -fingerprint -sha256 prints it; "" if it is not one.
func certFingerprint(certPEM string) string {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// setMTLS sets or replaces the endpoint's client certificate (PUT
// …/mtls); a refusal shows the page again with the API's words beside the
// fields.
func (h *Handler) setMTLS(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	// A textarea sends its lines ended with CRLF (HTML's form encoding);
	// the PEM is stored as it was pasted.
	text := func(name string) string { return strings.ReplaceAll(r.PostForm.Get(name), "\r\n", "\n") }
	body := map[string]any{"clientCert": text("clientCert"), "clientKey": text("clientKey")}
	if ca := text("caBundle"); strings.TrimSpace(ca) != "" {
		body["caBundle"] = ca
	}
	return h.changeAuth(w, r, v, s, http.MethodPut, "mtls", body, "mtls-set")
}

// setOAuth sets or replaces the endpoint's OAuth client credentials (PUT
// …/oauth). The client secret is never put in the page; left blank, the
// stored one is kept if the client id is the same, so that changing the
// scopes, the audience or the token URL does not mean typing it again. A
// new client id needs its secret (the API refuses a blank one).
func (h *Handler) setOAuth(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	pf := r.PostForm
	secret, clientID := pf.Get("clientSecret"), pf.Get("clientId")
	if secret == "" {
		ep, err := h.endpoint(r, v)
		if err != nil {
			return err
		}
		cur, err := h.store.GetEndpointOAuth(r.Context(), v.App.ID, ep.ID)
		switch {
		case err == nil && cur.ClientID == clientID:
			secret = cur.ClientSecret
		case err != nil && !hookbridge.IsNotFound(err):
			return err
		}
	}
	body := map[string]any{"tokenUrl": strings.TrimSpace(pf.Get("tokenUrl")), "clientId": clientID,
		"clientSecret": secret, "scopes": strings.Fields(pf.Get("scopes"))}
	if aud := strings.TrimSpace(pf.Get("audience")); aud != "" {
		body["audience"] = aud
	}
	return h.changeAuth(w, r, v, s, http.MethodPut, "oauth", body, "oauth-set")
}

func (h *Handler) removeMTLS(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.changeAuth(w, r, v, s, http.MethodDelete, "mtls", nil, "mtls-removed")
}

func (h *Handler) removeOAuth(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.changeAuth(w, r, v, s, http.MethodDelete, "oauth", nil, "oauth-removed")
}

// changeAuth sends one change of the endpoint's sub-resource (mtls or
// oauth) to the API, then leads back to the endpoint's page.
func (h *Handler) changeAuth(w http.ResponseWriter, r *http.Request, v *view, s *session, method, sub string, body any, done string) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	err = h.callAPI(r, method, apiPath("app", v.App.ID, "endpoint", ep.ID, sub), body, nil)
	if formFailed(err, v) {
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, endpointPath(v, ep.ID, "?done="+done+"#auth-title"))
	return nil
}
