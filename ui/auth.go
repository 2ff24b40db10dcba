package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
)

// pageFunc is a page or action of a signed-in user: it renders or
// redirects itself, and returns errors for fail to show.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view, s *session) error

// admin wraps a dashboard page: it requires an operator's session and, on
// POST, the session's CSRF token and a role that may change things. The
// API calls the page makes act for the session's user (api.WithActor).
func (h *Handler) admin(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := h.newView(r)
		s := h.adminSession(r)
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()))
				return
			}
			h.renderError(w, r, v, http.StatusUnauthorized, "Your session has ended. Sign in again, then repeat what you were doing.")
			return
		}
		v.SignedIn, v.CSRF = true, h.keys.csrfToken(s)
		v.User, v.ReadOnly = s.display(), s.role() == RoleReadOnly
		if !h.checkForm(w, r, v, s) {
			return
		}
		if r.Method == http.MethodPost && v.ReadOnly {
			h.refuseReadOnly(w, r, v)
			return
		}
		r = r.WithContext(api.WithActor(r.Context(), s.actor()))
		if err := fn(w, r, v, s); err != nil {
			h.fail(w, r, v, err)
		}
	}
}

// formPage wraps a page that is a form and nothing else (new, edit,
// confirm delete): a read-only session, on the dashboard or in the portal,
// is refused it as it would be refused the form's POST.
func (h *Handler) formPage(fn pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
		if v.ReadOnly {
			h.refuseReadOnly(w, r, v)
			return nil
		}
		return fn(w, r, v, s)
	}
}

// refuseReadOnly renders the 403 of a change asked for by a read-only
// session.
func (h *Handler) refuseReadOnly(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Portal {
		h.renderError(w, r, v, http.StatusForbidden, "This portal is read-only.")
		return
	}
	h.renderError(w, r, v, http.StatusForbidden, "Your role on this dashboard is read-only: you can see every page, and change nothing. Ask for the admin role to make changes.")
}

// adminApp wraps a dashboard page of one application: admin's checks,
// then the application the path names ({app}, an id or a uid) in v.App.
func (h *Handler) adminApp(fn pageFunc) http.HandlerFunc {
	return h.admin(func(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
		ref, err := pathRef(r, "app")
		if err != nil {
			return err
		}
		if v.App, err = h.store.GetApplication(r.Context(), ref); err != nil {
			return err
		}
		return fn(w, r, v, s)
	})
}

// adminSession returns the operator's session, or nil. A session made with
// another admin key than the current one, or with the admin key when its
// sign-in is turned off, is no session; nor is one made through the
// identity provider under other settings than the current ones.
func (h *Handler) adminSession(r *http.Request) *session {
	c, err := r.Cookie(adminCookie)
	if err != nil {
		return nil
	}
	s, ok := h.keys.decode(c.Value, kindAdmin, h.now())
	switch {
	case !ok:
		return nil
	case s.oidcSignedIn():
		if h.oidc == nil || s.IdP != h.oidc.fingerprint || (s.Role != RoleAdmin && s.Role != RoleReadOnly) {
			return nil
		}
	case !h.keySignIn || h.adminKeyHash == "" || s.AdminKey != h.keys.adminKeyFingerprint(h.adminKeyHash):
		return nil
	}
	return s
}

// setAdminCookie sets (or, with value "", clears) the dashboard's session
// cookie. SameSite=Strict: the dashboard is only ever entered from its own
// pages (the sign-in through the provider ends on a page of its own, see
// handleOIDCCallback).
func (h *Handler) setAdminCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	setCookie(w, &http.Cookie{Name: adminCookie, Value: value, Path: dashPath, HttpOnly: true,
		Secure: isHTTPS(r), SameSite: http.SameSiteStrictMode}, expires)
}

