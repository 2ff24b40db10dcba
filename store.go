package hookbridge

import (
	"context"
	"time"
)

// Store is everything Hookbridge keeps. Each adapter (sqlite/, postgres/)
// implements it and passes the conformance suite in storetest/.
//
// Conventions every implementation follows:
//
//   - Lookups of a missing entity return an ENOTFOUND *Error; a taken unique
//     value (application uid, endpoint uid within its application, event type
//     name) returns ECONFLICT. Nothing else about the database leaks out.
//   - Application-scoped methods take the application's id (already resolved
//     by GetApplication) and never return rows of another application.
//   - Times are stored with millisecond precision and returned in UTC.
//   - Lists fetch one row more than the limit to know whether they are done.
//   - Methods about a message or an endpoint (lists, stats, Resend,
//     Recover) return ENOTFOUND when it does not exist in the application;
//     they take ids, not uids or event ids.
//   - "The latest delivery" of a message to an endpoint is the one created
//     last (greatest CreatedAt, then greatest id).
//   - A lease has ended at its end time: a delivery leased until t is
//     claimable at now >= t.
type Store interface {
	ApplicationStore
	EventTypeStore
	EndpointStore
	MessageStore
	DeliveryStore
	AttemptStore
	SettingStore
	StatsStore
	RetentionStore
	SourceStore
	IdempotencyStore
	APIKeyStore
	TaskStore
	// Reseal brings the secrets stored (endpoint signing secrets, source
	// credentials) in line with the keys the store was opened with (see
	// package sealed): those sealed with an older key, or not sealed, are
	// sealed with the current one; without keys, it checks that none is
	// sealed. It returns how many rows it changed. What is sealed as it is
	// written and lives a short while (kept Idempotency-Key responses, raw
	// bodies of inbound events) is left as it is.
	Reseal(ctx context.Context) (int, error)
	// StaleSecrets counts the rows whose secrets Reseal would change, or
	// cannot open with the store's keys, and changes nothing: 0 means
	// every secret is sealed with the current key, so that the older keys
	// may be dropped.
	StaleSecrets(ctx context.Context) (int, error)
	// ProbeWrite makes one small write (a setting no one reads) and
	// reports whether the store can write: EUNAVAILABLE when it cannot
	// for a reason that passes (disk full, a read-only file system or
	// database, the database down), another error for anything else.
	// Readiness checks call it, rate-limited: it is a real write.
	ProbeWrite(ctx context.Context) error
	Close() error
}

// ApplicationStore keeps applications. Applications list oldest first by default.
type ApplicationStore interface {
	CreateApplication(ctx context.Context, app *Application) error
	// GetApplication finds an application by id or uid.
	GetApplication(ctx context.Context, idOrUID string) (*Application, error)
	// UpdateApplication replaces the mutable fields (UID, Name, RateLimit,
	// Metadata) of the application with app.ID and sets app.UpdatedAt. An
	// app read from the store (UpdatedAt set) is written only if the
	// application has not changed since, as UpdateEndpoint's ep.
	UpdateApplication(ctx context.Context, app *Application) error
	// DeleteApplication removes the application and everything it owns.
	DeleteApplication(ctx context.Context, id string) error
	ListApplications(ctx context.Context, opt ListOptions) (Page[Application], error)
	// ExpirePortalAccess makes the application's portal tokens (and the
	// portal sessions made from them) issued before issuedBefore stop
	// working at expiresAt. Earlier calls keep their effect: a token ends at
	// the earliest expiresAt of the calls whose issuedBefore is after it.
	// Calls whose issuedBefore is MaxPortalLifetime before this one's are
	// forgotten: every token they covered has ended. ENOTFOUND if the
	// application does not exist.
	ExpirePortalAccess(ctx context.Context, appID string, issuedBefore, expiresAt time.Time) error
	// RevokePortalToken ends, at once and for good, the application's
	// portal token with nonce and the portal sessions made from it (its
	// logout). expiresAt is when the token would have expired: from then
	// on PurgePortalRevocationsBefore may forget the revocation. Revoking
	// a token again changes nothing. The revocation is about a token, not
	// owned by its application: it outlives a deleted application, so that
	// the token stays refused where no application is named. The caller
	// passes a non-empty nonce (every token carries one).
	RevokePortalToken(ctx context.Context, appID, nonce string, expiresAt time.Time) error
	// PortalAccessExpiry says what ends a portal token of the application,
	// issued at issuedAt with nonce, besides its own expiry:
	// ExpirePortalAccess calls that cover it and RevokePortalToken. It is
	// one read, made on every request of a portal token or session.
	PortalAccessExpiry(ctx context.Context, appID string, issuedAt time.Time, nonce string) (PortalExpiry, error)
}

