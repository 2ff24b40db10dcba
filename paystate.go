package hookbridge

import (
	"slices"
	"strings"
	"time"
)

// Processors do not promise order: Stripe documents that events may arrive
// out of order, Razorpay tells integrators to let a payment's state only
// move forward. So Hookbridge follows each payment a source reports (by the
// processor's payment id) through one state graph, and numbers its events
// in the order they were stored. A notification that would move the payment
// backwards, or sideways onto another branch, is stale: it is stored,
// numbered and shown, and the source's StalePolicy says whether it is
// delivered flagged or held for an operator. docs/inbound.md draws the
// graph.

// PaymentStatus is where a payment stands, as far as its notifications
// have said: the canonical status, the same for every processor.
type PaymentStatus string

// The payment statuses. PaymentNone is a payment no event has set a status
// for (its first events were updates, or failed refunds).
const (
	PaymentNone              PaymentStatus = ""
	PaymentAuthorized        PaymentStatus = "authorized"
	PaymentFailed            PaymentStatus = "failed"
	PaymentVoided            PaymentStatus = "voided"
	PaymentCaptured          PaymentStatus = "captured"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
	PaymentRefunded          PaymentStatus = "refunded"
	PaymentDisputed          PaymentStatus = "disputed"
	PaymentDisputeWon        PaymentStatus = "dispute_won"
	PaymentDisputeLost       PaymentStatus = "dispute_lost"
	// PaymentDisputeClosed is a dispute closed with an outcome the
	// processor's notification does not tell.
	PaymentDisputeClosed PaymentStatus = "dispute_closed"
)

// PaymentStatuses lists every status but PaymentNone, in the graph's order.
var PaymentStatuses = []PaymentStatus{
	PaymentAuthorized, PaymentFailed, PaymentVoided, PaymentCaptured, PaymentPartiallyRefunded, PaymentRefunded,
	PaymentDisputed, PaymentDisputeWon, PaymentDisputeLost, PaymentDisputeClosed,
}

// DisputeOutcome is how a closed dispute ended for the merchant.
type DisputeOutcome string

// Dispute outcomes; "" when the notification does not tell.
const (
	DisputeWon  DisputeOutcome = "won"
	DisputeLost DisputeOutcome = "lost"
)

// StalePolicy is what a source does with a stale notification (one that
// would move its payment backwards or sideways).
type StalePolicy string

const (
	// StaleForwardFlagged delivers it, with "stale": true in the payload.
	// It is the default: a consumer that orders by sequence loses nothing.
	StaleForwardFlagged StalePolicy = "forward-flagged"
	// StaleHold stores it and delivers nothing until an operator releases
	// it (SourceStore.ReleaseInboundEvent).
	StaleHold StalePolicy = "hold"
)

// Valid reports whether p is one of the policies ("" is not: it means the
// default only where a Source is read).
func (p StalePolicy) Valid() bool { return p == StaleForwardFlagged || p == StaleHold }

// Or returns p, or the default policy when p is unset.
func (p StalePolicy) Or() StalePolicy {
	if p == "" {
		return StaleForwardFlagged
	}
	return p
}

// PaymentStep is what one canonical message of an inbound event does to the
// payment it concerns. The receiver fills in what the message says; the
// store fills in the rest, in the transaction that stores the event, from
// the payment's state as it stands then.
type PaymentStep struct {
	// EventType is the canonical type, e.g. "payment.captured".
	EventType string `json:"eventType"`
	// PaymentID is the processor's id of the payment; "" when the message
	// concerns none (an order), and then the step changes nothing.
	PaymentID string `json:"paymentId,omitempty"`
	// ObjectID is a refund's or dispute's own id (refund.*, dispute.*).
	ObjectID string `json:"objectId,omitempty"`
	Amount   *int64 `json:"amount,omitempty"` // minor units; nil when the message has none
	Currency string `json:"currency,omitempty"`
	// Outcome is how a dispute.closed ended, when the processor says.
	Outcome    DisputeOutcome `json:"outcome,omitempty"`
	OccurredAt time.Time      `json:"occurredAt,omitzero"` // the processor's time of the event; zero when unknown

	// Sequence numbers the payment's events in the order they were
	// stored, from 1, stale ones included; 0 until stored (and for a step
	// without a payment).
	Sequence int64 `json:"sequence,omitempty"`
	// Previous is the payment's status before the event, Status after it
	// (the same when the event is stale or moves nothing).
	Previous PaymentStatus `json:"previous,omitempty"`
	Status   PaymentStatus `json:"status,omitempty"`
	// Stale says the event would have moved the payment backwards or
	// sideways: it changed nothing.
	Stale bool `json:"stale,omitempty"`
}

