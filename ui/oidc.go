package ui

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Operators may sign in to the dashboard through the company's OpenID
// Connect provider, beside (or instead of) the admin key: the authorization
// code flow, with PKCE (S256), a state and a nonce, all three checked.
//
//   - GET /ui/oidc/login starts it: it puts the state, the nonce, the PKCE
//     verifier and the page to return to in a short-lived signed cookie of
//     its own (SameSite=Lax, so that it comes back on the provider's
//     redirect, which is another site's navigation) and sends the browser
//     to the provider. It is a link, not a form, so that the page's CSP
//     form-action 'self' does not stop the redirect to another site.
//   - GET /ui/oidc/callback finishes it: the state must be the cookie's,
//     the code is exchanged with the verifier, the ID token's signature
//     (the provider's published keys), issuer, audience (the client id),
//     expiry and nonce are checked, and the roles claim maps the user to a
//     role. The cookie is spent whatever the outcome.
//
// The session then is a dashboard session like the admin key's, naming the
// user (subject, e-mail) and role instead of the key. It is bound to a
// fingerprint of the provider's settings (issuer, client id, roles claim
// and the values of each role), so that changing who may do what ends the
// sessions made under the old rule. Roles are read once, at sign-in: a user
// taken out of a group keeps the session until it ends (12 hours) or the
// settings change.

// Roles of dashboard users.
const (
	// RoleAdmin may do everything the dashboard does.
	RoleAdmin = "admin"
	// RoleReadOnly sees every page and changes nothing.
	RoleReadOnly = "read-only"
)

// Defaults and fixed points of OIDCConfig.
const (
	// OIDCCallbackPath is where the provider sends the browser back to:
	// the path of OIDCConfig.RedirectURL.
	OIDCCallbackPath = "/ui/oidc/callback"
	// DefaultOIDCScopes are the scopes asked for when OIDCConfig.Scopes is
	// empty ("openid" is always asked for).
	DefaultOIDCScopes = "openid email profile"
	// DefaultRolesClaim is the ID token claim that carries the user's
	// groups or roles when OIDCConfig.RolesClaim is empty.
	DefaultRolesClaim = "groups"
)

const (
	// oidcFlowTTL bounds the time from the sign-in link to the callback.
	oidcFlowTTL = 10 * time.Minute
	// oidcTimeout bounds each request to the provider (discovery, keys,
	// code exchange) when OIDCConfig.HTTPClient is nil.
	oidcTimeout = 10 * time.Second
)

// OIDCConfig configures sign-in to the dashboard through an OpenID Connect
// provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration". https, or http on a
	// loopback host only: the issuer's keys are what ID tokens are trusted
	// by.
	Issuer string
	// ClientID and ClientSecret are the dashboard's client at the provider.
	// An empty secret is a public client, bound by PKCE alone.
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back to, as
	// registered with it: an absolute URL whose path ends in
	// OIDCCallbackPath.
	RedirectURL string
	// Scopes are asked for; empty means DefaultOIDCScopes. "openid" is
	// added when missing.
	Scopes []string
	// RolesClaim names the ID token claim holding the user's groups or
	// roles (a string or a list of strings); empty means DefaultRolesClaim.
	// A claim named with dots ("realm_access.roles") is looked up as written
	// first, then as a path into nested objects.
	RolesClaim string
	// AdminValues and ReadOnlyValues are the claim's values that make a
	// user admin or read-only; admin wins when both match. A user with
	// neither is refused.
	AdminValues    []string
	ReadOnlyValues []string
	// HTTPClient makes the requests to the provider; nil means a client
	// with a timeout of its own.
	HTTPClient *http.Client
}

// OIDCConfigError is a setting of OIDCConfig that cannot work, naming the
// field (Issuer, ClientID, RedirectURL, Scopes, RolesClaim, AdminValues,
// ReadOnlyValues).
type OIDCConfigError struct {
	Field string
	Msg   string
}

func (e *OIDCConfigError) Error() string { return "oidc: " + e.Field + ": " + e.Msg }

// ValidateOIDC reports what is wrong with c, as an *OIDCConfigError, or nil.
func ValidateOIDC(c *OIDCConfig) error {
	_, err := c.normalized()
	return err
}

