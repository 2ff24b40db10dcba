package ui

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
)

// Where the two surfaces are served. The portal's path is the API's, since
// the API's links point there.
const (
	dashPath   = "/ui/"
	portalPath = api.PortalPath
)

// DefaultFrameAncestors is the portal's frame-ancestors policy when
// Config.FrameAncestors is empty: it may be framed by this server's own
// pages only.
const DefaultFrameAncestors = "'self'"

// oidcStartTimeout bounds New's first request to the identity provider.
const oidcStartTimeout = 5 * time.Second

// maxFormBytes bounds a submitted form (an event type's schema is the
// largest thing typed into one).
const maxFormBytes = 1 << 20

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Handler. Zero values mean the documented defaults.
type Config struct {
	// Store is read directly for every page; changes go through API.
	Store hookbridge.Store
	// API serves the changes the pages make and checks portal tokens.
	API *api.Server
	// AdminKeyHash is hookbridge.HashKey of the admin key that signs the
	// operator in. When it is empty nobody can sign in with a key.
	AdminKeyHash string
	// OIDC, when set, lets operators sign in through an OpenID Connect
	// provider, each with the role its claims map to.
	OIDC *OIDCConfig
	// NoAdminKeySignIn turns the dashboard's sign-in with the admin key
	// off (the API still takes the key), and ends the sessions made with
	// it. It needs OIDC.
	NoAdminKeySignIn bool
	// FrameAncestors is the CSP frame-ancestors source list of the portal,
	// e.g. "'self' https://app.example.com": the pages that may embed the
	// portal in an iframe. Empty means DefaultFrameAncestors. The dashboard
	// may never be framed.
	FrameAncestors string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the details of internal errors; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler serves the operator dashboard under /ui/ and the consumer portal
// under /portal/. Build it with New.
type Handler struct {
	store        hookbridge.Store
	api          *api.Server
	adminKeyHash string
	keySignIn    bool        // the admin key signs in to the dashboard
	oidc         *oidcClient // nil without OIDC
	keys         keys
	now          func() time.Time
	log          *slog.Logger

	frameAncestors string
	// crossSiteFraming: the portal may be framed by another site, where a
	// SameSite=Lax cookie is not sent (see setPortalCookie).
	crossSiteFraming bool

	pages  map[string]*template.Template
	assets map[string]string // static file name → content hash, for cache busting
	static fs.FS
	next   http.Handler // the routes, behind cross-origin protection
}

// New returns a Handler for cfg. It reads (or on first start creates) the
// key that signs sessions, so it needs the store to answer.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.API == nil {
		return nil, errors.New("ui: Config.Store and Config.API are required")
	}
	fa, crossSite, err := parseFrameAncestors(cfg.FrameAncestors)
	if err != nil {
		return nil, err
	}
	if cfg.NoAdminKeySignIn && cfg.OIDC == nil {
		return nil, errors.New("ui: the admin key sign-in can only be turned off when sign-in through an OpenID Connect provider is configured")
	}
	k, err := loadKeys(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		store:            cfg.Store,
		api:              cfg.API,
		adminKeyHash:     cfg.AdminKeyHash,
		keySignIn:        !cfg.NoAdminKeySignIn,
		keys:             k,
		now:              cfg.Now,
		log:              cfg.Logger,
		frameAncestors:   fa,
		crossSiteFraming: crossSite,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if cfg.OIDC != nil {
		if h.oidc, err = newOIDCClient(cfg.OIDC, k, h.now); err != nil {
			return nil, err
		}
		// Fetch the provider's discovery document now, to show a wrong
		// issuer in the log at start; a provider that is down delays
		// sign-in only, never the server, and is asked again then.
		dctx, cancel := context.WithTimeout(ctx, oidcStartTimeout)
		_, _, err := h.oidc.discover(dctx)
		cancel()
		if err != nil {
			h.log.WarnContext(ctx, "ui: identity provider not reachable at start; sign-in through it tries again when used", "err", err)
		}
	}
	if h.static, err = fs.Sub(staticFS, "static"); err != nil {
		return nil, fmt.Errorf("ui: static files: %w", err)
	}
	if h.assets, err = hashAssets(h.static); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusForbidden, "This form was sent from another site, so it was refused.")
	}))
	h.next = cop.Handler(h.routes())
	return h, nil
}

// Register mounts the dashboard and the portal on mux, and sends a browser
// that opens the server's root to the dashboard.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(dashPath, h)
	mux.Handle(portalPath, h)
	mux.Handle("GET /{$}", http.RedirectHandler(dashPath, http.StatusFound))
}

// sourceRE matches one CSP host-source or scheme-source: no spaces, quotes,
// commas or semicolons, which could end the directive.
var sourceRE = regexp.MustCompile(`^(?:[a-z][a-z0-9+.-]*:(?://)?)?(?:\*\.)?[A-Za-z0-9.*-]*(?::(?:[0-9]+|\*))?(?:/[^\s;,']*)?$`)

