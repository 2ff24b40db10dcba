package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookbridge/hookbridge/api"
)

// Changes go through the management API in-process (api.Server's
// ServeAuthenticated): the forms send the API's JSON bodies to the API's
// handlers, so a rule (what a valid endpoint URL is, which addresses are
// refused, when the dispatcher is woken) has one implementation, and a
// refusal comes back in the API's own words, naming the field.

// apiError is a non-2xx answer of the API.
type apiError struct {
	Status int
	Detail string            // the error's detail, or a summary of the fields
	Fields map[string]string // invalid fields (422): form field name → message
}

func (e *apiError) Error() string { return fmt.Sprintf("api: %d: %s", e.Status, e.Detail) }

// callAPI makes one API request on behalf of the page's user, who the
// caller has authenticated and whose scope the caller has checked (the path
// names only what the user may touch). body is sent as JSON unless nil;
// a 2xx answer is decoded into out unless out is nil. Any other answer is
// an *apiError.
func (h *Handler) callAPI(r *http.Request, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return fmt.Errorf("api request %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Host = r.Host
	if isHTTPS(r) {
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	rec := &recorder{header: http.Header{}}
	h.api.ServeAuthenticated(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		if out != nil {
			if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
				return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
			}
		}
		return nil
	}
	return parseAPIError(rec.status, rec.body.Bytes())
}

// parseAPIError reads the API's two error shapes: HTTPValidationError for
// 422 and HttpErrorOut for everything else.
func parseAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	if status == http.StatusUnprocessableEntity {
		var v struct {
			Detail []struct {
				Loc []string `json:"loc"`
				Msg string   `json:"msg"`
			} `json:"detail"`
		}
		if json.Unmarshal(body, &v) == nil {
			e.Fields = map[string]string{}
			var parts []string
			for _, d := range v.Detail {
				// loc is ["body", field, ...]: the form field is the
				// top-level body field (schemas.1 is the schema field).
				field := "_"
				if len(d.Loc) > 1 {
					field = d.Loc[1]
				}
				if prev := e.Fields[field]; prev != "" {
					e.Fields[field] = prev + "; " + d.Msg
				} else {
					e.Fields[field] = d.Msg
				}
				parts = append(parts, strings.Join(d.Loc[min(1, len(d.Loc)):], ".")+": "+d.Msg)
			}
			e.Detail = strings.Join(parts, "; ")
			return e
		}
	}
	var out struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &out) == nil && out.Detail != "" {
		e.Detail = out.Detail
	} else {
		e.Detail = http.StatusText(status)
	}
	return e
}

// recorder is an in-memory http.ResponseWriter for in-process API calls.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// apiPath builds an API path from segments, escaping each, so that an id
// taken from a page's URL can only ever be one path segment.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// portalLink is the link the API issued, reduced to its path and query:
// the portal is served by this same server, and a relative redirect is not
// refused by the page's form-action policy whatever PublicURL says.
func portalLink(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Path, api.PortalPath) {
		return "", fmt.Errorf("unexpected portal link %q", raw)
	}
	return u.RequestURI(), nil
}