// setCookie sets c until expires, or, when its value is "", clears it.
func setCookie(w http.ResponseWriter, c *http.Cookie, expires time.Time) {
	if c.Value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// checkForm reads a POST's form and checks its CSRF token, rendering 403
// when it is missing or not the session's. GETs pass.
func (h *Handler) checkForm(w http.ResponseWriter, r *http.Request, v *view, s *session) bool {
	if r.Method != http.MethodPost {
		return true
	}
	if err := parseForm(w, r); err != nil {
		h.fail(w, r, v, err)
		return false
	}
	if !h.keys.validCSRF(s, r.PostForm.Get("csrf")) {
		h.renderError(w, r, v, http.StatusForbidden, "This form has expired or did not come from this page. Reload the page and try again.")
		return false
	}
	return true
}

// loginPage is the data of the sign-in page: the ways in this server
// offers.
type loginPage struct {
	Next      string
	KeySignIn bool   // the admin key form
	OIDC      string // the identity provider's host, when sign-in through it is offered
}

func (h *Handler) loginPage(next string) loginPage {
	p := loginPage{Next: next, KeySignIn: h.keySignIn}
	if h.oidc != nil {
		p.OIDC = h.oidc.cfg.Issuer
		if u, err := url.Parse(h.oidc.cfg.Issuer); err == nil {
			p.OIDC = u.Host
		}
	}
	return p
}

func (h *Handler) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	if h.adminSession(r) != nil {
		redirect(w, r, safeNext(r.URL.Query().Get("next")))
		return
	}
	v.Title, v.Data = "Sign in", h.loginPage(safeNext(r.URL.Query().Get("next")))
	h.render(w, r, http.StatusOK, "login", v)
}

// handleLogin signs the operator in with the admin key. The form needs no
// CSRF token (there is no session yet to derive one from); cross-origin
// protection refuses it from other sites, and only someone who knows the
// admin key can sign anyone in.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	if !h.keySignIn {
		h.renderError(w, r, v, http.StatusForbidden, "Sign-in with the admin key is turned off on this server: sign in through the identity provider.")
		return
	}
	if err := parseForm(w, r); err != nil {
		h.fail(w, r, v, err)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if h.adminKeyHash == "" || !hookbridge.KeyMatches(key, h.adminKeyHash) {
		v.Title, v.Data = "Sign in", h.loginPage(next)
		status := http.StatusUnauthorized
		v.Errors["key"] = "This is not the admin key."
		if key == "" {
			v.Errors["key"] = "Enter the admin key."
		} else if tooMany := h.api.AuthFailed(r, key); tooMany != nil {
			// Failed sign-ins are throttled with the API's failed keys.
			tooMany.SetRetryAfter(w.Header())
			status = http.StatusTooManyRequests
			v.Errors["key"] = fmt.Sprintf("Too many failed sign-ins. Try again in %d seconds.", tooMany.Seconds())
		}
		h.render(w, r, status, "login", v)
		return
	}
	s := h.newSession(kindAdmin, adminSessionTTL)
	s.AdminKey = h.keys.adminKeyFingerprint(h.adminKeyHash)
	value, err := h.keys.encode(s)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.setAdminCookie(w, r, value, time.Unix(s.Expires, 0))
	redirect(w, r, next)
}

// newSession is a session of kind, issued now, that lasts ttl, with a
// nonce of its own.
func (h *Handler) newSession(kind string, ttl time.Duration) *session {
	now := h.now()
	return &session{Kind: kind, Issued: now.Unix(), Expires: now.Add(ttl).Unix(), Nonce: newNonce()}
}

// signedOutPage is the data of the page after signing out of a session
// made through the identity provider.
type signedOutPage struct {
	EndSession string // the provider's sign-out page, "" when it has none
	Provider   string // its host
}

// handleLogout ends the operator's session in this browser. It needs the
// session's CSRF token, so that another site cannot sign the operator out.
// A user signed in through the identity provider is offered the
// provider's own sign-out (its end_session_endpoint), as a link: this
// page's form-action policy keeps a form's redirect on this site.
func (h *Handler) handleLogout(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	s := h.adminSession(r)
	if s != nil && !h.checkForm(w, r, v, s) {
		return
	}
	h.setAdminCookie(w, r, "", time.Time{})
	if s == nil || !s.oidcSignedIn() {
		redirect(w, r, "/ui/login?done=signedout")
		return
	}
	v.Title, v.Data = "Signed out", signedOutPage{EndSession: h.oidc.endSessionURL(), Provider: h.loginPage("").OIDC}
	h.render(w, r, http.StatusOK, "signed_out", v)
}

// safeNext returns where to go after signing in: a dashboard path, never
// another site ("//evil.example" or "/\evil.example").
func safeNext(next string) string {
	if !strings.HasPrefix(next, dashPath) || strings.ContainsAny(next, "\\\r\n") {
		return dashPath
	}
	return next
}

