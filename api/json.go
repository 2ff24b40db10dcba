package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookbridge/hookbridge"
)

// timeLayout is how times are written: RFC 3339, UTC, milliseconds, the form
// the store keeps and every Svix SDK parses.
const timeLayout = "2006-01-02T15:04:05.000Z"

// formatTime writes t in timeLayout.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// formatTimePtr writes t, or null when it is zero.
func formatTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

// parseTime reads an RFC 3339 time, with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 date-time (e.g. 2024-01-31T12:00:00Z)")
	}
	return t.UTC(), nil
}

// readBody reads a request body of at most s.maxBody bytes. A larger body is
// ETOOLARGE, naming the limit. When the length is announced, the body is
// read into one buffer of exactly that size: the message hot path then
// allocates once.
func (s *Server) readBody(r *http.Request) ([]byte, error) { return s.readBodyUpTo(r, s.maxBody) }

// readBodyUpTo is readBody with another limit, for requests that carry many
// payloads.
func (s *Server) readBodyUpTo(r *http.Request, limit int64) ([]byte, error) {
	switch n := r.ContentLength; {
	case n > limit:
		return nil, s.tooLarge(n, limit)
	case n >= 0:
		// net/http stops the body at Content-Length, so nothing follows.
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, hookbridge.Errorf(hookbridge.EBADREQUEST, "reading the request body: %v", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, hookbridge.Errorf(hookbridge.EBADREQUEST, "reading the request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, s.tooLarge(-1, limit)
	}
	return body, nil
}

func (s *Server) tooLarge(size, limit int64) error {
	if size >= 0 {
		return hookbridge.Errorf(hookbridge.ETOOLARGE, "request body is %d bytes; the limit is %d bytes (payload limit %d bytes)", size, limit, s.maxPayload)
	}
	return hookbridge.Errorf(hookbridge.ETOOLARGE, "request body exceeds the limit of %d bytes (payload limit %d bytes)", limit, s.maxPayload)
}

// decodeBody reads the request body into v. Unknown fields are ignored, as
// Svix ignores them. Malformed JSON is EBADREQUEST; a value of the wrong
// type is EINVALID naming the field. An empty body decodes as {} when
// emptyOK, else it is EBADREQUEST.
func (s *Server) decodeBody(r *http.Request, v any, emptyOK bool) error {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v, emptyOK)
}

func decodeJSON(body []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return hookbridge.Errorf(hookbridge.EBADREQUEST, "request body is empty; expected a JSON object")
	}
	if !utf8.Valid(body) {
		// JSON text is UTF-8 (RFC 8259). encoding/json would keep the
		// invalid bytes of a value it leaves raw (a payload, a schema) as
		// they are, for PostgreSQL to refuse when it is stored.
		return hookbridge.Errorf(hookbridge.EBADREQUEST, "request body is not valid UTF-8, which JSON must be")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns an encoding/json error into a domain error.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return hookbridge.Errorf(hookbridge.EBADREQUEST, "request body must be a JSON object")
		}
		want := typeErr.Type.Kind().String()
		switch want {
		case "slice", "array":
			want = "array"
		case "map", "struct":
			want = "object"
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			want = "integer"
		case "float32", "float64":
			want = "number"
		case "bool":
			want = "boolean"
		}
		var fe fieldErrors
		fe.body(fmt.Sprintf("expected %s, got %s", want, typeErr.Value), strings.Split(typeErr.Field, ".")...)
		fe[0].Type = "type_error"
		return fe.err()
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return hookbridge.Errorf(hookbridge.EBADREQUEST, "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	}
	return hookbridge.Errorf(hookbridge.EBADREQUEST, "malformed JSON: %v", err)
}

// writeJSON answers with status and v encoded as JSON. It encodes before
// writing, so an encoding failure (a bug) still yields a clean 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal","detail":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// optional is a field of a PATCH body, which distinguishes three cases: the
// field is absent (leave it alone), null (clear it) or has a value (set it).
type optional[T any] struct {
	Set   bool // the field was present
	Null  bool // ... as null
	Value T
}

// UnmarshalJSON is called for present fields only, null included.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// has reports whether the field was given a value (present and not null).
func (o optional[T]) has() bool { return o.Set && !o.Null }

// pick returns a, or b when a is absent: for fields with two accepted
// names (filterTypes and eventTypes), and the name that was used.
func pick[T any](a optional[T], aName string, b optional[T], bName string) (optional[T], string) {
	if a.Set || !b.Set {
		return a, aName
	}
	return b, bName
}

// rawPayload is a message payload as the API shows it: the stored JSON, or
// Svix's marker for content that was expunged.
func rawPayload(p json.RawMessage) json.RawMessage {
	if p == nil {
		return json.RawMessage(`{"expired":true}`)
	}
	return p
}

// listOut is Svix's ListResponse: a page of items, the iterator that
// continues after the last one, and whether the list is done.
type listOut[T any] struct {
	Data         []T     `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator,omitempty"`
	Done         bool    `json:"done"`
}

// nullable returns &s, or nil when s is empty, for optional string fields
// that the API writes as null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// emptyIfNil returns m, or an empty map when it is nil, for fields written
// as {} rather than null.
func emptyIfNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// nilIfEmpty returns s, or nil when it is empty, for list fields written as
// null when unset (Svix writes an endpoint's absent filters as null).
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
