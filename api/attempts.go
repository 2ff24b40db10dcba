package api

import (
	"net/http"
	"net/url"

	"github.com/hookbridge/hookbridge"
)

// attemptOut is Svix's MessageAttemptOut; msg is included on request
// (with_msg=true).
type attemptOut struct {
	URL                string      `json:"url"`
	Response           string      `json:"response"`
	ResponseStatusCode int         `json:"responseStatusCode"`
	ResponseDurationMs int64       `json:"responseDurationMs"`
	Status             int         `json:"status"`
	StatusText         string      `json:"statusText"`
	TriggerType        int         `json:"triggerType"`
	MsgID              string      `json:"msgId"`
	EndpointID         string      `json:"endpointId"`
	ID                 string      `json:"id"`
	Timestamp          string      `json:"timestamp"`
	Msg                *messageOut `json:"msg,omitempty"`
}

// withoutContent stands in for the response body when the caller asked for
// none (with_content=false), as in Svix.
const withoutContent = "{}"

func toAttemptOut(a *hookbridge.Attempt, withContent bool) attemptOut {
	out := attemptOut{
		URL:                hookbridge.MaskURL(a.URL), // recorded masked; masked here whatever wrote the row
		Response:           a.Response,
		ResponseStatusCode: a.StatusCode,
		ResponseDurationMs: a.DurationMS,
		Status:             int(a.Status),
		StatusText:         a.Status.String(),
		TriggerType:        int(a.Trigger),
		MsgID:              a.MsgID,
		EndpointID:         a.EndpointID,
		ID:                 a.ID,
		Timestamp:          formatTime(a.CreatedAt),
	}
	if !withContent {
		out.Response = withoutContent
	}
	return out
}

// attemptsQuery is what both attempt lists read from their query: the
// filter, the page, with_content and with_msg.
type attemptsQuery struct {
	f                    hookbridge.AttemptFilter
	q                    pageQuery
	withContent, withMsg bool
}

// readAttemptsQuery reads the query parameters shared by both attempt
// lists.
func readAttemptsQuery(query url.Values, fe *fieldErrors) attemptsQuery {
	q := listParams(query, fe, idIterator(hookbridge.PrefixAttempt), false, hookbridge.OrderDescending)
	f := hookbridge.AttemptFilter{
		ListOptions:     q.opt,
		Status:          statusParam(query, fe),
		StatusCodeClass: statusCodeClassParam(query, fe),
		EventTypes:      eventTypesParam(query, fe),
		Channel:         channelParam(query, fe),
		Before:          timeParam(query, "before", fe),
		After:           timeParam(query, "after", fe),
	}
	return attemptsQuery{f: f, q: q,
		withContent: boolParam(query, "with_content", true, fe), withMsg: boolParam(query, "with_msg", false, fe)}
}

// handleListAttemptsByMessage lists a message's attempts, newest first,
// optionally only those to one endpoint (endpoint_id, an id or a uid).
func (s *Server) handleListAttemptsByMessage(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	aq := readAttemptsQuery(query, &fe)
	epID := query.Get("endpoint_id")
	if epID != "" {
		if msg := checkLimitedString(epID, maxNameLen); msg != "" {
			fe.query("endpoint_id", msg) // no endpoint id or uid could match it
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	app, msg, err := s.message(r)
	if err != nil {
		return err
	}
	aq.f.MsgID = msg.ID
	if epID != "" {
		ep, err := s.store.GetEndpoint(r.Context(), app.ID, epID)
		if err != nil {
			return err
		}
		aq.f.EndpointID = ep.ID
	}
	return s.writeAttempts(w, r, app, aq)
}

// handleListAttemptsByEndpoint lists an endpoint's attempts, newest first.
func (s *Server) handleListAttemptsByEndpoint(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	aq := readAttemptsQuery(r.URL.Query(), &fe)
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	aq.f.EndpointID = ep.ID
	return s.writeAttempts(w, r, app, aq)
}

func (s *Server) writeAttempts(w http.ResponseWriter, r *http.Request, app *hookbridge.Application, aq attemptsQuery) error {
	q, withContent := aq.q, aq.withContent
	page, err := s.store.ListAttempts(r.Context(), app.ID, aq.f)
	if err != nil {
		return err
	}
	var msgs map[string]*messageOut
	if aq.withMsg {
		msgs = make(map[string]*messageOut)
		for _, a := range page.Data {
			if _, ok := msgs[a.MsgID]; ok {
				continue
			}
			m, err := s.store.GetMessage(r.Context(), app.ID, a.MsgID)
			if err != nil {
				return err
			}
			out := toMessageOut(m, withContent)
			msgs[a.MsgID] = &out
		}
	}
	conv := func(a *hookbridge.Attempt) attemptOut {
		out := toAttemptOut(a, withContent)
		out.Msg = msgs[a.MsgID]
		return out
	}
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(a *hookbridge.Attempt) string { return a.ID }, true))
	return nil
}

