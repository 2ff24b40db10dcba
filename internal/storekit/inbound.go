package storekit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sealed"
)

// Inbound events: their raw bodies sealed for their row (like the
// responses kept for Idempotency-Key retries, sealed as they are written
// and not resealed: there can be millions, and each lives only until raw
// retention drops it), and the payment state their canonical messages
// advance, in the transaction that stores them.

// PaymentTx is what a driver's transaction gives Settle to read and write
// the payments an event concerns.
type PaymentTx interface {
	// LockPayment reads the state of the source's payment and locks it
	// (where the database locks rows) until the transaction ends; a
	// payment without a row reads as the zero state.
	LockPayment(sourceID, paymentID string) (hookbridge.PaymentState, error)
	// SavePayment writes st, inserting its row if there is none.
	SavePayment(st hookbridge.PaymentState) error
}

// Settle returns what a driver calls in the transaction that inserts ev,
// right after the insert, with the source's stale policy: it advances
// each payment ev.Payments names (PaymentState.Advance), locking their rows
// in the order of their ids so that two events of the same payments cannot
// deadlock, fills in the steps' outcome and ev.Stale, and holds a stale
// event to be forwarded when the policy says so (Held set, Forward cleared,
// the note saying why). A payment's UpdatedAt becomes ev's ReceivedAt, so
// that retention forgets a payment with its last event. The driver then
// writes ev's Payments, Stale, Held, Forward and Note. Nil when ev concerns
// no payment: nothing to settle.
func Settle(ev *hookbridge.InboundEvent) func(policy hookbridge.StalePolicy, tx PaymentTx) error {
	var ids []string
	for _, st := range ev.Payments {
		if st.PaymentID != "" && !slices.Contains(ids, st.PaymentID) {
			ids = append(ids, st.PaymentID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return func(policy hookbridge.StalePolicy, tx PaymentTx) error {
		states := make(map[string]hookbridge.PaymentState, len(ids))
		for _, id := range ids {
			st, err := tx.LockPayment(ev.SourceID, id)
			if err != nil {
				return fmt.Errorf("payment %s: %w", id, err)
			}
			st.SourceID, st.PaymentID = ev.SourceID, id
			states[id] = st
		}
		var notes []string
		ev.Stale = false
		for i := range ev.Payments {
			step := &ev.Payments[i]
			if step.PaymentID == "" {
				continue
			}
			states[step.PaymentID], *step = states[step.PaymentID].Advance(*step)
			if step.Stale {
				ev.Stale = true
				notes = append(notes, staleNote(step))
			}
		}
		for _, id := range ids {
			st := states[id]
			st.UpdatedAt = TruncMS(ev.ReceivedAt)
			if err := tx.SavePayment(st); err != nil {
				return fmt.Errorf("payment %s: %w", id, err)
			}
		}
		switch {
		case !ev.Stale:
		case !ev.Forward:
			notes = append(notes, "not forwarded in any case")
		case policy.Or() == hookbridge.StaleHold:
			ev.Forward, ev.Held = false, true
			notes = append(notes, "held by the source's stale policy (hold) until an operator releases it: not forwarded")
		default:
			notes = append(notes, `forwarded with "stale": true (the source's stale policy is forward-flagged)`)
		}
		if len(notes) > 0 {
			ev.Note = strings.Join(append(nonEmpty(ev.Note), notes...), "; ")
		}
		return nil
	}
}

// staleNote says why a step is stale.
func staleNote(step *hookbridge.PaymentStep) string {
	was := string(step.Previous)
	if was == "" {
		was = "without a status"
	}
	return fmt.Sprintf("stale: payment %q is %s, which %s cannot follow (event %d of the payment)",
		step.PaymentID, was, step.EventType, step.Sequence)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Release returns what a driver calls on the event it read (locked) to
// release it at now, by actor: a held event is no longer held and is to be
// forwarded; one released before stays as it is (false: nothing to write);
// one never held is ECONFLICT.
func Release(actor string, now time.Time) func(ev *hookbridge.InboundEvent) (bool, error) {
	return func(ev *hookbridge.InboundEvent) (bool, error) {
		switch {
		case ev.Held:
			ev.Held, ev.Forward, ev.ReleasedAt, ev.ReleasedBy = false, true, TruncMS(now), actor
			return true, nil
		case !ev.ReleasedAt.IsZero():
			return false, nil
		}
		return false, hookbridge.Errorf(hookbridge.ECONFLICT,
			"inbound event %s is not held: only an event its source's stale policy held can be released", ev.ID)
	}
}

// ReadModifyWrite is a driver's read-modify-write transaction
// (InboundEventRelease's, SourceSetRollout's): in one transaction of inTx,
// the driver's, it reads the row with read (locked, where the database
// locks), lets modify change it, and writes it with write only if modify
// reports a change; write is given the row as read and as changed. It
// returns the row as it stays, with the first error.
func ReadModifyWrite[Tx, T any](ctx context.Context, inTx func(context.Context, func(Tx) error) error,
	read func(Tx) (T, error), modify func(*T) (bool, error), write func(tx Tx, was T, v *T) error) (T, error) {
	var v T
	err := inTx(ctx, func(tx Tx) error {
		var err error
		if v, err = read(tx); err != nil {
			return err
		}
		was := v
		changed, err := modify(&v)
		if err != nil || !changed {
			return err
		}
		return write(tx, was, &v)
	})
	return v, err
}

// openInbound opens ev's body, as the store sealed it for the event with
// keys. A body no configured key opens counts as gone, as after its
// retention: the event is still worth showing.
func openInbound(keys *sealed.Keyring, ev *hookbridge.InboundEvent) error {
	if !ev.BodyDroppedAt.IsZero() {
		ev.Body = nil
		return nil
	}
	body, err := keys.OpenBytes(ev.Body, ev.ID)
	switch {
	case errors.Is(err, sealed.ErrNoKey):
		ev.Body = nil
	case err != nil:
		return fmt.Errorf("inbound event %s: body: %w", ev.ID, err)
	default:
		ev.Body = body
	}
	return nil
}
