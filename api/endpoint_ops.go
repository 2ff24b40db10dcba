package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/webhook"
)

// This file holds the operations on one endpoint beyond its CRUD: secret,
// headers, recovery, statistics and example messages.

type endpointSecretOut struct {
	Key string `json:"key"`
}

func (s *Server) handleGetEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if len(ep.Secrets) == 0 {
		return fmt.Errorf("endpoint %s has no signing secret", ep.ID)
	}
	writeJSON(w, http.StatusOK, endpointSecretOut{Key: ep.Secrets[0].Key})
	return nil
}

// rotateIn is Svix's EndpointSecretRotateIn.
type rotateIn struct {
	Key                *string `json:"key"`
	GracePeriodSeconds *int64  `json:"gracePeriodSeconds"`
}

// handleRotateEndpointSecret makes a new current secret (the given key, or
// a generated one). The old current secret keeps signing for the grace
// period (default 24 h); rotated-out secrets whose grace has ended are
// dropped. At most maxOldSecrets may still be signing, as in Svix.
func (s *Server) handleRotateEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	var in rotateIn
	if err := s.decodeBody(r, &in, true); err != nil {
		return err
	}
	var fe fieldErrors
	var key string
	if in.Key != nil {
		var msg string
		if key, msg = normalizeSecret(*in.Key); msg != "" {
			fe.body(msg, "key")
		}
	}
	grace := int64(defaultGracePeriod)
	if in.GracePeriodSeconds != nil {
		grace = *in.GracePeriodSeconds
		if grace < 0 || grace > maxGracePeriod {
			fe.body(fmt.Sprintf("must be from 0 to %d (7 days)", maxGracePeriod), "gracePeriodSeconds")
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if key == "" {
		if key, err = webhook.NewSecret(); err != nil {
			return fmt.Errorf("new endpoint secret: %w", err)
		}
	}
	now := s.timeNow()
	secrets := []hookbridge.Secret{{Key: key}}
	if grace > 0 && len(ep.Secrets) > 0 {
		secrets = append(secrets, hookbridge.Secret{Key: ep.Secrets[0].Key, Expires: now.Add(time.Duration(grace) * time.Second)})
	}
	secrets = append(secrets, liveOldSecrets(ep.Secrets, now)...)
	if len(secrets)-1 > maxOldSecrets {
		return hookbridge.Errorf(hookbridge.EBADREQUEST,
			"at most %d rotated-out secrets may be signing at once; wait for their grace periods to end or rotate with gracePeriodSeconds 0", maxOldSecrets)
	}
	ep.Secrets = secrets
	if err := s.updateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endpointHeadersOut is Svix's EndpointHeadersOut: sensitive headers are
// named in sensitive and their values withheld.
type endpointHeadersOut struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

func (s *Server) handleGetEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := endpointHeadersOut{Headers: map[string]string{}, Sensitive: []string{}}
	for _, name := range sortedKeys(ep.Headers) {
		if slices.Contains(sensitiveHeaders, strings.ToLower(name)) {
			out.Sensitive = append(out.Sensitive, name)
		} else {
			out.Headers[name] = ep.Headers[name]
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type endpointHeadersIn struct {
	Headers map[string]string `json:"headers"`
}

// handleUpdateEndpointHeaders replaces the endpoint's headers.
func (s *Server) handleUpdateEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	var in endpointHeadersIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	if in.Headers == nil {
		fe.body("field required", "headers")
	}
	checkHeaders(in.Headers, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	ep.Headers = in.Headers
	if err := s.updateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type endpointHeadersPatchIn struct {
	Headers map[string]*string `json:"headers"`
}

// handlePatchEndpointHeaders merges headers into the endpoint's: a value
// sets a header, null removes it. Names match without regard to case, so
// setting "x-token" replaces "X-Token".
func (s *Server) handlePatchEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	var in endpointHeadersPatchIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	if in.Headers == nil {
		fe.body("field required", "headers")
	}
	set := map[string]string{}
	for name, v := range in.Headers {
		if v != nil {
			set[name] = *v
		} else if msg := checkHeaderName(name); msg != "" {
			fe.body(msg, "headers", name)
		}
	}
	checkHeaders(set, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	headers := make(map[string]string, len(ep.Headers)+len(set))
	for name, v := range ep.Headers {
		if _, touched := lookupFold(in.Headers, name); !touched {
			headers[name] = v
		}
	}
	for name, v := range set {
		headers[name] = v
	}
	ep.Headers = headers
	if err := s.updateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endpointFIFO is the body of …/endpoint/{endpoint_id}/fifo, Hookbridge's
// strict-order setting of an endpoint: when enabled, a message is sent only
// after the one before it succeeded or was given up. It is a sub-resource,
// as Svix keeps headers and secret beside the endpoint, so that EndpointOut
// stays exactly Svix's model.
type endpointFIFO struct {
	Enabled *bool `json:"enabled"`
}

func (s *Server) handleGetEndpointFIFO(w http.ResponseWriter, r *http.Request) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpointFIFO{Enabled: &ep.FIFO})
	return nil
}

// handleUpdateEndpointFIFO turns strict order on or off.
func (s *Server) handleUpdateEndpointFIFO(w http.ResponseWriter, r *http.Request) error {
	var in endpointFIFO
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	if in.Enabled == nil {
		var fe fieldErrors
		fe.body("field required", "enabled")
		return fe.err()
	}
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if ep.FIFO != *in.Enabled {
		ep.FIFO = *in.Enabled
		if err := s.updateEndpoint(r.Context(), ep); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// lookupFold finds key in m without regard to case.
func lookupFold[V any](m map[string]V, key string) (V, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// endpointStatsOut is Svix's EndpointStats.
type endpointStatsOut struct {
	Success int64 `json:"success"`
	Pending int64 `json:"pending"`
	Sending int64 `json:"sending"`
	Fail    int64 `json:"fail"`
	// Canceled counts the scheduled messages cancelled before they went
	// out (POST …/msg/{msg_id}/cancel).
	Canceled int64 `json:"canceled"`
}

// handleEndpointStats counts the endpoint's messages created in [since,
// until) by the status of their latest delivery; either bound may be left
// out.
func (s *Server) handleEndpointStats(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := r.URL.Query()
	since := timeParam(q, "since", &fe)
	until := timeParam(q, "until", &fe)
	if len(fe) == 0 && !since.IsZero() && !until.IsZero() && !since.Before(until) {
		fe.query("since", "must be before until")
	}
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	st, err := s.store.EndpointStats(r.Context(), app.ID, ep.ID, since, until)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpointStatsOut{Success: st.Success, Pending: st.Pending, Sending: st.Sending, Fail: st.Fail, Canceled: st.Canceled})
	return nil
}

// eventExampleIn is Svix's EventExampleIn; exampleIndex picks one of the
// schema's examples (default the first).
type eventExampleIn struct {
	EventType    *string `json:"eventType"`
	ExampleIndex *int    `json:"exampleIndex"`
}

// pingEventType is Svix's built-in test event, sendable without being in
// the catalogue.
const pingEventType = "svix.ping"

// handleSendExample sends an example message of an event type to the
// endpoint: an example of the event type's schema (the first, or the one
// at exampleIndex; version "1" first), else a small generic object.
// The message is owed to this endpoint only, whatever its filters say: a
// test event must not reach the application's other receivers.
func (s *Server) handleSendExample(w http.ResponseWriter, r *http.Request) error {
	var in eventExampleIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	if in.EventType == nil {
		fe.body("field required", "eventType")
	} else if msg := checkLimitedString(*in.EventType, maxNameLen); msg != "" {
		fe.body(msg, "eventType")
	}
	index := 0
	if in.ExampleIndex != nil {
		if index = *in.ExampleIndex; index < 0 {
			fe.body("must be at least 0", "exampleIndex")
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	payload := json.RawMessage(`{"success":true}`)
	if *in.EventType != pingEventType {
		et, err := s.store.GetEventType(ctx, *in.EventType)
		if err != nil {
			return err
		}
		if payload = examplePayload(et, index); payload == nil {
			fe.body(fmt.Sprintf("event type %s has no example object at index %d", et.Name, index), "exampleIndex")
			return fe.err()
		}
	}
	now := s.timeNow()
	msg := &hookbridge.Message{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixMessage, now),
		AppID:     app.ID,
		EventType: *in.EventType,
		Payload:   payload,
		CreatedAt: now,
		// The trace of whoever asked for the example: the portal's user's
		// request, or an API caller's.
		TraceParent: s.traceParent(r),
	}
	if err := s.store.CreateMessageTo(ctx, msg, ep.ID); err != nil {
		return err
	}
	s.wakeCreated()
	writeJSON(w, http.StatusOK, toMessageOut(msg, true))
	return nil
}

// examplePayload returns the example object at index in the event type's
// schemas (version "1" first, then the others in order). Without examples
// it returns a generic object naming the event type for index 0, and nil
// otherwise.
func examplePayload(et *hookbridge.EventType, index int) json.RawMessage {
	var versions map[string]json.RawMessage
	if json.Unmarshal(et.Schemas, &versions) == nil {
		keys := sortedKeys(versions)
		if i := slices.Index(keys, "1"); i > 0 {
			keys = append([]string{"1"}, slices.Delete(keys, i, i+1)...)
		}
		for _, v := range keys {
			var schema struct {
				Examples []json.RawMessage `json:"examples"`
			}
			if json.Unmarshal(versions[v], &schema) != nil || len(schema.Examples) == 0 {
				continue
			}
			if index < len(schema.Examples) && isJSONObject(schema.Examples[index]) {
				return schema.Examples[index]
			}
			return nil
		}
	}
	if index > 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"eventType": et.Name, "example": true})
	return b
}