// attempt reads {app_id}, {msg_id} and {attempt_id} and the attempt they
// name.
func (s *Server) attempt(r *http.Request) (*hookbridge.Attempt, error) {
	app, msg, err := s.message(r)
	if err != nil {
		return nil, err
	}
	return s.store.GetAttempt(r.Context(), app.ID, msg.ID, r.PathValue("attempt_id"))
}

func (s *Server) handleGetAttempt(w http.ResponseWriter, r *http.Request) error {
	a, err := s.attempt(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAttemptOut(a, true))
	return nil
}

// handleExpungeAttemptContent deletes the response body an attempt kept.
func (s *Server) handleExpungeAttemptContent(w http.ResponseWriter, r *http.Request) error {
	a, err := s.attempt(r)
	if err != nil {
		return err
	}
	if err := s.store.ExpungeAttemptContent(r.Context(), a.AppID, a.MsgID, a.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// messageEndpointOut is Svix's MessageEndpointOut: an endpoint a message
// was owed to, with the message's state there.
type messageEndpointOut struct {
	endpointCommon
	statusOut
	NextAttempt *string `json:"nextAttempt"`
}

// statusOut is a message's state at an endpoint, as Svix shows it.
type statusOut struct {
	Status     int    `json:"status"`
	StatusText string `json:"statusText"`
}

func toStatusOut(st hookbridge.MessageStatus) statusOut {
	return statusOut{Status: int(svixStatus(st)), StatusText: svixStatus(st).String()}
}

// handleListAttemptedDestinations lists the endpoints a message was owed
// to, by endpoint id.
func (s *Server) handleListAttemptedDestinations(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixEndpoint), false, hookbridge.OrderAscending)
	if err := fe.err(); err != nil {
		return err
	}
	app, msg, err := s.message(r)
	if err != nil {
		return err
	}
	page, err := s.store.ListMessageEndpoints(r.Context(), app.ID, msg.ID, q.opt)
	if err != nil {
		return err
	}
	conv := func(me *hookbridge.MessageEndpoint) messageEndpointOut {
		return messageEndpointOut{
			endpointCommon: toEndpointCommon(&me.Endpoint),
			statusOut:      toStatusOut(me.Status),
			NextAttempt:    formatTimePtr(me.NextAttempt),
		}
	}
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(me *hookbridge.MessageEndpoint) string { return me.Endpoint.ID }, false))
	return nil
}

// endpointMessageOut is Svix's EndpointMessageOut: a message owed to an
// endpoint, with its state there.
type endpointMessageOut struct {
	messageOut
	statusOut
	NextAttempt *string `json:"nextAttempt,omitempty"`
}

// handleListAttemptedMessages lists the messages owed to an endpoint,
// newest first, with their state there.
func (s *Server) handleListAttemptedMessages(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	q, mf, withContent := messageQuery(query, &fe)
	f := hookbridge.EndpointMessageFilter{MessageFilter: mf, Status: statusParam(query, &fe)}
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	page, err := s.store.ListEndpointMessages(r.Context(), app.ID, ep.ID, f)
	if err != nil {
		return err
	}
	conv := func(em *hookbridge.EndpointMessage) endpointMessageOut {
		return endpointMessageOut{
			messageOut:  toMessageOut(&em.Message, withContent),
			statusOut:   toStatusOut(em.Status),
			NextAttempt: formatTimePtr(em.NextAttempt),
		}
	}
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(em *hookbridge.EndpointMessage) string { return em.Message.ID }, true))
	return nil
}

// handleResend sends a message to an endpoint once more, now, whatever the
// endpoint's filters say. A message whose content was expunged cannot be
// resent.
func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) error {
	app, msg, err := s.message(r)
	if err != nil {
		return err
	}
	ep, err := s.store.GetEndpoint(r.Context(), app.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	if msg.Payload == nil {
		return hookbridge.Errorf(hookbridge.EBADREQUEST, "message %s cannot be resent: its content was expunged", msg.ID)
	}
	if _, err := s.store.Resend(r.Context(), app.ID, msg.ID, ep.ID, s.timeNow()); err != nil {
		return err
	}
	s.wake()
	writeJSON(w, http.StatusAccepted, emptyResponse{})
	return nil
}

// emptyResponse is Svix's EmptyResponse, {}: the body of an accepted
// action that has nothing to report, which the SDKs decode.
type emptyResponse struct{}