// scopeRE is one OAuth scope token (RFC 6749 §3.3).
var scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// normalized returns c with its defaults filled in, or what is wrong.
func (c *OIDCConfig) normalized() (OIDCConfig, error) {
	n := *c
	bad := func(field, format string, args ...any) (OIDCConfig, error) {
		return OIDCConfig{}, &OIDCConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	iss, err := url.Parse(n.Issuer)
	switch {
	case n.Issuer == "":
		return bad("Issuer", "required")
	case err != nil || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || iss.User != nil:
		return bad("Issuer", "%q is not an issuer URL (e.g. https://login.example.com/realms/ops)", n.Issuer)
	case iss.Scheme == "http" && !isLoopback(iss.Hostname()):
		return bad("Issuer", "%q: the issuer must be https (http only on a loopback address), since its keys decide whose sign-in is trusted", n.Issuer)
	case iss.Scheme != "https" && iss.Scheme != "http":
		return bad("Issuer", "%q: want an https URL", n.Issuer)
	}
	if n.ClientID == "" {
		return bad("ClientID", "required")
	}
	red, err := url.Parse(n.RedirectURL)
	switch {
	case n.RedirectURL == "":
		return bad("RedirectURL", "required")
	case err != nil || (red.Scheme != "https" && red.Scheme != "http") || red.Host == "" || red.Fragment != "":
		return bad("RedirectURL", "%q is not an absolute http(s) URL", n.RedirectURL)
	case !strings.HasSuffix(red.Path, OIDCCallbackPath):
		return bad("RedirectURL", "%q: its path must end in %s, where the dashboard takes the provider's answer", n.RedirectURL, OIDCCallbackPath)
	}
	if len(n.Scopes) == 0 {
		n.Scopes = strings.Fields(DefaultOIDCScopes)
	}
	for _, s := range n.Scopes {
		if !scopeRE.MatchString(s) {
			return bad("Scopes", "%q is not a scope", s)
		}
	}
	if !slices.Contains(n.Scopes, oidc.ScopeOpenID) {
		n.Scopes = append([]string{oidc.ScopeOpenID}, n.Scopes...)
	}
	n.RolesClaim = strings.TrimSpace(n.RolesClaim)
	if n.RolesClaim == "" {
		n.RolesClaim = DefaultRolesClaim
	}
	n.AdminValues, n.ReadOnlyValues = cleanValues(n.AdminValues), cleanValues(n.ReadOnlyValues)
	if len(n.AdminValues) == 0 && len(n.ReadOnlyValues) == 0 {
		return bad("AdminValues", "name at least one value of the %s claim that makes a user admin or read-only; with none, nobody could sign in", n.RolesClaim)
	}
	for _, v := range n.ReadOnlyValues {
		if slices.Contains(n.AdminValues, v) {
			return bad("ReadOnlyValues", "%q is also an admin value: give each value one role", v)
		}
	}
	return n, nil
}

func cleanValues(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// oidcClient is the dashboard's client of one provider. The provider's
// discovery document is fetched at the first sign-in (or at start, when it
// answers then) and kept, so that a provider that is down when the server
// starts delays nothing but sign-in; its keys are fetched, and fetched
// again for a key id not seen before, by go-oidc's remote key set.
type oidcClient struct {
	cfg    OIDCConfig // normalized
	client *http.Client
	now    func() time.Time
	// fingerprint binds sessions to the settings they were made under.
	fingerprint string

	mu         sync.Mutex
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string // the provider's end_session_endpoint, "" when it has none
}

func newOIDCClient(c *OIDCConfig, k keys, now func() time.Time) (*oidcClient, error) {
	n, err := c.normalized()
	if err != nil {
		return nil, err
	}
	client := n.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: oidcTimeout}
	}
	// Every setting that decides who gets which role is in the
	// fingerprint: change one, and the sessions made before end.
	fp := strings.Join([]string{"oidc", n.Issuer, n.ClientID, n.RolesClaim,
		strings.Join(n.AdminValues, "\x1f"), strings.Join(n.ReadOnlyValues, "\x1f")}, "\x00")
	return &oidcClient{cfg: n, client: client, now: now, fingerprint: k.fingerprint(fp)}, nil
}

// ctx carries the client's HTTP client to go-oidc and oauth2.
func (c *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.client)
}

// discover returns the provider, fetching its discovery document the
// first time. A failure is not kept: the next sign-in tries again.
func (c *oidcClient) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, c.verifier, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc discovery at %s: %w", c.cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, nil, fmt.Errorf("oidc discovery at %s: %w", c.cfg.Issuer, err)
	}
	if u, err := url.Parse(meta.EndSession); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		c.endSession = meta.EndSession
	}
	c.provider = p
	c.verifier = p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, Now: c.now})
	return p, c.verifier, nil
}

