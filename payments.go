package hookbridge

// CanonicalEventTypes are the event types of the ordering and payment flow,
// seeded into the catalogue on first start (and editable afterwards). Inbound
// processor notifications are normalised into the payment.*, refund.* and
// dispute.* types.
var CanonicalEventTypes = []EventType{
	{Name: "order.created", Description: "An order was placed."},
	{Name: "order.updated", Description: "An order changed (items, amounts, fulfilment details)."},
	{Name: "order.cancelled", Description: "An order was cancelled."},
	{Name: "order.ready", Description: "An order is ready for pick-up or dispatch."},
	{Name: "payment.authorized", Description: "A payment was authorised and funds are reserved."},
	{Name: "payment.captured", Description: "An authorised payment was captured."},
	{Name: "payment.failed", Description: "A payment was declined or failed."},
	{Name: "payment.voided", Description: "An authorisation was voided before capture."},
	{Name: "refund.succeeded", Description: "A refund was completed."},
	{Name: "refund.failed", Description: "A refund failed."},
	{Name: "dispute.opened", Description: "A cardholder opened a dispute (chargeback)."},
	{Name: "dispute.closed", Description: "A dispute was closed, won or lost."},
}
