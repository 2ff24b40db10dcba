package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
)

// view is what every page template gets: the surface it belongs to, the
// session's CSRF token, what to tell the user, a form's values and errors,
// and the page's own data.
type view struct {
	Title    string
	Portal   bool   // the consumer portal, else the dashboard
	Base     string // "/ui" or "/portal": links are built on it
	Nav      string // the active navigation item
	CSRF     string // the token every form of the session carries
	SignedIn bool
	User     string                  // who is signed in to the dashboard
	App      *hookbridge.Application // the portal's application
	ReadOnly bool                    // a read-only portal or dashboard role: no forms
	Notice   string                  // what the last action did
	Error    string                  // why the last action failed, when no one field is to blame
	Errors   map[string]string       // invalid form fields: name → message
	Form     url.Values              // the submitted values, to fill the form again
	Data     any                     // the page's own data

	assets map[string]string
}

// Asset returns the URL of a static file, versioned by its content.
func (v *view) Asset(name string) string {
	return v.Base + "/static/" + name + "?v=" + v.assets[name]
}

// The pages of one application's endpoints and messages are the same on
// both surfaces: in the portal for the session's application, on the
// dashboard under /ui/apps/{app}/ for the application of the path (v.App
// on both). These give their paths on the surface of the page.

// AppBase is what an endpoint's ("/endpoints/{ep}") or a message's
// ("/msg/{msg}") path is appended to.
func (v *view) AppBase() string {
	if v.Portal {
		return portalPath[:len(portalPath)-1]
	}
	return "/ui/apps/" + v.App.ID
}

// AppHome is the page that lists the application's endpoints.
func (v *view) AppHome() string {
	if v.Portal {
		return portalPath
	}
	return "/ui/apps/" + v.App.ID
}

// MessagesPath is the page that searches the application's messages.
func (v *view) MessagesPath() string {
	if v.Portal {
		return "/portal/msg"
	}
	return "/ui/apps/" + v.App.ID
}

// appNav is the navigation item of the application's pages.
func (v *view) appNav() string {
	if v.Portal {
		return "endpoints"
	}
	return "overview"
}

// newView starts the view of a request on the surface its path is on.
func (h *Handler) newView(r *http.Request) *view {
	v := &view{assets: h.assets, Base: "/ui", Errors: map[string]string{}, Form: url.Values{}}
	if strings.HasPrefix(r.URL.Path, portalPath) {
		v.Portal, v.Base = true, "/portal"
	}
	v.Notice = notices[r.URL.Query().Get("done")]
	return v
}

// notices are the messages a redirect after a successful form may show
// (?done=key). Only these fixed texts can appear, so the query cannot be
// used to put words on the page.
var notices = map[string]string{
	"created":           "Endpoint added. Its signing secret is below.",
	"updated":           "Endpoint saved.",
	"disabled":          "Endpoint disabled: nothing is sent to it until it is enabled again.",
	"enabled":           "Endpoint enabled.",
	"deleted":           "Endpoint deleted.",
	"rotated":           "Signing secret rotated. The previous secret keeps signing for 24 hours, so verify with either.",
	"sent":              "Test event sent. Its attempt shows below as soon as the endpoint answers.",
	"resent":            "Message queued to be sent again.",
	"recovering":        "Recovery started: every message that failed since then is being sent again, in the background.",
	"replaying-missing": "Replay started: every message since then that this endpoint never received is being sent, in the background.",
	"replaying":         "Replay started: the messages found are queued to the endpoint, at no more than its rate limit.",
	"task-canceled":     "Task canceled: it queues nothing more. What it had queued is still sent.",
	"et-created":        "Event type created.",
	"et-updated":        "Event type saved.",
	"archived":          "Event type archived: it is hidden from the catalogue and cannot be subscribed to.",
	"restored":          "Event type restored.",
	"signedout":         "Signed out.",
	"op-created":        "Operational endpoint added. Its signing secret is below.",
	"op-deleted":        "Operational endpoint deleted.",
	"key-revoked":       "API key revoked: it no longer works, on every instance within seconds.",
	"revoked":           "Portal links revoked: every link issued so far, and every portal session opened with one, has stopped working. New links work as usual.",
	"app-created":       "Application created. Add an endpoint to start delivering its messages.",
	"app-updated":       "Application saved.",
	"app-deleted":       "Application deleted, with its endpoints, messages and attempts.",
	"released":          "Event released: it is forwarded now, marked stale.",
	"mtls-set":          "Client certificate saved: the next request to the endpoint presents it.",
	"mtls-removed":      "Client certificate removed: requests go without one.",
	"oauth-set":         "OAuth credentials saved: the next request to the endpoint fetches a token with them.",
	"oauth-removed":     "OAuth credentials removed: requests go without a token.",
}

