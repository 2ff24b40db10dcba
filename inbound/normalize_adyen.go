// Normalisation of Adyen standard notifications.
//
// Followed: Adyen's documentation, "Webhook event codes"
// (https://docs.adyen.com/development-resources/webhooks/webhook-types) and
// "Dispute notifications". Each NotificationRequestItem is one event; its
// outcome is the "success" field. Amounts, references and outcomes are taken
// from the eight signed fields only (see adyen.go); eventDate and reason are
// not signed and are used for the time and the failure reason alone.
//
//	AUTHORISATION success=true               payment.authorized  id pspReference
//	AUTHORISATION success=false              payment.failed
//	CAPTURE true                             payment.captured    id originalReference (the payment)
//	CAPTURE false, CAPTURE_FAILED            payment.failed
//	CANCELLATION true, TECHNICAL_CANCEL true payment.voided
//	CANCEL_OR_REFUND true                    payment.voided or refund.succeeded, by additionalData.modification.action
//	REFUND true                              refund.succeeded    paymentId originalReference
//	REFUND false, REFUND_FAILED,
//	REFUNDED_REVERSED                        refund.failed
//	NOTIFICATION_OF_CHARGEBACK, CHARGEBACK   dispute.opened      id pspReference, paymentId originalReference
//	CHARGEBACK_REVERSED, PREARBITRATION_WON  dispute.closed      status won
//	SECOND_CHARGEBACK, PREARBITRATION_LOST   dispute.closed      status lost
//
// Anything else (REPORT_AVAILABLE, a failed CANCELLATION, …) maps to nothing.

package inbound

import (
	"errors"
	"strings"
)

func normalizeAdyen(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	var root any
	if err := decodeJSON(body, &root); err != nil {
		return nil, err
	}
	items, _ := lookup(root, "notificationItems").([]any)
	if len(items) == 0 {
		return nil, errors.New("the notification has no notificationItems")
	}
	out := make([]Event, 0, len(items))
	for _, wrapper := range items {
		it := lookup(wrapper, "NotificationRequestItem")
		if it == nil {
			continue
		}
		out = append(out, adyenEvent(it, o))
	}
	if len(out) == 0 {
		return nil, errors.New("no notificationItems entry has a NotificationRequestItem")
	}
	return out, nil
}

func adyenEvent(it any, o NormalizeOptions) Event {
	code := str(it, "eventCode")
	success := str(it, "success")
	psp, original := str(it, "pspReference"), str(it, "originalReference")
	e := Event{
		ID:         code + ":" + psp + ":" + success, // as adyenEventID
		Type:       code,
		Merchant:   merchantOf(it, "adyen", o),
		OccurredAt: parseRFC3339(str(it, "eventDate")),
	}
	ok := strings.EqualFold(success, "true")
	currency := str(it, "amount.currency")
	amount := abs(minorInt(it, "amount.value"))
	payment := func(status string) Payload {
		id := original
		if id == "" {
			id = psp
		}
		return Payload{ID: id, Status: status, Amount: amount, Currency: currency,
			Reference: str(it, "merchantReference"), ProcessorReference: psp}
	}
	refund := func(status string) Payload {
		return Payload{ID: psp, Status: status, Amount: amount, Currency: currency, PaymentID: original,
			Reference: str(it, "merchantReference"), ProcessorReference: psp}
	}
	dispute := func(status string) Payload {
		p := refund(status)
		p.Reason = str(it, "reason")
		return p
	}
	switch {
	case code == "AUTHORISATION" && ok:
		e.Messages = one(PaymentAuthorized, payment("authorised"))
	case code == "AUTHORISATION":
		p := payment("refused")
		p.Reason = str(it, "reason")
		e.Messages = one(PaymentFailed, p)
	case code == "CAPTURE" && ok:
		e.Messages = one(PaymentCaptured, payment("captured"))
	case code == "CAPTURE" || code == "CAPTURE_FAILED":
		p := payment("capture_failed")
		p.Reason = str(it, "reason")
		e.Messages = one(PaymentFailed, p)
	case (code == "CANCELLATION" || code == "TECHNICAL_CANCEL") && ok:
		e.Messages = one(PaymentVoided, payment("cancelled"))
	case code == "CANCEL_OR_REFUND" && ok:
		switch adyenAdditional(it, "modification.action") {
		case "cancel":
			e.Messages = one(PaymentVoided, payment("cancelled"))
		case "refund":
			e.Messages = one(RefundSucceeded, refund("refunded"))
		default:
			e.Note = "CANCEL_OR_REFUND without additionalData.modification.action: whether it cancelled or refunded is unknown; stored, not forwarded"
		}
	case code == "REFUND" && ok:
		e.Messages = one(RefundSucceeded, refund("refunded"))
	case code == "REFUND" || code == "REFUND_FAILED" || code == "REFUNDED_REVERSED":
		p := refund("refund_failed")
		p.Reason = str(it, "reason")
		e.Messages = one(RefundFailed, p)
	case code == "NOTIFICATION_OF_CHARGEBACK" || code == "CHARGEBACK":
		e.Messages = one(DisputeOpened, dispute(strings.ToLower(code)))
	case code == "CHARGEBACK_REVERSED" || code == "PREARBITRATION_WON":
		e.Messages = one(DisputeClosed, dispute("won"))
	case code == "SECOND_CHARGEBACK" || code == "PREARBITRATION_LOST":
		e.Messages = one(DisputeClosed, dispute("lost"))
	}
	e.finish("adyen", psp)
	return e
}

// adyenAdditional reads a field of additionalData. Adyen's keys there are
// flat strings with dots in them ("modification.action"), which a dotted
// path would read as nesting; a nested object is read too.
func adyenAdditional(it any, key string) string {
	if ad, ok := lookup(it, "additionalData").(map[string]any); ok {
		if v, ok := ad[key].(string); ok {
			return v
		}
	}
	return str(it, "additionalData."+key)
}
