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
	"errors"
	"strings"
)

func normalizeSquare(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	var root any
	if err := decodeJSON(body, &root); err != nil {
		return nil, err
	}
	if _, ok := root.(map[string]any); !ok {
		return nil, errors.New("the body is not a JSON object")
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
		switch payload.Status {
		case "APPROVED":
			e.Messages = one(PaymentAuthorized, payload)
		case "COMPLETED":
			e.Messages = one(PaymentCaptured, payload)
		case "FAILED":
			e.Messages = one(PaymentFailed, payload)
		case "CANCELED":
			e.Messages = one(PaymentVoided, payload)
		default:
			e.Note = "payment " + payload.Status + ": not a state with a canonical event; stored, not forwarded"
		}
	case "refund":
		r := lookup(root, "data.object.refund")
		payload := Payload{
			ID: str(r, "id"), Status: str(r, "status"), Amount: minorInt(r, "amount_money.amount"),
			Currency: str(r, "amount_money.currency"), PaymentID: str(r, "payment_id"), Reason: str(r, "reason"),
		}
		switch payload.Status {
		case "COMPLETED":
			e.Messages = one(RefundSucceeded, payload)
		case "FAILED", "REJECTED":
			e.Messages = one(RefundFailed, payload)
		default:
			e.Note = "refund " + payload.Status + ": not final yet; stored, not forwarded"
		}
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
