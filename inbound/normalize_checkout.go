// Normalisation of Checkout.com webhooks.
//
// Followed: Checkout.com's "Webhooks: event types"
// (https://www.checkout.com/docs/developer-resources/webhooks/webhook-event-types)
// and "Dispute webhooks". A webhook is {id, type, created_on, data: {id,
// action_id, amount, currency, reference, response_summary, …}}; amounts are
// minor units. data.id is the payment (pay_…); for a refund the refund's id
// is data.action_id; for a dispute data.id is the dispute (dsp_…) and
// data.payment_id the payment.
//
//	payment_approved                             payment.authorized
//	payment_captured                             payment.captured
//	payment_declined, payment_capture_declined,
//	payment_authentication_failed                payment.failed
//	payment_voided                               payment.voided
//	payment_refunded                             refund.succeeded
//	payment_refund_declined                      refund.failed
//	dispute_received, dispute_evidence_required  dispute.opened
//	dispute_won, dispute_lost, dispute_accepted,
//	dispute_canceled, dispute_expired,
//	dispute_resolved                             dispute.closed  status the part after "dispute_"

package inbound

import (
	"strings"
)

func normalizeCheckout(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	d := lookup(root, "data")
	e := Event{
		ID:         str(root, "id"),
		Type:       str(root, "type"),
		Merchant:   merchantOf(root, "checkout", o),
		OccurredAt: parseRFC3339(str(root, "created_on")),
	}
	payment := Payload{
		ID: str(d, "id"), Status: strings.TrimPrefix(e.Type, "payment_"), Amount: minorInt(d, "amount"),
		Currency: str(d, "currency"), Reference: str(d, "reference"),
	}
	refund := Payload{
		ID: firstStr(d, "action_id", "id"), Status: strings.TrimPrefix(e.Type, "payment_"), Amount: minorInt(d, "amount"),
		Currency: str(d, "currency"), PaymentID: str(d, "id"), Reference: str(d, "reference"),
	}
	dispute := Payload{
		ID: str(d, "id"), Status: strings.TrimPrefix(e.Type, "dispute_"), Amount: minorInt(d, "amount"),
		Currency: str(d, "currency"), PaymentID: str(d, "payment_id"), Reason: str(d, "reason_code"),
		Reference: str(d, "payment_reference"),
	}
	switch e.Type {
	case "payment_approved":
		e.Messages = one(PaymentAuthorized, payment)
	case "payment_captured":
		e.Messages = one(PaymentCaptured, payment)
	case "payment_declined", "payment_capture_declined", "payment_authentication_failed":
		payment.Reason = str(d, "response_summary")
		e.Messages = one(PaymentFailed, payment)
	case "payment_voided":
		e.Messages = one(PaymentVoided, payment)
	case "payment_refunded":
		e.Messages = one(RefundSucceeded, refund)
	case "payment_refund_declined":
		refund.Reason = str(d, "response_summary")
		e.Messages = one(RefundFailed, refund)
	case "dispute_received", "dispute_evidence_required":
		e.Messages = one(DisputeOpened, dispute)
	case "dispute_won", "dispute_lost", "dispute_accepted", "dispute_canceled", "dispute_expired", "dispute_resolved":
		e.Messages = one(DisputeClosed, dispute)
	}
	e.finish("checkout", e.ID)
	return []Event{e}, nil
}
