package hookbridge

import (
	"errors"
	"fmt"
)

// Error codes. The API maps each to exactly one HTTP status (see api/errors.go).
const (
	EINVALID      = "invalid"               // a field failed validation (422)
	EBADREQUEST   = "bad_request"           // the request could not be read at all, e.g. malformed JSON (400)
	ENOTFOUND     = "not_found"             // the entity does not exist, or is not visible to the caller (404)
	ECONFLICT     = "conflict"              // a unique value is already taken (409)
	ETOOLARGE     = "payload_too_large"     // the body exceeds a configured limit (413)
	EUNAUTHORIZED = "authentication_failed" // missing or wrong credentials (401)
	EFORBIDDEN    = "forbidden"             // credentials valid, but not for this (403)
	EUNAVAILABLE  = "unavailable"           // the store cannot write for now: disk full, read-only, database down (503 with Retry-After)
	EINTERNAL     = "internal"              // a bug (500); details go to the log only
)

// Error is the one error type of the domain. Code says what kind of failure
// it is; Message is safe to show to the caller. How an error reaches a
// caller (an HTTP status, the body Svix clients read, the request fields
// it names) is the API's business: see api/errors.go.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an ENOTFOUND error for the named kind of entity.
func NotFound(what string) *Error {
	return &Error{Code: ENOTFOUND, Message: what + " not found"}
}

// ErrorCode returns the code of err if it is, or wraps, an *Error; otherwise
// EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err. Internal errors get a
// generic message: their details belong in the log.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsUnavailable reports whether err is an EUNAVAILABLE error: the store
// could not write for a reason that passes (space returns, the database
// comes back), so the same request may succeed later.
func IsUnavailable(err error) bool { return ErrorCode(err) == EUNAVAILABLE }

// IsNotFound reports whether err is an ENOTFOUND error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }
