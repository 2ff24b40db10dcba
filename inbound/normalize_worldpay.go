// Normalisation of Access Worldpay events.
//
// Followed: Worldpay's "Events" API reference
// (https://docs.worldpay.com/access/products/events/openapi, payment and
// chargeback webhooks). An event is {eventId, eventTimestamp (ISO 8601,
// written without a zone: read as UTC), eventDetails: {classification
// (payment, payout or chargeback), transactionReference, downstreamReference,
// type, date, reference, amount: {value, currencyCode}, refund: {refusal:
// {code, description}}}}. amount.value is already in minor units ("a whole
// number with an exponent": 250 is 2.50 EUR, 1500 is 1500 JPY). An event
// carries no Worldpay id of the payment: the merchant's transactionReference
// names it, so it is both id and reference (masked, like any text the
// merchant wrote, should it hold a card number).
//
//	authorized                          payment.authorized
//	sentForSettlement                   payment.captured    (Worldpay's capture; settled, which follows
//	                                                         in some set-ups only, maps to nothing)
//	refused, error, settlementFailed    payment.failed      reason refusal.description when given
//	cancelled, expired                  payment.voided      (the authorisation was cancelled or lapsed)
//	refunded                            refund.succeeded    id eventDetails.reference (a partial refund's),
//	                                                        else the transactionReference; paymentId the latter
//	refundFailed                        refund.failed       reason refund.refusal.description
//	chargedBack, informationRequested   dispute.opened      (classification chargeback, or chargedBack)
//
// status is the event's type. Payout events, sentForAuthorization,
// sentForRefund (pending), settled and tokenCreated map to nothing.

package inbound

func normalizeWorldpay(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	d := lookup(root, "eventDetails")
	e := Event{
		ID:         str(root, "eventId"),
		Type:       str(d, "type"),
		Merchant:   merchantOf(root, "worldpay", o),
		OccurredAt: parseRFC3339(str(root, "eventTimestamp")),
	}
	transaction := maskString(str(d, "transactionReference"))
	p := Payload{
		ID: transaction, Status: e.Type, Reference: transaction,
		Amount: minorInt(d, "amount.value"), Currency: str(d, "amount.currencyCode"),
	}
	classification := str(d, "classification")
	payment := classification == "payment" || classification == ""
	switch {
	case payment && e.Type == "authorized":
		e.Messages = one(PaymentAuthorized, p)
	case payment && e.Type == "sentForSettlement":
		e.Messages = one(PaymentCaptured, p)
	case payment && (e.Type == "refused" || e.Type == "error" || e.Type == "settlementFailed"):
		p.Reason = firstStr(d, "refusal.description", "refusalDescription", "refusal.code", "refusalCode")
		e.Messages = one(PaymentFailed, p)
	case payment && (e.Type == "cancelled" || e.Type == "expired"):
		e.Messages = one(PaymentVoided, p)
	case payment && (e.Type == "refunded" || e.Type == "refundFailed"):
		p.PaymentID = transaction
		if ref := maskString(str(d, "reference")); ref != "" {
			p.ID = ref
		}
		if e.Type == "refundFailed" {
			p.Reason = firstStr(d, "refund.refusal.description", "refund.refusal.code")
			e.Messages = one(RefundFailed, p)
		} else {
			e.Messages = one(RefundSucceeded, p)
		}
	case payment && e.Type == "chargedBack", classification == "chargeback" && e.Type == "informationRequested":
		p.PaymentID = transaction
		e.Messages = one(DisputeOpened, p)
	}
	e.finish("worldpay", e.ID)
	return []Event{e}, nil
}