// maxRefundIDs bounds the refund ids a PaymentState remembers: a payment
// has a handful; past the bound, a repeated report of an old refund is
// counted again.
const maxRefundIDs = 100

// PaymentState is what Hookbridge knows of one payment of a source: its
// status, how many events it had, and the amounts its events reported.
// The JSON tags are the form in which the stores keep the amounts.
type PaymentState struct {
	SourceID  string        `json:"-"`
	PaymentID string        `json:"-"`
	Status    PaymentStatus `json:"-"`
	Sequence  int64         `json:"-"` // events stored so far
	Currency  string        `json:"currency,omitempty"`
	// Authorized is the amount authorised, Captured the amount captured
	// so far (partial captures add up to at most Authorized), when the
	// events said; Refunded is the sum of the refunds counted, whose ids
	// are Refunds.
	Authorized *int64   `json:"authorized,omitempty"`
	Captured   *int64   `json:"captured,omitempty"`
	Refunded   int64    `json:"refunded,omitempty"`
	Refunds    []string `json:"refunds,omitempty"`
	Dispute    string   `json:"dispute,omitempty"` // the latest dispute's id
	// At is the processor's time of the event that set Status; zero when
	// it did not say.
	At        time.Time `json:"at,omitzero"`
	UpdatedAt time.Time `json:"-"` // when the last event was stored (the store's clock)
}

// Advance applies one event to the payment: it returns the state after it,
// and step with its outcome filled in (Sequence, Previous, Status, Stale).
// A stale event changes nothing but the sequence. The graph, which
// docs/inbound.md draws:
//
//   - authorized → captured → partially_refunded → refunded; authorized →
//     voided; authorized → failed (a capture that failed);
//   - failed → authorized, captured, failed or voided: a new attempt;
//   - captured, partially_refunded or refunded → disputed → dispute_won,
//     dispute_lost or dispute_closed; a closed dispute → disputed (another
//     dispute).
//
// An event may skip states that were not reported (a refund of a payment
// whose capture never arrived); a report of the status the payment is
// already in moves nothing and is not stale. Before capture, a payment can
// fail and be tried again, so there the processor's event times decide: an
// authorisation or failure dated before the event that set the status is
// late, and stale. Amounts add up: partial captures within the authorised
// amount, refunds (each counted once, by id) up to the captured amount.
func (s PaymentState) Advance(step PaymentStep) (PaymentState, PaymentStep) {
	next := s
	next.Refunds = slices.Clone(s.Refunds)
	ok := next.apply(step)
	if !ok {
		next = s
	}
	next.Sequence = s.Sequence + 1
	if ok && next.Status != s.Status {
		next.At = step.OccurredAt
	}
	step.Sequence, step.Previous, step.Status, step.Stale = next.Sequence, s.Status, next.Status, !ok
	return next, step
}

