// Normalisation of Razorpay webhooks.
//
// Followed: Razorpay's "Webhook events"
// (https://razorpay.com/docs/webhooks/payloads/payments/, …/refunds/,
// …/disputes/). A webhook is {entity: "event", account_id, event,
// contains, payload: {payment|refund|dispute: {entity: {…}}}, created_at};
// amounts are minor units (paise).
//
//	payment.authorized                    payment.authorized
//	payment.captured                      payment.captured
//	payment.failed                        payment.failed
//	refund.processed                      refund.succeeded
//	refund.failed                         refund.failed
//	payment.dispute.created               dispute.opened
//	payment.dispute.won, .lost, .closed   dispute.closed
//
// The event id comes from the X-Razorpay-Event-Id header, which the
// signature does not cover (see razorpay.go).

package inbound

import (
	"strings"
)

func normalizeRazorpay(body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	e := Event{
		Type:       str(root, "event"),
		Merchant:   merchantOf(root, "razorpay", o),
		OccurredAt: unixTime(root, "created_at"),
	}
	if len(v.EventIDs) > 0 {
		e.ID = v.EventIDs[0]
	}
	pay := lookup(root, "payload.payment.entity")
	payment := Payload{
		ID: str(pay, "id"), Status: str(pay, "status"), Amount: minorInt(pay, "amount"),
		Currency: str(pay, "currency"), Reference: str(pay, "order_id"),
	}
	switch e.Type {
	case "payment.authorized":
		e.Messages = one(PaymentAuthorized, payment)
	case "payment.captured":
		e.Messages = one(PaymentCaptured, payment)
	case "payment.failed":
		payment.Reason = firstStr(pay, "error_reason", "error_code")
		e.Messages = one(PaymentFailed, payment)
	case "refund.processed", "refund.failed":
		r := lookup(root, "payload.refund.entity")
		p := Payload{
			ID: str(r, "id"), Status: str(r, "status"), Amount: minorInt(r, "amount"),
			Currency: str(r, "currency"), PaymentID: str(r, "payment_id"),
		}
		typ := RefundSucceeded
		if e.Type == "refund.failed" {
			typ = RefundFailed
		}
		e.Messages = one(typ, p)
	case "payment.dispute.created", "payment.dispute.won", "payment.dispute.lost", "payment.dispute.closed":
		d := lookup(root, "payload.dispute.entity")
		p := Payload{
			ID: str(d, "id"), Status: str(d, "status"), Amount: minorInt(d, "amount"),
			Currency: str(d, "currency"), PaymentID: firstStr(d, "payment_id", "payment.id"),
			Reason: firstStr(d, "reason_code", "reason_description"),
		}
		if p.PaymentID == "" {
			p.PaymentID = str(pay, "id")
		}
		typ := DisputeClosed
		if strings.HasSuffix(e.Type, ".created") {
			typ = DisputeOpened
		}
		e.Messages = one(typ, p)
	}
	e.finish("razorpay", e.ID)
	return []Event{e}, nil
}
