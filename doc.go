// Package hookbridge is the domain of the Hookbridge webhook gateway: the nouns
// (Application, EventType, Endpoint, Message, Delivery, Attempt), the errors
// every layer speaks, and the Store interface that each storage adapter
// implements.
//
// The package imports no adapter. Storage lives in sqlite/ (and postgres/),
// delivery in dispatch/, the HTTP API in api/, the public signing package in
// webhook/; only cmd/hookbridge wires them together.
//
// Invariants the rest of the code relies on:
//
//   - Accepted means durable: a message and one Delivery per matching endpoint
//     are written in one transaction before the API answers.
//   - Fan-out happens at ingest. The dispatcher never re-reads subscriptions;
//     it works through Deliveries.
//   - A Delivery is claimed under a lease (owner, until). Only the current
//     lease owner may record its result, so a slow instance whose lease ran out
//     cannot overwrite the work of the one that took over.
//   - Every Attempt row is one real try: an HTTP request, or a message
//     published to the broker the endpoint URL names.
package hookbridge
