package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Canonical event types that processor notifications are normalised into
// (see hookbridge.CanonicalEventTypes).
const (
	PaymentAuthorized = "payment.authorized"
	PaymentCaptured   = "payment.captured"
	PaymentFailed     = "payment.failed"
	PaymentVoided     = "payment.voided"
	// PaymentUpdated says only that the processor reported a change to the
	// payment named by id: fetch it from the processor to learn what. It
	// is what processors that send nothing but an id (Mercado Pago, Mollie)
	// become, rather than a guess at the change.
	PaymentUpdated  = "payment.updated"
	RefundSucceeded = "refund.succeeded"
	RefundFailed    = "refund.failed"
	DisputeOpened   = "dispute.opened"
	DisputeClosed   = "dispute.closed"
	OrderCancelled  = "order.cancelled"
)

// Event is one processor event read from a verified notification: what the
// processor said happened, for which merchant, and the canonical messages it
// stands for.
type Event struct {
	// ID is the processor's id of the event: the matching entry of
	// Verified.EventIDs, or "" when the processor gives none.
	ID string
	// Type is the processor's name for what happened, e.g.
	// "payment_intent.succeeded" or "AUTHORISATION".
	Type string
	// Merchant is the merchant or account the event concerns, read from
	// the processor's usual field or NormalizeOptions.MerchantField; ""
	// when the notification names none.
	Merchant string
	// OccurredAt is when the processor says it happened; zero when it does
	// not say.
	OccurredAt time.Time
	// Messages are the canonical messages the event stands for: usually
	// one, none when it maps to no canonical event type.
	Messages []Message
	// Note says why the event maps to nothing, or anything else the
	// operator should know about how it was read.
	Note string
}

// Message is one canonical Hookbridge message made from a processor event.
type Message struct {
	EventType string // one of the canonical types, e.g. PaymentCaptured
	Payload   Payload
}

// Payload is the thin payload of a canonical payment message: enough to act
// on, or to fetch the full object from the processor, and no more. Amounts
// are integers in the currency's minor unit, whatever the processor writes.
type Payload struct {
	// ID is the processor's id of the payment, refund or dispute the
	// event is about. For payment.* it is the payment's id, the same for
	// every event of one payment.
	ID string `json:"id"`
	// Status is the processor's status of the object, as it writes it;
	// left out only from payment.updated when the processor does not say.
	Status string `json:"status,omitempty"`
	// Amount is in minor units (cents); nil when the notification has no
	// amount.
	Amount    *int64 `json:"amount"`
	Currency  string `json:"currency,omitempty"` // ISO 4217, upper case
	Processor string `json:"processor"`          // the source's scheme, e.g. "stripe"
	// ProcessorReference is the processor's reference of this particular
	// event: its event id (Stripe evt_…, Square, Checkout.com, PayPal,
	// Razorpay), or for Adyen the item's own pspReference (for a capture
	// or refund, that of the modification).
	ProcessorReference string `json:"processorReference,omitempty"`
	// PaymentID is, for refunds and disputes, the payment's id.
	PaymentID string `json:"paymentId,omitempty"`
	// Reference is the merchant's own reference for the payment as the
	// processor received it (Adyen merchantReference, Checkout.com
	// reference, Square reference_id, PayPal invoice_id or custom_id,
	// Braintree order-id, Razorpay order_id, Worldpay
	// transactionReference, Shopify's order name), when there is one.
	Reference string `json:"reference,omitempty"`
	// Reason says why a payment or refund failed or a dispute was opened,
	// when the processor says.
	Reason     string `json:"reason,omitempty"`
	Merchant   string `json:"merchant,omitempty"`
	OccurredAt string `json:"occurredAt,omitempty"` // RFC 3339, UTC

	// The payment's state as the receiving source followed it, set when
	// the message is forwarded (never by a normaliser), on messages about
	// a payment: Sequence numbers the payment's events in the order they
	// were received, from 1; PreviousStatus and PaymentStatus are its
	// canonical status before and after this event (null when it had
	// none); Stale says this event would have moved it backwards or
	// sideways, and moved nothing.
	Sequence       int64          `json:"sequence,omitempty"`
	PreviousStatus OptionalStatus `json:"previousStatus,omitzero"`
	PaymentStatus  OptionalStatus `json:"paymentStatus,omitzero"`
	Stale          bool           `json:"stale,omitempty"`
	// Via is how the event arrived: "webhook", or "backfill" when it was
	// fetched from the processor's events list; set with the state.
	Via string `json:"via,omitempty"`
}

