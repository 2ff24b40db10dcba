package storekit

import (
	"context"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Driver is what a store package gives Store: its queries, one method a
// statement or a short transaction, with the database's answer as it is
// (a driver's "no rows" is sql.ErrNoRows, its constraint errors are
// marked, see Mark). Methods named after an entity and a verb, as River's
// riverdriver names them, so that they do not collide with the
// hookbridge.Store methods they serve. A List method fetches limit+1 rows
// of its page (see ListOptions for the keyset).
type Driver interface {
	ApplicationInsert(ctx context.Context, app *hookbridge.Application) error
	// ApplicationGet reads the application with id key (byID) or uid key.
	ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error)
	// ApplicationUpdate writes app's mutable fields and sets app.CreatedAt
	// and UpdatedAt from the row. With app.UpdatedAt set, it writes only if
	// the row's updated_at is still that, and is ErrStale if the row is
	// there but changed. The new updated_at is now, or a millisecond past
	// the old one if now is not later, so that every change moves it.
	ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) error
	ApplicationDelete(ctx context.Context, id string) (deleted int64, err error)
	ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error)

	EventTypeInsert(ctx context.Context, et *hookbridge.EventType) error
	EventTypeGet(ctx context.Context, name string) (hookbridge.EventType, error)
	// EventTypeUpdate writes et's mutable fields and sets et.CreatedAt and
	// UpdatedAt from the row, with et.UpdatedAt as ApplicationUpdate's
	// app.UpdatedAt.
	EventTypeUpdate(ctx context.Context, et *hookbridge.EventType, now time.Time) error
	EventTypeDelete(ctx context.Context, name string) (deleted int64, err error)
	EventTypeList(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool, limit int) ([]hookbridge.EventType, error)
	// EventTypeKnown returns those of names in the catalogue, not archived.
	EventTypeKnown(ctx context.Context, names []string) ([]string, error)

	// EndpointInsert inserts ep and records its EventEndpointCreated, in
	// one transaction; a missing application is ENOTFOUND or ErrMissingRef.
	EndpointInsert(ctx context.Context, ep *hookbridge.Endpoint) error
	// EndpointGet reads the application's endpoint with id (byID) or uid key.
	EndpointGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Endpoint, error)
	// EndpointUpdate writes ep's mutable fields, keeping the dispatcher's
	// (FailingSince, PausedUntil) except that enabling a disabled endpoint
	// clears them, and records its EventEndpointUpdated at now; it sets
	// ep.CreatedAt, UpdatedAt, FailingSince and PausedUntil from the row.
	// With ep.UpdatedAt set, it writes only if the row's updated_at is
	// still that, and is ErrStale if the row is there but changed. The new
	// updated_at is now, or a millisecond past the old one if now is not
	// later, so that every change moves it.
	EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error
	// EndpointDelete deletes the endpoint (the foreign keys cascade to its
	// deliveries and attempts) and records its EventEndpointDeleted at now.
	EndpointDelete(ctx context.Context, appID, id string, now time.Time) error
	EndpointList(ctx context.Context, appID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.Endpoint, error)
	// EndpointMTLSPut writes the application's endpoint's client
	// certificate, with its key as sealedKey (m.KeyPEM is not stored), and
	// gives the endpoint its next mtls_version (see endpointauth.go), which it
	// returns, and records the endpoint's EventEndpointUpdated at now, in
	// one transaction; a missing endpoint is "no rows".
	EndpointMTLSPut(ctx context.Context, appID, endpointID string, m *hookbridge.EndpointMTLS, sealedKey string, now time.Time) (version int64, err error)
	// EndpointMTLSGet reads it, KeyPEM as stored (sealed).
	EndpointMTLSGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointMTLS, error)
	// EndpointOAuthPut and EndpointOAuthGet are the same for the
	// endpoint's OAuth client credentials (endpoint_oauth, oauth_version),
	// the secret as sealedSecret.
	EndpointOAuthPut(ctx context.Context, appID, endpointID string, o *hookbridge.EndpointOAuth, sealedSecret string, now time.Time) (version int64, err error)
	EndpointOAuthGet(ctx context.Context, appID, endpointID string) (hookbridge.EndpointOAuth, error)
	// EndpointAuthDelete deletes the application's endpoint's row of
	// a.Table and, when there was one, negates the endpoint's
	// a.VersionColumn and records EventEndpointUpdated at now, in one
	// transaction; deleted is 0 (and nothing recorded) when there was none.
	EndpointAuthDelete(ctx context.Context, a EndpointAuth, appID, endpointID string, now time.Time) (deleted int64, err error)

	AttemptList(ctx context.Context, appID string, f hookbridge.AttemptFilter, limit int) ([]hookbridge.Attempt, error)
	AttemptGet(ctx context.Context, appID, msgID, attemptID string) (hookbridge.Attempt, error)
	// AttemptExpunge empties the attempt's response body.
	AttemptExpunge(ctx context.Context, appID, msgID, attemptID string) (changed int64, err error)
	// AttemptBuckets counts the attempts made in [since, until), by the
	// bucket of width widthMS (counted from since) they fall in and by
	// outcome, for appID and endpointID ("": all); buckets in order, empty
	// ones left out.
	AttemptBuckets(ctx context.Context, appID, endpointID string, since, until time.Time, widthMS int64) ([]Bucket, error)

	// SettingGet reads a setting's stored (sealed) value.
	SettingGet(ctx context.Context, name string) (string, error)
	// SettingPut stores a setting's sealed value, unless onlyIfAbsent and
	// it has one, and returns how many rows it wrote.
	SettingPut(ctx context.Context, name, value string, onlyIfAbsent bool, now time.Time) (stored int64, err error)

	// DeliveryBacklog counts the non-final deliveries by status, and those
	// due at now.
	DeliveryBacklog(ctx context.Context, now time.Time) ([]StatusCount, error)

	// MessagePurge deletes up to limit messages created before before
	// whose deliveries are all final, oldest first, with their deliveries
	// and attempts.
	MessagePurge(ctx context.Context, before time.Time, limit int) (int, error)
	// InboundPurge deletes up to limit inbound events received, up to
	// limit observations seen, and up to limit payment states last
	// changed, before before, and returns how many rows it deleted.
	InboundPurge(ctx context.Context, before time.Time, limit int) (int, error)
	// IdempotentPurge deletes up to limit Idempotency-Key records created
	// before before, oldest first.
	IdempotentPurge(ctx context.Context, before time.Time, limit int) (int, error)
	// IdempotentBegin, IdempotentFinish (the body sealed for the key) and
	// IdempotentForget are hookbridge.IdempotencyStore's.
	IdempotentBegin(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error)
	IdempotentFinish(ctx context.Context, key string, status int, sealedBody []byte) error
	IdempotentForget(ctx context.Context, key string) error

	// OperationalEventList reads up to limit recorded events, oldest first,
	// as the JSON EncodeEvent made.
	OperationalEventList(ctx context.Context, limit int) ([][]byte, error)
	OperationalEventDelete(ctx context.Context, ids []string) error
	OperationalEventCount(ctx context.Context) (int64, error)

	// SourceInsert inserts src, its credentials as sealed, and records its
	// initial rollout as a change by actor, in one transaction.
	SourceInsert(ctx context.Context, src *hookbridge.Source, sealedCreds []byte, actor string) error
	SourceGet(ctx context.Context, id string) (hookbridge.Source, error)
	// SourceUpdate writes src's configuration, its credentials as sealed,
	// updated at now, leaving its rollout.
	SourceUpdate(ctx context.Context, src *hookbridge.Source, sealedCreds []byte, now time.Time) (changed int64, err error)
	// SourceSetRollout reads the source (locked, where the database locks)
	// and applies ChangeRollout to it, in one transaction; it returns the
	// source as it stays.
	SourceSetRollout(ctx context.Context, id string, r hookbridge.Rollout, actor string, now time.Time) (hookbridge.Source, error)
	// SourceDelete deletes the source; its events, rollout history and
	// observations go with it.
	SourceDelete(ctx context.Context, id string) (deleted int64, err error)
	SourceList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Source, error)
	// RolloutChangeList reads a page of the source's changes by id; a
	// missing source is ENOTFOUND.
	RolloutChangeList(ctx context.Context, sourceID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.RolloutChange, error)
	// InboundEventInsert inserts ev, its body as sealedBody, unless its
	// source has its EventID (a unique index decides, atomically), and
	// then reads the stored one; a missing source is ENOTFOUND or
	// ErrMissingRef. When it inserts ev and settle is not nil, it calls
	// settle in the same transaction, after the insert, with the source's
	// stale policy and the transaction, and then writes what settle
	// changed: ev's Payments, Stale, Held, Forward and Note (see Settle).
	InboundEventInsert(ctx context.Context, ev *hookbridge.InboundEvent, sealedBody []byte,
		settle func(policy hookbridge.StalePolicy, tx PaymentTx) error) (stored hookbridge.InboundEvent, created bool, err error)
	// InboundEventGet reads the source's event with id, its body as
	// stored (sealed).
	InboundEventGet(ctx context.Context, sourceID, id string) (hookbridge.InboundEvent, error)
	// InboundEventRelease reads the source's event with id (locked, where
	// the database locks) and calls release on it, in one transaction;
	// when release says so, it writes the event's Held, Forward,
	// ReleasedAt and ReleasedBy. It returns the event as it stays.
	InboundEventRelease(ctx context.Context, sourceID, id string, release func(ev *hookbridge.InboundEvent) (bool, error)) (hookbridge.InboundEvent, error)
	InboundEventSetMessages(ctx context.Context, sourceID, id string, msgIDs []string) (changed int64, err error)
	// InboundEventList reads a page of the source's events by id (only
	// the held ones with f.Held); a missing source is ENOTFOUND.
	InboundEventList(ctx context.Context, sourceID string, f hookbridge.InboundFilter, limit int) ([]hookbridge.InboundEvent, error)
	// InboundBodyPurge drops the bodies of up to limit events received
	// before before whose body is kept, oldest first, marking them
	// dropped at now.
	InboundBodyPurge(ctx context.Context, before time.Time, limit int, now time.Time) (int, error)
	// PaymentStateGet reads the state of the source's payment.
	PaymentStateGet(ctx context.Context, sourceID, paymentID string) (hookbridge.PaymentState, error)
	// ObservationInsert stores what polling saw, keeping an event's first
	// observation, and returns how many were new; a missing source is
	// ENOTFOUND.
	ObservationInsert(ctx context.Context, sourceID string, obs []hookbridge.Observation) (int, error)
	// ObservationCompare is hookbridge.SourceStore's CompareObservations.
	ObservationCompare(ctx context.Context, sourceID string, since, until time.Time) (hookbridge.Comparison, error)
	// BackfillStateGet reads the source's backfill state (the zero state
	// with SourceID when it never ran); no rows when the source does not
	// exist.
	BackfillStateGet(ctx context.Context, sourceID string) (hookbridge.BackfillState, error)
	// BackfillRunAdd adds run to the source's state as RecordBackfillRun
	// says, inserting its row if there is none, in one statement.
	BackfillRunAdd(ctx context.Context, run *hookbridge.BackfillState) error

	// MessageCreate, MessageCreateBatch and MessageCreateTo are
	// hookbridge.MessageStore's CreateMessage, CreateMessages and
	// CreateMessageTo, the messages' defaults filled in: the fan-out, with
	// the handoff, grouped as the database does it best.
	MessageCreate(ctx context.Context, msg *hookbridge.Message) (stored *hookbridge.Message, created bool, err error)
	MessageCreateBatch(ctx context.Context, msgs []*hookbridge.Message) ([]hookbridge.CreateResult, error)
	MessageCreateTo(ctx context.Context, msg *hookbridge.Message, endpointID string) error
	// MessageGet reads the application's message with id (byID) or event
	// id key.
	MessageGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Message, error)
	MessageList(ctx context.Context, appID string, f hookbridge.MessageFilter, limit int) ([]hookbridge.Message, error)
	// MessageScheduledList reads a page of the application's messages
	// with a deliver_at after now and a pending delivery, by id, each with
	// its DeliverAt.
	MessageScheduledList(ctx context.Context, appID string, now time.Time, opt hookbridge.ListOptions, limit int) ([]hookbridge.Message, error)
	// MessageCancel cancels, in one transaction, the deliveries of the
	// application's message that are pending, scheduled, untried and not
	// leased at now (status canceled, no next attempt, no lease), if the
	// message has a deliver_at. It returns whether the message has one
	// and how many it cancelled; a missing message is "no rows".
	MessageCancel(ctx context.Context, appID, msgID string, now time.Time) (scheduled bool, canceled int64, err error)
	// MessageExpunge deletes the message's payload, keeping the row.
	MessageExpunge(ctx context.Context, appID, msgID string) (changed int64, err error)
	// MessageEndpointList reads a page of the endpoints the message was
	// owed to, by endpoint id, with their latest delivery's state; a
	// missing message is ENOTFOUND.
	MessageEndpointList(ctx context.Context, appID, msgID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.MessageEndpoint, error)
	// EndpointMessageList reads a page of the messages owed to the
	// endpoint, by message id, with their latest delivery's state there; a
	// missing endpoint is ENOTFOUND.
	EndpointMessageList(ctx context.Context, appID, endpointID string, f hookbridge.EndpointMessageFilter, limit int) ([]hookbridge.EndpointMessage, error)
	// EndpointStatusCounts counts the messages owed to the endpoint and
	// created in [since, until) (zero: unbounded) by their latest
	// delivery's status; a missing endpoint is ENOTFOUND.
	EndpointStatusCounts(ctx context.Context, appID, endpointID string, since, until time.Time) ([]StatusCount, error)

	// DeliveryClaim leases up to limit (> 0) due deliveries to owner until
	// until, as hookbridge.DeliveryStore's ClaimDeliveriesSkipping says,
	// in any order.
	DeliveryClaim(ctx context.Context, owner string, now, until time.Time, limit int, skip []string) ([]hookbridge.Claim, error)
	// DeliveryRecord records a checked, non-empty batch of results (their
	// attempts' and events' defaults filled in) at now, as
	// hookbridge.DeliveryStore's RecordAttempts says, rejecting a result
	// that repeats a delivery of the batch; an accepted attempt is stored
	// with its delivery's application, message, endpoint and trigger,
	// whatever the Attempt says.
	DeliveryRecord(ctx context.Context, owner string, results []hookbridge.AttemptResult, now time.Time) (rejected []string, err error)
	// EndpointHealthRecord applies a non-empty batch of reports in one
	// transaction (see ApplyReports).
	EndpointHealthRecord(ctx context.Context, reports []hookbridge.EndpointReport, disableBefore time.Time) ([]hookbridge.DisabledEndpoint, error)
	DeliveryRenew(ctx context.Context, owner string, deliveryIDs []string, until time.Time) error
	DeliveryRelease(ctx context.Context, owner string, deliveryIDs []string) error
	DeliveryNextDue(ctx context.Context) (time.Time, bool, error)
	// DeliveryResend inserts d, a ManualDelivery, if both its message and
	// its endpoint are its application's (else ENOTFOUND), setting the
	// times the database gives it.
	DeliveryResend(ctx context.Context, d *hookbridge.Delivery) error

	// PortalExpire records, in one transaction, that the application's
	// portal tokens issued before issuedBefore end at expiresAt, and
	// forgets the records whose issuedBefore is before forgetBefore; a
	// missing application is ENOTFOUND or ErrMissingRef.
	PortalExpire(ctx context.Context, appID string, forgetBefore, issuedBefore, expiresAt time.Time) error
	// PortalRevoke records that the application's token with nonce was
	// logged out, until expiresAt; a second record of it changes nothing.
	PortalRevoke(ctx context.Context, appID, nonce string, expiresAt time.Time) error
	// PortalRevocationsPurge deletes up to limit revocations of tokens
	// that expired before before, oldest first.
	PortalRevocationsPurge(ctx context.Context, before time.Time, limit int) (int, error)
	// PortalExpiry says, in one read, what ends the token issued at
	// issuedAt with nonce: the earliest end recorded for tokens issued
	// then (zero if none), and whether it was logged out.
	PortalExpiry(ctx context.Context, appID string, issuedAt time.Time, nonce string) (hookbridge.PortalExpiry, error)

	// APIKeyInsert inserts k as it is.
	APIKeyInsert(ctx context.Context, k *hookbridge.APIKey) error
	APIKeyGet(ctx context.Context, id string) (hookbridge.APIKey, error)
	APIKeyList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.APIKey, error)
	// APIKeyRotate sets the key's hash and updated_at, and returns the
	// key; a missing one is sql.ErrNoRows.
	APIKeyRotate(ctx context.Context, id, hash string, now time.Time) (hookbridge.APIKey, error)
	APIKeyDelete(ctx context.Context, id string) (int64, error)
	// APIKeyTouch sets the key's last_used_at to at if it is unset or
	// before before.
	APIKeyTouch(ctx context.Context, id string, at, before time.Time) error

	// SecretsReseal runs reseal in one write transaction, which it commits
	// if reseal returns nil.
	SecretsReseal(ctx context.Context, reseal func(tx ResealTx) error) error

	// TaskInsert inserts t as it is, its Selection as sel (its JSON, see
	// TaskRow); ENOTFOUND (endpoint) if its endpoint is not its
	// application's.
	TaskInsert(ctx context.Context, t *hookbridge.Task, sel []byte) error
	TaskGet(ctx context.Context, id string) (TaskRow, error)
	// TaskList reads up to limit+1 tasks matching f by id, newest first
	// by default.
	TaskList(ctx context.Context, f hookbridge.TaskFilter, limit int) ([]TaskRow, error)
	// TaskClaim leases the oldest running task not held at now to owner
	// until until; found is false when there is none.
	TaskClaim(ctx context.Context, owner string, now, until time.Time) (t TaskRow, found bool, err error)
	// TaskMessages reads the next page of t.Selection after t.Cursor, by
	// id, its Missing and Status conditions applied in SQL: at most limit
	// messages, and last, the id to go on from ("" when nothing was left
	// to read). A page may hold fewer than limit, none even, and not be
	// the last: a driver may read limit messages and keep those the
	// conditions select.
	TaskMessages(ctx context.Context, t hookbridge.Task, limit int) (msgs []hookbridge.Message, last string, err error)
	// TaskAdvance, in one transaction, checks that owner holds the
	// running task t (held false, nothing written, if not), that its
	// endpoint exists when ds is not empty (ENOTFOUND), inserts the manual deliveries ds whose
	// message still exists, and sets the task's cursor, total, status,
	// error and updated_at from t, its done to done plus the deliveries
	// inserted (read back into t.Done), its updated_at to t.UpdatedAt or,
	// where the deliveries' creation times come from the database's clock,
	// to the later of that and the database's time after the inserts
	// (read back into t.UpdatedAt), and its lease to leaseUntil while
	// it is running, none after.
	TaskAdvance(ctx context.Context, owner string, t *hookbridge.Task, ds []hookbridge.Delivery, leaseUntil time.Time) (held bool, err error)
	TaskRelease(ctx context.Context, owner, id string) error
	// TaskCancel sets the running task with id failed with error reason,
	// updated at now, with no lease, and returns it; found is false, and
	// nothing written, if no running task has id.
	TaskCancel(ctx context.Context, id string, now time.Time, reason string) (t TaskRow, found bool, err error)
	// TaskPurge deletes up to limit tasks not running whose updated_at is
	// before before, oldest first, and returns how many.
	TaskPurge(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Bucket is one bucket of Driver.AttemptBuckets.
// TaskRow is a task as a driver reads it: Selection is left for the
// store to decode from Sel, the JSON it was given at TaskInsert.
type TaskRow struct {
	hookbridge.Task
	Sel []byte
}

type Bucket struct {
	Index         int64 // from since, in widths
	Success, Fail int64
}

// StatusCount is how many deliveries (or messages) have a status, and how
// many of them are due.
type StatusCount struct {
	Status hookbridge.MessageStatus
	N, Due int64
}
