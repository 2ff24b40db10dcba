package api

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Messages whose event type is not in the catalogue. Svix accepts them
// (202), and so does Hookbridge by default: they are counted
// (UncataloguedMessages, hookbridge_messages_unknown_event_type_total), so
// that a producer's typo does not go unnoticed. With
// Config.StrictEventTypes they are refused instead, as are messages of an
// archived type: 422 naming body.eventType.

// knownTypesTTL is how long an event type found in the catalogue is taken
// to still be there without asking the store again: every accepted message
// is checked, and the catalogue changes rarely. A type deleted meanwhile is
// counted again within this time. Strict mode always asks.
const knownTypesTTL = time.Minute

// maxKnownTypes bounds the remembered types; past it, it starts over.
const maxKnownTypes = 10_000

// uncatalogued counts the messages accepted with an event type not in the
// catalogue, and remembers the types found in it.
type uncatalogued struct {
	count atomic.Uint64
	last  atomic.Pointer[string] // the latest such type

	mu    sync.Mutex
	known map[string]time.Time // event type → when the store last had it
}

// UncataloguedMessages returns how many messages this server accepted
// whose event type was not in the catalogue, and the latest such type.
func (s *Server) UncataloguedMessages() (count uint64, lastType string) {
	if p := s.uncatalogued.last.Load(); p != nil {
		lastType = *p
	}
	return s.uncatalogued.count.Load(), lastType
}

// checkEventTypes returns, for each of names that is not in the catalogue
// (or, with StrictEventTypes, is archived), why; nil when all are. Without
// StrictEventTypes a type found in the catalogue within knownTypesTTL is
// not looked up again.
func (s *Server) checkEventTypes(ctx context.Context, names ...string) (map[string]string, error) {
	now := s.now()
	u := &s.uncatalogued
	var ask []string
	u.mu.Lock()
	for _, n := range names {
		if seen, ok := u.known[n]; ok && !s.strictEventTypes && now.Sub(seen) < knownTypesTTL {
			continue
		}
		if !slices.Contains(ask, n) {
			ask = append(ask, n)
		}
	}
	u.mu.Unlock()
	if len(ask) == 0 {
		return nil, nil
	}

	bad := make(map[string]string)
	if s.strictEventTypes {
		for _, n := range ask {
			et, err := s.store.GetEventType(ctx, n)
			switch {
			case hookbridge.IsNotFound(err):
				bad[n] = "event type " + n + " is not in the event type catalogue; this server accepts only catalogued event types"
			case err != nil:
				return nil, err
			case et.Archived:
				bad[n] = "event type " + n + " is archived; this server accepts only event types that are not"
			}
		}
		return bad, nil
	}
	missing, err := s.store.MissingEventTypes(ctx, ask)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range ask {
		if slices.Contains(missing, n) {
			bad[n] = "not in the event type catalogue"
			continue
		}
		if u.known == nil || len(u.known) >= maxKnownTypes {
			u.known = make(map[string]time.Time)
		}
		u.known[n] = now
	}
	return bad, nil
}

// accepted counts a message stored with an event type not in the
// catalogue.
func (u *uncatalogued) accepted(eventType string) {
	u.count.Add(1)
	u.last.Store(&eventType)
}

// eventTypesOf returns the event type of each message.
func eventTypesOf(msgs []*hookbridge.Message) []string {
	names := make([]string, len(msgs))
	for i, m := range msgs {
		names[i] = m.EventType
	}
	return names
}

// refuseUncatalogued drops from a batch's msgs (msgs[j] is message
// index[j] of the batch) those whose event type is in bad, giving each its
// 422 in out, and returns the others with their indexes.
func refuseUncatalogued(msgs []*hookbridge.Message, index []int, bad map[string]string, out []batchResultOut) ([]*hookbridge.Message, []int) {
	if len(bad) == 0 {
		return msgs, index
	}
	keptMsgs, keptIndex := msgs[:0], index[:0]
	for j, m := range msgs {
		if why, refused := bad[m.EventType]; refused {
			var fe fieldErrors
			fe.body(why, "messages", strconv.Itoa(index[j]), "eventType")
			out[index[j]] = batchError(fe.err())
			continue
		}
		keptMsgs, keptIndex = append(keptMsgs, m), append(keptIndex, index[j])
	}
	return keptMsgs, keptIndex
}
