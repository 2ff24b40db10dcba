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