// PortalExpiry is what ends a portal token besides its own expiry (see
// ApplicationStore.PortalAccessExpiry).
type PortalExpiry struct {
	// Ends is when ExpirePortalAccess ends the token: the earliest end of
	// the calls that cover it. Zero when none does.
	Ends time.Time
	// Revoked says RevokePortalToken ended the token: at once, whatever
	// the clocks of the instances say.
	Revoked bool
}

// EventTypeStore keeps the event type catalogue. Event types list by name, A first.
type EventTypeStore interface {
	CreateEventType(ctx context.Context, et *EventType) error
	GetEventType(ctx context.Context, name string) (*EventType, error)
	// UpdateEventType replaces Description, Archived, Deprecated,
	// FeatureFlag, Schemas and RetrySchedule of the event type with et.Name
	// and sets et.UpdatedAt. An et read from the store (UpdatedAt set) is
	// written only if the event type has not changed since, as
	// UpdateEndpoint's ep.
	UpdateEventType(ctx context.Context, et *EventType) error
	// DeleteEventType removes the event type for good (expunge); archiving is
	// an update.
	DeleteEventType(ctx context.Context, name string) error
	ListEventTypes(ctx context.Context, opt ListOptions, includeArchived bool) (Page[EventType], error)
	// MissingEventTypes returns those of names that nothing may subscribe to:
	// not in the catalogue, or archived.
	MissingEventTypes(ctx context.Context, names []string) ([]string, error)
}

// EndpointStore keeps endpoints. Endpoints list oldest first by default.
//
// Each change records its operational event (EventEndpointCreated,
// EventEndpointUpdated, EventEndpointDeleted) in its transaction.
type EndpointStore interface {
	CreateEndpoint(ctx context.Context, ep *Endpoint) error
	// GetEndpoint finds an endpoint of the application by id or uid.
	GetEndpoint(ctx context.Context, appID, idOrUID string) (*Endpoint, error)
	// UpdateEndpoint replaces every mutable field of the endpoint with
	// ep.AppID and ep.ID (UID, URL, Description, EventTypes, Channels,
	// Disabled, RateLimit, Metadata, Headers, Secrets, FIFO) and sets
	// ep.UpdatedAt. FailingSince and PausedUntil belong to the dispatcher
	// and are kept, except that enabling a disabled endpoint clears both.
	//
	// An ep read from the store (UpdatedAt set) is written only if the
	// endpoint has not changed since: otherwise ECONFLICT, and nothing is
	// written. So two requests that each read, change a field and write
	// back cannot undo each other's change (a rotated secret, a disabling
	// by the dispatcher). Every change moves UpdatedAt forward, by a
	// millisecond at least. An ep with UpdatedAt zero is written as it is.
	UpdateEndpoint(ctx context.Context, ep *Endpoint) error
	// DeleteEndpoint removes the endpoint with its deliveries and attempts.
	DeleteEndpoint(ctx context.Context, appID, id string) error
	ListEndpoints(ctx context.Context, appID string, opt ListOptions) (Page[Endpoint], error)
	// PutEndpointMTLS stores the endpoint's client certificate, replacing
	// any, and gives the endpoint a new MTLSVersion (set in m.Version, with
	// m.UpdatedAt). The caller has checked the material.
	PutEndpointMTLS(ctx context.Context, appID, endpointID string, m *EndpointMTLS) error
	// GetEndpointMTLS reads the endpoint's client certificate; ENOTFOUND
	// when the endpoint has none (or is not found).
	GetEndpointMTLS(ctx context.Context, appID, endpointID string) (*EndpointMTLS, error)
	// DeleteEndpointMTLS removes it; ENOTFOUND when there is none.
	DeleteEndpointMTLS(ctx context.Context, appID, endpointID string) error
	// PutEndpointOAuth, GetEndpointOAuth and DeleteEndpointOAuth are the
	// same for the endpoint's OAuth client credentials (OAuthVersion).
	PutEndpointOAuth(ctx context.Context, appID, endpointID string, o *EndpointOAuth) error
	GetEndpointOAuth(ctx context.Context, appID, endpointID string) (*EndpointOAuth, error)
	DeleteEndpointOAuth(ctx context.Context, appID, endpointID string) error
}

