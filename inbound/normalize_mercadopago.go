// Normalisation of Mercado Pago webhooks.
//
// Followed: Mercado Pago's "Webhooks" notifications
// (https://www.mercadopago.com/developers/en/docs/your-integrations/notifications/webhooks)
// and the Orders API's notifications. A notification is {id, type
// ("payment", "order", …), action ("payment.updated", "order.processed",
// …), data: {id, …}, date_created, user_id, live_mode}; the Orders API adds
// the order's status and amounts under data.
//
// Mercado Pago signs data.id and nothing else of the body (see
// mercadopago.go), and its documentation says to fetch the resource named
// by data.id. So the only thing known for sure is that this payment or
// order changed: it becomes payment.updated with the signed id
// (Verified.ResourceID), no status and no amount. The body's status and
// amounts are not used: unsigned, and without a currency to read them in.
//
//	type payment   payment.updated  id data.id (the payment)
//	type order     payment.updated  id data.id (the order, ORD…)
//
// Other topics (merchant orders, chargebacks, subscriptions, claims, …) map
// to nothing. The seller's user_id is not a default merchant field, since
// the body is unsigned; a source may still name it in merchantField.

package inbound

func normalizeMercadoPago(body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	e := Event{
		ID:         str(root, "id"),
		Type:       firstStr(root, "action", "type"),
		Merchant:   merchantOf(root, "mercadopago", o),
		OccurredAt: parseRFC3339(str(root, "date_created")),
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = v.SignedAt.UTC()
	}
	switch str(root, "type") {
	case "payment", "order":
		e.Messages = one(PaymentUpdated, Payload{ID: v.ResourceID})
	}
	e.finish("mercadopago", e.ID)
	return []Event{e}, nil
}
