// Normalisation of PayPal webhooks.
//
// Followed: PayPal's "Webhook event names"
// (https://developer.paypal.com/api/rest/webhooks/event-names/) and the
// Payments v2 authorization, capture and refund objects, and the Disputes
// v1 dispute object. A webhook is {id: "WH-…", event_type, create_time,
// resource_type, resource}; amounts are decimal strings ({currency_code,
// value: "10.99"}) and are converted to minor units exactly.
//
//	PAYMENT.AUTHORIZATION.CREATED                  payment.authorized  id the authorization
//	PAYMENT.AUTHORIZATION.VOIDED                   payment.voided
//	PAYMENT.CAPTURE.COMPLETED                      payment.captured    id the capture
//	PAYMENT.CAPTURE.DENIED, PAYMENT.CAPTURE.DECLINED payment.failed
//	PAYMENT.CAPTURE.REFUNDED                       refund.succeeded    id the refund, paymentId the capture
//	CUSTOMER.DISPUTE.CREATED                       dispute.opened      id dispute_id
//	CUSTOMER.DISPUTE.RESOLVED                      dispute.closed      status dispute_outcome.outcome_code

package inbound

import (
	"strings"
)

func normalizePayPal(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	r := lookup(root, "resource")
	e := Event{
		ID:         str(root, "id"),
		Type:       str(root, "event_type"),
		Merchant:   merchantOf(root, "paypal", o),
		OccurredAt: parseRFC3339(str(root, "create_time")),
	}
	money := func(p *Payload, path string) {
		p.Currency = str(r, path+".currency_code")
		p.Amount = decimalToMinor(str(r, path+".value"), strings.ToUpper(p.Currency))
	}
	p := Payload{ID: str(r, "id"), Status: str(r, "status"), Reference: firstStr(r, "invoice_id", "custom_id")}
	money(&p, "amount")
	switch e.Type {
	case "PAYMENT.AUTHORIZATION.CREATED":
		e.Messages = one(PaymentAuthorized, p)
	case "PAYMENT.AUTHORIZATION.VOIDED":
		e.Messages = one(PaymentVoided, p)
	case "PAYMENT.CAPTURE.COMPLETED":
		e.Messages = one(PaymentCaptured, p)
	case "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED":
		p.Reason = str(r, "status_details.reason")
		e.Messages = one(PaymentFailed, p)
	case "PAYMENT.CAPTURE.REFUNDED":
		p.PaymentID = paypalLinkID(r, "up")
		e.Messages = one(RefundSucceeded, p)
	case "CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.RESOLVED":
		d := Payload{
			ID: str(r, "dispute_id"), Status: str(r, "status"), Reason: str(r, "reason"),
			PaymentID: firstStr(r, "disputed_transactions.0.seller_transaction_id", "disputed_transactions.0.buyer_transaction_id"),
			Reference: str(r, "disputed_transactions.0.invoice_number"),
		}
		d.Currency = str(r, "dispute_amount.currency_code")
		d.Amount = decimalToMinor(str(r, "dispute_amount.value"), strings.ToUpper(d.Currency))
		typ := DisputeOpened
		if e.Type == "CUSTOMER.DISPUTE.RESOLVED" {
			typ = DisputeClosed
			if outcome := str(r, "dispute_outcome.outcome_code"); outcome != "" {
				d.Status = outcome
			}
		}
		e.Messages = one(typ, d)
	}
	e.finish("paypal", e.ID)
	return []Event{e}, nil
}

// paypalLinkID returns the last path segment of the resource's HATEOAS link
// with the given rel: for a refund, rel "up" is its capture.
func paypalLinkID(r any, rel string) string {
	links, _ := lookup(r, "links").([]any)
	for _, l := range links {
		if str(l, "rel") == rel {
			href := str(l, "href")
			return href[strings.LastIndexByte(href, '/')+1:]
		}
	}
	return ""
}
