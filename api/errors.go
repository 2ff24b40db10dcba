package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// httpErrorOut is Svix's HttpErrorOut: the body of every error response
// except validation errors.
type httpErrorOut struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// httpValidationError is Svix's HTTPValidationError, the body of a 422.
type httpValidationError struct {
	Detail []validationErrorItem `json:"detail"`
}

type validationErrorItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// codeTooManyRequests is the code of a 429's HttpErrorOut: too many
// failed authentications (see throttle.go).
const codeTooManyRequests = "too_many_requests"

// statusOf maps each domain error code to its HTTP status (500 for any
// other). This and writeError (which also answers *TooManyFailures, 429,
// and gives an EUNAVAILABLE 503 its Retry-After) are the only places that
// know the mapping.
func statusOf(code string) int {
	if status, ok := statusOfCode[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

var statusOfCode = map[string]int{
	hookbridge.EINVALID:      http.StatusUnprocessableEntity,
	hookbridge.EBADREQUEST:   http.StatusBadRequest,
	hookbridge.ENOTFOUND:     http.StatusNotFound,
	hookbridge.ECONFLICT:     http.StatusConflict,
	hookbridge.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	hookbridge.EUNAUTHORIZED: http.StatusUnauthorized,
	hookbridge.EFORBIDDEN:    http.StatusForbidden,
	hookbridge.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// writeError answers a failed request. Domain errors become their status and
// body; anything else is an internal error: its details go to the log, and
// the caller gets a generic 500 that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var tooMany *TooManyFailures
	if errors.As(err, &tooMany) {
		tooMany.SetRetryAfter(w.Header())
		writeJSON(w, http.StatusTooManyRequests, httpErrorOut{Code: codeTooManyRequests, Detail: tooMany.Error()})
		return
	}
	code := hookbridge.ErrorCode(err)
	status := statusOf(code)

	switch {
	case code == hookbridge.EINVALID:
		writeJSON(w, status, httpValidationError{Detail: validationDetail(err)})
	case code == hookbridge.EUNAVAILABLE:
		// Not a bug: the store cannot write for now. The caller may try
		// again, here or (told by the readiness check) elsewhere.
		s.ready.failed(s.now(), err)
		s.log.WarnContext(r.Context(), "store unavailable", "method", r.Method, "path", r.URL.Path,
			"request_id", w.Header().Get(RequestIDHeader), "err", err)
		setRetryAfter(w.Header(), unavailableRetryAfter)
		writeJSON(w, status, httpErrorOut{Code: code, Detail: hookbridge.ErrorMessage(err)})
	case status == http.StatusInternalServerError:
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The caller went away; nobody reads the answer.
			s.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path,
				"request_id", w.Header().Get(RequestIDHeader))
		} else {
			s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path,
				"request_id", w.Header().Get(RequestIDHeader), "err", err)
		}
		writeJSON(w, status, httpErrorOut{Code: hookbridge.EINTERNAL, Detail: "internal error"})
	default:
		writeJSON(w, status, httpErrorOut{Code: code, Detail: hookbridge.ErrorMessage(err)})
	}
}

// validationDetail is the detail of the 422 that answers an EINVALID err:
// the fields it names (see fieldErrors), or, for an error from below the
// API that names none, the body as a whole.
func validationDetail(err error) []validationErrorItem {
	var ve *validationError
	if errors.As(err, &ve) && len(ve.fields) > 0 {
		return slices.Clone(ve.fields)
	}
	return []validationErrorItem{{Loc: []string{"body"}, Msg: hookbridge.ErrorMessage(err), Type: "value_error"}}
}

// validationError is an EINVALID error that names the request's fields at
// fault, as Svix's 422 does (loc, msg, type). It unwraps to the domain
// error, so that ErrorCode and ErrorMessage read it as one.
type validationError struct {
	err    *hookbridge.Error
	fields fieldErrors
}

func (e *validationError) Error() string {
	parts := make([]string, len(e.fields))
	for i, f := range e.fields {
		parts[i] = strings.Join(f.Loc, ".") + ": " + f.Msg
	}
	return fmt.Sprintf("%s: %s", e.err.Code, strings.Join(parts, "; "))
}

func (e *validationError) Unwrap() error { return e.err }

// fieldErrors collects every invalid field of a request, so that one 422
// names them all, as Svix does.
type fieldErrors []validationErrorItem

// add records that the field at loc is invalid.
func (fe *fieldErrors) add(msg string, loc ...string) {
	*fe = append(*fe, validationErrorItem{Loc: loc, Msg: msg, Type: "value_error"})
}

// body records an invalid body field; path elements name nested fields.
func (fe *fieldErrors) body(msg string, path ...string) {
	fe.add(msg, append([]string{"body"}, path...)...)
}

// query records an invalid query parameter.
func (fe *fieldErrors) query(param, msg string) { fe.add(msg, "query", param) }

// err returns the collected errors as one EINVALID error, or nil.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	parts := make([]string, len(fe))
	for i, f := range fe {
		parts[i] = strings.Join(f.Loc[1:], ".") + ": " + f.Msg
	}
	return &validationError{
		err:    &hookbridge.Error{Code: hookbridge.EINVALID, Message: strings.Join(parts, "; ")},
		fields: fe,
	}
}