// ValidateFrameAncestors reports what is wrong with a frame-ancestors
// source list for Config.FrameAncestors, or nil.
func ValidateFrameAncestors(list string) error {
	_, _, err := parseFrameAncestors(list)
	return err
}

// parseFrameAncestors checks a frame-ancestors source list and reports
// whether it admits another site than this one.
func parseFrameAncestors(list string) (string, bool, error) {
	fields := strings.Fields(list)
	if len(fields) == 0 {
		return DefaultFrameAncestors, false, nil
	}
	crossSite := false
	for _, f := range fields {
		switch f {
		case "'self'":
			continue
		case "'none'":
			if len(fields) > 1 {
				return "", false, fmt.Errorf("frame-ancestors: 'none' must stand alone")
			}
			continue
		}
		if !sourceRE.MatchString(f) || f == "" {
			return "", false, fmt.Errorf("frame-ancestors: %q is not a CSP source (e.g. https://app.example.com or 'self')", f)
		}
		crossSite = true
	}
	return strings.Join(fields, " "), crossSite, nil
}

func hashAssets(static fs.FS) (map[string]string, error) {
	assets := map[string]string{}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		assets[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: hash static files: %w", err)
	}
	return assets, nil
}

// parsePages parses each page template together with the layout and the
// shared partials.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

// ServeHTTP sets the security headers every page gets, then serves the
// route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	portal := strings.HasPrefix(r.URL.Path, portalPath)
	frame := "'none'"
	if portal {
		frame = h.frameAncestors
	}
	// No inline script or style anywhere: every script and stylesheet is a
	// file under static/, so injected markup cannot run.
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "+frame)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Portal links carry a token, and pages show endpoint URLs: send no
	// referrer anywhere.
	hdr.Set("Referrer-Policy", "no-referrer")
	switch {
	case !portal:
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	case frame == "'self'":
		hdr.Set("X-Frame-Options", "SAMEORIGIN")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "panic serving page", "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			h.renderError(w, r, nil, http.StatusInternalServerError, "")
		}
	}()
	h.next.ServeHTTP(w, r)
}

