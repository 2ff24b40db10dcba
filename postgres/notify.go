package postgres

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxNamedEndpoints is the most endpoints one notification names: more
// would make a longer payload for every instance to read, and a dispatcher
// leaves out only a few endpoints at a time anyway.
const maxNamedEndpoints = 16

// duePrefix begins the payload of a notification that names the endpoints
// of the deliveries it announces: "due:" and their ids, comma-separated.
// A notification with no payload announces deliveries to any endpoint, as
// every notification did before endpoints were named; an instance built
// before that treats a named one as such.
const duePrefix = "due:"

// dueNotice gathers what the NOTIFYs not yet sent announce.
type dueNotice struct {
	mu  sync.Mutex
	any bool     // some write named no endpoint, or too many
	ids []string // the endpoints named, unless any; at most maxNamedEndpoints
}

// add gathers a write's announcement: deliveries to the endpoints ids, or
// to any endpoint if ids is empty or one of them could not be sent in a
// payload as it is. It stops at the first id that makes the notification
// name none, so that a write to a thousand endpoints costs no more than
// one to seventeen.
func (n *dueNotice) add(ids []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.any {
		return
	}
	if len(ids) == 0 {
		n.any, n.ids = true, nil
		return
	}
	for _, id := range ids {
		if slices.Contains(n.ids, id) {
			continue
		}
		if !plainID(id) || len(n.ids) == maxNamedEndpoints {
			n.any, n.ids = true, nil
			return
		}
		n.ids = append(n.ids, id)
	}
}

// take returns the payload of a notification of what was gathered, and
// whether there is anything to announce, and starts gathering anew.
func (n *dueNotice) take() (payload string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.any:
		n.any = false
		return "", true
	case len(n.ids) > 0:
		payload = duePrefix + strings.Join(n.ids, ",")
		n.ids = n.ids[:0]
		return payload, true
	}
	return "", false
}

// dueEndpoints reads the endpoints a notification's payload names: nil
// for any endpoint.
func dueEndpoints(payload string) []string {
	list, ok := strings.CutPrefix(payload, duePrefix)
	if !ok || list == "" {
		return nil
	}
	return strings.Split(list, ",")
}

// plainID says whether id is made of the characters Hookbridge's ids are
// (letters, digits, '_' and '-'), so that it goes into a payload, a SQL
// string literal, as it is.
func plainID(id string) bool {
	if id == "" {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// notifyDue tells listening instances (see Listen) that deliveries to the
// endpoints endpointIDs may be due now (to any endpoint, if it is empty).
// Writers call it after their transaction committed, so a woken instance
// finds the deliveries. It never blocks: the notifier goroutine sends the
// NOTIFY, and requests made while one is pending or being sent are covered
// by the next, which names the endpoints of all of them, so a burst of
// commits costs a few NOTIFYs, not one each.
//
// The NOTIFY is not part of the writing transaction, although that would
// tie it to the commit for free: a transaction that notifies holds a
// database-wide lock from its commit until its WAL is flushed, so every
// notifying commit would wait for the previous one's fsync, and ingest on
// every instance together would be capped at one commit per disk flush
// (measured: docs/scaling.md). Sent on its own, the notification needs no
// durability (a lost one only delays a delivery until the next poll), so
// its transaction commits without waiting for the flush and holds the lock
// for microseconds.
func (s *Store) notifyDue(endpointIDs ...string) {
	s.due.add(endpointIDs)
	select {
	case s.notifyReq <- struct{}{}:
	default:
	}
}

// notifier sends the NOTIFYs notifyDue asks for until ctx is done, then
// sends one last if a request is pending.
func (s *Store) notifier(ctx context.Context) {
	defer close(s.notifierDone)
	for {
		select {
		case <-s.notifyReq:
			if err := s.sendNotify(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("postgres: notify other instances; they find new deliveries at their next poll", "err", err)
			}
		case <-ctx.Done():
			select {
			case <-s.notifyReq:
				final, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = s.sendNotify(final) // best effort: the poll is the safety net
			default:
			}
			return
		}
	}
}

// sendNotify sends one notification of what notifyDue gathered, if
// anything, on the store's channel, in a transaction of its own that does
// not wait for the WAL flush. One round trip: the simple protocol runs the
// four statements at once. The payload's ids are plain (plainID), so
// quoting them as a string literal needs nothing more.
func (s *Store) sendNotify(ctx context.Context) error {
	payload, ok := s.due.take()
	if !ok {
		return nil // taken by the notification before, whose request this was
	}
	notify := "NOTIFY " + pgx.Identifier{s.notify}.Sanitize()
	if payload != "" {
		notify += ", '" + payload + "'"
	}
	_, err := s.pool.Exec(ctx, "BEGIN; SET LOCAL synchronous_commit = off; "+notify+"; COMMIT")
	return err
}
