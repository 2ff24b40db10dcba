// Normalisation of Mollie's next-gen webhook events.
//
// Followed: Mollie's "Next-gen webhooks" and "Get a webhook event"
// (https://docs.mollie.com/reference/webhooks-new,
// https://docs.mollie.com/reference/get-webhook-event). An event is
// {resource: "event", id: "event_…", type, entityId, createdAt,
// _embedded: {entity: {…}} (the "full" payload only), _links}. The event
// types are payment-link.paid, balance-transaction.created and
// sales-invoice.*; Mollie's payment status changes still travel as the
// classic, unsigned webhook that names only a payment id ("id=tr_…"), which
// this scheme refuses.
//
// An event says which object changed, not what it now is; Mollie's own
// advice is to fetch the object. So it becomes payment.updated ("fetch
// it"), not a guessed payment.captured: a paid payment link is not itself
// a payment, and its payment (tr_…) is only known by fetching the link.
//
//	payment-link.paid                         payment.updated  id entityId (pl_…), status "paid"
//	any event whose entityId is a payment     payment.updated  id entityId (tr_…), status the type's last part
//
// With the full payload, amount and currency come from the embedded
// entity's amount ({currency, value: "10.00"}, converted to minor units with
// the currency's exponent) and reference from its description. Balance
// transactions and sales invoices map to nothing.

package inbound

import (
	"strings"
)

func normalizeMollie(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	e := Event{
		ID:         str(root, "id"),
		Type:       str(root, "type"),
		Merchant:   merchantOf(root, "mollie", o),
		OccurredAt: parseRFC3339(str(root, "createdAt")),
	}
	if str(root, "resource") != "event" {
		e.Note = "not a next-gen Mollie event (it names only a resource: fetch it from Mollie): stored, not forwarded"
		return []Event{e}, nil
	}
	entityID := str(root, "entityId")
	if e.Type == "payment-link.paid" || strings.HasPrefix(entityID, "tr_") {
		entity := lookup(root, "_embedded.entity")
		p := Payload{ID: entityID, Status: e.Type[strings.LastIndexByte(e.Type, '.')+1:], Reference: str(entity, "description")}
		p.Currency = strings.ToUpper(str(entity, "amount.currency"))
		p.Amount = decimalToMinor(str(entity, "amount.value"), p.Currency)
		if p.Amount == nil {
			p.Currency = ""
		}
		e.Messages = one(PaymentUpdated, p)
	}
	e.finish("mollie", e.ID)
	return []Event{e}, nil
}
