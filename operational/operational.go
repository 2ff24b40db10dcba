package operational

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// AppUID is the uid of the reserved application whose messages are the
// operational events and whose endpoints are the operational endpoints.
const AppUID = "hookbridge-operational"

// appName is the reserved application's name, as lists show it.
const appName = "Hookbridge operational webhooks"

// EventTypes are the operational event types an operational endpoint may
// filter on: those Hookbridge sends.
var EventTypes = []string{
	hookbridge.EventEndpointCreated,
	hookbridge.EventEndpointUpdated,
	hookbridge.EventEndpointDeleted,
	hookbridge.EventEndpointDisabled,
	hookbridge.EventAttemptExhausted,
	hookbridge.EventAttemptFailing,
	hookbridge.EventAttemptRecovered,
}

// App returns the reserved application, creating it if it does not exist
// yet. Instances that create it at once settle on the one stored first.
func App(ctx context.Context, store hookbridge.ApplicationStore, now time.Time) (*hookbridge.Application, error) {
	app, err := store.GetApplication(ctx, AppUID)
	if err == nil || !hookbridge.IsNotFound(err) {
		return app, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	app = &hookbridge.Application{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixApplication, now),
		UID:       AppUID,
		Name:      appName,
		CreatedAt: now,
		UpdatedAt: now,
	}
	err = store.CreateApplication(ctx, app)
	if hookbridge.ErrorCode(err) == hookbridge.ECONFLICT {
		return store.GetApplication(ctx, AppUID)
	}
	if err != nil {
		return nil, fmt.Errorf("operational application: %w", err)
	}
	return app, nil
}

// Notifier turns operational events into messages of the reserved
// application.
type Notifier struct {
	// Store is where the application's uid is looked up and the event's
	// message written.
	Store hookbridge.Store
	// Wake is called after an event was written, so that it is sent at once
	// (the dispatcher's Wake). Nil: the next poll finds it.
	Wake func()
	// Now is the clock of the messages. Nil means time.Now.
	Now func() time.Time
}

// Notify writes ev as a message of the reserved application, whose eventId
// is ev.ID (given one if it has none): notifying the same event again
// writes nothing, even from another instance. Until an operational
// endpoint has been created (and with it the application) no one listens,
// and nothing is written.
func (n *Notifier) Notify(ctx context.Context, ev hookbridge.OperationalEvent) error {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	op, err := n.Store.GetApplication(ctx, AppUID)
	if hookbridge.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	if ev.AppID == op.ID {
		return nil // about an operational endpoint: never fed back to itself
	}
	var appUID *string
	if app, err := n.Store.GetApplication(ctx, ev.AppID); err == nil {
		appUID = nullable(app.UID)
	} else if !hookbridge.IsNotFound(err) {
		return fmt.Errorf("operational event %s: application: %w", ev.Type, err)
	}
	payload, err := Payload(ev, appUID)
	if err != nil {
		return err
	}
	if ev.ID == "" {
		ev.ID = hookbridge.NewID(hookbridge.PrefixEvent)
	}
	at := now()
	msg := &hookbridge.Message{
		ID:        hookbridge.NewIDAt(hookbridge.PrefixMessage, at),
		AppID:     op.ID,
		EventID:   ev.ID,
		EventType: ev.Type,
		Payload:   payload,
		CreatedAt: at.UTC().Truncate(time.Millisecond),
	}
	_, created, err := n.Store.CreateMessage(ctx, msg)
	if err != nil {
		return fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	if created && n.Wake != nil {
		n.Wake()
	}
	return nil
}

// Payload is the JSON body of an operational event: Svix's
// EndpointCreatedEvent, EndpointUpdatedEvent, EndpointDeletedEvent,
// EndpointDisabledEvent, MessageAttemptExhaustedEvent,
// MessageAttemptFailingEvent or MessageAttemptRecoveredEvent. appUID is the uid of the event's application,
// nil when it has none.
func Payload(ev hookbridge.OperationalEvent, appUID *string) (json.RawMessage, error) {
	var data any
	switch ev.Type {
	case hookbridge.EventEndpointCreated, hookbridge.EventEndpointUpdated, hookbridge.EventEndpointDeleted:
		data = endpointData{AppID: ev.AppID, AppUID: appUID, EndpointID: ev.EndpointID, EndpointUID: nullable(ev.EndpointUID)}
	case hookbridge.EventEndpointDisabled:
		data = endpointDisabledData{
			AppID: ev.AppID, AppUID: appUID, EndpointID: ev.EndpointID,
			EndpointUID: nullable(ev.EndpointUID), FailSince: formatTime(ev.FailSince),
		}
	case hookbridge.EventAttemptExhausted, hookbridge.EventAttemptFailing, hookbridge.EventAttemptRecovered:
		d := messageAttemptData{
			AppID: ev.AppID, AppUID: appUID, EndpointID: ev.EndpointID,
			MsgID: ev.MsgID, MsgEventID: nullable(ev.MsgEventID),
		}
		if a := ev.Attempt; a != nil {
			d.LastAttempt = lastAttempt{ID: a.ID, ResponseStatusCode: a.StatusCode, Timestamp: formatTime(a.At)}
		}
		data = d
	default:
		return nil, fmt.Errorf("operational event: unknown type %q", ev.Type)
	}
	b, err := json.Marshal(event{Type: ev.Type, Data: data})
	if err != nil {
		return nil, fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return b, nil
}

// event is the envelope of every operational webhook.
type event struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// endpointData is Svix's EndpointCreatedEventData (and the Updated and
// Deleted ones, the same shape).
type endpointData struct {
	AppID       string  `json:"appId"`
	AppUID      *string `json:"appUid"`
	EndpointID  string  `json:"endpointId"`
	EndpointUID *string `json:"endpointUid"`
}

// endpointDisabledData is Svix's EndpointDisabledEventData.
type endpointDisabledData struct {
	AppID       string  `json:"appId"`
	AppUID      *string `json:"appUid"`
	EndpointID  string  `json:"endpointId"`
	EndpointUID *string `json:"endpointUid"`
	FailSince   string  `json:"failSince"`
}

// messageAttemptData is Svix's MessageAttemptExhaustedEventData (and
// MessageAttemptFailingEventData and MessageAttemptRecoveredEventData, the
// same shape; lastAttempt is the successful one in the last).
type messageAttemptData struct {
	AppID       string      `json:"appId"`
	AppUID      *string     `json:"appUid"`
	EndpointID  string      `json:"endpointId"`
	LastAttempt lastAttempt `json:"lastAttempt"`
	MsgEventID  *string     `json:"msgEventId"`
	MsgID       string      `json:"msgId"`
}

// lastAttempt is Svix's MessageAttempetLast (sic).
type lastAttempt struct {
	ID                 string `json:"id"`
	ResponseStatusCode int    `json:"responseStatusCode"`
	Timestamp          string `json:"timestamp"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// formatTime writes a time as the API does: RFC 3339 in UTC, milliseconds.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
