package api

import (
	"net/http"

	"github.com/hookbridge/hookbridge"
)

// healthProbeSetting names a setting that is never stored: reading it is
// the cheapest query that proves the store answers.
const healthProbeSetting = "health_probe"

// handlePing answers 204 as long as the process serves HTTP.
func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleHealth answers 204 when the store answers a query, else 503, so
// that a load balancer takes an instance that lost its database out of
// rotation.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.store.Setting(r.Context(), healthProbeSetting); err != nil && !hookbridge.IsNotFound(err) {
		s.log.ErrorContext(r.Context(), "health check: store unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, httpErrorOut{Code: "unavailable", Detail: "the store is not answering"})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
