package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hookbridge/hookbridge"
)

// An event type's retry schedule (a Hookbridge addition): the delays
// between the tries of a failing delivery of its messages, replacing the
// server's --retry-schedule for them. It is set with the input-only
// retrySchedule of EventTypeIn, EventTypeUpdate and EventTypePatch, or
// here, at /api/v1/event-type/{event_type_name}/retry-schedule, and read
// only here: EventTypeOut stays exactly Svix's model.

// retryScheduleBody is EventTypeRetrySchedule, the body of GET and PUT
// …/retry-schedule: delays as Go durations ("5s", "1m30s", "2h"); null on
// GET when the event type has none (the server's applies), and [] for one
// try and no retry.
type retryScheduleBody struct {
	RetrySchedule *[]string `json:"retrySchedule"`
}

// checkRetrySchedule reads a retry schedule given in field, naming the
// delay that is wrong.
func checkRetrySchedule(in []string, fe *fieldErrors, field string) []time.Duration {
	delays, err := hookbridge.ParseRetryDelays(in)
	if err == nil {
		return delays
	}
	var de *hookbridge.RetryDelayError
	if errors.As(err, &de) {
		fe.body(de.Err.Error(), field, strconv.Itoa(de.Index))
	} else {
		fe.body(err.Error(), field)
	}
	return nil
}

// retryScheduleField reads the input-only retrySchedule of an event
// type's body: absent keeps the stored one (keep == true), null clears it
// (the server's applies).
func retryScheduleField(in optional[[]string], fe *fieldErrors) (delays []time.Duration, keep bool) {
	switch {
	case !in.Set:
		return nil, true
	case in.Null:
		return nil, false
	}
	delays = checkRetrySchedule(in.Value, fe, "retrySchedule")
	if delays == nil {
		delays = []time.Duration{} // nil is "none set"; an error is reported anyway
	}
	return delays, false
}

// formatRetrySchedule is the schedule as retryScheduleBody shows it.
func formatRetrySchedule(delays []time.Duration) *[]string {
	if delays == nil {
		return nil
	}
	out := make([]string, len(delays))
	for i, d := range delays {
		out[i] = hookbridge.FormatRetryDelay(d)
	}
	return &out
}

func (s *Server) handleGetRetrySchedule(w http.ResponseWriter, r *http.Request) error {
	et, err := s.eventType(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, retryScheduleBody{RetrySchedule: formatRetrySchedule(et.RetrySchedule)})
	return nil
}

// handleUpdateRetrySchedule sets the event type's schedule. Going back to
// the server's is DELETE: a null here is a mistake more often than a wish.
func (s *Server) handleUpdateRetrySchedule(w http.ResponseWriter, r *http.Request) error {
	var in retryScheduleBody
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	var delays []time.Duration
	if in.RetrySchedule == nil {
		fe.body("field required; DELETE …/retry-schedule goes back to the server's schedule", "retrySchedule")
	} else {
		delays = checkRetrySchedule(*in.RetrySchedule, &fe, "retrySchedule")
	}
	if err := fe.err(); err != nil {
		return err
	}
	return s.setRetrySchedule(w, r, delays)
}

// handleDeleteRetrySchedule removes the event type's schedule: the
// server's applies to its messages again.
func (s *Server) handleDeleteRetrySchedule(w http.ResponseWriter, r *http.Request) error {
	return s.setRetrySchedule(w, r, nil)
}

func (s *Server) setRetrySchedule(w http.ResponseWriter, r *http.Request, delays []time.Duration) error {
	et, err := s.eventType(r)
	if err != nil {
		return err
	}
	et.RetrySchedule = delays
	if err := s.store.UpdateEventType(r.Context(), et); err != nil {
		return err
	}
	s.retryScheduleChanged(et.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// retryScheduleChanged tells this process's dispatcher that the event
// type's schedule may have changed (Config.RetryScheduleChanged).
func (s *Server) retryScheduleChanged(name string) {
	if s.onScheduleChange != nil {
		s.onScheduleChange(name)
	}
}