// MessageStore keeps messages and fans them out.
type MessageStore interface {
	// CreateMessage stores msg and, in the same transaction, one pending
	// scheduled Delivery (due at msg.CreatedAt) for every endpoint of the
	// application that Accepts it. If msg.EventID is set and the application
	// already has a message with that EventID, nothing is written and the
	// existing message is returned with created == false.
	CreateMessage(ctx context.Context, msg *Message) (stored *Message, created bool, err error)
	// CreateMessages stores several messages in one transaction, each as
	// CreateMessage would (a repeated EventID, within the batch too, yields
	// the stored message and Created == false). Results are in input order.
	// A message whose application does not exist gets ENOTFOUND in its
	// result and the others are stored; any other error fails the batch.
	CreateMessages(ctx context.Context, msgs []*Message) ([]CreateResult, error)
	// CreateMessageTo stores msg and one pending scheduled Delivery to the
	// given endpoint only, whatever its filters say: a test or example event
	// meant for that endpoint alone. msg.EventID is stored but not checked
	// for repeats. ENOTFOUND if the endpoint is not the application's.
	CreateMessageTo(ctx context.Context, msg *Message, endpointID string) error
	// GetMessage finds a message of the application by id or EventID.
	GetMessage(ctx context.Context, appID, idOrEventID string) (*Message, error)
	ListMessages(ctx context.Context, appID string, f MessageFilter) (Page[Message], error)
	// ExpungeMessageContent deletes the payload of a message, keeping the row.
	ExpungeMessageContent(ctx context.Context, appID, msgID string) error
	// ListMessageEndpoints returns, for each endpoint that a message was owed
	// to, its latest delivery state there. Ordered by endpoint id.
	ListMessageEndpoints(ctx context.Context, appID, msgID string, opt ListOptions) (Page[MessageEndpoint], error)
	// ListEndpointMessages returns the messages owed to an endpoint with
	// their latest delivery state there, newest first.
	ListEndpointMessages(ctx context.Context, appID, endpointID string, f EndpointMessageFilter) (Page[EndpointMessage], error)
	// ListScheduledMessages lists the application's scheduled messages
	// that have not gone out yet, newest first, each with its DeliverAt:
	// those whose DeliverAt is after now and that still have a delivery
	// waiting for it (not cancelled).
	ListScheduledMessages(ctx context.Context, appID string, now time.Time, opt ListOptions) (Page[Message], error)
	// CancelMessage cancels the deliveries of a scheduled message (one
	// created with a DeliverAt) that have not been tried and are not being
	// tried at now: they become StatusCanceled, and are never sent. It
	// returns how many it cancelled; ENOTFOUND if the message is not the
	// application's, ECONFLICT if it was not scheduled or has no delivery
	// left to cancel.
	CancelMessage(ctx context.Context, appID, msgID string, now time.Time) (int, error)
	// EndpointStats counts the messages owed to an endpoint and created in
	// [since, until) (zero = unbounded) by their latest delivery status.
	EndpointStats(ctx context.Context, appID, endpointID string, since, until time.Time) (EndpointStats, error)
}

