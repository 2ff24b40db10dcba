// Package operational sends Hookbridge's operational webhooks: events about
// delivery itself, for the operator rather than for an application —
// endpoint.created, endpoint.updated, endpoint.deleted, endpoint.disabled,
// message.attempt.exhausted, message.attempt.failing and
// message.attempt.recovered, in the shapes of Svix's operational webhooks.
//
// The events travel the ordinary way. They are messages of a reserved
// application (uid AppUID), created when first needed, whose endpoints are
// the operator's operational endpoints (managed through
// /api/v1/operational-webhook/endpoint, as in Svix). So they are fanned out
// by event type, signed with each endpoint's secret, retried on the usual
// schedule, and logged as attempts like any other message; nothing here
// sends HTTP.
//
// Invariants:
//
//   - Events about the reserved application itself are not sent, so that a
//     failing operational endpoint cannot feed itself events.
//   - Events are never lost and are sent once: the store records each in
//     the transaction of the change or result it reports
//     (hookbridge.OperationalEvent), and the Relay turns it into a message
//     whose eventId is the event's id before deleting it, so relaying it
//     again, after a crash or on another instance at once, writes nothing
//     new.
package operational
