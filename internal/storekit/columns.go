package storekit

// EndpointColumns is the column list of an endpoint that both stores read,
// in the order their scanners expect; both dialects accept it as it is.
// Queries alias the endpoints table as e.
const EndpointColumns = `e.id, e.app_id, e.uid, e.url, e.description, e.event_types, e.channels, e.disabled,
	e.rate_limit, e.metadata, e.headers, e.secrets, e.fifo, e.failing_since, e.paused_until, e.created_at, e.updated_at, e.filter,
	e.mtls_version, e.oauth_version`

// APIKeyColumns is the column list of an API key that both stores read, in
// the order their scanners expect.
const APIKeyColumns = `id, name, scope, hash, created_at, updated_at, last_used_at`

// ApplicationColumns is the column list of an application that both stores
// read, in the order their scanners expect.
const ApplicationColumns = `id, uid, name, rate_limit, metadata, created_at, updated_at`

// SourceColumns is the column list of an inbound source that both stores
// read, in the order their scanners expect. Credentials, routing and
// rollout hold the JSON form of their domain types.
const SourceColumns = `id, name, scheme, credentials, tolerance_ms, routing, rollout, stale_policy, reconcile_every_ms, created_at, updated_at`

// InboundColumns is the column list of an inbound event that both stores
// read, in the order their scanners expect.
const InboundColumns = `id, source_id, event_id, type, merchant, headers, body, note, forward, app_id, message_ids, occurred_at, received_at,
	canonical, payments, stale, held, released_at, released_by, body_dropped_at, via`

// PaymentColumns is the column list of a payment state that both stores
// read, in the order their scanners expect.
const PaymentColumns = `source_id, payment_id, status, sequence, amounts, updated_at`

// BackfillStateColumns is the column list of a source's backfill state
// that both stores read, in the order ScanBackfillState expects, from the
// source s left-joined to its source_backfill row b: a source that never
// ran reads as the zero state.
const BackfillStateColumns = `s.id, b.high_water, b.last_run_at, b.last_success_at, coalesce(b.last_error, ''), coalesce(b.runs, 0),
	coalesce(b.failures, 0), coalesce(b.fetched, 0), coalesce(b.backfilled, 0), coalesce(b.duplicates, 0), coalesce(b.requests, 0)`

// FirstAttempts is, in both stores, the deliveries' first attempts as a
// table of the attempts table's columns: a delivery's first attempt is
// kept in its own row (the first_attempt_ columns), the tries after it in
// attempts. Both dialects accept it as it is, and both planners fold it
// into the query around it.
const FirstAttempts = `
	SELECT first_attempt_id AS id, id AS delivery_id, app_id, msg_id, endpoint_id,
		first_attempt_url AS url, first_attempt_status AS status, trigger,
		first_attempt_status_code AS status_code, first_attempt_response AS response,
		first_attempt_duration_ms AS duration_ms, first_attempt_at AS created_at
	FROM deliveries WHERE first_attempt_id IS NOT NULL`
