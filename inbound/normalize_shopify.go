// Normalisation of Shopify webhooks.
//
// Followed: Shopify's "Webhooks" topics reference
// (https://shopify.dev/docs/api/webhooks, topics orders/paid,
// orders/cancelled, refunds/create, disputes/create, disputes/update) and
// the Admin REST Order, Refund and Dispute resources. The topic travels in
// the X-Shopify-Topic header (Verified.Topic) and the shop in
// X-Shopify-Shop-Domain (Verified.Merchant); the body is the resource.
// Amounts are decimal strings in the shop's currency ("598.94"), converted
// to minor units with the currency's exponent. In Shopify the order is what
// is paid, so the order's id is the payment's id (and a refund's or a
// dispute's paymentId); reference is the order's name ("#1001").
//
//	orders/paid        payment.captured  amount total_price_set.shop_money (else total_price, currency)
//	orders/cancelled   order.cancelled   reason cancel_reason
//	refunds/create     refund.succeeded  amount the sum of its successful refund transactions;
//	                   refund.failed     when none succeeded and one failed; nothing when no money moved
//	disputes/create    dispute.opened
//	disputes/update    dispute.closed    status won, lost, accepted or charge_refunded; otherwise nothing
//
// The topic header is not signed (Shopify signs the body only), so the body
// must agree with it: an order topic with a body that names an order_id
// (a refund's or a dispute's), or a refund or dispute topic with one that
// does not, maps to nothing.

package inbound

import (
	"strings"
)

func normalizeShopify(body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	root, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	e := Event{Type: v.Topic, Merchant: v.Merchant}
	if len(v.EventIDs) > 0 {
		e.ID = v.EventIDs[0]
	}
	if o.MerchantField != "" {
		e.Merchant = merchantOf(root, "shopify", o)
	}
	_, namesOrder := root.(map[string]any)["order_id"]
	switch e.Type {
	case "orders/paid", "orders/cancelled", "refunds/create", "disputes/create", "disputes/update":
		if strings.HasPrefix(e.Type, "orders/") == namesOrder {
			e.Note = "the body does not match the topic " + e.Type + ": stored, not forwarded"
			return []Event{e}, nil
		}
	}
	order := Payload{ID: str(root, "id"), Reference: str(root, "name")}
	order.Currency, order.Amount = shopifyMoney(root, "total_price_set.shop_money", "total_price")
	switch e.Type {
	case "orders/paid":
		e.OccurredAt = parseRFC3339(firstStr(root, "updated_at", "processed_at", "created_at"))
		order.Status = str(root, "financial_status")
		e.Messages = one(PaymentCaptured, order)
	case "orders/cancelled":
		e.OccurredAt = parseRFC3339(firstStr(root, "cancelled_at", "updated_at"))
		order.Status, order.Reason = "cancelled", str(root, "cancel_reason")
		e.Messages = one(OrderCancelled, order)
	case "refunds/create":
		e.OccurredAt = parseRFC3339(firstStr(root, "processed_at", "created_at"))
		e.Messages = shopifyRefund(root)
		if e.Messages == nil {
			e.Note = "a refund that moved no money (no refund transaction succeeded or failed): stored, not forwarded"
		}
	case "disputes/create", "disputes/update":
		e.OccurredAt = parseRFC3339(firstStr(root, "finalized_on", "evidence_sent_on", "initiated_at"))
		d := Payload{ID: str(root, "id"), Status: str(root, "status"), PaymentID: str(root, "order_id"), Reason: str(root, "reason")}
		d.Currency = strings.ToUpper(str(root, "currency"))
		d.Amount = decimalToMinor(str(root, "amount"), d.Currency)
		switch {
		case e.Type == "disputes/create":
			e.Messages = one(DisputeOpened, d)
		case d.Status == "won" || d.Status == "lost" || d.Status == "accepted" || d.Status == "charge_refunded":
			e.Messages = one(DisputeClosed, d)
		default:
			e.Note = "dispute " + d.Status + ": not closed yet; stored, not forwarded"
		}
	}
	e.finish("shopify", e.ID)
	return []Event{e}, nil
}

// shopifyMoney reads an amount from a money set ({amount, currency_code})
// or, failing that, from a decimal field beside the resource's currency.
func shopifyMoney(root any, set, field string) (string, *int64) {
	currency := strings.ToUpper(str(root, set+".currency_code"))
	if amount := decimalToMinor(str(root, set+".amount"), currency); amount != nil {
		return currency, amount
	}
	currency = strings.ToUpper(str(root, "currency"))
	if amount := decimalToMinor(str(root, field), currency); amount != nil {
		return currency, amount
	}
	return "", nil
}

// shopifyRefund maps a Refund by its refund transactions: the sum of the
// successful ones (in one currency) is refunded; with none successful and
// one failed, the refund failed; with none at all, no money moved.
func shopifyRefund(r any) []Message {
	p := Payload{ID: str(r, "id"), PaymentID: str(r, "order_id")}
	txs, _ := lookup(r, "transactions").([]any)
	var (
		total     int64
		succeeded bool
		failure   string
		unread    bool
	)
	for _, tx := range txs {
		if str(tx, "kind") != "refund" {
			continue
		}
		switch str(tx, "status") {
		case "success":
			currency := strings.ToUpper(str(tx, "currency"))
			amount := decimalToMinor(str(tx, "amount"), currency)
			if amount == nil || p.Currency != "" && currency != p.Currency {
				unread = true
				continue
			}
			p.Currency, total, succeeded = currency, total+*amount, true
		case "failure", "error":
			if failure == "" {
				failure = firstStr(tx, "message", "error_code", "status")
			}
		}
	}
	switch {
	case succeeded:
		p.Status = "success"
		if !unread {
			p.Amount = &total
		} else {
			p.Currency = ""
		}
		return one(RefundSucceeded, p)
	case failure != "":
		p.Status, p.Reason = "failure", failure
		return one(RefundFailed, p)
	}
	return nil
}