// routes lists every page and action of both surfaces.
func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	// Each surface serves the static files under its own prefix, so a
	// proxy may expose the portal alone.
	mux.HandleFunc("GET /ui/static/{file}", h.serveStatic)
	mux.HandleFunc("GET /portal/static/{file}", h.serveStatic)

	mux.HandleFunc("GET /ui/login", h.handleLoginForm)
	mux.HandleFunc("POST /ui/login", h.handleLogin)
	mux.HandleFunc("GET /ui/oidc/login", h.handleOIDCLogin)
	mux.HandleFunc("GET "+OIDCCallbackPath, h.handleOIDCCallback)
	mux.HandleFunc("POST /ui/logout", h.handleLogout)
	mux.HandleFunc("GET /ui/{$}", h.admin(h.dashOverview))
	// Pages that are a form and nothing else (formPage) are refused to
	// read-only sessions, as their POSTs are.
	mux.HandleFunc("GET /ui/apps/new", h.admin(h.formPage(h.dashNewApp)))
	mux.HandleFunc("POST /ui/apps/new", h.admin(h.dashCreateApp))
	mux.HandleFunc("GET /ui/apps/{app}", h.adminApp(h.dashApp))
	mux.HandleFunc("GET /ui/apps/{app}/edit", h.adminApp(h.formPage(h.dashEditApp)))
	mux.HandleFunc("POST /ui/apps/{app}/edit", h.adminApp(h.dashUpdateApp))
	mux.HandleFunc("GET /ui/apps/{app}/delete", h.adminApp(h.formPage(h.dashConfirmDeleteApp)))
	mux.HandleFunc("POST /ui/apps/{app}/delete", h.adminApp(h.dashDeleteApp))
	mux.HandleFunc("POST /ui/apps/{app}/portal", h.admin(h.dashOpenPortal))
	mux.HandleFunc("POST /ui/apps/{app}/portal/expire-all", h.admin(h.dashExpirePortal))
	mux.HandleFunc("GET /ui/apps/{app}/msg/{msg}", h.adminApp(h.dashMessage))
	mux.HandleFunc("POST /ui/apps/{app}/msg/{msg}/resend", h.admin(h.dashResend))
	mux.HandleFunc("POST /ui/apps/{app}/replay", h.adminApp(h.dashReplay))
	mux.HandleFunc("GET /ui/tasks", h.admin(h.dashTasks))
	mux.HandleFunc("POST /ui/tasks/{task}/cancel", h.admin(h.dashCancelTask))
	mux.HandleFunc("GET /ui/event-types", h.admin(h.dashEventTypes))
	mux.HandleFunc("POST /ui/event-types", h.admin(h.dashCreateEventType))
	mux.HandleFunc("GET /ui/event-types/{name}", h.admin(h.dashEventType))
	mux.HandleFunc("POST /ui/event-types/{name}", h.admin(h.dashUpdateEventType))
	mux.HandleFunc("POST /ui/event-types/{name}/archive", h.admin(h.dashArchiveEventType))
	mux.HandleFunc("GET /ui/operational", h.admin(h.dashOperational))
	mux.HandleFunc("POST /ui/operational", h.admin(h.dashCreateOperational))
	mux.HandleFunc("POST /ui/operational/{ep}/delete", h.admin(h.dashDeleteOperational))
	mux.HandleFunc("GET /ui/keys", h.admin(h.dashKeys))
	mux.HandleFunc("POST /ui/keys", h.admin(h.dashCreateKey))
	mux.HandleFunc("POST /ui/keys/{key}/rotate", h.admin(h.dashRotateKey))
	mux.HandleFunc("POST /ui/keys/{key}/revoke", h.admin(h.dashRevokeKey))
	mux.HandleFunc("GET /ui/sources", h.admin(h.dashSources))
	mux.HandleFunc("GET /ui/sources/{src}", h.admin(h.dashSource))
	mux.HandleFunc("POST /ui/sources/{src}/events/{ev}/release", h.admin(h.dashReleaseEvent))

	mux.HandleFunc("GET /portal/{$}", h.handlePortalHome)
	mux.HandleFunc("POST /portal/logout", h.handlePortalLogout)
	mux.HandleFunc("GET /portal/msg", h.portal(h.portalMessages))
	mux.HandleFunc("GET /portal/msg/{msg}", h.portal(h.portalMessage))
	mux.HandleFunc("POST /portal/msg/{msg}/resend", h.portal(h.portalResend))
	mux.HandleFunc("GET /portal/event-types", h.portal(h.portalEventTypes))

	// An application's endpoints have the same pages in the portal (the
	// session's application) and on the dashboard (the path's).
	for _, surface := range []struct {
		prefix string
		wrap   func(pageFunc) http.HandlerFunc
	}{
		{"/portal/endpoints", h.portal},
		{"/ui/apps/{app}/endpoints", h.adminApp},
	} {
		p, wrap := surface.prefix, surface.wrap
		mux.HandleFunc("GET "+p+"/new", wrap(h.formPage(h.newEndpoint)))
		mux.HandleFunc("POST "+p+"/new", wrap(h.createEndpoint))
		mux.HandleFunc("GET "+p+"/{ep}", wrap(h.showEndpoint))
		mux.HandleFunc("GET "+p+"/{ep}/edit", wrap(h.formPage(h.editEndpoint)))
		mux.HandleFunc("POST "+p+"/{ep}/edit", wrap(h.updateEndpoint))
		mux.HandleFunc("POST "+p+"/{ep}/filter-test", wrap(h.testFilter))
		mux.HandleFunc("POST "+p+"/{ep}/disable", wrap(h.disableEndpoint))
		mux.HandleFunc("POST "+p+"/{ep}/rotate", wrap(h.rotateSecret))
		mux.HandleFunc("POST "+p+"/{ep}/test", wrap(h.sendTest))
		mux.HandleFunc("POST "+p+"/{ep}/recover", wrap(h.recoverEndpoint))
		mux.HandleFunc("POST "+p+"/{ep}/mtls", wrap(h.setMTLS))
		mux.HandleFunc("POST "+p+"/{ep}/mtls/delete", wrap(h.removeMTLS))
		mux.HandleFunc("POST "+p+"/{ep}/oauth", wrap(h.setOAuth))
		mux.HandleFunc("POST "+p+"/{ep}/oauth/delete", wrap(h.removeOAuth))
		mux.HandleFunc("GET "+p+"/{ep}/delete", wrap(h.formPage(h.confirmDeleteEndpoint)))
		mux.HandleFunc("POST "+p+"/{ep}/delete", wrap(h.deleteEndpoint))
	}

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "")
	})
	return mux
}

// serveStatic serves an embedded file. URLs carry the file's hash, so a
// file may be cached for good.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if _, ok := h.assets[name]; !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeFileFS(w, r, h.static, name)
}

// validRef reports whether a path value can be an id, uid, eventId or
// event type name: the API's identifier alphabet, never "." or "..".
func validRef(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// pathRef returns the named path value if it is a valid reference, or an
// ENOTFOUND error that renders as the 404 page.
func pathRef(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !validRef(v) {
		return "", hookbridge.Errorf(hookbridge.ENOTFOUND, "not found")
	}
	return v, nil
}

// parseForm reads a submitted form of bounded size.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return hookbridge.Errorf(hookbridge.EBADREQUEST, "the form could not be read: %v", err)
	}
	return nil
}

// redirect answers a successful form with a redirect to a page (the
// Post/Redirect/Get pattern, so that reloading does not resend the form).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