// portal wraps a portal page: it requires a portal session whose
// application still exists, and on POST the session's CSRF token and a
// portal that is not read-only. Every page then works on v.App only.
func (h *Handler) portal(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := h.newView(r)
		s, ok := h.portalSession(w, r, v)
		if !ok {
			return
		}
		if !h.checkForm(w, r, v, s) {
			return
		}
		if r.Method == http.MethodPost && s.ReadOnly {
			h.renderError(w, r, v, http.StatusForbidden, "This portal is read-only.")
			return
		}
		if err := fn(w, r, v, s); err != nil {
			h.fail(w, r, v, err)
		}
	}
}

// portalSession returns the portal session and fills v with its
// application; otherwise it renders why there is none.
func (h *Handler) portalSession(w http.ResponseWriter, r *http.Request, v *view) (*session, bool) {
	c, err := r.Cookie(portalCookie)
	var s *session
	if err == nil {
		s, _ = h.keys.decode(c.Value, kindPortal, h.now())
	}
	if s == nil {
		h.renderError(w, r, v, http.StatusUnauthorized,
			"This portal session has ended or the link is no longer valid. Open the webhook portal again from the application that sent you here.")
		return nil, false
	}
	ended, err := h.api.PortalAccessEnded(r.Context(), s.AppID, time.UnixMicro(s.Iat), s.TokenNonce)
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	if ended {
		h.setPortalCookie(w, r, "", time.Time{})
		h.renderError(w, r, v, http.StatusUnauthorized,
			"This portal link was revoked. Open the webhook portal again from the application that sent you here.")
		return nil, false
	}
	app, err := h.store.GetApplication(r.Context(), s.AppID)
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	v.App, v.ReadOnly, v.CSRF = app, s.ReadOnly, h.keys.csrfToken(s)
	return s, true
}

// handlePortalHome is the portal's front page, and where its links land:
// a ?token= is exchanged for a session cookie, then the browser is sent to
// the same page without the token, so the token leaves the address bar
// and the history.
func (h *Handler) handlePortalHome(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		h.portal(h.portalEndpoints)(w, r)
		return
	}
	v := h.newView(r)
	access, err := h.api.VerifyPortalToken(r.Context(), token)
	if err != nil {
		if hookbridge.ErrorCode(err) == hookbridge.EUNAUTHORIZED {
			if tooMany := h.api.AuthFailed(r, token); tooMany != nil {
				err = tooMany
			}
		}
		h.fail(w, r, v, err)
		return
	}
	if _, err := h.store.GetApplication(r.Context(), access.AppID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	s := &session{
		Kind:       kindPortal,
		Issued:     h.now().Unix(),
		Expires:    access.Expires.Unix(),
		Nonce:      newNonce(),
		AppID:      access.AppID,
		Flags:      access.FeatureFlags,
		ReadOnly:   access.ReadOnly,
		Iat:        access.IssuedAt.UnixMicro(),
		TokenNonce: access.Nonce,
	}
	value, err := h.keys.encode(s)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.setPortalCookie(w, r, value, access.Expires)
	redirect(w, r, portalPath)
}

// setPortalCookie sets (or, with value "", clears) the portal's session
// cookie.
//
// SameSite=Lax, not Strict: portal links are opened from another site (the
// platform's own pages, an e-mail), and a Strict cookie set on such a
// navigation is not sent on the redirect that follows it. Lax still keeps
// the cookie off every cross-site POST, and forms carry a CSRF token
// besides. When the portal may be framed by another site and the page came
// over HTTPS, the cookie is SameSite=None; Secure; Partitioned instead:
// browsers send no Lax cookie inside a cross-site iframe, and a partitioned
// cookie is kept apart per embedding site.
func (h *Handler) setPortalCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	c := &http.Cookie{
		Name: portalCookie, Value: value, Path: portalPath,
		HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode,
	}
	if h.crossSiteFraming && c.Secure {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	setCookie(w, c, expires)
}

// handlePortalLogout ends the portal session in this browser.
func (h *Handler) handlePortalLogout(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r)
	s, ok := h.portalSession(w, r, v)
	if !ok || !h.checkForm(w, r, v, s) {
		return
	}
	h.setPortalCookie(w, r, "", time.Time{})
	v.App, v.CSRF = nil, ""
	v.Title, v.Data = "Signed out", errorPage{Heading: "Signed out", Message: "You have left the webhook portal. Open it again from the application that sent you here."}
	h.render(w, r, http.StatusOK, "error", v)
}