// endSessionURL is the provider's sign-out page for this client, or "".
func (c *oidcClient) endSessionURL() string {
	c.mu.Lock()
	end := c.endSession
	c.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", c.cfg.ClientID)
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *oidcClient) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		RedirectURL:  c.cfg.RedirectURL,
		Endpoint:     p.Endpoint(),
		Scopes:       c.cfg.Scopes,
	}
}

// role maps the ID token's claims to a role: RoleAdmin, RoleReadOnly, or ""
// for none.
func (c *oidcClient) role(claims map[string]any) string {
	values := claimValues(claims, c.cfg.RolesClaim)
	switch {
	case slices.ContainsFunc(values, func(v string) bool { return slices.Contains(c.cfg.AdminValues, v) }):
		return RoleAdmin
	case slices.ContainsFunc(values, func(v string) bool { return slices.Contains(c.cfg.ReadOnlyValues, v) }):
		return RoleReadOnly
	}
	return ""
}

// claimValues returns the strings of a claim that is a string or a list:
// the claim named as written, or else, for a name with dots, the path into
// nested objects.
func claimValues(claims map[string]any, name string) []string {
	v, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		var cur any = claims
		for part := range strings.SplitSeq(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				cur = nil
				break
			}
			cur = m[part]
		}
		v = cur
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Cookie of a sign-in through the provider, between the link and the
// callback.
const (
	oidcFlowCookie = "hookbridge_oidc"
	oidcFlowPath   = "/ui/oidc/"
)

// setFlowCookie sets (or, with value "", clears) the cookie that carries a
// sign-in's state, nonce and PKCE verifier from the start to the callback.
// SameSite=Lax, not Strict: it must come back on the provider's redirect,
// a navigation started by another site.
func setFlowCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	setCookie(w, &http.Cookie{Name: oidcFlowCookie, Value: value, Path: oidcFlowPath, HttpOnly: true,
		Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode}, expires)
}