// render writes a page. It executes into a buffer first, so a template
// error becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := h.pages[page]
	if !ok {
		h.log.ErrorContext(r.Context(), "ui: no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "ui: render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Heading string
	Message string
}

// renderError shows the error page. An empty message means the status's
// standard explanation.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, v *view, status int, msg string) {
	if v == nil {
		v = h.newView(r)
	}
	e := errorPage{Status: status, Message: msg}
	switch status {
	case http.StatusNotFound:
		e.Heading = "Not found"
		if msg == "" {
			e.Message = "There is nothing here, or it is not yours to see."
		}
	case http.StatusUnauthorized:
		e.Heading = "Sign-in needed"
	case http.StatusForbidden:
		e.Heading = "Not allowed"
	case http.StatusInternalServerError:
		e.Heading = "Something went wrong"
		e.Message = "The server could not complete this request. It has been logged; please try again."
	default:
		e.Heading = http.StatusText(status)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	v.Title, v.Data = e.Heading, e
	h.render(w, r, status, "error", v)
}

// fail renders the page for an error a handler returned: the API's and the
// store's refusals in their own words, anything else as a logged 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var tooMany *api.TooManyFailures
	if errors.As(err, &tooMany) {
		tooMany.SetRetryAfter(w.Header())
		h.renderError(w, r, v, http.StatusTooManyRequests,
			fmt.Sprintf("Too many failed attempts. Try again in %d seconds.", tooMany.Seconds()))
		return
	}
	var ae *apiError
	if errors.As(err, &ae) {
		msg := ae.Detail
		if ae.Status == http.StatusNotFound {
			msg = ""
		}
		h.renderError(w, r, v, ae.Status, msg)
		return
	}
	switch hookbridge.ErrorCode(err) {
	case hookbridge.ENOTFOUND:
		h.renderError(w, r, v, http.StatusNotFound, "")
	case hookbridge.EBADREQUEST:
		h.renderError(w, r, v, http.StatusBadRequest, hookbridge.ErrorMessage(err))
	case hookbridge.EFORBIDDEN:
		h.renderError(w, r, v, http.StatusForbidden, hookbridge.ErrorMessage(err))
	case hookbridge.EUNAUTHORIZED:
		h.renderError(w, r, v, http.StatusUnauthorized, hookbridge.ErrorMessage(err))
	case hookbridge.EUNAVAILABLE:
		// The store cannot write for now (disk full, read-only, database
		// down): not a bug, and worth another try, as the API says.
		h.log.WarnContext(r.Context(), "ui: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		h.renderError(w, r, v, http.StatusServiceUnavailable, hookbridge.ErrorMessage(err))
	default:
		h.log.ErrorContext(r.Context(), "ui: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		h.renderError(w, r, v, http.StatusInternalServerError, "")
	}
}

// formFailed reports whether err is the API refusing what a form
// submitted (a field, or the request as a whole in a way the user can
// fix); if so it puts the reasons into v for the form to show again.
func formFailed(err error, v *view) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusUnprocessableEntity:
		for f, msg := range ae.Fields {
			v.Errors[f] = msg
		}
		if msg := ae.Fields["_"]; msg != "" {
			v.Error = msg
		} else {
			v.Error = "Please correct the fields marked below."
		}
		return true
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		v.Error = ae.Detail
		return true
	}
	return false
}

// timeLayout is how pages show times: UTC, to the second, always labelled.
const timeLayout = "2006-01-02 15:04:05 UTC"

// inputTimeLayout is the value format of <input type="datetime-local">.
const inputTimeLayout = "2006-01-02T15:04"

// funcs are the template functions.
var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(timeLayout)
	},
	"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"inputTime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(inputTimeLayout)
	},
	"prettyJSON": prettyJSON,
	"join":       strings.Join,
	"lower":      strings.ToLower,
	"contains":   slices.Contains[[]string],
	"trigger": func(t hookbridge.TriggerType) string {
		if t == hookbridge.TriggerManual {
			return "manual"
		}
		return "scheduled"
	},
	// codeClass colours an attempt's answer: a 2xx, or a broker's
	// acknowledgement (a successful attempt without an HTTP status), is
	// good; none or another status is bad.
	"codeClass": func(code int, st hookbridge.MessageStatus) string {
		if code >= 200 && code < 300 || code == 0 && st == hookbridge.StatusSuccess {
			return "success"
		}
		return "fail"
	},
	"codeText": func(code int, st hookbridge.MessageStatus) string {
		switch {
		case code == 0 && st == hookbridge.StatusSuccess:
			return "acknowledged"
		case code == 0:
			return "no response"
		}
		return strconv.Itoa(code) + " " + http.StatusText(code)
	},
	// maskURL shows an endpoint URL with its password (a broker's) as ****.
	"maskURL": hookbridge.MaskURL,
	// sendVerb is how an attempt to the URL was made: POST, or published
	// to a broker.
	"sendVerb": func(raw string) string {
		if u, err := hookbridge.ParseEndpointURL(raw); err == nil && u.Transport != hookbridge.TransportHTTP {
			return "PUBLISH"
		}
		return "POST"
	},
	"count": func(n int64) string { return groupDigits(n) },
	"add":   func(a, b int64) int64 { return a + b },
	"add1":  func(i int) int { return i + 1 },
}

// prettyJSON indents a JSON value for reading; what is not JSON is shown as
// it is.
func prettyJSON(raw json.RawMessage) string {
	if raw == nil {
		return "(content expunged)"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// groupDigits writes n with thin separators every three digits: 12,345.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// parseInputTime reads a datetime-local value as UTC; "" is the zero time.
func parseInputTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{inputTimeLayout, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
