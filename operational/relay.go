package operational

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hookbridge/hookbridge"
)

// DefaultRelayPoll is how often a Relay looks for recorded events when it
// is not kicked: the events other instances recorded, and those a failed
// write left.
const DefaultRelayPoll = time.Second

// relayBatch is how many recorded events a Relay takes at a time.
const relayBatch = 256

// Relay turns the operational events the store recorded (with the attempt
// results and disablings they report, see hookbridge.OperationalEvent)
// into messages, with Notifier, and then deletes them from the store.
//
// Each event becomes one message however often it is relayed: the message's
// eventId is the event's id. So a crash between writing the message and
// deleting the event, or two instances relaying the same event at once,
// cannot send it twice, and an event is deleted only once its message is
// stored: none is lost.
type Relay struct {
	notifier  *Notifier
	store     hookbridge.DeliveryStore
	poll      time.Duration
	log       *slog.Logger
	kick      chan struct{}
	exclusive Exclusive // nil: every pass runs
}

// Exclusive runs fn unless another instance runs the job of the same name,
// and reports whether it ran (hookbridge.ExclusiveRunner.RunExclusive).
type Exclusive func(ctx context.Context, job string, fn func(context.Context) error) (bool, error)

// OneAtATime makes the relay's passes take turns with the other instances'
// on a shared store: a pass that finds another instance relaying is
// skipped, since that one relays every recorded event. Without it every
// instance relays every event (each still becomes one message, by its
// eventId, but N instances try N times). Call it before Run.
func (r *Relay) OneAtATime(x Exclusive) { r.exclusive = x }

// NewRelay returns a relay of the events in n.Store through n. poll is
// DefaultRelayPoll if zero; log is slog.Default() if nil.
func NewRelay(n *Notifier, poll time.Duration, log *slog.Logger) *Relay {
	return &Relay{notifier: n, store: n.Store, poll: cmp.Or(poll, DefaultRelayPoll),
		log: cmp.Or(log, slog.Default()), kick: make(chan struct{}, 1)}
}

// Kick makes the relay look for events at once. It never blocks: a kick
// already pending covers this one. It is the dispatcher's EventsRecorded.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run relays events until ctx ends, and returns then.
func (r *Relay) Run(ctx context.Context) {
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("operational: relay events; they are tried again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-tick.C:
		}
	}
}

// Pass is one pass of Run: Relay, unless (with OneAtATime) another
// instance is relaying, and whether it ran.
func (r *Relay) Pass(ctx context.Context) (bool, error) {
	if r.exclusive == nil {
		return true, r.Relay(ctx)
	}
	return r.exclusive(ctx, "operational-relay", r.Relay)
}

// Relay turns every event recorded so far into its message, oldest first,
// and deletes the events it relayed. It stops at the first that fails (a
// store error), which stays for the next try; an event of a type it does
// not know is logged and deleted, since no try could send it.
func (r *Relay) Relay(ctx context.Context) error {
	for {
		events, err := r.store.OperationalEvents(ctx, relayBatch)
		if err != nil {
			return err
		}
		done := make([]string, 0, len(events))
		var failed error
		for _, ev := range events {
			if !slices.Contains(EventTypes, ev.Type) {
				r.log.Error("operational: dropping an event of an unknown type", "id", ev.ID, "type", ev.Type)
			} else if failed = r.notifier.Notify(ctx, ev); failed != nil {
				break
			}
			done = append(done, ev.ID)
		}
		if err := r.store.DeleteOperationalEvents(ctx, done); err != nil {
			return err
		}
		if failed != nil {
			return failed
		}
		if len(events) < relayBatch {
			return nil
		}
	}
}
