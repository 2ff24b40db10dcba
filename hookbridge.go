package hookbridge

import (
	"encoding/json"
	"slices"
	"time"
)

// Application is one consumer (tenant): a merchant, a processor integration, a
// partner. It owns endpoints and messages. UID is the caller's own id for it;
// every lookup of an application accepts the id or the uid.
type Application struct {
	ID        string
	UID       string // "" when none
	Name      string
	RateLimit *int // throttleRate: messages/s for each of its endpoints without their own; nil = none
	Metadata  map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EventType is a named kind of event, e.g. "payment.captured".
type EventType struct {
	Name        string
	Description string
	Archived    bool
	Deprecated  bool
	FeatureFlag string          // "" when none
	Schemas     json.RawMessage // JSON object keyed by version, or nil
	// RetrySchedule, when not nil, replaces the server's retry schedule
	// for the messages of this type: the delays between the tries of a
	// failing delivery (empty: one try, no retry). Nil: the server's
	// (a Hookbridge addition to the Svix event type).
	RetrySchedule []time.Duration
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Endpoint is a URL of an application and what it wants to receive. The
// URL's scheme says how messages travel (Transport, ParseEndpointURL): an
// HTTP POST, or a message to a broker.
type Endpoint struct {
	ID          string
	AppID       string
	UID         string // "" when none
	URL         string
	Description string
	// EventTypes filters by event type; empty means every event type.
	EventTypes []string
	// Channels filters by channel; empty means messages of any channel.
	Channels  []string
	Disabled  bool
	RateLimit *int // throttleRate, messages/s; nil = unlimited
	Metadata  map[string]string
	// Headers are sent with every request to this endpoint (as message
	// headers to a broker that has them).
	Headers map[string]string
	// Secrets sign requests: Secrets[0] is the current one; the others were
	// rotated out and keep signing until their Expires.
	Secrets []Secret
	// FIFO asks for strict ordering: deliveries to this endpoint go in
	// message order, each waiting until the one before it succeeded or was
	// given up (a Hookbridge addition to the Svix endpoint).
	FIFO bool
	// Filter, when set, is a CEL expression over the message (package
	// filter) that must hold for the endpoint to be owed it, on top of
	// EventTypes and Channels; "" means none. The store evaluates it at
	// fan-out (a Hookbridge addition to the Svix endpoint).
	Filter string
	// FailingSince is when the current unbroken run of failed attempts
	// began; zero when the last attempt succeeded or none was made. The
	// dispatcher keeps it (Store.RecordEndpointHealth); UpdateEndpoint
	// leaves it alone, except that re-enabling the endpoint clears it.
	FailingSince time.Time
	// PausedUntil is when deliveries to the endpoint may be claimed again
	// after the receiver asked to back off (Retry-After on a 429 or 503);
	// zero when not paused. Kept by the dispatcher like FailingSince.
	PausedUntil time.Time
	// MTLSVersion is the version of the endpoint's client certificate
	// (EndpointMTLS): > 0 while one is set, and a new value each time one
	// is set, so that the dispatcher can keep what it built from it until
	// it changes; 0 or less when none is set. Kept by PutEndpointMTLS and
	// DeleteEndpointMTLS; UpdateEndpoint leaves it alone.
	MTLSVersion int64
	// OAuthVersion is, in the same way, the version of the endpoint's
	// OAuth client credentials (EndpointOAuth).
	OAuthVersion int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// EndpointMTLS is the client certificate an endpoint's receiver demands
// (mutual TLS): the dispatcher presents it in the TLS handshake of every
// request to the endpoint, and, when CA is set, trusts only the receiver
// certificates that CA bundle signed (instead of the system's roots). Kept
// beside the endpoint, not in it: it is read only when MTLSVersion says
// there is one (a Hookbridge addition to the Svix endpoint).
type EndpointMTLS struct {
	CertPEM string // the certificate (chain), PEM
	KeyPEM  string // its private key, PEM; sealed at rest
	CAPEM   string // "" for the system's roots
	// NotAfter is when the certificate expires.
	NotAfter  time.Time
	Version   int64 // the endpoint's MTLSVersion it was stored with
	UpdatedAt time.Time
}

// EndpointOAuth is how the dispatcher gets an access token for an
// endpoint whose receiver demands one: the OAuth 2.0 client credentials
// grant (RFC 6749 §4.4) at TokenURL. The token is sent as
// "Authorization: Bearer" with every request to the endpoint (a Hookbridge
// addition to the Svix endpoint).
type EndpointOAuth struct {
	TokenURL     string
	ClientID     string
	ClientSecret string // sealed at rest
	Scopes       []string
	Audience     string // "" for none; sent as the audience parameter
	Version      int64  // the endpoint's OAuthVersion it was stored with
	UpdatedAt    time.Time
}

// Secret is one signing secret of an endpoint, in its text form
// ("whsec_" + base64 of 24 to 64 random bytes).
type Secret struct {
	Key     string
	Expires time.Time // zero for the current secret
}

// Accepts reports whether a message of this event type and these channels may
// be owed to the endpoint: its event-type filter (if any) names the type, and
// its channel filter (if any) shares at least one channel with the message.
// Disabled endpoints accept nothing. The endpoint's Filter, which needs the
// payload, is the store's to evaluate after this (see storekit's Fan).
func (e *Endpoint) Accepts(eventType string, channels []string) bool {
	if e.Disabled {
		return false
	}
	if len(e.EventTypes) > 0 && !slices.Contains(e.EventTypes, eventType) {
		return false
	}
	if len(e.Channels) > 0 && !slices.ContainsFunc(channels, func(c string) bool {
		return slices.Contains(e.Channels, c)
	}) {
		return false
	}
	return true
}

// SigningSecrets returns the secrets that sign a request made at now: the
// current one and every rotated-out one still within its grace period.
func (e *Endpoint) SigningSecrets(now time.Time) []string {
	keys := make([]string, 0, len(e.Secrets))
	for _, s := range e.Secrets {
		if s.Expires.IsZero() || now.Before(s.Expires) {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// Message is one event sent to one application.
type Message struct {
	ID        string
	AppID     string
	EventID   string // the caller's idempotency key; "" when none
	EventType string
	Payload   json.RawMessage // nil once expunged
	Channels  []string
	CreatedAt time.Time // the message's timestamp
	// DeliverAt, when after CreatedAt, is when the message is scheduled to
	// go out: its deliveries are not due before it (Svix cloud's
	// deliverAt). Zero: at once. Stored with the message, and read back by
	// ListScheduledMessages only (other reads leave it zero).
	DeliverAt time.Time
	// TraceParent is the W3C traceparent of the request that accepted the
	// message, when tracing is on: its delivery attempts join that trace.
	// "" when there was none. Not part of the API's message.
	TraceParent string
}

// CreateResult is the outcome of one message of a batch (Store.CreateMessages).
type CreateResult struct {
	Message *Message // the stored message: msg itself, or the earlier one with the same EventID
	Created bool     // false when EventID repeated an earlier message
	Err     error    // ENOTFOUND when the application does not exist; Message is then nil
}

// MessageStatus is the state of a delivery (and, aggregated, of a message to
// an endpoint). The numeric values are the Svix API's.
type MessageStatus int

const (
	StatusSuccess MessageStatus = 0 // a 2xx was received
	StatusPending MessageStatus = 1 // not yet attempted
	StatusFail    MessageStatus = 2 // given up: retries exhausted, or a manual try failed
	StatusSending MessageStatus = 3 // attempted and failed, another try is scheduled
	// StatusCanceled: a scheduled message's delivery cancelled before it
	// went out (CancelMessage); never attempted. Svix's API has no such
	// MessageStatus: it is shown as StatusFail, and counted apart in
	// EndpointStats.
	StatusCanceled MessageStatus = 4
)

func (s MessageStatus) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusPending:
		return "pending"
	case StatusFail:
		return "fail"
	case StatusSending:
		return "sending"
	case StatusCanceled:
		return "canceled"
	}
	return "unknown"
}

// Final reports whether no further attempt will be made in this state.
func (s MessageStatus) Final() bool {
	return s == StatusSuccess || s == StatusFail || s == StatusCanceled
}

// TriggerType says why an attempt was made. The numeric values are the Svix
// API's.
type TriggerType int

const (
	TriggerScheduled TriggerType = 0 // by the retry schedule
	TriggerManual    TriggerType = 1 // by a person: resend or recover
)

// Delivery is one message owed to one endpoint. A message gets one scheduled
// Delivery per matching endpoint at ingest; each manual resend or recovery
// adds a Delivery with TriggerManual, which is tried once. The status of a
// message at an endpoint is the status of its latest Delivery there.
type Delivery struct {
	ID          string
	AppID       string
	MsgID       string
	EndpointID  string
	Status      MessageStatus
	Trigger     TriggerType
	Attempts    int       // HTTP tries made so far
	NextAttempt time.Time // when it is due; zero once final
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID         string
	DeliveryID string
	AppID      string
	MsgID      string
	EndpointID string
	URL        string        // the endpoint's, its password masked (MaskURL)
	Status     MessageStatus // StatusSuccess or StatusFail
	Trigger    TriggerType
	StatusCode int    // HTTP status; 0 when no response arrived, and for a broker, which has none
	Response   string // response body excerpt (at most MaxResponseExcerpt bytes), the broker's answer, or the error text
	DurationMS int64
	CreatedAt  time.Time
}

// MaxResponseExcerpt is how much of a receiver's response body an attempt keeps.
const MaxResponseExcerpt = 4096

// Claim is a due delivery leased to one dispatcher, with everything needed to
// send it, so that sending needs no further reads.
type Claim struct {
	Delivery   Delivery
	Message    Message
	Endpoint   Endpoint
	LeaseUntil time.Time
}

// AttemptResult is the outcome of working on one claimed delivery.
type AttemptResult struct {
	DeliveryID string
	// Attempt is the HTTP try made, or nil when none was made (the endpoint
	// was disabled or deleted after the message was accepted).
	Attempt *Attempt
	// Status is the delivery's new status: StatusSuccess, StatusFail, or
	// StatusSending with NextAttempt set.
	Status      MessageStatus
	NextAttempt time.Time
	// Event, when set, is the operational event the result tells of
	// (EventAttemptExhausted, EventAttemptFailing or EventAttemptRecovered),
	// with its application, endpoint and message set; the store records it
	// with the result if it accepts the result, after giving it an ID and
	// the Attempt (SetAttempt).
	Event *OperationalEvent
}

// MessageEndpoint is a message's state at one endpoint (the "attempted
// destinations" of a message).
type MessageEndpoint struct {
	Endpoint    Endpoint
	Status      MessageStatus
	NextAttempt time.Time // zero when none is scheduled
}

// EndpointMessage is one message's state at a given endpoint (the "attempted
// messages" of an endpoint).
type EndpointMessage struct {
	Message     Message
	Status      MessageStatus
	NextAttempt time.Time
}

// EndpointStats counts an endpoint's messages by the status of their latest
// delivery.
type EndpointStats struct {
	Success, Pending, Fail, Sending, Canceled int64
}

// Ordering of a list.
type Ordering int

const (
	OrderDefault    Ordering = iota // each list's documented default
	OrderAscending                  // oldest (or A) first
	OrderDescending                 // newest (or Z) first
)

// ListOptions pages through a list. Iterator is the sort key (an id, or an
// event type's name) of the last item of the previous page; the next page
// starts after it in the list's order. Limit is at most MaxListLimit.
type ListOptions struct {
	Limit    int
	Iterator string
	Order    Ordering
}

// Default and maximum page sizes.
const (
	DefaultListLimit = 50
	MaxListLimit     = 250
)

// Page is one page of a list. Done is true when no item follows the last one.
type Page[T any] struct {
	Data []T
	Done bool
}

// MessageFilter selects messages of an application. Messages list newest first.
type MessageFilter struct {
	ListOptions
	EventTypes []string  // any of these; empty = all
	Channel    string    // "" = any
	Before     time.Time // created strictly before; zero = no bound
	After      time.Time // created strictly after; zero = no bound
}

// AttemptFilter selects attempts of an application. Attempts list newest first.
type AttemptFilter struct {
	ListOptions
	MsgID      string         // "" = any
	EndpointID string         // "" = any
	Status     *MessageStatus // nil = any
	// StatusCodeClass is 0 (no response), 100, 200, 300, 400 or 500; nil = any.
	StatusCodeClass *int
	EventTypes      []string
	Channel         string
	Before          time.Time
	After           time.Time
}

// EndpointMessageFilter selects the messages attempted to one endpoint.
type EndpointMessageFilter struct {
	MessageFilter
	// Status selects by the latest delivery's status; StatusFail takes
	// the cancelled ones too, as the API shows them.
	Status *MessageStatus
}
