package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// messageIn is Svix's MessageIn. data is accepted as an alias of payload,
// as the Svix server does. payloadRetentionPeriod and tags are accepted and
// ignored: retention is server-wide here.
type messageIn struct {
	EventType   *string         `json:"eventType"`
	Payload     json.RawMessage `json:"payload"`
	Data        json.RawMessage `json:"data"`
	EventID     *string         `json:"eventId"`
	Channels    []string        `json:"channels"`
	Application *applicationIn  `json:"application"`
	// DeliverAt is Svix cloud's deliverAt: send the message then rather
	// than now (see checkDeliverAt). Input only.
	DeliverAt *string `json:"deliverAt"`

	deliverAt time.Time // DeliverAt read by checkMessageIn; zero: at once
}

// MaxDeliverAhead is how far ahead a message may be scheduled (deliverAt).
const MaxDeliverAhead = 30 * 24 * time.Hour

// checkDeliverAt reads a message's deliverAt, given as an RFC 3339 time:
// one past (or now) means at once (zero); one more than MaxDeliverAhead
// ahead of now is refused.
func checkDeliverAt(v *string, now time.Time, fe *fieldErrors, loc []string) time.Time {
	if v == nil {
		return time.Time{}
	}
	t, err := parseTime(*v)
	switch {
	case err != nil:
		fe.body(err.Error(), loc...)
		return time.Time{}
	case t.Sub(now) > MaxDeliverAhead:
		fe.body(fmt.Sprintf("must be at most %d days ahead", MaxDeliverAhead/(24*time.Hour)), loc...)
		return time.Time{}
	case !t.After(now):
		return time.Time{}
	}
	return t.UTC()
}

