package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
)

// openAPIDocument describes what this server serves: the Svix server's API
// with its wire names, plus this document's own route.
//
//go:embed openapi.json
var openAPIDocument []byte

// renderOpenAPI returns the served document with version filled in.
func renderOpenAPI(version string) []byte {
	if version == "" {
		return openAPIDocument
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		panic("api: embedded openapi.json is invalid: " + err.Error()) // caught by the tests
	}
	if info, ok := doc["info"].(map[string]any); ok {
		info["version"] = version
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("api: re-encoding openapi.json: " + err.Error())
	}
	return b
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(s.openapi)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.openapi)
	return nil
}
