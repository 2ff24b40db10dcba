// Normalisation of GoCardless webhooks.
//
// Followed: GoCardless's API reference, "Events" and "Event actions"
// (https://developer.gocardless.com/api-reference#core-endpoints-events,
// #event-types-payment, #event-types-refund). A webhook is a batch,
// {events: [{id, created_at, resource_type, action, links: {payment,
// refund, mandate, organisation}, details: {origin, cause, description,
// scheme, reason_code}, metadata}]}. An event names its payment or refund
// and says what happened to it; it carries no amount (amount is null in the
// payload: fetch the payment for it). Payments are Direct Debits: a
// chargeback is the payer's bank reclaiming one under its guarantee.
//
//	payments confirmed                          payment.captured   (collected from the payer's account)
//	payments failed, customer_approval_denied   payment.failed     reason details.cause
//	payments cancelled                          payment.voided     (cancelled before submission)
//	payments charged_back                       dispute.opened     id the payment; reason details.cause
//	payments chargeback_settled                 dispute.closed     status chargeback_settled (taken from a payout)
//	payments chargeback_cancelled               dispute.closed     status chargeback_cancelled (the bank withdrew it)
//	refunds paid                                refund.succeeded   id the refund, paymentId the payment
//	refunds failed, funds_returned              refund.failed
//
// status is the action. Anything else (created, submitted, paid_out,
// resubmission_requested, other resource types: mandates, payouts, …) maps
// to nothing.

package inbound

import (
	"errors"
	"slices"
)

func normalizeGoCardless(body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	var root any
	if err := decodeJSON(body, &root); err != nil {
		return nil, err
	}
	batch, ok := lookup(root, "events").([]any)
	if !ok {
		return nil, errors.New("the body has no events list")
	}
	out := make([]Event, 0, len(batch))
	for _, ev := range batch {
		id := str(ev, "id")
		// Only the events whose ids the scheme read (the de-duplication
		// keys) are passed on.
		if id == "" || !slices.Contains(v.EventIDs, id) {
			continue
		}
		resource, action := str(ev, "resource_type"), str(ev, "action")
		e := Event{
			ID: id, Type: resource + "." + action,
			Merchant:   merchantOf(ev, "gocardless", o),
			OccurredAt: parseRFC3339(str(ev, "created_at")),
		}
		payment := str(ev, "links.payment")
		reason := firstStr(ev, "details.cause", "details.reason_code", "details.description")
		p := Payload{ID: payment, Status: action}
		switch resource + "." + action {
		case "payments.confirmed":
			e.Messages = one(PaymentCaptured, p)
		case "payments.failed", "payments.customer_approval_denied":
			p.Reason = reason
			e.Messages = one(PaymentFailed, p)
		case "payments.cancelled":
			p.Reason = reason
			e.Messages = one(PaymentVoided, p)
		case "payments.charged_back":
			p.PaymentID, p.Reason = payment, reason
			e.Messages = one(DisputeOpened, p)
		case "payments.chargeback_settled", "payments.chargeback_cancelled":
			p.PaymentID = payment
			e.Messages = one(DisputeClosed, p)
		case "refunds.paid":
			e.Messages = one(RefundSucceeded, Payload{ID: str(ev, "links.refund"), Status: action, PaymentID: payment})
		case "refunds.failed", "refunds.funds_returned":
			e.Messages = one(RefundFailed, Payload{ID: str(ev, "links.refund"), Status: action, PaymentID: payment, Reason: reason})
		}
		e.finish("gocardless", id)
		out = append(out, e)
	}
	if len(out) == 0 {
		return []Event{{Note: "a GoCardless webhook without a readable event: stored, not forwarded"}}, nil
	}
	return out, nil
}
