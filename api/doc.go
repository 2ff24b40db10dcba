// Package api is Hookbridge's management HTTP API: applications, event
// types, endpoints, messages and the attempt log, under /api/v1.
//
// It is compatible with the open-source Svix server, so that any Svix SDK
// can drive it: the same paths and methods, JSON field names, status codes,
// error bodies and iterator/done pagination. The served OpenAPI document
// (GET /api/v1/openapi.json, embedded from openapi.json) is the Svix
// server's reference plus Hookbridge's own operations in the same style,
// such as batch ingest (POST /api/v1/app/{app_id}/msg/batch: many messages,
// one transaction, one result per message). The tests hold both ends of
// that: every response is validated against the served document, and the
// document may differ from the reference only where reference_test.go
// names the difference. Nothing of Hookbridge's own is written inside a
// body an SDK decodes as a Svix model: such settings are sub-resources
// (…/endpoint/{endpoint_id}/fifo) or input-only fields.
//
// Invariants:
//
//   - Bad input is a 4xx whose body names the field, and is refused before
//     anything is written: handlers validate the whole request, then make
//     their store calls. Validation errors are 422 with Svix's
//     HTTPValidationError body; every other error is an HttpErrorOut
//     {"code", "detail"}. errors.go is the one place that maps the domain's
//     error codes to HTTP statuses.
//   - Internal errors are logged with their details and answered with a
//     generic 500 that reveals nothing.
//   - Every {app_id} accepts an id or a uid, every {endpoint_id} an id or a
//     uid, every {msg_id} an id or an eventId; entities of one application
//     are never reachable through another.
//   - Every route but the health checks, the OpenAPI document and the
//     inbound sources' URLs requires "Authorization: Bearer <key>" — the
//     admin key, an API key whose scope allows the route's class (see
//     apikeys.go and routeAccess), or an application's portal token — or
//     comes in-process through ServeAuthenticated from a caller that
//     authenticated its user itself (the dashboard and the consumer
//     portal, package ui).
//   - Accepted means durable: a message is answered 202 (in a batch, given
//     status 202) only after the store committed it with its deliveries;
//     then the dispatcher is woken.
//
// All persistence goes through hookbridge.Store; time comes from
// Config.Now.
package api