// DeliveryStore is the dispatcher's side of the store: the hot path.
type DeliveryStore interface {
	// ClaimDeliveries leases up to limit deliveries that are due at now (not
	// final, NextAttempt <= now, and not leased, or leased with the lease
	// ended) to owner until now+lease, earliest due first.
	//
	// Endpoints hold deliveries back: a paused endpoint (PausedUntil > now)
	// gets none; a rate-limited one (its RateLimit, else its application's)
	// gets at most RateLimit per second of the clock (each [s, s+1s) window
	// of now, counted in the store, so instances share one budget); a FIFO
	// endpoint gets only its earliest non-final delivery by message id, and
	// only while no other delivery of it is leased.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Claim, error)
	// ClaimDeliveriesSkipping is ClaimDeliveries that leaves the deliveries
	// of the endpoints in skip alone (those this instance has enough of in
	// flight).
	ClaimDeliveriesSkipping(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip []string) ([]Claim, error)
	// RecordEndpointHealth applies the dispatcher's reports in one
	// transaction, in order: a success clears FailingSince; a failure sets
	// it to At unless set; a PauseUntil pauses the endpoint (keeping a
	// later pause) and moves its deliveries that are due earlier and not
	// leased to that time; Gone disables the endpoint; and a failure while
	// FailingSince <= disableBefore (zero: never) disables it too. It
	// returns the endpoints it disabled, each once, and records an
	// EventEndpointDisabled for each in the same transaction.
	RecordEndpointHealth(ctx context.Context, reports []EndpointReport, disableBefore time.Time) ([]DisabledEndpoint, error)
	// RecordAttempts stores the results of claimed deliveries in one
	// transaction: inserts each Attempt, then sets the delivery's status,
	// attempt count and next attempt, and ends its lease. A result whose
	// delivery is no longer leased to owner (another instance took it over,
	// or it was deleted) is dropped whole and its id is returned in rejected.
	// An accepted result's Event is recorded in the same transaction.
	RecordAttempts(ctx context.Context, owner string, results []AttemptResult) (rejected []string, err error)
	// RenewLeases extends owner's leases on the given deliveries to until.
	RenewLeases(ctx context.Context, owner string, deliveryIDs []string, until time.Time) error
	// ReleaseDeliveries ends owner's leases on the given deliveries without
	// recording anything, so they can be claimed again at once.
	ReleaseDeliveries(ctx context.Context, owner string, deliveryIDs []string) error
	// OperationalEvents returns up to limit of the recorded operational
	// events (see OperationalEvent) not deleted yet, oldest first.
	OperationalEvents(ctx context.Context, limit int) ([]OperationalEvent, error)
	// DeleteOperationalEvents deletes the recorded events with these ids;
	// ids it does not find are skipped.
	DeleteOperationalEvents(ctx context.Context, ids []string) error
	// CountOperationalEvents counts the recorded events not deleted yet:
	// more than a moment's worth means they are not being relayed.
	CountOperationalEvents(ctx context.Context) (int64, error)
	// NextDue returns when the earliest non-final delivery is due (for a
	// leased one: when its lease ends, if later), and false if there is none.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Resend adds a manual Delivery of the message to the endpoint, due at
	// now, even if the endpoint no longer subscribes to it.
	Resend(ctx context.Context, appID, msgID, endpointID string, now time.Time) (*Delivery, error)
}

// MaxPortalLifetime is the longest a portal token (and a portal session
// made from it) lasts; ExpirePortalAccess forgets calls older than that.
const MaxPortalLifetime = 7 * 24 * time.Hour

