package hookbridge

import "time"

// Operational event types, as Svix names them: the events the operator's
// operational webhooks receive.
const (
	EventEndpointCreated  = "endpoint.created"
	EventEndpointUpdated  = "endpoint.updated"
	EventEndpointDeleted  = "endpoint.deleted"
	EventEndpointDisabled = "endpoint.disabled"
	EventAttemptExhausted = "message.attempt.exhausted"
	EventAttemptFailing   = "message.attempt.failing"
	EventAttemptRecovered = "message.attempt.recovered"
)

// OperationalEvent is something about delivery that the operator should
// hear of: an endpoint changed or disabled, a message failing, exhausted or
// recovered at an endpoint. It becomes a message of the reserved
// operational application (package operational), whose eventId is the
// event's ID, so that an event becomes one message however often it is
// taken.
//
// Events are durable with their cause: the store records each in the
// transaction that changes the endpoint (EndpointStore), disables it
// (RecordEndpointHealth) or records the attempt result
// (AttemptResult.Event), and keeps it until it is deleted
// (DeliveryStore.OperationalEvents, DeleteOperationalEvents).
type OperationalEvent struct {
	ID         string    `json:"id"` // PrefixEvent
	Type       string    `json:"type"`
	AppID      string    `json:"appId"`
	EndpointID string    `json:"endpointId"`
	CreatedAt  time.Time `json:"createdAt"`
	// EndpointUID is set for the endpoint events.
	EndpointUID string `json:"endpointUid,omitempty"`
	// FailSince and Reason are set for EventEndpointDisabled: the start of
	// the run of failures (the 410's time for a 410 with none running), and
	// why.
	FailSince time.Time     `json:"failSince,omitzero"`
	Reason    DisableReason `json:"reason,omitempty"`
	// MsgID, MsgEventID and the last attempt are set for the message
	// events.
	MsgID      string       `json:"msgId,omitempty"`
	MsgEventID string       `json:"msgEventId,omitempty"`
	Attempt    *LastAttempt `json:"lastAttempt,omitempty"`
}

// LastAttempt is what an operational event tells of the attempt that
// caused it.
type LastAttempt struct {
	ID         string    `json:"id"`
	StatusCode int       `json:"statusCode"`
	At         time.Time `json:"at"`
}

// DisabledEvent is the EventEndpointDisabled that reports d.
func DisabledEvent(d *DisabledEndpoint) *OperationalEvent {
	return &OperationalEvent{Type: EventEndpointDisabled, AppID: d.AppID, EndpointID: d.EndpointID,
		EndpointUID: d.EndpointUID, FailSince: d.FailingSince, Reason: d.Reason}
}

// SetAttempt makes a the event's last attempt, and its time the event's
// if it has none. The stores call it once they have completed a.
func (ev *OperationalEvent) SetAttempt(a *Attempt) {
	ev.Attempt = &LastAttempt{ID: a.ID, StatusCode: a.StatusCode, At: a.CreatedAt}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = a.CreatedAt
	}
}

// EndpointEvent is the event of type typ (EventEndpointCreated, Updated or
// Deleted) about ep.
func EndpointEvent(typ string, ep *Endpoint) *OperationalEvent {
	return &OperationalEvent{Type: typ, AppID: ep.AppID, EndpointID: ep.ID, EndpointUID: ep.UID}
}
