// Package api is Hookbridge's management HTTP API: applications, event
// types, endpoints, messages and the attempt log, under /api/v1.
//
// It is compatible with the open-source Svix server, so that any Svix SDK
// can drive it: the same paths and methods, JSON field names, status codes,
// error bodies and iterator/done pagination. Where the Svix OpenAPI document
// and the Svix server disagree, the server's wire format wins, because that
// is what the SDKs were generated against and the strict ones refuse
// unknown fields: endpoints are written with filterTypes, rateLimit and
// version; attempts without statusText; stats without canceled. The newer
// names (eventTypes, throttleRate) are accepted as input aliases. The
// served OpenAPI document (GET /api/v1/openapi.json, embedded from
// openapi.json) describes exactly what is served, including Hookbridge's
// additions in the same style, such as batch ingest (POST
// /api/v1/app/{app_id}/msg/batch: many messages, one transaction, one
// result per message).
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
//   - Every route but the health checks and the OpenAPI document requires
//     "Authorization: Bearer <admin key>", or comes in-process through
//     ServeAuthenticated from a caller that authenticated its user itself
//     (the dashboard and the consumer portal, package ui).
//   - Accepted means durable: a message is answered 202 (in a batch, given
//     status 202) only after the store committed it with its deliveries;
//     then the dispatcher is woken.
//
// All persistence goes through hookbridge.Store; time comes from
// Config.Now.
package api
