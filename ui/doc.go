// Package ui serves Hookbridge's pages for people: the operator dashboard
// under /ui/ and the consumer portal under /portal/. Both are rendered on
// the server with html/template; the templates, the stylesheet and one
// small script are embedded in the binary, so there is no front-end build
// and nothing is fetched from elsewhere.
//
// The dashboard shows every application with its endpoints and recent
// health, a chart of delivery attempts over time (an SVG laid out on the
// server, with a table for screen readers) and the delivery backlog; it
// creates, edits and deletes applications; per application its endpoints,
// a message search (eventId, event type, endpoint and status, date) with
// each message's status over its deliveries, the latest attempts and a
// button that opens its consumer portal; a message with every attempt's
// request and response, and a resend button; the event type catalogue
// (add, describe, edit the schema, archive); and the inbound sources
// (sources.go): each processor's URL with its rollout, and what it
// received, newest first, with what each notification did to its payment,
// the stale ones marked and the held ones released with a button; and the
// API keys (keys.go): made, rotated and revoked, each secret shown once on
// the page that answers its making. The portal lets one
// application's consumer add, edit, disable and delete endpoints, reveal
// and rotate signing secrets, set and remove an endpoint's client
// certificate and OAuth credentials (endpointauth.go), send test events, browse the message log and
// recover failed messages. An application's endpoint pages (endpoints.go),
// each with a chart of its own attempts, are the same on both surfaces:
// the dashboard serves the portal's under /ui/apps/{app}/endpoints/.
//
// # Reads and writes
//
// Pages read through hookbridge.Store. Every change goes through the
// management API in-process (api.Server.ServeAuthenticated) with the API's
// own JSON bodies, so that each rule has one implementation: the API
// validates, refuses private addresses, wakes the dispatcher after test
// sends, resends and recoveries, and names the field at fault, which the
// form then shows beside that field.
//
// # Sessions
//
// Sessions are stateless signed cookies (HMAC-SHA256 with a key kept in
// the store's settings, so that every instance sharing the store accepts
// them), HttpOnly and scoped by path to their surface:
//
//   - The operator signs in with the admin key, or through an OpenID
//     Connect provider (oidc.go). The session lasts 12 hours and names
//     either a fingerprint of the admin key's hash (a new admin key ends
//     every such session) or the user, the role (admin or read-only) and a
//     fingerprint of the provider's settings. SameSite=Strict. A read-only
//     session sees every page without its forms, and is refused every
//     POST and every page that is only a form; the changes of the others
//     reach the API in the user's name (api.WithActor).
//   - A consumer opens a link from POST /api/v1/auth/app-portal-access: its
//     ?token= is checked (api.Server.VerifyPortalToken), exchanged for a
//     session cookie that ends when the token does, and removed from the
//     address bar by a redirect. The session keeps the token's issue time
//     and nonce and is checked against expire-all and the token's logout
//     on every request (api.Server.PortalAccessEnded, one store read), so
//     revoking an application's links, or logging out the one token,
//     ends the sessions already open too. SameSite=Lax, because the link is opened
//     from another site; SameSite=None, Secure and Partitioned when the
//     portal may be framed by another site and is served over HTTPS.
//
// # CSRF
//
// Every form of a session carries a token derived from the session's random
// nonce (an HMAC under a key of its own), checked on every POST: a form
// without the session's token is refused with 403. Beneath that,
// http.CrossOriginProtection refuses cross-origin POSTs the browser marks
// (Sec-Fetch-Site, Origin), which also covers the sign-in form, made before
// there is a session. A sign-in through the provider is bound to the
// browser that started it by its state, kept in a signed cookie of its own.
//
// # Portal scope
//
// A portal session names one application. Its pages read with that
// application's id, and the API paths it calls carry that id; ids taken
// from page URLs (endpoints, messages) are checked to be plain identifiers
// and escaped as one path segment. The store and the API never reach one
// application's entities through another's id, so an id of another
// application's endpoint or message is simply not found (404). A read-only
// session (readOnly in the token) shows no forms and is refused every POST.
// Event types gated by a feature flag are shown only to sessions whose token
// granted that flag.
//
// # Headers
//
// Every page carries a Content-Security-Policy without inline script or
// style (script-src and style-src 'self'), frame-ancestors 'none' for the
// dashboard and the configured list (default 'self') for the portal,
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
// Cache-Control: no-store.
package ui
