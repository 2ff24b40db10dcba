package inbound_test

import (
	"fmt"
	"strings"

	"github.com/hookbridge/hookbridge/inbound"
)

// sample is one processor notification, shaped after the examples in the
// processor's documentation, and the canonical type it must become ("" for
// none). samples() has one for every processor event the normalisers map
// (every row of the table in docs/inbound.md) and a few that map to nothing.
type sample struct {
	scheme   string
	name     string
	body     string
	verified inbound.Verified
	want     string
}

func samples() []sample {
	var out []sample
	add := func(scheme, name, body, want string, v ...inbound.Verified) {
		s := sample{scheme: scheme, name: name, body: body, want: want}
		if len(v) > 0 {
			s.verified = v[0]
		}
		out = append(out, s)
	}

	// Stripe: the bodies of TestNormalize, and a refund that succeeds later.
	add("stripe", "payment_intent.succeeded", stripePISucceeded, inbound.PaymentCaptured)
	add("stripe", "payment_intent.amount_capturable_updated", stripeCapturable, inbound.PaymentAuthorized)
	add("stripe", "payment_intent.payment_failed", stripeFailed, inbound.PaymentFailed)
	add("stripe", "payment_intent.canceled", stripeCanceled, inbound.PaymentVoided)
	add("stripe", "charge.refunded", stripeChargeRefunded, inbound.RefundSucceeded)
	add("stripe", "charge.refunded without the list", stripeChargeRefundedNoList, inbound.RefundSucceeded)
	add("stripe", "charge.refunded pending", stripeChargeRefundedPending, "")
	add("stripe", "refund.updated failed", stripeRefundFailed, inbound.RefundFailed)
	add("stripe", "refund.updated succeeded", strings.Replace(strings.Replace(stripeRefundFailed, `"failed"`, `"succeeded"`, 1), `"failure_reason":"expired_or_canceled_card",`, "", 1), inbound.RefundSucceeded)
	add("stripe", "charge.dispute.created", stripeDisputeCreated, inbound.DisputeOpened)
	add("stripe", "charge.dispute.closed", stripeDisputeClosed, inbound.DisputeClosed)
	add("stripe", "customer.created", stripeCustomerCreated, "")

	// Adyen: one NotificationRequestItem per notification.
	adyen := func(code, success, extra string) string {
		return `{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":"x"` + extra + `},
"amount":{"currency":"EUR","value":1130},"eventCode":"` + code + `","eventDate":"2024-01-01T13:42:40+01:00","merchantAccountCode":"AcmeEU",
"merchantReference":"order-1","originalReference":"7914073381342284","paymentMethod":"visa","pspReference":"8815329842815468","reason":"Fraud","success":"` + success + `"}}]}`
	}
	for _, c := range []struct{ code, success, extra, want string }{
		{"AUTHORISATION", "true", "", inbound.PaymentAuthorized},
		{"AUTHORISATION", "false", "", inbound.PaymentFailed},
		{"CAPTURE", "true", "", inbound.PaymentCaptured},
		{"CAPTURE", "false", "", inbound.PaymentFailed},
		{"CAPTURE_FAILED", "true", "", inbound.PaymentFailed},
		{"CANCELLATION", "true", "", inbound.PaymentVoided},
		{"TECHNICAL_CANCEL", "true", "", inbound.PaymentVoided},
		{"CANCEL_OR_REFUND", "true", `,"modification.action":"cancel"`, inbound.PaymentVoided},
		{"CANCEL_OR_REFUND", "true", `,"modification.action":"refund"`, inbound.RefundSucceeded},
		{"REFUND", "true", "", inbound.RefundSucceeded},
		{"REFUND", "false", "", inbound.RefundFailed},
		{"REFUND_FAILED", "true", "", inbound.RefundFailed},
		{"REFUNDED_REVERSED", "true", "", inbound.RefundFailed},
		{"NOTIFICATION_OF_CHARGEBACK", "true", "", inbound.DisputeOpened},
		{"CHARGEBACK", "true", "", inbound.DisputeOpened},
		{"CHARGEBACK_REVERSED", "true", "", inbound.DisputeClosed},
		{"PREARBITRATION_WON", "true", "", inbound.DisputeClosed},
		{"SECOND_CHARGEBACK", "true", "", inbound.DisputeClosed},
		{"PREARBITRATION_LOST", "true", "", inbound.DisputeClosed},
		{"REPORT_AVAILABLE", "true", "", ""},
	} {
		add("adyen", c.code+" "+c.success+c.extra, adyen(c.code, c.success, c.extra), c.want)
	}

	// Square: payment.updated by status, refunds by status, disputes.
	squarePayment := func(status string) string {
		return strings.Replace(squarePaymentCompleted, `"status": "COMPLETED"`, `"status": "`+status+`"`, 1)
	}
	add("square", "payment.updated APPROVED", squarePayment("APPROVED"), inbound.PaymentAuthorized)
	add("square", "payment.updated COMPLETED", squarePaymentCompleted, inbound.PaymentCaptured)
	add("square", "payment.updated FAILED", squarePayment("FAILED"), inbound.PaymentFailed)
	add("square", "payment.updated CANCELED", squarePayment("CANCELED"), inbound.PaymentVoided)
	add("square", "payment.updated PENDING", squarePayment("PENDING"), "")
	add("square", "refund.updated COMPLETED", squareRefund, inbound.RefundSucceeded)
	add("square", "refund.updated FAILED", strings.Replace(squareRefund, "COMPLETED", "FAILED", 1), inbound.RefundFailed)
	add("square", "refund.updated REJECTED", strings.Replace(squareRefund, "COMPLETED", "REJECTED", 1), inbound.RefundFailed)
	add("square", "dispute.created", strings.Replace(strings.Replace(squareDispute, "dispute.state.updated", "dispute.created", 1), `"WON"`, `"EVIDENCE_REQUIRED"`, 1), inbound.DisputeOpened)
	for _, state := range []string{"WON", "LOST", "ACCEPTED"} {
		add("square", "dispute.state.updated "+state, strings.Replace(squareDispute, `"WON"`, `"`+state+`"`, 1), inbound.DisputeClosed)
	}

	// Checkout.com: every mapped type on a payment or dispute.
	checkoutPayment := func(typ string) string {
		return strings.Replace(checkoutCaptured, `"type": "payment_captured"`, `"type": "`+typ+`"`, 1)
	}
	for typ, want := range map[string]string{
		"payment_approved": inbound.PaymentAuthorized, "payment_captured": inbound.PaymentCaptured,
		"payment_declined": inbound.PaymentFailed, "payment_capture_declined": inbound.PaymentFailed,
		"payment_authentication_failed": inbound.PaymentFailed, "payment_voided": inbound.PaymentVoided,
		"payment_refunded": inbound.RefundSucceeded, "payment_pending": "",
	} {
		add("checkout", typ, checkoutPayment(typ), want)
	}
	add("checkout", "payment_refund_declined", checkoutRefundDeclined, inbound.RefundFailed)
	for typ, want := range map[string]string{
		"dispute_received": inbound.DisputeOpened, "dispute_evidence_required": inbound.DisputeOpened,
		"dispute_won": inbound.DisputeClosed, "dispute_lost": inbound.DisputeClosed, "dispute_accepted": inbound.DisputeClosed,
		"dispute_canceled": inbound.DisputeClosed, "dispute_expired": inbound.DisputeClosed, "dispute_resolved": inbound.DisputeClosed,
	} {
		add("checkout", typ, strings.Replace(checkoutDisputeWon, "dispute_won", typ, 1), want)
	}

	// PayPal.
	paypal := func(typ, resourceType, resource string) string {
		return `{"id":"WH-7Y7254563A4550640-11V2185806837105M","event_version":"1.0","create_time":"2024-05-01T10:00:00.940Z",
"resource_type":"` + resourceType + `","resource_version":"2.0","event_type":"` + typ + `","summary":"…","resource":` + resource + `}`
	}
	const ppAuth = `{"id":"0VF52814937998046","status":"CREATED","amount":{"currency_code":"EUR","value":"10.99"},"invoice_id":"INV-1","payee":{"merchant_id":"KQ9XTPTLDNNT6"}}`
	const ppCapture = `{"id":"27M47624FP291604U","status":"DECLINED","status_details":{"reason":"BUYER_COMPLAINT"},"amount":{"currency_code":"EUR","value":"10.99"},"custom_id":"order-1"}`
	add("paypal", "PAYMENT.AUTHORIZATION.CREATED", paypal("PAYMENT.AUTHORIZATION.CREATED", "authorization", ppAuth), inbound.PaymentAuthorized)
	add("paypal", "PAYMENT.AUTHORIZATION.VOIDED", paypal("PAYMENT.AUTHORIZATION.VOIDED", "authorization", strings.Replace(ppAuth, "CREATED", "VOIDED", 1)), inbound.PaymentVoided)
	add("paypal", "PAYMENT.CAPTURE.COMPLETED", paypalCaptureCompleted, inbound.PaymentCaptured)
	add("paypal", "PAYMENT.CAPTURE.DENIED", paypal("PAYMENT.CAPTURE.DENIED", "capture", strings.Replace(ppCapture, "DECLINED", "DENIED", 1)), inbound.PaymentFailed)
	add("paypal", "PAYMENT.CAPTURE.DECLINED", paypal("PAYMENT.CAPTURE.DECLINED", "capture", ppCapture), inbound.PaymentFailed)
	add("paypal", "PAYMENT.CAPTURE.REFUNDED", paypalRefunded, inbound.RefundSucceeded)
	add("paypal", "CUSTOMER.DISPUTE.CREATED", strings.Replace(strings.Replace(paypalDisputeResolved, "CUSTOMER.DISPUTE.RESOLVED", "CUSTOMER.DISPUTE.CREATED", 1), `"RESOLVED"`, `"OPEN"`, 1), inbound.DisputeOpened)
	add("paypal", "CUSTOMER.DISPUTE.RESOLVED", paypalDisputeResolved, inbound.DisputeClosed)
	add("paypal", "BILLING.SUBSCRIPTION.CREATED", paypal("BILLING.SUBSCRIPTION.CREATED", "subscription", `{"id":"I-1"}`), "")

	// Braintree.
	add("braintree", "transaction_settled", braintreeBody(braintreeSettled), inbound.PaymentCaptured)
	add("braintree", "transaction_settlement_declined", braintreeBody(strings.Replace(strings.Replace(braintreeSettled, "transaction_settled", "transaction_settlement_declined", 1),
		"<status>settled</status>", "<status>settlement_declined</status><processor-settlement-response-text>Declined</processor-settlement-response-text>", 1)), inbound.PaymentFailed)
	add("braintree", "dispute_opened", braintreeBody(braintreeDisputeOpened), inbound.DisputeOpened)
	for _, kind := range []string{"dispute_won", "dispute_lost", "dispute_accepted", "dispute_auto_accepted"} {
		add("braintree", kind, braintreeBody(strings.Replace(braintreeDisputeOpened, "dispute_opened", kind, 1)), inbound.DisputeClosed)
	}
	add("braintree", "subscription_charged_successfully", braintreeBody(strings.Replace(braintreeSettled, "transaction_settled", "subscription_charged_successfully", 1)), "")

	// Razorpay.
	razorpay := func(event, payload string) string {
		return `{"entity":"event","account_id":"acc_QMXWedJSZ3vAnr","event":"` + event + `","contains":["payment"],"payload":` + payload + `,"created_at":1747197134}`
	}
	const rzpPayment = `{"payment":{"entity":{"id":"pay_QNCDURXLsiKr9c","entity":"payment","amount":5000,"currency":"INR","status":"%s","order_id":"order_QNCBpF4tmQ60Hi","method":"card","error_code":"BAD_REQUEST_ERROR","error_description":"Payment failed"}}}`
	add("razorpay", "payment.authorized", razorpay("payment.authorized", fmt.Sprintf(rzpPayment, "authorized")), inbound.PaymentAuthorized, inbound.Verified{EventIDs: []string{"evt_rzp_a"}})
	add("razorpay", "payment.captured", razorpayCaptured, inbound.PaymentCaptured, inbound.Verified{EventIDs: []string{"evt_rzp_c"}})
	add("razorpay", "payment.failed", razorpay("payment.failed", fmt.Sprintf(rzpPayment, "failed")), inbound.PaymentFailed)
	const rzpRefund = `{"refund":{"entity":{"id":"rfnd_FP8DDKxqJif6ca","entity":"refund","amount":2500,"currency":"INR","payment_id":"pay_QNCDURXLsiKr9c","status":"%s"}}}`
	add("razorpay", "refund.processed", razorpay("refund.processed", fmt.Sprintf(rzpRefund, "processed")), inbound.RefundSucceeded)
	add("razorpay", "refund.failed", razorpay("refund.failed", fmt.Sprintf(rzpRefund, "failed")), inbound.RefundFailed)
	const rzpDispute = `{"payment":{"entity":{"id":"pay_QNCDURXLsiKr9c","amount":5000,"currency":"INR","status":"captured"}},
"dispute":{"entity":{"id":"disp_Esz7KAitoYM7PJ","entity":"dispute","payment_id":"pay_QNCDURXLsiKr9c","amount":5000,"currency":"INR","reason_code":"chargeback","status":"%s"}}}`
	add("razorpay", "payment.dispute.created", razorpay("payment.dispute.created", fmt.Sprintf(rzpDispute, "open")), inbound.DisputeOpened)
	for _, ev := range []string{"won", "lost", "closed"} {
		add("razorpay", "payment.dispute."+ev, razorpay("payment.dispute."+ev, fmt.Sprintf(rzpDispute, ev)), inbound.DisputeClosed)
	}
	add("razorpay", "order.paid", razorpay("order.paid", fmt.Sprintf(rzpPayment, "captured")), "")

	// GoCardless: one event per webhook here (batches: TestNormalizeGoCardless).
	for _, c := range []struct{ resource, action, want string }{
		{"payments", "confirmed", inbound.PaymentCaptured},
		{"payments", "failed", inbound.PaymentFailed},
		{"payments", "customer_approval_denied", inbound.PaymentFailed},
		{"payments", "cancelled", inbound.PaymentVoided},
		{"payments", "charged_back", inbound.DisputeOpened},
		{"payments", "chargeback_settled", inbound.DisputeClosed},
		{"payments", "chargeback_cancelled", inbound.DisputeClosed},
		{"refunds", "paid", inbound.RefundSucceeded},
		{"refunds", "failed", inbound.RefundFailed},
		{"refunds", "funds_returned", inbound.RefundFailed},
		{"payments", "paid_out", ""},
		{"payments", "submitted", ""},
		{"mandates", "cancelled", ""},
	} {
		id := "EV" + strings.ToUpper(strings.ReplaceAll(c.action, "_", ""))
		add("gocardless", c.resource+"."+c.action, goCardlessWebhook(goCardlessEvent(id, c.resource, c.action)), c.want,
			inbound.Verified{EventIDs: []string{id}})
	}

	// Shopify: the topic and the shop come in Verified, as the scheme
	// passes them from the headers.
	shop := func(topic string) inbound.Verified {
		return inbound.Verified{EventIDs: []string{"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}, Topic: topic, Merchant: "shop1.myshopify.com"}
	}
	add("shopify", "orders/paid", shopifyOrder("USD", "403.00", "paid", ""), inbound.PaymentCaptured, shop("orders/paid"))
	add("shopify", "orders/cancelled", shopifyOrder("USD", "403.00", "voided", "customer"), inbound.OrderCancelled, shop("orders/cancelled"))
	add("shopify", "refunds/create", shopifyRefund("USD", `"12.00"`, "success"), inbound.RefundSucceeded, shop("refunds/create"))
	add("shopify", "refunds/create failed", shopifyRefund("USD", `"12.00"`, "failure"), inbound.RefundFailed, shop("refunds/create"))
	add("shopify", "refunds/create restock only", shopifyRefund("USD", "", ""), "", shop("refunds/create"))
	add("shopify", "disputes/create", shopifyDispute("USD", "11.50", "needs_response"), inbound.DisputeOpened, shop("disputes/create"))
	for _, status := range []string{"won", "lost", "accepted", "charge_refunded"} {
		add("shopify", "disputes/update "+status, shopifyDispute("USD", "11.50", status), inbound.DisputeClosed, shop("disputes/update"))
	}
	add("shopify", "disputes/update under_review", shopifyDispute("USD", "11.50", "under_review"), "", shop("disputes/update"))
	add("shopify", "orders/paid with a refund's body", shopifyRefund("USD", `"12.00"`, "success"), "", shop("orders/paid"))
	add("shopify", "products/update", `{"id":632910392,"title":"IPod Nano - 8GB"}`, "", shop("products/update"))

	// Mollie next-gen events.
	add("mollie", "payment-link.paid (simple)", mollieEvent("payment-link.paid", "pl_qng5gbbv8NAZ5gpM5ZYgx", ""), inbound.PaymentUpdated,
		inbound.Verified{EventIDs: []string{"event_GvJ8WHrp5isUdRub9CJyH"}})
	add("mollie", "payment-link.paid (full)", mollieEvent("payment-link.paid", "pl_qng5gbbv8NAZ5gpM5ZYgx", mollieLink("EUR", "24.95")), inbound.PaymentUpdated,
		inbound.Verified{EventIDs: []string{"event_GvJ8WHrp5isUdRub9CJyH"}})
	add("mollie", "an event about a payment", mollieEvent("payment.paid", "tr_5B8cwPMGnU6qLbRvo7qEZo", ""), inbound.PaymentUpdated)
	add("mollie", "balance-transaction.created", mollieEvent("balance-transaction.created", "baltr_QM24QwzUWR4ev4Xfgyt29A", ""), "")
	add("mollie", "sales-invoice.paid", mollieEvent("sales-invoice.paid", "invoice_4Y0eZitmBnQ6IDoMqZQKh", ""), "")
	add("mollie", "legacy shape", `{"id":"tr_WDqYK6vllg","resource":"payment"}`, "")

	// Worldpay.
	for typ, want := range map[string]string{
		"authorized": inbound.PaymentAuthorized, "sentForSettlement": inbound.PaymentCaptured,
		"refused": inbound.PaymentFailed, "error": inbound.PaymentFailed, "settlementFailed": inbound.PaymentFailed,
		"cancelled": inbound.PaymentVoided, "expired": inbound.PaymentVoided,
		"refunded": inbound.RefundSucceeded, "refundFailed": inbound.RefundFailed, "chargedBack": inbound.DisputeOpened,
		"sentForAuthorization": "", "sentForRefund": "", "settled": "",
	} {
		add("worldpay", typ, worldpayEvent("payment", typ, 100, "EUR"), want)
	}
	add("worldpay", "chargeback informationRequested", worldpayEvent("chargeback", "informationRequested", 100, "EUR"), inbound.DisputeOpened)
	add("worldpay", "payout refused", worldpayEvent("payout", "refused", 100, "EUR"), "")

	// Mercado Pago: the signed data.id comes in Verified.
	mp := inbound.Verified{EventIDs: []string{"12345"}, ResourceID: "123456"}
	add("mercadopago", "payment.updated", mercadoPagoBody, inbound.PaymentUpdated, mp)
	add("mercadopago", "payment.created", strings.Replace(mercadoPagoBody, "payment.updated", "payment.created", 1), inbound.PaymentUpdated, mp)
	add("mercadopago", "order.processed", mercadoPagoOrder, inbound.PaymentUpdated,
		inbound.Verified{ResourceID: "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"})
	add("mercadopago", "chargebacks", `{"action":"created","api_version":"v1","data":{"id":"2456"},"date_created":"2024-05-01T10:00:00Z","id":77,"type":"topic_chargebacks_wh","user_id":2294}`, "",
		inbound.Verified{ResourceID: "2456"})

	// Schemes without a mapping: passed through under their own type.
	add("standard-webhooks", "invoice.paid", `{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"invoice_123","amount":1000}}`, "",
		inbound.Verified{EventIDs: []string{"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}})
	add("adyen-hmac-header", "balancePlatform.accountHolder.created", `{"data":{"balancePlatform":"YOUR_BALANCE_PLATFORM","accountHolder":{"id":"AH32272223222B5CM4MWJ892H"}},"environment":"test","timestamp":"2024-05-01T10:00:00+02:00","type":"balancePlatform.accountHolder.created"}`, "")
	add("hmac", "order.paid", `{"event":"order.paid","id":"ev_1"}`, "")
	return out
}

// goCardlessEvent is one event of a GoCardless webhook, as the API
// reference's examples write them.
func goCardlessEvent(id, resource, action string) string {
	links := `"payment":"PM0007XK4WT9R3","organisation":"OR00002MCGYZC9"`
	if resource == "refunds" {
		links = `"refund":"RF0000BX9R3D9Z","payment":"PM0007XK4WT9R3","organisation":"OR00002MCGYZC9"`
	}
	if resource == "mandates" {
		links = `"mandate":"MD0000F1D7Z1HS","organisation":"OR00002MCGYZC9"`
	}
	return `{"id":"` + id + `","created_at":"2024-05-01T10:00:00.000Z","resource_type":"` + resource + `","action":"` + action + `",
"links":{` + links + `},"details":{"origin":"bank","cause":"insufficient_funds","scheme":"bacs","reason_code":"ARUDD-0",
"description":"The customer's account had insufficient funds to make this payment."},"metadata":{}}`
}

func goCardlessWebhook(events ...string) string {
	return `{"events":[` + strings.Join(events, ",") + `],"meta":{"webhook_id":"WB0000BKX5SDJF"}}`
}

// shopifyOrder is an Order as Shopify's orders/* webhooks send it (trimmed
// from the topic's example payload).
func shopifyOrder(currency, total, financialStatus, cancelReason string) string {
	cancel := `"cancel_reason":null,"cancelled_at":null`
	if cancelReason != "" {
		cancel = `"cancel_reason":"` + cancelReason + `","cancelled_at":"2024-05-01T12:00:00-04:00"`
	}
	return `{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508","buyer_accepts_marketing":true,` + cancel + `,
"confirmed":false,"contact_email":"jon@example.com","created_at":"2024-05-01T11:00:00-04:00","currency":"` + currency + `","current_total_price":"` + total + `",
"email":"jon@example.com","financial_status":"` + financialStatus + `","name":"#9999","order_number":1234,"presentment_currency":"` + currency + `",
"processed_at":"2024-05-01T11:00:00-04:00","test":true,"total_price":"` + total + `",
"total_price_set":{"shop_money":{"amount":"` + total + `","currency_code":"` + currency + `"},"presentment_money":{"amount":"` + total + `","currency_code":"` + currency + `"}},
"updated_at":"2024-05-01T11:30:00-04:00","line_items":[{"id":866550311766439020,"name":"IPod Nano - 8GB","price":"199.00","quantity":1}]}`
}

// shopifyRefund is a Refund as refunds/create sends it; amount "" means a
// refund without transactions (a restock only).
func shopifyRefund(currency, amount, status string) string {
	txs := ""
	if amount != "" {
		txs = `{"id":245135101,"order_id":820982911946154508,"kind":"refund","gateway":"bogus","status":"` + status + `","message":"Card declined",
"created_at":"2024-05-02T09:00:00-04:00","test":true,"parent_id":389404469,"amount":` + amount + `,"currency":"` + currency + `"}`
	}
	return `{"id":890088186047892319,"order_id":820982911946154508,"created_at":"2024-05-02T09:00:00-04:00","note":"Things were damaged",
"user_id":548380009,"processed_at":"2024-05-02T09:00:00-04:00","restock":false,"admin_graphql_api_id":"gid://shopify/Refund/890088186047892319",
"refund_line_items":[],"transactions":[` + txs + `],"order_adjustments":[]}`
}

// shopifyDispute is a Dispute as disputes/create and disputes/update send it.
func shopifyDispute(currency, amount, status string) string {
	return `{"id":285332461,"order_id":820982911946154508,"type":"chargeback","amount":"` + amount + `","currency":"` + currency + `",
"reason":"fraudulent","network_reason_code":"4837","status":"` + status + `","evidence_due_by":"2024-05-10T19:00:00-04:00",
"evidence_sent_on":null,"finalized_on":null,"initiated_at":"2024-05-03T19:00:00-04:00"}`
}

// mollieEvent is a next-gen Mollie event; entity "" is the simple payload.
func mollieEvent(typ, entityID, entity string) string {
	embedded := ""
	if entity != "" {
		embedded = `"_embedded":{"entity":` + entity + `},`
	}
	return `{"resource":"event","id":"event_GvJ8WHrp5isUdRub9CJyH","type":"` + typ + `","entityId":"` + entityID + `",
"createdAt":"2024-12-16T15:59:04.0Z",` + embedded + `"_links":{"self":{"href":"https://api.mollie.com/v2/events/event_GvJ8WHrp5isUdRub9CJyH","type":"application/hal+json"}}}`
}

// mollieLink is a payment link as the full payload embeds it.
func mollieLink(currency, value string) string {
	return `{"resource":"payment-link","id":"pl_qng5gbbv8NAZ5gpM5ZYgx","mode":"live","description":"Bicycle tires",
"amount":{"currency":"` + currency + `","value":"` + value + `"},"archived":false,"profileId":"pfl_QkEhN94Ba",
"createdAt":"2024-12-16T15:50:00+00:00","paidAt":"2024-12-16T15:59:04+00:00","expiresAt":null,"reusable":false}`
}

// worldpayEvent is an Access Worldpay event as the Events reference shows
// them.
func worldpayEvent(classification, typ string, value int, currency string) string {
	return fmt.Sprintf(`{"eventId":"bb55ca5a-e05c-47e1-8e94-e88bac1a0a17","eventTimestamp":"2024-05-01T10:00:13.407",
"eventDetails":{"classification":%q,"downstreamReference":"3378792436","transactionReference":"Memory265-13/08/1876",
"type":%q,"date":"2024-05-01","reference":"12345","refund":{"refusal":{"code":"5","description":"Do not honor"}},
"amount":{"value":%d,"currencyCode":%q},"_links":{"payment":{"href":""}}}}`, classification, typ, value, currency)
}

const (
	mercadoPagoBody  = `{"action":"payment.updated","api_version":"v1","data":{"id":"123456"},"date_created":"2024-05-01T10:00:00Z","id":12345,"live_mode":true,"type":"payment","user_id":2294}`
	mercadoPagoOrder = `{"action":"order.processed","api_version":"v1","application_id":"76506430185983","data":{"external_reference":"ext_ref_1234",
"id":"ORD01JQ4S4KY8HWQ6NA5PXB65B3D3","status":"processed","status_detail":"accredited","total_paid_amount":"25.00",
"transactions":{"payments":[{"amount":"25.00","id":"PAY01JQ4S4KY8HWQ6NA5PXB9H1K2K","paid_amount":"25.00","status":"processed"}]},
"type":"online","version":3},"date_created":"2024-05-01T10:00:00.000Z","live_mode":false,"type":"order","user_id":"3209222310"}`
)
