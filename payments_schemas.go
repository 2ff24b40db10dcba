package hookbridge

import (
	"encoding/json"
	"maps"
	"strings"
)

// The JSON Schemas of the canonical payloads, as Svix keeps them on an event
// type: Schemas is {"1": <JSON Schema>, …}, and each schema's "examples"
// list holds the payloads the portal's "send example" sends (the first by
// default). Every canonical type shares one thin payload shape (ids, status,
// amount in minor units, currency, processor and its reference, timestamps:
// enough to act on or to fetch the full object, no more); what differs is
// which fields are required.
//
// The schemas are closed (additionalProperties false): a field added to the
// payload is a new schema version, not a silent change. Version "2" of the
// payment.*, refund.* and dispute.* types adds the payment's state as the
// receiving source followed it (sequence, previousStatus, paymentStatus,
// stale), version "3" how the event arrived (via); the order.* types have
// version "1" only. Draft-07, which every
// JSON Schema tool reads.

// payloadProperties describes each field of a canonical payload.
var payloadProperties = map[string]any{
	"id": map[string]any{"type": "string", "minLength": 1,
		"description": "The processor's id of the payment, refund or dispute the event is about " +
			"(for payment.* the payment's, the same across one payment's events); for order.* the order's."},
	"status": map[string]any{"type": "string", "minLength": 1,
		"description": "The status of the object, as the processor (or the ordering platform) writes it."},
	"amount": map[string]any{"type": []string{"integer", "null"}, "minimum": 0,
		"description": "The amount in the currency's minor unit, an integer: ISO 4217's exponent applies " +
			"(1500 JPY is 1500, 25.99 EUR is 2599, 3.125 KWD is 3125). Null when the notification carries no amount."},
	"currency": map[string]any{"type": "string", "pattern": "^[A-Z]{3}$",
		"description": "ISO 4217 code, upper case; present whenever amount is."},
	"processor": map[string]any{"type": "string", "pattern": "^[a-z][a-z0-9-]*$",
		"description": "The verification scheme of the source that received the notification, e.g. stripe, adyen, shopify."},
	"processorReference": map[string]any{"type": "string",
		"description": "The processor's reference of this particular event: its event id, or Adyen's pspReference of the item."},
	"paymentId": map[string]any{"type": "string",
		"description": "For refunds and disputes: the id of the payment (for Shopify, the order) they concern."},
	"reference": map[string]any{"type": "string",
		"description": "The merchant's own reference for the payment or order, as the processor received it."},
	"reason": map[string]any{"type": "string",
		"description": "Why a payment or refund failed, an order was cancelled or a dispute was opened, when the processor says."},
	"merchant": map[string]any{"type": "string",
		"description": "The processor's merchant or account id the event concerns (what routes it to an application)."},
	"occurredAt": map[string]any{"type": "string", "format": "date-time",
		"description": "When the processor says it happened, RFC 3339 in UTC."},
}

// paymentStateProperties describe the fields version "2" adds: the
// payment's state as the source that received the notification followed it
// (see PaymentState), present on every payment.*, refund.* and dispute.*
// message made from a notification about a payment.
var paymentStateProperties = map[string]any{
	"sequence": map[string]any{"type": "integer", "minimum": 1,
		"description": "The payment's n-th event, numbered in the order Hookbridge received them (stale ones included): " +
			"order a payment's events by it, not by arrival."},
	"previousStatus": map[string]any{"type": []string{"string", "null"}, "enum": paymentStatusEnum(true),
		"description": "The payment's canonical status before this event; null when it had none."},
	"paymentStatus": map[string]any{"type": []string{"string", "null"}, "enum": paymentStatusEnum(true),
		"description": "The payment's canonical status after this event (the same as previousStatus when the event is stale " +
			"or moves nothing); null when it has none yet."},
	"stale": map[string]any{"type": "boolean",
		"description": "True when this event arrived after one that took the payment further (a late authorisation after its " +
			"capture, a failure after its capture): it moved nothing. Absent otherwise."},
}

// viaProperties describe the field version "3" adds: how the event arrived.
var viaProperties = map[string]any{
	"via": map[string]any{"type": "string", "enum": []string{"webhook", "backfill"},
		"description": "How the event reached Hookbridge: webhook (the processor's notification) or backfill (fetched from the " +
			"processor's events list because no notification had brought it). An event arrives once, by one or the other."},
}

// viaMember is the via member of the examples given to paymentType; version
// "2"'s example is the same without it.
const viaMember = `,"via":"webhook"`

// paymentStatusEnum lists the canonical payment statuses, and null when
// nullable.
func paymentStatusEnum(nullable bool) []any {
	out := make([]any, 0, len(PaymentStatuses)+1)
	for _, s := range PaymentStatuses {
		out = append(out, string(s))
	}
	if nullable {
		out = append(out, nil)
	}
	return out
}

// paymentType is the event type, with its schema, of a payment.*, refund.* or dispute.* type,
// made from a processor's notification: id, status, amount and processor
// are always there. Version "2" adds the payment's state; its example is
// example with state (JSON members) added.
func paymentType(name, description, example, state string) EventType {
	return canonicalType(name, description, []string{"id", "status", "amount", "processor"}, example, state)
}

// orderType is the event type, with its schema, of an order.* type, which the ordering platform
// sends itself (and a storefront processor may too): id and status are
// always there. Orders have no payment state: version "1" only.
func orderType(name, description, example string) EventType {
	return canonicalType(name, description, []string{"id", "status"}, example, "")
}

// canonicalType is the event type name, described by description, whose
// payloads carry the required members, with its schemas (schemaOf).
func canonicalType(name, description string, required []string, example, state string) EventType {
	return EventType{Name: name, Description: description, Schemas: schemaOf(name, description, required, example, state)}
}

// schemaOf builds the Schemas value of one event type: version "1", and
// with state versions "2" (example with state but its via member added) and
// "3" (example with all of state added). It
// panics on an example that is not JSON: the examples are constants of
// this package, and a test validates each against its schema.
func schemaOf(name, description string, required []string, example, state string) []byte {
	versions := map[string]any{"1": schemaVersion(name, description, required, example, payloadProperties)}
	if state != "" {
		v2 := strings.TrimSuffix(example, "}") + "," + strings.Replace(state, viaMember, "", 1) + "}"
		props := maps.Clone(payloadProperties)
		maps.Copy(props, paymentStateProperties)
		versions["2"] = schemaVersion(name, description, required, v2, props)
		v3 := strings.TrimSuffix(example, "}") + "," + state + "}"
		props = maps.Clone(props)
		maps.Copy(props, viaProperties)
		versions["3"] = schemaVersion(name, description, required, v3, props)
	}
	b, err := json.Marshal(versions)
	if err != nil {
		panic("hookbridge: the schema of " + name + ": " + err.Error())
	}
	return b
}

// schemaVersion is one version of an event type's schema.
func schemaVersion(name, description string, required []string, example string, properties map[string]any) map[string]any {
	if !json.Valid([]byte(example)) {
		panic("hookbridge: the example of " + name + " is not JSON")
	}
	return map[string]any{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"title":                name,
		"description":          description,
		"type":                 "object",
		"properties":           properties,
		"required":             required,
		"additionalProperties": false,
		// An amount is nothing without its currency.
		"if": map[string]any{
			"properties": map[string]any{"amount": map[string]any{"type": "integer"}},
			"required":   []string{"amount"},
		},
		"then":     map[string]any{"required": []string{"currency"}},
		"examples": []json.RawMessage{json.RawMessage(example)},
	}
}
