// Normalisation of Stripe events.
//
// Followed: Stripe's API reference, "Events: types"
// (https://docs.stripe.com/api/events/types) and the PaymentIntent, Charge,
// Refund and Dispute objects. An event is {id, type, created, account?,
// data: {object}}; amounts are already in minor units. A PaymentIntent
// becomes capturable (amount_capturable_updated) when it is authorised with
// manual capture, and succeeds when the money is captured.
//
//	payment_intent.amount_capturable_updated  payment.authorized  amount_capturable
//	payment_intent.succeeded                   payment.captured    amount_received
//	payment_intent.payment_failed              payment.failed      amount, last_payment_error
//	payment_intent.canceled                    payment.voided      amount
//	charge.refunded                            refund.succeeded    the latest refund if listed, else amount_refunded;
//	                                                               nothing while that refund is pending
//	refund.updated, charge.refund.updated,
//	refund.failed                              refund.succeeded / refund.failed by the refund's status
//	charge.dispute.created                     dispute.opened
//	charge.dispute.closed                      dispute.closed      status won, lost or warning_closed

package inbound

import (
	"strings"
)

func normalizeStripe(body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	obj := lookup(root, "data.object")
	e := Event{
		ID:         str(root, "id"),
		Type:       str(root, "type"),
		Merchant:   merchantOf(root, "stripe", o),
		OccurredAt: unixTime(root, "created"),
	}
	paymentOf := func(x any) string { return firstStr(x, "payment_intent", "charge") }
	switch e.Type {
	case "payment_intent.amount_capturable_updated":
		e.Messages = one(PaymentAuthorized, stripePayment(obj, "amount_capturable"))
	case "payment_intent.succeeded":
		e.Messages = one(PaymentCaptured, stripePayment(obj, "amount_received", "amount"))
	case "payment_intent.payment_failed":
		p := stripePayment(obj, "amount")
		p.Reason = firstStr(obj, "last_payment_error.decline_code", "last_payment_error.code", "last_payment_error.message")
		e.Messages = one(PaymentFailed, p)
	case "payment_intent.canceled":
		p := stripePayment(obj, "amount")
		p.Reason = str(obj, "cancellation_reason")
		e.Messages = one(PaymentVoided, p)
	case "charge.refunded":
		refund := lookup(obj, "refunds.data.0")
		paymentID := firstStr(obj, "payment_intent", "id")
		switch {
		case refund != nil && str(refund, "status") == "pending":
			e.Note = "charge.refunded for a pending refund: its outcome comes with refund.updated; stored, not forwarded"
		case refund != nil:
			e.Messages = stripeRefund(refund, paymentID)
		default:
			e.Messages = one(RefundSucceeded, Payload{
				ID: str(obj, "id"), Status: "succeeded", Amount: minorInt(obj, "amount_refunded"),
				Currency: str(obj, "currency"), PaymentID: paymentID,
			})
		}
	case "refund.created", "refund.updated", "refund.failed", "charge.refund.updated":
		e.Messages = stripeRefund(obj, paymentOf(obj))
		if len(e.Messages) == 0 {
			e.Note = "refund " + str(obj, "status") + ": not final yet; stored, not forwarded"
		}
	case "charge.dispute.created", "charge.dispute.closed":
		typ := DisputeOpened
		if e.Type == "charge.dispute.closed" {
			typ = DisputeClosed
		}
		e.Messages = one(typ, Payload{
			ID: str(obj, "id"), Status: str(obj, "status"), Amount: minorInt(obj, "amount"),
			Currency: str(obj, "currency"), PaymentID: paymentOf(obj), Reason: str(obj, "reason"),
		})
	}
	e.finish("stripe", e.ID)
	return []Event{e}, nil
}

// stripePayment is the payload of a PaymentIntent, its amount taken from the
// first of amountFields present.
func stripePayment(pi any, amountFields ...string) Payload {
	p := Payload{ID: str(pi, "id"), Status: str(pi, "status"), Currency: str(pi, "currency")}
	for _, f := range amountFields {
		if p.Amount = minorInt(pi, f); p.Amount != nil {
			break
		}
	}
	p.Reference = firstStr(pi, "metadata.order_id", "metadata.reference")
	return p
}

// stripeRefund maps a Refund by its status; pending and requires_action
// refunds map to nothing yet.
func stripeRefund(r any, paymentID string) []Message {
	p := Payload{
		ID: str(r, "id"), Status: str(r, "status"), Amount: minorInt(r, "amount"),
		Currency: str(r, "currency"), PaymentID: paymentID,
	}
	switch strings.ToLower(p.Status) {
	case "succeeded":
		return one(RefundSucceeded, p)
	case "failed", "canceled":
		p.Reason = str(r, "failure_reason")
		return one(RefundFailed, p)
	}
	return nil
}
