package api

import (
	"context"
	"errors"
	"net/http"
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

// statusOf maps each domain error code to its HTTP status. This and
// writeError (which also answers *TooManyFailures, 429) are the only
// places that know the mapping.
func statusOf(code string) int {
	switch code {
	case hookbridge.EINVALID:
		return http.StatusUnprocessableEntity
	case hookbridge.EBADREQUEST:
		return http.StatusBadRequest
	case hookbridge.ENOTFOUND:
		return http.StatusNotFound
	case hookbridge.ECONFLICT:
		return http.StatusConflict
	case hookbridge.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case hookbridge.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case hookbridge.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
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
		var e *hookbridge.Error
		errors.As(err, &e)
		body := httpValidationError{Detail: make([]validationErrorItem, 0, max(len(e.Fields), 1))}
		for _, f := range e.Fields {
			body.Detail = append(body.Detail, validationErrorItem{Loc: f.Loc, Msg: f.Msg, Type: f.Type})
		}
		if len(body.Detail) == 0 {
			body.Detail = append(body.Detail, validationErrorItem{Loc: []string{"body"}, Msg: e.Message, Type: "value_error"})
		}
		writeJSON(w, status, body)
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

// fieldErrors collects every invalid field of a request, so that one 422
// names them all, as Svix does.
type fieldErrors []hookbridge.FieldError

// add records that the field at loc is invalid.
func (fe *fieldErrors) add(msg string, loc ...string) {
	*fe = append(*fe, hookbridge.FieldError{Loc: loc, Msg: msg, Type: "value_error"})
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
	return &hookbridge.Error{Code: hookbridge.EINVALID, Message: strings.Join(parts, "; "), Fields: fe}
}