// messageOut is Svix's MessageOut.
type messageOut struct {
	EventID   *string         `json:"eventId"`
	EventType string          `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
}

// emptyPayload stands in for the payload when the caller asked for none
// (with_content=false); the field is required by the Svix schema.
var emptyPayload = json.RawMessage(`{}`)

func toMessageOut(m *hookbridge.Message, withContent bool) messageOut {
	out := messageOut{
		EventID:   nullable(m.EventID),
		EventType: m.EventType,
		Payload:   emptyPayload,
		Channels:  nilIfEmpty(m.Channels),
		ID:        m.ID,
		Timestamp: formatTime(m.CreatedAt),
	}
	if withContent {
		out.Payload = rawPayload(m.Payload)
	}
	return out
}

// message resolves {app_id} and {msg_id} (an id or an eventId).
func (s *Server) message(r *http.Request) (*hookbridge.Application, *hookbridge.Message, error) {
	app, err := s.application(r)
	if err != nil {
		return nil, nil, err
	}
	msg, err := s.store.GetMessage(r.Context(), app.ID, r.PathValue("msg_id"))
	if err != nil {
		return nil, nil, err
	}
	return app, msg, nil
}

// handleCreateMessage accepts a message: it is stored with one delivery per
// matching endpoint in one store call, then the dispatcher is woken. This
// is the hot path: the body is read and decoded once and the response
// encoded once.
//
// A repeated eventId answers 409 Conflict, as the Svix reference says, and
// creates nothing; a retry that must get the original answer back sends an
// Idempotency-Key. With an application in the body, a missing application is
// created first (with {app_id} as its uid when the body names none).
func (s *Server) handleCreateMessage(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	withContent := boolParam(r.URL.Query(), "with_content", true, &fe)
	var in messageIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	payload, channels, err := s.checkMessageIn(&in, &fe)
	if err != nil {
		return err
	}
	if in.Application != nil {
		in.Application.validate(&fe, "application")
	}
	if err := fe.err(); err != nil {
		return err
	}

	ctx := r.Context()
	unknownTypes, err := s.checkEventTypes(ctx, *in.EventType)
	if err != nil {
		return err
	}
	if msg, bad := unknownTypes[*in.EventType]; bad && s.strictEventTypes {
		fe.body(msg, "eventType")
		return fe.err()
	}

	app, err := s.applicationOrCreate(r, in.Application)
	if err != nil {
		return err
	}

	msg := newMessage(&in, app.ID, payload, channels, s.timeNow())
	msg.TraceParent = s.traceParent(r)
	stored, created, err := s.store.CreateMessage(ctx, msg)
	if err != nil {
		return err
	}
	if !created {
		return eventIDTaken(stored)
	}
	if _, bad := unknownTypes[msg.EventType]; bad {
		s.uncatalogued.accepted(msg.EventType)
	}
	s.accepted.Inc()
	s.wakeCreated()
	writeJSON(w, http.StatusAccepted, toMessageOut(stored, withContent))
	return nil
}

// eventIDTaken is the 409 of a message whose eventId an earlier message of
// the application has: stored, which is not sent again.
func eventIDTaken(stored *hookbridge.Message) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "a message with eventId %q was already accepted: %s", stored.EventID, stored.ID)
}

// applicationOrCreate resolves {app_id}; when it does not exist and the
// body describes an application, that application is created (with {app_id}
// as its uid when the body names none).
func (s *Server) applicationOrCreate(r *http.Request, in *applicationIn) (*hookbridge.Application, error) {
	app, err := s.application(r)
	if hookbridge.IsNotFound(err) && in != nil {
		uid := r.PathValue("app_id")
		if in.UID == nil && checkUID(uid, hookbridge.PrefixApplication) != "" {
			return nil, err
		}
		app, _, err = s.createApplication(r.Context(), in, uid, true)
	}
	return app, err
}

// checkMessageIn validates a decoded MessageIn, adding what is wrong to fe
// with each field's location under at (nothing for a single message;
// "messages", "<i>" within a batch). It returns the payload (payload, or
// its alias data) and the normalised channels. A payload over the limit is
// an ETOOLARGE error, returned rather than added.
func (s *Server) checkMessageIn(in *messageIn, fe *fieldErrors, at ...string) (json.RawMessage, []string, error) {
	loc := func(field string) []string { return append(slices.Clip(at), field) }
	payload, payloadField := in.Payload, "payload"
	if payload == nil && in.Data != nil {
		payload, payloadField = in.Data, "data"
	}
	if int64(len(payload)) > s.maxPayload {
		return nil, nil, hookbridge.Errorf(hookbridge.ETOOLARGE, "%s is %d bytes; the limit is %d bytes",
			strings.Join(loc(payloadField), "."), len(payload), s.maxPayload)
	}
	switch {
	case payload == nil:
		fe.body("field required", loc("payload")...)
	case !isJSONObject(payload):
		fe.body("must be a JSON object", loc(payloadField)...)
	}
	if in.EventType == nil {
		fe.body("field required", loc("eventType")...)
	} else if msg := checkLimitedString(*in.EventType, maxNameLen); msg != "" {
		fe.body(msg, loc("eventType")...)
	}
	if in.EventID != nil {
		if msg := checkLimitedString(*in.EventID, maxNameLen); msg != "" {
			fe.body(msg, loc("eventId")...)
		}
	}
	var channels []string
	if in.Channels != nil {
		channels = normalizeSet(in.Channels, maxChannelLen, maxMessageChannels, fe, loc("channels")...)
	}
	in.deliverAt = checkDeliverAt(in.DeliverAt, s.timeNow(), fe, loc("deliverAt"))
	return payload, channels, nil
}

// newMessage is the message a valid MessageIn asks for, accepted at now.
func newMessage(in *messageIn, appID string, payload json.RawMessage, channels []string, now time.Time) *hookbridge.Message {
	msg := &hookbridge.Message{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixMessage, now),
		AppID:     appID,
		EventType: *in.EventType,
		Payload:   payload,
		Channels:  channels,
		CreatedAt: now,
		DeliverAt: in.deliverAt,
	}
	if in.EventID != nil {
		msg.EventID = *in.EventID
	}
	return msg
}

// handleListMessages lists an application's messages, newest first.
func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q, f, withContent := messageQuery(r.URL.Query(), &fe)
	app, err := s.checkedApplication(r, &fe)
	if err != nil {
		return err
	}
	page, err := s.store.ListMessages(r.Context(), app.ID, f)
	if err != nil {
		return err
	}
	conv := func(m *hookbridge.Message) messageOut { return toMessageOut(m, withContent) }
	writeJSON(w, http.StatusOK, writePage(page, q, conv, func(m *hookbridge.Message) string { return m.ID }, true))
	return nil
}

func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	withContent := boolParam(r.URL.Query(), "with_content", true, &fe)
	if err := fe.err(); err != nil {
		return err
	}
	_, msg, err := s.message(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMessageOut(msg, withContent))
	return nil
}

// handleExpungeMessageContent deletes a message's payload for good; the
// message can no longer be resent.
func (s *Server) handleExpungeMessageContent(w http.ResponseWriter, r *http.Request) error {
	app, msg, err := s.message(r)
	if err != nil {
		return err
	}
	if err := s.store.ExpungeMessageContent(r.Context(), app.ID, msg.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
