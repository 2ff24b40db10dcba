// Normalisation of Square events.
//
// Followed: Square's "Webhook events reference"
// (https://developer.squareup.com/reference/square/webhooks) for
// payment.created/updated, refund.created/updated and dispute.*. An event is
// {merchant_id, type, event_id, created_at, data: {type, id, object:
// {payment|refund|dispute}}}; amounts are minor units in amount_money.
//
//	payment.*  status APPROVED   payment.authorized
//	           status COMPLETED  payment.captured
//	           status FAILED     payment.failed
//	           status CANCELED   payment.voided
//	refund.*   status COMPLETED  refund.succeeded
//	           FAILED, REJECTED  refund.failed
//	dispute.created                     dispute.opened
//	dispute.state.updated/changed, state WON, LOST or ACCEPTED  dispute.closed
//
// Square sends payment.updated for every change of a payment, so the same
// status can be reported more than once (a fee added after completion); each
// is its own event with its own event_id, and consumers should treat the
// canonical message as a state report keyed by the payment's id.

package inbound

import (
	"strings"
)

// squarePaymentEvents and squareRefundEvents give the canonical event of a
// payment's and a refund's status; other statuses have none.
var (
	squarePaymentEvents = map[string]string{
		"APPROVED":  PaymentAuthorized,
		"COMPLETED": PaymentCaptured,
		"FAILED":    PaymentFailed,
		"CANCELED":  PaymentVoided,
	}
	squareRefundEvents = map[string]string{
		"COMPLETED": RefundSucceeded,
		"FAILED":    RefundFailed,
		"REJECTED":  RefundFailed,
	}
)

func normalizeSquare(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	e := Event{
		ID:         str(root, "event_id"),
		Type:       str(root, "type"),
		Merchant:   merchantOf(root, "square", o),
		OccurredAt: parseRFC3339(str(root, "created_at")),
	}
	kind, _, _ := strings.Cut(e.Type, ".")
	switch kind {
	case "payment":
		p := lookup(root, "data.object.payment")
		payload := Payload{
			ID: str(p, "id"), Status: str(p, "status"), Amount: minorInt(p, "amount_money.amount"),
			Currency: str(p, "amount_money.currency"), Reference: str(p, "reference_id"),
		}
		e.byStatus(squarePaymentEvents, payload, "not a state with a canonical event")
	case "refund":
		r := lookup(root, "data.object.refund")
		payload := Payload{
			ID: str(r, "id"), Status: str(r, "status"), Amount: minorInt(r, "amount_money.amount"),
			Currency: str(r, "amount_money.currency"), PaymentID: str(r, "payment_id"), Reason: str(r, "reason"),
		}
		e.byStatus(squareRefundEvents, payload, "not final yet")
	case "dispute":
		d := lookup(root, "data.object.dispute")
		payload := Payload{
			ID: firstStr(d, "dispute_id", "id"), Status: str(d, "state"), Amount: minorInt(d, "amount_money.amount"),
			Currency: str(d, "amount_money.currency"), PaymentID: str(d, "disputed_payment.payment_id"), Reason: str(d, "reason"),
		}
		switch {
		case e.Type == "dispute.created":
			e.Messages = one(DisputeOpened, payload)
		case payload.Status == "WON" || payload.Status == "LOST" || payload.Status == "ACCEPTED":
			e.Messages = one(DisputeClosed, payload)
		}
	}
	e.finish("square", e.ID)
	return []Event{e}, nil
}

// byStatus gives e the message events names for p's status, or, for a
// status events does not name, a note that says why nothing is forwarded.
func (e *Event) byStatus(events map[string]string, p Payload, why string) {
	if typ, ok := events[p.Status]; ok {
		e.Messages = one(typ, p)
		return
	}
	kind, _, _ := strings.Cut(e.Type, ".")
	e.Note = kind + " " + p.Status + ": " + why + "; stored, not forwarded"
}
