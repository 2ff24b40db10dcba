package storekit

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// What a new row gets when the caller leaves it unset: an id of its kind,
// and the store's now as its times (UpdatedAt: CreatedAt). Every time is
// then truncated (TruncMS), so that the caller's struct equals what a
// later read returns.

// newApplication fills in app's ID and times if unset.
func newApplication(app *hookbridge.Application, now time.Time) {
	newRow(&app.ID, hookbridge.PrefixApplication, &app.CreatedAt, &app.UpdatedAt, now)
}

// newEndpoint fills in ep's ID and times if unset.
func newEndpoint(ep *hookbridge.Endpoint, now time.Time) {
	newRow(&ep.ID, hookbridge.PrefixEndpoint, &ep.CreatedAt, &ep.UpdatedAt, now)
	truncSecrets(ep)
}

// truncSecrets truncates the expiry of ep's secrets, as a write of the
// endpoint stores them.
func truncSecrets(ep *hookbridge.Endpoint) {
	for i := range ep.Secrets {
		ep.Secrets[i].Expires = TruncMS(ep.Secrets[i].Expires)
	}
}

// newEventType fills in et's times if unset; its name is its key.
func newEventType(et *hookbridge.EventType, now time.Time) {
	newRow(nil, "", &et.CreatedAt, &et.UpdatedAt, now)
}

// newSource fills in src's ID, times and stale policy if unset.
func newSource(src *hookbridge.Source, now time.Time) {
	newRow(&src.ID, hookbridge.PrefixSource, &src.CreatedAt, &src.UpdatedAt, now)
	src.StalePolicy = src.StalePolicy.Or()
}

// newMessage fills in msg's ID and CreatedAt (its timestamp) if unset.
func newMessage(msg *hookbridge.Message, now time.Time) {
	newRow(&msg.ID, hookbridge.PrefixMessage, &msg.CreatedAt, nil, now)
	msg.DeliverAt = TruncMS(msg.DeliverAt)
}

// newAttempt fills in a's ID and CreatedAt if unset.
func newAttempt(a *hookbridge.Attempt, now time.Time) {
	newRow(&a.ID, hookbridge.PrefixAttempt, &a.CreatedAt, nil, now)
}

// newInboundEvent fills in ev's ID and ReceivedAt if unset, and truncates
// OccurredAt.
func newInboundEvent(ev *hookbridge.InboundEvent, now time.Time) {
	newRow(&ev.ID, hookbridge.PrefixInbound, &ev.ReceivedAt, nil, now)
	ev.OccurredAt = TruncMS(ev.OccurredAt)
	if ev.Via == "" {
		ev.Via = hookbridge.ViaWebhook
	}
}

// newOperationalEvent fills in ev's ID and CreatedAt if unset; now is the
// time of the change it reports. Its times are the reporter's, as they are.
func newOperationalEvent(ev *hookbridge.OperationalEvent, now time.Time) {
	if ev.ID == "" {
		ev.ID = hookbridge.NewID(hookbridge.PrefixEvent)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
}

func newRow(id *string, prefix string, created, updated *time.Time, now time.Time) {
	if id != nil && *id == "" {
		*id = hookbridge.NewID(prefix)
	}
	if created.IsZero() {
		*created = now
	}
	*created = TruncMS(*created)
	if updated != nil {
		if updated.IsZero() {
			*updated = *created
		}
		*updated = TruncMS(*updated)
	}
}

// ChangeRollout is the rule of SetRollout, for the source as the store read
// it in its transaction (see ReadModifyWrite): setting the rollout it has
// already changes and records nothing; otherwise the source gets r, updated
// at now, and the store writes it and records the change from the rollout
// it read.
func ChangeRollout(r hookbridge.Rollout, now time.Time) func(src *hookbridge.Source) (bool, error) {
	return func(src *hookbridge.Source) (bool, error) {
		if src.Rollout.Equal(r) {
			return false, nil
		}
		src.Rollout, src.UpdatedAt = r, now
		return true, nil
	}
}

// EncodeEvent is the stored form of an operational event, recorded in the
// transaction of the change it reports at now: its JSON, once it has an ID
// and a time (NewOperationalEvent).
func EncodeEvent(ev *hookbridge.OperationalEvent, now time.Time) ([]byte, error) {
	newOperationalEvent(ev, now)
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("operational event %s: %w", ev.Type, err)
	}
	return data, nil
}
