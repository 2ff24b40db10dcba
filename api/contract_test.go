package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// The contract check: every response the API tests produce through
// env.do, env.doWith or env.server is validated against the OpenAPI
// document the server serves. The status must be one the operation
// declares, the body must match its schema (required fields, types,
// formats, enums, nullable), and an object the document describes may
// carry no property the document does not name: the served document is
// closed for validation, so a field added to a handler but not to the
// document, or the other way round, fails whichever test produced it.
// Together with TestOpenAPIMatchesSvixReference, which pins the document
// to the Svix reference, that keeps every body a Svix SDK decodes to
// exactly Svix's model.

// contract is the served document, loaded once and closed.
var contract = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(renderOpenAPI("test"))
	if err != nil {
		return nil, err
	}
	// The examples are the Svix reference's own, some of them loose (a
	// schema's example that is not an instance of it): not ours to check.
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, err
	}
	closeSchemas(doc)
	return doc, nil
})

// closeSchemas forbids properties a schema does not name, in every object
// schema that names its properties and says nothing of others. Maps
// (metadata, payloads, headers) say additionalProperties and stay open.
func closeSchemas(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
}

// registerFormats teaches the validator the formats the document uses
// beyond those kin-openapi knows: integer widths (Svix's uint16 rate
// limits, int16 status codes, …) and absolute URIs.
var registerFormats = sync.OnceFunc(func() {
	for name, r := range map[string][2]int64{
		"int16": {math.MinInt16, math.MaxInt16}, "uint16": {0, math.MaxUint16},
		"int32": {math.MinInt32, math.MaxInt32}, "uint32": {0, math.MaxUint32},
		"int64": {math.MinInt64, math.MaxInt64}, "uint64": {0, math.MaxInt64},
	} {
		openapi3.DefineIntegerFormatValidator(name, openapi3.NewRangeFormatValidator(r[0], r[1]))
	}
	openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err == nil && (u.Scheme == "" || u.Host == "") {
			err = errors.New("not an absolute URI")
		}
		return err
	}))
})

// checkContract validates one response to req against the served
// document. A 500 is declared nowhere, so it always fails here, but in the
// tests that provoke one on purpose (env.internalErrors). A request the server routes nowhere (an unknown path, a
// method the path lacks) has no operation to check against and is left to
// TestOpenAPIRoutes.
func checkContract(t testing.TB, s *Server, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	registerFormats()
	doc, err := contract()
	if err != nil {
		t.Fatalf("served OpenAPI document: %v", err)
	}
	_, pattern := s.mux.Handler(req)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return
	}
	item := doc.Paths.Value(path)
	if item == nil {
		return // an undocumented route: TestOpenAPIRoutes names it
	}
	op := item.GetOperation(method)
	if op == nil {
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route:   &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.EnableFormatValidation(),
			},
		},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("contract: %s %s answered %d, which %s does not allow: %v\nbody: %.2000s",
			req.Method, req.URL, status, op.OperationID, err, body)
	}
	if status == http.StatusNoContent && len(body) > 0 {
		t.Errorf("contract: %s %s answered 204 with a body: %s", req.Method, req.URL, body)
	}
}

// contractChecked serves h, checking every response against the contract:
// for tests that reach the API over real HTTP (the Svix SDK tests).
func contractChecked(t testing.TB, s *Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		// The checked request is a copy: the handler consumes the body.
		check := r.Clone(r.Context())
		h.ServeHTTP(rec, r)
		checkContract(t, s, check, rec.Code, rec.Header(), rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
	})
}

// server serves the env's API over real HTTP, contract-checked, until the
// test ends.
func (e *env) server() *httptest.Server {
	srv := httptest.NewServer(contractChecked(e.t, e.api, e.api))
	e.t.Cleanup(srv.Close)
	return srv
}
