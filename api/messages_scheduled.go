package api

import (
	"net/http"

	"github.com/hookbridge/hookbridge"
)

// Scheduled messages (deliverAt, Svix cloud's field): MessageOut stays
// Svix's model, so a message's deliverAt is read in the list of the
// application's scheduled messages, GET /api/v1/app/{app_id}/scheduled-msg,
// and a scheduled message is cancelled with POST …/msg/{msg_id}/cancel.

// scheduledMessageOut is ScheduledMessageOut: a MessageOut with its
// deliverAt.
type scheduledMessageOut struct {
	messageOut
	DeliverAt string `json:"deliverAt"`
}

// handleListScheduledMessages lists the application's messages scheduled
// for later that have not gone out yet (nor been cancelled), newest first.
func (s *Server) handleListScheduledMessages(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	q := listParams(query, &fe, idIterator(hookbridge.PrefixMessage), false, hookbridge.OrderDescending)
	withContent := boolParam(query, "with_content", true, &fe)
	app, err := s.checkedApplication(r, &fe)
	if err != nil {
		return err
	}
	page, err := s.store.ListScheduledMessages(r.Context(), app.ID, s.timeNow(), q.opt)
	if err != nil {
		return err
	}
	conv := func(m *hookbridge.Message) scheduledMessageOut {
		return scheduledMessageOut{messageOut: toMessageOut(m, withContent), DeliverAt: formatTime(m.DeliverAt)}
	}
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(m *hookbridge.Message) string { return m.ID }, true))
	return nil
}

// handleCancelMessage cancels a scheduled message: its deliveries that
// have not gone out never will (they show as failed, and are counted as
// canceled in the endpoint's stats). 409 when the message was not
// scheduled, or has nothing left to cancel.
func (s *Server) handleCancelMessage(w http.ResponseWriter, r *http.Request) error {
	app, msg, err := s.message(r)
	if err != nil {
		return err
	}
	if _, err := s.store.CancelMessage(r.Context(), app.ID, msg.ID, s.timeNow()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// svixStatus is a delivery status as Svix's MessageStatus has it: a
// cancelled delivery, which it has no value for, is shown as failed (given
// up; EndpointStats counts it apart).
func svixStatus(st hookbridge.MessageStatus) hookbridge.MessageStatus {
	if st == hookbridge.StatusCanceled {
		return hookbridge.StatusFail
	}
	return st
}