// OptionalStatus is a payment status in a payload: absent (the zero
// value), null (Set, Value ""), or a status.
type OptionalStatus struct {
	Set   bool
	Value string
}

// Status is the OptionalStatus that is present: null for "".
func Status(v string) OptionalStatus { return OptionalStatus{Set: true, Value: v} }

// IsZero reports whether the status is absent, for omitzero.
func (o OptionalStatus) IsZero() bool { return !o.Set }

// MarshalJSON writes the status, or null.
func (o OptionalStatus) MarshalJSON() ([]byte, error) {
	if o.Value == "" {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

// UnmarshalJSON reads a status or null.
func (o *OptionalStatus) UnmarshalJSON(b []byte) error {
	*o = OptionalStatus{Set: true}
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// PaymentID returns the id of the payment the message concerns: a
// payment.* message's own id, a refund's or dispute's paymentId; "" for
// one about no payment (order.*).
func (m Message) PaymentID() string {
	switch {
	case strings.HasPrefix(m.EventType, "payment."):
		return m.Payload.ID
	case strings.HasPrefix(m.EventType, "refund."), strings.HasPrefix(m.EventType, "dispute."):
		return m.Payload.PaymentID
	}
	return ""
}

// DisputeOutcome says how a dispute.closed message's dispute ended for the
// merchant, "won", "lost" or "" when the processor does not say, from the
// processor's event type (Checkout.com's and Braintree's dispute_won,
// Razorpay's payment.dispute.lost) or the status the payload carries
// (Stripe's won, Adyen's lost, PayPal's outcome code, GoCardless's
// chargeback_cancelled, Shopify's charge_refunded).
func DisputeOutcome(eventType, status string) string {
	won := []string{"won", "dispute_won", "resolved_seller_favour", "canceled_by_buyer", "dispute_canceled",
		"chargeback_cancelled", "payments.chargeback_cancelled", "warning_closed"}
	lost := []string{"lost", "dispute_lost", "accepted", "dispute_accepted", "auto_accepted", "dispute_auto_accepted",
		"dispute_expired", "resolved_buyer_favour", "resolved_with_payout", "chargeback_settled",
		"payments.chargeback_settled", "charge_refunded"}
	typ := strings.ToLower(eventType)
	for _, v := range []string{typ, typ[strings.LastIndexByte(typ, '.')+1:], strings.ToLower(status)} {
		switch {
		case slices.Contains(won, v):
			return "won"
		case slices.Contains(lost, v):
			return "lost"
		}
	}
	return ""
}

// NormalizeOptions adjust how notifications are read.
type NormalizeOptions struct {
	// MerchantField is a dotted path to the merchant or account id, from
	// the root of the processor's event object (for Adyen, from the
	// NotificationRequestItem; for Braintree, from <notification>). ""
	// means the processor's usual field (MerchantFields).
	MerchantField string
}

// normalizer reads one processor's verified notifications. It must not
// panic on any body: the signature proves who sent it, not that it is
// well formed.
type normalizer func(body []byte, v *Verified, o NormalizeOptions) ([]Event, error)

// normalizers maps scheme names to their processor's normaliser. Schemes
// without one are passed through: stored and acknowledged, not forwarded.
var normalizers = map[string]normalizer{
	"stripe":      normalizeStripe,
	"adyen":       normalizeAdyen,
	"square":      normalizeSquare,
	"checkout":    normalizeCheckout,
	"paypal":      normalizePayPal,
	"braintree":   normalizeBraintree,
	"razorpay":    normalizeRazorpay,
	"gocardless":  normalizeGoCardless,
	"shopify":     normalizeShopify,
	"mollie":      normalizeMollie,
	"worldpay":    normalizeWorldpay,
	"mercadopago": normalizeMercadoPago,
}

// defaultMerchantFields are where each processor usually names the
// merchant or account a notification concerns; the first that is present
// wins.
var defaultMerchantFields = map[string][]string{
	"stripe":     {"account"},             // Connect: the connected account
	"adyen":      {"merchantAccountCode"}, // per NotificationRequestItem
	"square":     {"merchant_id"},
	"checkout":   {"data.entity_id", "data.processing_channel_id"},
	"paypal":     {"resource.payee.merchant_id", "resource.seller.merchant_id"},
	"braintree":  {"subject.transaction.merchant-account-id", "subject.dispute.transaction.merchant-account-id", "subject.dispute.merchant-account-id"},
	"razorpay":   {"account_id"},
	"gocardless": {"links.organisation"}, // per event
}

// MerchantFields returns the dotted paths where the scheme's processor
// usually names the merchant, in the order they are tried; nil when it
// names none.
func MerchantFields(scheme string) []string { return slices.Clone(defaultMerchantFields[scheme]) }

// Normalizes reports whether the scheme's notifications are mapped to
// canonical messages; the others are stored and acknowledged only.
func Normalizes(scheme string) bool {
	_, ok := normalizers[scheme]
	return ok
}

// SignsEventIDs reports whether the event ids Verify returns for the scheme
// are covered by its signature. Where they are not (Razorpay's and
// Shopify's come from a header beside the signature, Mercado Pago signs no
// body) or there are none (Braintree, generic HMAC), de-duplication has to
// key on the body instead.
func SignsEventIDs(scheme string) bool {
	switch scheme {
	case "razorpay", "shopify", "mercadopago", "braintree", "hmac":
		return false
	}
	_, ok := registry[scheme]
	return ok
}

// Normalize reads the processor events in a notification that the scheme
// has verified (v is what Verify returned) and maps each to canonical
// messages. It returns one Event per event the notification carries, in
// order: one per Verified.EventIDs entry for batches. An event that maps to
// no canonical type has no Messages and a Note saying so. A body the
// processor's normaliser cannot read is an error; the notification is still
// genuine, so callers store it and do not forward it.
func Normalize(scheme string, body []byte, v *Verified, o NormalizeOptions) ([]Event, error) {
	if v == nil {
		v = &Verified{}
	}
	n, ok := normalizers[scheme]
	if !ok {
		return passThrough(scheme, body, v, o), nil
	}
	events, err := n(body, v, o)
	if err != nil {
		return nil, fmt.Errorf("normalize %s notification: %w", scheme, err)
	}
	return events, nil
}

// passThrough is the Event list of a scheme without a normaliser
// (standard-webhooks, adyen-hmac-header, hmac): one event per verified id
// (one without an id when there are none), under the sender's own type, no
// messages. These senders name their events themselves; which canonical
// type each stands for is the source's to say, and sources have no such
// mapping yet.
func passThrough(scheme string, body []byte, v *Verified, o NormalizeOptions) []Event {
	var root any
	_ = decodeJSON(body, &root) // a body that is not JSON names no type and no merchant
	typ := firstStr(root, "type", "event_type", "eventType", "event")
	own := "their own type"
	if typ != "" {
		own = fmt.Sprintf("their own type (%q)", typ)
	}
	note := scheme + " notifications are passed through under " + own + ", not mapped to canonical events: stored, not forwarded"
	merchant := merchantOf(root, scheme, o)
	if len(v.EventIDs) == 0 {
		return []Event{{Type: typ, Merchant: merchant, Note: note}}
	}
	out := make([]Event, len(v.EventIDs))
	for i, id := range v.EventIDs {
		out[i] = Event{ID: id, Type: typ, Merchant: merchant, Note: note}
	}
	return out
}

// decodeJSON decodes a JSON body with numbers kept as json.Number, so that
// amounts and ids keep every digit.
func decodeJSON(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	return d.Decode(v)
}

// decodeObject decodes a body that must be one JSON object, as decodeJSON
// does.
func decodeObject(body []byte) (any, error) {
	var root any
	if err := decodeJSON(body, &root); err != nil {
		return nil, err
	}
	if _, ok := root.(map[string]any); !ok {
		return nil, errors.New("the body is not a JSON object")
	}
	return root, nil
}

// lookup follows a dotted path through decoded JSON objects. A segment that
// is a number indexes an array.
func lookup(v any, path string) any {
	if path == "" {
		return v
	}
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// str returns the string or number at path as text, "" for anything else.
func str(v any, path string) string {
	switch x := lookup(v, path).(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// firstStr returns the first non-empty str of the paths.
func firstStr(v any, paths ...string) string {
	for _, p := range paths {
		if s := str(v, p); s != "" {
			return s
		}
	}
	return ""
}

// merchantOf reads the merchant of an event object: from o.MerchantField
// when set, else from the scheme's usual fields.
func merchantOf(obj any, scheme string, o NormalizeOptions) string {
	if o.MerchantField != "" {
		return str(obj, o.MerchantField)
	}
	return firstStr(obj, defaultMerchantFields[scheme]...)
}

// minorInt reads an amount already in minor units (an integer JSON number
// or numeric string).
func minorInt(v any, path string) *int64 {
	s := str(v, path)
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// abs returns |n|, for processors that write refunds as negative amounts.
func abs(n *int64) *int64 {
	if n == nil || *n >= 0 {
		return n
	}
	v := -*n
	return &v
}

// parseRFC3339 reads a processor's timestamp; zero when it is absent or
// unreadable. A timestamp without a zone (Worldpay's eventTimestamp,
// "2018-06-13T14:18:13.407") is read as UTC.
func parseRFC3339(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil {
			return time.Time{}
		}
	}
	return t.UTC()
}

// unixTime reads a unix-seconds timestamp; zero when absent or unreadable.
func unixTime(v any, path string) time.Time {
	s := str(v, path)
	if s == "" {
		return time.Time{}
	}
	t, ok := parseUnixSeconds(s)
	if !ok {
		return time.Time{}
	}
	return t.UTC()
}

// formatOccurred writes an event time for a payload, "" when unknown.
func formatOccurred(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// finish fills in the fields every message of an event shares: the
// processor, the merchant, the time and the event's reference. It masks
// card numbers in the fields that carry text the merchant or the processor
// wrote (status, reference, reason, merchant): a canonical payload never
// carries one. Ids are the processors' own; a normaliser that makes an id
// of the merchant's text (Worldpay's transactionReference) masks it
// itself. A message without an id names nothing to act on and is dropped.
func (e *Event) finish(processor, reference string) {
	kept := e.Messages[:0]
	for _, m := range e.Messages {
		if m.Payload.ID == "" {
			continue
		}
		p := &m.Payload
		p.Processor = processor
		p.Merchant = maskString(e.Merchant)
		p.OccurredAt = formatOccurred(e.OccurredAt)
		if p.ProcessorReference == "" {
			p.ProcessorReference = reference
		}
		p.Currency = strings.ToUpper(p.Currency)
		p.Status = maskString(p.Status)
		p.Reference = maskString(p.Reference)
		p.Reason = maskString(p.Reason)
		kept = append(kept, m)
	}
	dropped := len(e.Messages) - len(kept)
	e.Messages = kept
	switch {
	case len(e.Messages) == 0 && dropped > 0 && e.Note == "":
		e.Note = fmt.Sprintf("%s event %q names no id of the object it is about: stored, not forwarded", processor, e.Type)
	case len(e.Messages) == 0 && e.Note == "":
		e.Note = fmt.Sprintf("%s event %q maps to no canonical event: stored, not forwarded", processor, e.Type)
	}
	if len(e.Messages) == 0 {
		e.Messages = nil
	}
}

// one returns a single-message slice.
func one(eventType string, p Payload) []Message {
	return []Message{{EventType: eventType, Payload: p}}
}
