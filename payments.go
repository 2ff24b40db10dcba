package hookbridge

// CanonicalEventTypes are the event types of the ordering and payment flow,
// seeded into the catalogue on first start (and editable afterwards), each
// with a JSON Schema of its payload (version "1") and an example, which the
// portal's "send example" sends. Inbound processor notifications are
// normalised into the payment.*, refund.* and dispute.* types (and Shopify's
// cancelled orders into order.cancelled); docs/inbound.md has the mapping.
var CanonicalEventTypes = []EventType{
	orderType("order.created", "An order was placed.",
		`{"id":"order-1138","status":"placed","amount":2599,"currency":"EUR","reference":"#1138","merchant":"merchant-42","occurredAt":"2024-05-01T10:00:00Z"}`),
	orderType("order.updated", "An order changed (items, amounts, fulfilment details).",
		`{"id":"order-1138","status":"accepted","amount":3199,"currency":"EUR","reference":"#1138","merchant":"merchant-42","occurredAt":"2024-05-01T10:02:00Z"}`),
	orderType("order.cancelled", "An order was cancelled.",
		`{"id":"820982911946154508","status":"cancelled","amount":59894,"currency":"USD","processor":"shopify","processorReference":"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043","reference":"#9999","reason":"customer","merchant":"shop1.myshopify.com","occurredAt":"2024-05-01T10:05:00Z"}`),
	orderType("order.ready", "An order is ready for pick-up or dispatch.",
		`{"id":"order-1138","status":"ready","reference":"#1138","merchant":"merchant-42","occurredAt":"2024-05-01T10:25:00Z"}`),
	paymentType("payment.authorized", "A payment was authorised and funds are reserved.",
		`{"id":"7914073381342284","status":"authorised","amount":1130,"currency":"EUR","processor":"adyen","processorReference":"7914073381342284","reference":"order-1138","merchant":"PizzaEU","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":1,"previousStatus":null,"paymentStatus":"authorized","via":"webhook"`),
	paymentType("payment.captured", "An authorised payment was captured.",
		`{"id":"pi_3MtwBwLkdIwHu7ix28a3tqPa","status":"succeeded","amount":2599,"currency":"EUR","processor":"stripe","processorReference":"evt_3MtwBwLkdIwHu7ix0ZR3Jg1x","reference":"order-1138","merchant":"acct_1032D82eZvKYlo2C","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":2,"previousStatus":"authorized","paymentStatus":"captured","via":"webhook"`),
	paymentType("payment.failed", "A payment was declined or failed.",
		`{"id":"pi_3MtwBwLkdIwHu7ix28a3tqPb","status":"requires_payment_method","amount":700,"currency":"GBP","processor":"stripe","processorReference":"evt_1PaY2fLkdIwHu7ix","reason":"insufficient_funds","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":1,"previousStatus":null,"paymentStatus":"failed","via":"webhook"`),
	paymentType("payment.voided", "An authorisation was voided before capture.",
		`{"id":"pay_wx6qcbaxuttuhdtwbxaavzmjvy","status":"voided","amount":6540,"currency":"GBP","processor":"checkout","processorReference":"evt_dli6ty4qo5vuxle5wklf5gwbwy","reference":"ORD-5023-4E89","merchant":"ent_wxdkcoymxwieeg4twbonfgt3ua","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":2,"previousStatus":"authorized","paymentStatus":"voided","via":"webhook"`),
	canonicalType("payment.updated", paymentUpdatedDescription, []string{"id", "amount", "processor"},
		`{"id":"123456789","amount":null,"processor":"mercadopago","processorReference":"12345","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":3,"previousStatus":null,"paymentStatus":null,"via":"webhook"`),
	paymentType("refund.succeeded", "A refund was completed.",
		`{"id":"1Y107995YT783435V","status":"COMPLETED","amount":1500,"currency":"JPY","processor":"paypal","processorReference":"WH-2","paymentId":"27M47624FP291604U","merchant":"KQ9XTPTLDNNT6","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":3,"previousStatus":"captured","paymentStatus":"refunded","via":"webhook"`),
	paymentType("refund.failed", "A refund failed.",
		`{"id":"re_3MtwBwLkdIwHu7ix","status":"failed","amount":300,"currency":"USD","processor":"stripe","processorReference":"evt_1PaY2fLkdIwHu7iy","paymentId":"pi_3MtwBwLkdIwHu7ix28a3tqPa","reason":"expired_or_canceled_card","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":3,"previousStatus":"captured","paymentStatus":"captured","via":"webhook"`),
	paymentType("dispute.opened", "A cardholder opened a dispute (chargeback).",
		`{"id":"dp_1MtwBwLkdIwHu7ix","status":"needs_response","amount":1000,"currency":"USD","processor":"stripe","processorReference":"evt_1PaY2fLkdIwHu7iz","paymentId":"pi_3MtwBwLkdIwHu7ix28a3tqPa","reason":"fraudulent","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":3,"previousStatus":"captured","paymentStatus":"disputed","via":"webhook"`),
	paymentType("dispute.closed", "A dispute was closed, won or lost.",
		`{"id":"PP-D-21526","status":"RESOLVED_SELLER_FAVOUR","amount":3125,"currency":"KWD","processor":"paypal","processorReference":"WH-3","paymentId":"27M47624FP291604U","reason":"MERCHANDISE_OR_SERVICE_NOT_RECEIVED","occurredAt":"2024-05-01T10:00:00Z"}`, `"sequence":4,"previousStatus":"disputed","paymentStatus":"dispute_won","via":"webhook"`),
}

const paymentUpdatedDescription = "A processor reported a change to this payment without saying what it now is " +
	"(Mercado Pago, Mollie): fetch the payment from the processor by its id."