// handleOIDCLogin starts a sign-in through the provider.
func (h *Handler) handleOIDCLogin(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	if h.oidc == nil {
		h.renderError(w, r, v, http.StatusNotFound, "")
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if h.adminSession(r) != nil {
		redirect(w, r, next)
		return
	}
	p, _, err := h.oidc.discover(r.Context())
	if err != nil {
		h.log.ErrorContext(r.Context(), "ui: identity provider unavailable", "err", err)
		h.renderError(w, r, v, http.StatusBadGateway, "The identity provider could not be reached, so sign-in cannot start. Try again in a moment; the server's log says why.")
		return
	}
	flow := h.newSession(kindOIDCFlow, oidcFlowTTL)
	flow.State, flow.Verifier, flow.Next = newNonce(), oauth2.GenerateVerifier(), next
	value, err := h.keys.encode(flow)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	setFlowCookie(w, r, value, time.Unix(flow.Expires, 0))
	http.Redirect(w, r, h.oidc.oauth2(p).AuthCodeURL(flow.State, oauth2.S256ChallengeOption(flow.Verifier), oidc.Nonce(flow.Nonce)), http.StatusFound)
}

// providerErrorRE is what of the provider's error code is shown: its
// alphabet (RFC 6749 §4.1.2.1), bounded.
var providerErrorRE = regexp.MustCompile(`^[a-z_]{1,64}$`)

// handleOIDCCallback finishes a sign-in through the provider: see the
// comment at the top of this file for what is checked.
func (h *Handler) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	if h.oidc == nil {
		h.renderError(w, r, v, http.StatusNotFound, "")
		return
	}
	ctx := r.Context()
	var flow *session
	if c, err := r.Cookie(oidcFlowCookie); err == nil {
		flow, _ = h.keys.decode(c.Value, kindOIDCFlow, h.now())
	}
	// One callback per sign-in, whatever its outcome.
	setFlowCookie(w, r, "", time.Time{})
	q := r.URL.Query()
	if flow == nil {
		h.renderError(w, r, v, http.StatusBadRequest,
			"This sign-in was not started in this browser, or took longer than 10 minutes. Sign in again.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(flow.State)) != 1 {
		h.log.WarnContext(ctx, "ui: sign-in answer refused: state is not the one this browser was sent with")
		h.renderError(w, r, v, http.StatusForbidden,
			"This sign-in answer does not belong to the sign-in this browser started, so it was refused. Sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		if !providerErrorRE.MatchString(e) {
			e = "an error"
		}
		h.renderError(w, r, v, http.StatusUnauthorized, "The identity provider did not sign you in (it answered "+e+"). Sign in again, or ask its administrators.")
		return
	}
	p, verifier, err := h.oidc.discover(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "ui: identity provider unavailable", "err", err)
		h.renderError(w, r, v, http.StatusBadGateway, "The identity provider could not be reached. Try again in a moment.")
		return
	}
	tok, err := h.oidc.oauth2(p).Exchange(h.oidc.ctx(ctx), q.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		h.log.WarnContext(ctx, "ui: sign-in code exchange failed", "err", err)
		h.renderError(w, r, v, http.StatusBadGateway, "The identity provider did not accept this sign-in's code. Sign in again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		h.log.WarnContext(ctx, "ui: the identity provider's token answer has no id_token")
		h.renderError(w, r, v, http.StatusBadGateway, "The identity provider sent no ID token. Is the openid scope allowed for this client?")
		return
	}
	// Signature, issuer, audience and expiry; then the nonce, which ties
	// the token to the sign-in this browser started.
	idToken, err := verifier.Verify(h.oidc.ctx(ctx), raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(flow.Nonce)) != 1 {
		err = errors.New("nonce is not the sign-in's")
	}
	if err == nil && idToken.AccessTokenHash != "" {
		err = idToken.VerifyAccessToken(tok.AccessToken)
	}
	var claims map[string]any
	if err == nil {
		err = idToken.Claims(&claims)
	}
	if err != nil {
		h.log.WarnContext(ctx, "ui: ID token refused", "err", err)
		h.renderError(w, r, v, http.StatusUnauthorized, "The identity provider's ID token did not pass the checks (signature, issuer, audience, expiry, nonce), so you are not signed in. Sign in again; if it keeps failing, the server's log says why.")
		return
	}
	email := verifiedEmail(claims)
	who := cmp.Or(email, idToken.Subject)
	role := h.oidc.role(claims)
	if role == "" {
		h.log.InfoContext(ctx, "ui: sign-in refused: no role", "sub", idToken.Subject, "email", email, "claim", h.oidc.cfg.RolesClaim)
		v.Title, v.Data = "No access", errorPage{Status: http.StatusForbidden, Heading: "No access to this dashboard",
			Message: fmt.Sprintf("The identity provider signed you in as %s, but your account's %q claim names no group or role that gives access to the Hookbridge dashboard. Ask its operators to add you, then sign in again.", who, h.oidc.cfg.RolesClaim)}
		h.render(w, r, http.StatusForbidden, "error", v)
		return
	}
	s := h.newSession(kindAdmin, adminSessionTTL)
	s.IdP, s.Role, s.Subject, s.Email = h.oidc.fingerprint, role, idToken.Subject, email
	value, err := h.keys.encode(s)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if len(value) > maxCookieLen {
		h.renderError(w, r, v, http.StatusBadRequest, "Your account's subject or e-mail address is too long for a session.")
		return
	}
	h.setAdminCookie(w, r, value, time.Unix(s.Expires, 0))
	h.log.InfoContext(ctx, "ui: signed in through the identity provider", "sub", idToken.Subject, "email", email, "role", role)
	// A page, not a redirect: this response ends a navigation that another
	// site (the provider) started, and the browser would not send the
	// SameSite=Strict session cookie on a redirect that continues it. The
	// page's own refresh is a navigation from this site.
	v.Title, v.Data = "Signed in", signedInPage{Next: flow.Next, Who: who}
	h.render(w, r, http.StatusOK, "signed_in", v)
}

// signedInPage is the data of the page between the callback and the
// dashboard.
type signedInPage struct {
	Next string // a dashboard path (safeNext)
	Who  string
}

// verifiedEmail is the e-mail claim unless the provider says it is not
// verified (a provider that does not say is taken at its word).
func verifiedEmail(claims map[string]any) string {
	email, _ := claims["email"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		if !v {
			return ""
		}
	case string: // some providers send "true"/"false"
		if v == "false" {
			return ""
		}
	}
	return email
}

// oidcSignedIn reports whether the session came from the provider.
func (s *session) oidcSignedIn() bool { return s.IdP != "" }

// role is the session's role: the provider's mapping, or admin for the
// admin key.
func (s *session) role() string {
	if s.oidcSignedIn() {
		return s.Role
	}
	return RoleAdmin
}

// display is how the dashboard names the session's user.
func (s *session) display() string {
	if s.oidcSignedIn() {
		return cmp.Or(s.Email, s.Subject)
	}
	return "admin key"
}

// actor is who the session's changes are attributed to.
func (s *session) actor() string {
	if s.oidcSignedIn() {
		return cmp.Or(s.Email, s.Subject)
	}
	return "admin"
}