// IdempotencyTTL is how long the response to a request made with an
// Idempotency-Key is kept and given again to a retry with the same key.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyStore keeps the responses to requests made with an
// Idempotency-Key header, so that a retried request is answered as the
// first one was instead of being done twice.
type IdempotencyStore interface {
	// BeginIdempotent records that the request with key, described by
	// fingerprint (its method and path), starts at now, and reports
	// started == true; unless key is recorded already, in which case it
	// returns the record and started == false. A store that one process
	// owns (SQLite) may keep running requests in memory only: they cannot
	// outlive the process that serves them. A record created before
	// expiredBefore counts as absent, and one still running (not Done)
	// since before staleBefore is taken over: its request is taken to
	// have died with its process.
	BeginIdempotent(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (rec *IdempotentRecord, started bool, err error)
	// FinishIdempotent stores the response to the request with key.
	FinishIdempotent(ctx context.Context, key string, status int, body []byte) error
	// ForgetIdempotent removes key, so that a retry runs again (the
	// request failed).
	ForgetIdempotent(ctx context.Context, key string) error
}

// IdempotentRecord is what BeginIdempotent found for a key.
type IdempotentRecord struct {
	Fingerprint string
	Done        bool // the response is stored
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

// Handoff takes deliveries straight from the transaction that creates
// them: a dispatcher in the same process, so that a new message is sent
// without first being claimed back from the store. A store that supports it
// (HandoffStore) asks Reserve, inside its fan-out transaction, for each new
// scheduled delivery due at once to an endpoint that nothing holds back (not
// FIFO, rate-limited or paused); a reserved delivery is written leased to
// Lease's owner, so no claimer takes it. After the commit the store gives
// the reserved deliveries to Take as claims; if they are not committed, to
// Cancel. Every Reserve that says true is followed by exactly one of the
// two. Deliveries not handed over are written unleased, for a claim to
// find: after the commit the store calls Wake if it wrote some it did not
// offer to Reserve (held back by their endpoint, or not due yet), and
// Refused if Reserve refused some, so that the Handoff can see to their
// claim (a dispatcher refuses for want of room, and knows whether its
// claimer will come back for them on its own).
//
// Reserve, Cancel and Take run on the store's write path and must not block
// or call the store. A delivery handed over is as durable as any other: if
// the process dies, its lease ends and another claim takes it.
type Handoff interface {
	// Lease returns the owner and the lease end to write on a delivery
	// handed over at now.
	Lease(now time.Time) (owner string, until time.Time)
	// Reserve asks whether a delivery to the endpoint can be handed over.
	Reserve(endpointID string) bool
	// Take receives the committed claims, in creation order. It must not
	// keep claims (the slice) after it returns: the store reuses it.
	Take(claims []Claim)
	// Cancel gives back reservations whose deliveries were not committed.
	Cancel(endpointIDs []string)
	// Wake says that the transaction just committed wrote deliveries it
	// did not offer to Reserve.
	Wake()
	// Refused says that the transaction just committed wrote deliveries
	// Reserve refused.
	Refused()
}

// HandoffStore is implemented by stores that can hand new deliveries to a
// Handoff. SetHandoff is called once, before the store is used; nil (the
// default) hands nothing over.
type HandoffStore interface {
	SetHandoff(h Handoff)
}

// Listener is implemented by stores that several instances share, through
// which each instance hears of the deliveries the others make due (on
// PostgreSQL, LISTEN/NOTIFY). Listen calls wake whenever any instance using
// the same database commits a write that made deliveries due now, and once
// each time it starts listening (notifications sent while it was not are
// lost), until ctx is done; then it returns nil. wake must not block. A
// store that one process owns has none: its dispatcher is told directly.
//
// endpointIDs, when not empty, are the endpoints of every delivery the
// writes behind one call made due (a wake-up for a few endpoints can then
// be dropped by a dispatcher that would leave them all out of a claim);
// empty means any endpoint. The slice is the callee's.
type Listener interface {
	Listen(ctx context.Context, wake func(endpointIDs []string)) error
}

// ExclusiveRunner is implemented by stores that several instances share,
// to run a job on one instance at a time (retention, the operational
// relay). RunExclusive runs fn unless a job of the same name is running,
// on any instance, and reports whether it ran; jobs of other names are not
// excluded. A store that one process owns has none: the process runs its
// jobs once.
type ExclusiveRunner interface {
	RunExclusive(ctx context.Context, job string, fn func(context.Context) error) (ran bool, err error)
}

// AttemptStore reads the attempt log.
type AttemptStore interface {
	ListAttempts(ctx context.Context, appID string, f AttemptFilter) (Page[Attempt], error)
	GetAttempt(ctx context.Context, appID, msgID, attemptID string) (*Attempt, error)
	// ExpungeAttemptContent deletes the response body of an attempt.
	ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error
}

// SettingStore keeps server-wide settings, such as the admin key's hash.
type SettingStore interface {
	// Setting returns the value of a setting, or ENOTFOUND.
	Setting(ctx context.Context, name string) (string, error)
	// PutSetting stores a setting. With onlyIfAbsent it leaves an existing
	// value alone and reports whether it stored the new one.
	PutSetting(ctx context.Context, name, value string, onlyIfAbsent bool) (stored bool, err error)
}

// StatsStore answers the operator's questions about delivery as a whole: how
// many attempts succeeded and failed over time, and how much work is queued.
type StatsStore interface {
	// AttemptCounts counts the attempts made (by CreatedAt) in [since,
	// until), split by outcome, in buckets of the given width: bucket i
	// covers [since+i*width, since+(i+1)*width). appID "" counts the
	// attempts of every application; endpointID "" those of every endpoint
	// of appID, else only those made to that endpoint of appID. Only
	// buckets with at least one attempt are returned, earliest first.
	AttemptCounts(ctx context.Context, appID, endpointID string, since, until time.Time, width time.Duration) ([]AttemptCount, error)
	// Backlog counts the deliveries that are not final yet, by status, and
	// how many of them are due at now (NextAttempt <= now, leased or not).
	Backlog(ctx context.Context, now time.Time) (Backlog, error)
}

// AttemptCount is one bucket of Store.AttemptCounts.
type AttemptCount struct {
	Start         time.Time // the bucket's first instant
	Success, Fail int64     // attempts with StatusSuccess and StatusFail
}

// Backlog is the queued work of Store.Backlog.
type Backlog struct {
	Pending int64 // not attempted yet (StatusPending)
	Sending int64 // failed at least once, another try scheduled (StatusSending)
	Due     int64 // of those, due at the time asked about
}

// RetentionStore removes what is older than the retention period, so that
// the database stops growing at traffic × retention.
type RetentionStore interface {
	// PurgeBefore deletes up to limit messages created before before whose
	// deliveries are all final (or that have none), together with their
	// deliveries and attempts, and returns how many messages it deleted.
	// A message still being delivered is kept whole until its last
	// delivery is final. Each call is one short transaction; callers
	// repeat it until it deletes fewer than limit.
	PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeInboundBefore deletes up to limit inbound events received, up to
	// limit polling observations seen, and up to limit payment states last
	// changed, before before, and returns how many rows it deleted in all.
	// Sources and their rollout history are kept. Callers repeat it until
	// it deletes fewer than limit.
	PurgeInboundBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeInboundBodiesBefore drops the raw bodies of up to limit inbound
	// events received before before, and returns how many it dropped: the
	// events stay (their key, state, messages and note) until
	// PurgeInboundBefore deletes them. Callers repeat it until it drops
	// fewer than limit.
	PurgeInboundBodiesBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeIdempotentBefore deletes up to limit Idempotency-Key records
	// created before before and returns how many it deleted.
	PurgeIdempotentBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgePortalRevocationsBefore deletes up to limit RevokePortalToken
	// records of tokens that expired before before (their expiresAt) and
	// returns how many it deleted: such a token is refused anyway.
	PurgePortalRevocationsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeTasksBefore deletes up to limit tasks that ended (finished or
	// failed) and were last updated before before, oldest first, and
	// returns how many it deleted; running tasks stay, however old.
	PurgeTasksBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// SourceStore keeps inbound sources, the notifications they received, their
// rollout history and what polling reported. Sources list oldest first;
// inbound events and rollout changes newest first.
type SourceStore interface {
	// CreateSource stores src and records its initial rollout as a
	// RolloutChange by actor, in one transaction.
	CreateSource(ctx context.Context, src *Source, actor string) error
	GetSource(ctx context.Context, id string) (*Source, error)
	// UpdateSource replaces Name, Scheme, Credentials, Tolerance, Routing
	// and StalePolicy of the source with src.ID and sets src.UpdatedAt. The
	// rollout is changed only through SetRollout.
	UpdateSource(ctx context.Context, src *Source) error
	// SetRollout changes the source's rollout and records the change (from
	// the stored rollout, by actor, at now) in one transaction, and returns
	// the updated source. Setting the rollout it already has records
	// nothing.
	SetRollout(ctx context.Context, id string, r Rollout, actor string, now time.Time) (*Source, error)
	// DeleteSource removes the source with its events, rollout history and
	// observations. Messages it forwarded stay.
	DeleteSource(ctx context.Context, id string) error
	ListSources(ctx context.Context, opt ListOptions) (Page[Source], error)
	ListRolloutChanges(ctx context.Context, sourceID string, opt ListOptions) (Page[RolloutChange], error)

	// CreateInboundEvent stores ev unless the source already has an event
	// with ev.EventID; then nothing is written and the stored event is
	// returned with created == false. The check and the insert are one
	// atomic step (a unique index), so concurrent deliveries of one event
	// store it once. ENOTFOUND if the source does not exist.
	//
	// In the same transaction it advances the payment of each of
	// ev.Payments that names one (PaymentState.Advance), the payments'
	// rows locked in the order of their ids, and fills in the steps'
	// Sequence, Previous, Status and Stale, and ev.Stale. A stale event to
	// be forwarded (Forward) from a source whose StalePolicy is StaleHold
	// is held: Held is set, Forward cleared, and the note says so. So two
	// events of one payment stored at the same instant, on two instances,
	// get two sequence numbers and one order. The body is sealed (see
	// package sealed) when the store has keys.
	CreateInboundEvent(ctx context.Context, ev *InboundEvent) (stored *InboundEvent, created bool, err error)
	// GetInboundEvent finds an event of the source by id; ENOTFOUND if
	// either does not exist.
	GetInboundEvent(ctx context.Context, sourceID, id string) (*InboundEvent, error)
	// ReleaseInboundEvent releases a held event at now, by actor: it is no
	// longer held, is to be forwarded (Forward), and records ReleasedAt
	// and ReleasedBy; the caller then forwards it. An event released
	// before is returned as it is (a retried release); one never held is
	// ECONFLICT. ENOTFOUND if the source or the event does not exist.
	ReleaseInboundEvent(ctx context.Context, sourceID, id, actor string, now time.Time) (*InboundEvent, error)
	// SetInboundMessages records the canonical messages the event with id
	// was forwarded as.
	SetInboundMessages(ctx context.Context, sourceID, id string, msgIDs []string) error
	ListInboundEvents(ctx context.Context, sourceID string, f InboundFilter) (Page[InboundEvent], error)
	// GetPaymentState returns what the source's events said of the
	// payment; ENOTFOUND when none concerned it.
	GetPaymentState(ctx context.Context, sourceID, paymentID string) (*PaymentState, error)

	// AddObservations stores what polling saw; an event already observed
	// for the source keeps its first observation. It returns how many were
	// new. ENOTFOUND if the source does not exist.
	AddObservations(ctx context.Context, sourceID string, obs []Observation) (int, error)
	// CompareObservations compares the events that arrived by webhook
	// (ReceivedAt) or were seen by polling (SeenAt) in [since, until).
	CompareObservations(ctx context.Context, sourceID string, since, until time.Time) (Comparison, error)

	// GetBackfillState returns what the source's backfill has done: the
	// zero state (with SourceID) when it never ran. ENOTFOUND if the
	// source does not exist.
	GetBackfillState(ctx context.Context, sourceID string) (*BackfillState, error)
	// RecordBackfillRun adds one run, described by run, to the state of
	// run.SourceID, in one atomic step (runs on two instances, or an
	// on-demand run beside the periodic one, both count): the counts are
	// added, LastRunAt and LastError replaced, LastSuccessAt replaced
	// unless zero, and HighWater moved forward to run's if that is later.
	// ENOTFOUND if the source does not exist.
	RecordBackfillRun(ctx context.Context, run *BackfillState) error
}