// apply moves s by step, and reports false when step is stale (s is then
// to be dropped).
func (s *PaymentState) apply(step PaymentStep) bool {
	late := !step.OccurredAt.IsZero() && !s.At.IsZero() && step.OccurredAt.Before(s.At)
	// amount is step's amount when it can be compared with what s holds.
	var amount *int64
	if step.Amount != nil && (s.Currency == "" || step.Currency == "" || strings.EqualFold(s.Currency, step.Currency)) {
		amount = step.Amount
		if s.Currency == "" {
			s.Currency = strings.ToUpper(step.Currency)
		}
	}
	switch step.EventType {
	case "payment.authorized":
		switch {
		case s.Status == PaymentAuthorized:
			return true // reported again
		case s.Status == PaymentNone, s.Status == PaymentFailed && !late:
			s.Status, s.Authorized = PaymentAuthorized, amount
			return true
		}
	case "payment.failed":
		switch s.Status {
		case PaymentNone:
			s.Status = PaymentFailed
			return true
		case PaymentAuthorized, PaymentFailed:
			s.Status = PaymentFailed
			return !late
		}
	case "payment.voided":
		switch s.Status {
		case PaymentVoided:
			return true
		case PaymentNone, PaymentAuthorized, PaymentFailed:
			s.Status = PaymentVoided
			return true
		}
	case "payment.captured":
		switch {
		case s.Status == PaymentCaptured:
			s.addCapture(amount)
			return true
		case s.Status == PaymentNone, s.Status == PaymentAuthorized, s.Status == PaymentFailed && !late:
			s.Status, s.Captured = PaymentCaptured, amount
			return true
		}
	case "refund.succeeded":
		return s.refund(step.ObjectID, amount, step.Amount == nil)
	case "refund.failed":
		// A refund that did not happen moves nothing; one of a payment
		// that was never taken cannot be.
		return s.Status != PaymentVoided && s.Status != PaymentFailed
	case "dispute.opened":
		switch s.Status {
		case PaymentDisputed:
			return true
		case PaymentNone, PaymentAuthorized, PaymentCaptured, PaymentPartiallyRefunded, PaymentRefunded:
			s.Status, s.Dispute = PaymentDisputed, step.ObjectID
			return true
		case PaymentDisputeWon, PaymentDisputeLost, PaymentDisputeClosed:
			// Another dispute of a payment whose dispute closed.
			if step.ObjectID != "" && step.ObjectID != s.Dispute {
				s.Status, s.Dispute = PaymentDisputed, step.ObjectID
				return true
			}
		}
	case "dispute.closed":
		to := PaymentDisputeClosed
		switch step.Outcome {
		case DisputeWon:
			to = PaymentDisputeWon
		case DisputeLost:
			to = PaymentDisputeLost
		}
		switch s.Status {
		case to:
			return true
		case PaymentNone, PaymentAuthorized, PaymentCaptured, PaymentPartiallyRefunded, PaymentRefunded, PaymentDisputed:
			s.Status = to
			if step.ObjectID != "" {
				s.Dispute = step.ObjectID
			}
			return true
		}
	default:
		// payment.updated, and anything else, says nothing about where
		// the payment stands.
		return true
	}
	return false
}

// addCapture counts a further capture of a captured payment: partial
// captures add up while they stay within the authorised amount; a report
// beyond it is taken for the total captured so far (the same capture
// reported again, or the processor's running total).
func (s *PaymentState) addCapture(amount *int64) {
	switch {
	case amount == nil:
	case s.Captured == nil:
		s.Captured = amount
	case s.Authorized != nil && *s.Captured+*amount <= *s.Authorized:
		sum := *s.Captured + *amount
		s.Captured = &sum
	case *amount > *s.Captured:
		s.Captured = amount
	}
}

// refund counts a refund of the payment and reports whether it is
// possible. A refund already counted (by id) is a repeat; refunds adding up
// to more than was captured (or, before a capture is known, authorised)
// are impossible, as are refunds of a payment never taken or under
// dispute. unknown says the refund's amount is not known.
func (s *PaymentState) refund(id string, amount *int64, unknown bool) bool {
	switch s.Status {
	case PaymentNone, PaymentAuthorized, PaymentCaptured, PaymentPartiallyRefunded, PaymentRefunded:
	default:
		return false
	}
	if id != "" && slices.Contains(s.Refunds, id) {
		return true
	}
	if s.Status == PaymentRefunded {
		return false // nothing is left to refund
	}
	base := s.Captured
	if base == nil {
		base = s.Authorized
	}
	if amount != nil {
		s.Refunded += *amount
	}
	if base != nil && s.Refunded > *base {
		return false
	}
	if id != "" && len(s.Refunds) < maxRefundIDs {
		s.Refunds = append(s.Refunds, id)
	}
	s.Status = PaymentPartiallyRefunded
	if base != nil && !unknown && s.Refunded >= *base {
		s.Status = PaymentRefunded
	}
	return true
}
