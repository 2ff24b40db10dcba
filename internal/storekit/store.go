package storekit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sealed"
)

// Store is hookbridge.Store over a Driver: each method applies the
// contract's rules (defaults, paging, error answers) here, once, and runs
// the driver's queries for the rest. A store package embeds it
// (sqlite.Store, postgres.Store) and gives it its driver.
type Store struct {
	d       Driver
	now     func() time.Time
	keys    *sealed.Keyring
	filters filterCache // the endpoints' compiled filters (filter.go)
}

// New returns the Store over d; now is the store's clock, which fills in
// the times a caller leaves unset, and keys seal the secrets it keeps (nil:
// none is sealed; see package sealed).
func New(d Driver, now func() time.Time, keys *sealed.Keyring) *Store {
	return &Store{d: d, now: now, keys: keys}
}

// Applications.

// CreateApplication stores app, filling in its ID and times if unset.
func (s *Store) CreateApplication(ctx context.Context, app *hookbridge.Application) error {
	newApplication(app, s.now())
	return Err(s.d.ApplicationInsert(ctx, app), "application", applicationUIDTaken(app.UID), "create application")
}

// GetApplication finds an application by id or uid (see lookup).
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	return lookup(idOrUID, hookbridge.PrefixApplication, "application", func(byID bool) (hookbridge.Application, error) {
		return s.d.ApplicationGet(ctx, byID, idOrUID)
	})
}

// UpdateApplication replaces the mutable fields of the application with
// app.ID, if it is as read (app.UpdatedAt, see hookbridge.Store), and sets
// app.UpdatedAt and CreatedAt from the stored row.
func (s *Store) UpdateApplication(ctx context.Context, app *hookbridge.Application) error {
	if err := s.d.ApplicationUpdate(ctx, app, TruncMS(s.now())); err != nil {
		if errors.Is(err, ErrStale) {
			return staleConflict("application", app.ID)
		}
		return Err(err, "application", applicationUIDTaken(app.UID), "update application %s", app.ID)
	}
	return nil
}

// staleConflict is the error of a conditional update whose row changed
// since the caller read it.
func staleConflict(what, id string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT,
		"%s %s was changed by another request since it was read: read it again and retry", what, id)
}

// DeleteApplication removes the application and everything it owns.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	n, err := s.d.ApplicationDelete(ctx, id)
	return oneChanged(n, err, "application", "delete application %s", id)
}

// ListApplications pages through applications by id, oldest first by
// default.
func (s *Store) ListApplications(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Application], error) {
	return list(opt, "list applications", func(limit int) ([]hookbridge.Application, error) {
		return s.d.ApplicationList(ctx, opt, limit)
	})
}

// list runs a list query for one page: the driver fetches limit+1 rows.
func list[T any](opt hookbridge.ListOptions, op string, query func(limit int) ([]T, error)) (hookbridge.Page[T], error) {
	limit := pageLimit(opt.Limit)
	rows, err := query(limit)
	if err != nil {
		return hookbridge.Page[T]{}, Err(err, "", nil, "%s", op)
	}
	return page(rows, limit), nil
}

// one is the answer of a lookup of one what: the row, or the error as Err
// makes it.
func one[T any](v T, err error, what, format string, args ...any) (*T, error) {
	if err != nil {
		return nil, Err(err, what, nil, format, args...)
	}
	return &v, nil
}

// Event types.

// CreateEventType adds et to the catalogue, filling in its times if unset.
func (s *Store) CreateEventType(ctx context.Context, et *hookbridge.EventType) error {
	newEventType(et, s.now())
	return Err(s.d.EventTypeInsert(ctx, et), "event type", eventTypeTaken(et.Name), "create event type %s", et.Name)
}

// GetEventType finds an event type by name, archived or not.
func (s *Store) GetEventType(ctx context.Context, name string) (*hookbridge.EventType, error) {
	et, err := s.d.EventTypeGet(ctx, name)
	return one(et, err, "event type", "get event type %s", name)
}

// UpdateEventType replaces the mutable fields of the event type with
// et.Name, if it is as read (et.UpdatedAt, see hookbridge.Store), and sets
// et.UpdatedAt and CreatedAt from the stored row.
func (s *Store) UpdateEventType(ctx context.Context, et *hookbridge.EventType) error {
	if err := s.d.EventTypeUpdate(ctx, et, TruncMS(s.now())); err != nil {
		if errors.Is(err, ErrStale) {
			return staleConflict("event type", et.Name)
		}
		return Err(err, "event type", nil, "update event type %s", et.Name)
	}
	return nil
}

// DeleteEventType removes the event type for good. Messages of that type
// keep their type name.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	n, err := s.d.EventTypeDelete(ctx, name)
	return oneChanged(n, err, "event type", "delete event type %s", name)
}

// ListEventTypes pages through the catalogue by name, A first by default.
func (s *Store) ListEventTypes(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool) (hookbridge.Page[hookbridge.EventType], error) {
	return list(opt, "list event types", func(limit int) ([]hookbridge.EventType, error) {
		return s.d.EventTypeList(ctx, opt, includeArchived, limit)
	})
}

// MissingEventTypes returns, in the order given and without repeats, the
// names that are not in the catalogue or are archived: those nothing may
// subscribe to, as in Svix.
func (s *Store) MissingEventTypes(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known, err := s.d.EventTypeKnown(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("missing event types: %w", err)
	}
	return missingEventTypes(names, known), nil
}

// Endpoints.

// CreateEndpoint stores ep, filling in its ID and times if unset. The
// application must exist.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	newEndpoint(ep, s.now())
	if err := s.checkFilter(ep); err != nil {
		return err
	}
	err := missingParent(s.d.EndpointInsert(ctx, ep), "application")
	return Err(err, "endpoint", endpointUIDTaken(ep.UID), "create endpoint")
}

// GetEndpoint finds an endpoint of the application by id or uid (see
// lookup).
func (s *Store) GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error) {
	return lookup(idOrUID, hookbridge.PrefixEndpoint, "endpoint", func(byID bool) (hookbridge.Endpoint, error) {
		return s.d.EndpointGet(ctx, appID, byID, idOrUID)
	})
}

// UpdateEndpoint replaces every mutable field of the endpoint with ep.AppID
// and ep.ID, and sets ep.UpdatedAt (and ep.CreatedAt, FailingSince and
// PausedUntil, from the stored row). Deliveries already owed to the
// endpoint are kept: subscriptions apply at ingest.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	now := TruncMS(s.now())
	truncSecrets(ep)
	if err := s.checkFilter(ep); err != nil {
		return err
	}
	if err := s.d.EndpointUpdate(ctx, ep, now); err != nil {
		if errors.Is(err, ErrStale) {
			return staleConflict("endpoint", ep.ID)
		}
		return Err(err, "endpoint", endpointUIDTaken(ep.UID), "update endpoint %s", ep.ID)
	}
	return nil
}

// DeleteEndpoint removes the endpoint with its deliveries and attempts.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
	s.filters.forget(id)
	return Err(s.d.EndpointDelete(ctx, appID, id, TruncMS(s.now())), "endpoint", nil, "delete endpoint %s", id)
}

// ListEndpoints pages through the application's endpoints by id, oldest
// first by default.
func (s *Store) ListEndpoints(ctx context.Context, appID string, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Endpoint], error) {
	return list(opt, "list endpoints", func(limit int) ([]hookbridge.Endpoint, error) {
		return s.d.EndpointList(ctx, appID, opt, limit)
	})
}

// Attempts.

// ListAttempts pages through the application's attempts by id, newest
// first by default.
func (s *Store) ListAttempts(ctx context.Context, appID string, f hookbridge.AttemptFilter) (hookbridge.Page[hookbridge.Attempt], error) {
	return list(f.ListOptions, "list attempts", func(limit int) ([]hookbridge.Attempt, error) {
		return s.d.AttemptList(ctx, appID, f, limit)
	})
}

// GetAttempt finds an attempt of the application's message.
func (s *Store) GetAttempt(ctx context.Context, appID, msgID, attemptID string) (*hookbridge.Attempt, error) {
	a, err := s.d.AttemptGet(ctx, appID, msgID, attemptID)
	return one(a, err, "attempt", "get attempt %s", attemptID)
}

// ExpungeAttemptContent deletes the response body of an attempt, keeping
// the row.
func (s *Store) ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error {
	n, err := s.d.AttemptExpunge(ctx, appID, msgID, attemptID)
	return oneChanged(n, err, "attempt", "expunge attempt %s", attemptID)
}

// Settings.

// Setting returns the value of a server-wide setting, or ENOTFOUND. Values
// are sealed with the store's keys, like other secrets: some are keys.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	v, err := s.d.SettingGet(ctx, name)
	return openSetting(s.keys, name, v, err)
}

// PutSetting stores a setting. With onlyIfAbsent an existing value is kept,
// which makes "first start wins" (e.g. generating the admin key) safe when
// several processes start at once.
func (s *Store) PutSetting(ctx context.Context, name, value string, onlyIfAbsent bool) (bool, error) {
	n, err := s.d.SettingPut(ctx, name, s.keys.Seal(value, name), onlyIfAbsent, TruncMS(s.now()))
	if err != nil {
		return false, fmt.Errorf("put setting %s: %w", name, err)
	}
	return n > 0, nil
}

// writeProbeSetting names the setting ProbeWrite writes: never read.
const writeProbeSetting = "write_probe"

// ProbeWrite writes the time into a setting no one reads: the cheapest
// write that goes the way every write goes (SQLite's writer and its
// journal, PostgreSQL's primary), so that it fails when they would.
func (s *Store) ProbeWrite(ctx context.Context) error {
	now := TruncMS(s.now())
	_, err := s.d.SettingPut(ctx, writeProbeSetting, s.keys.Seal(now.Format(time.RFC3339Nano), writeProbeSetting), false, now)
	if err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	return nil
}

// Stats.

// AttemptCounts counts the attempts made in [since, until) per bucket of
// width, by outcome, for one application or (appID "") for all, and for
// one endpoint of it or (endpointID "") for all.
func (s *Store) AttemptCounts(ctx context.Context, appID, endpointID string, since, until time.Time, width time.Duration) ([]hookbridge.AttemptCount, error) {
	widthMS, ok, err := checkBuckets(since, until, width)
	if !ok {
		return nil, err
	}
	buckets, err := s.d.AttemptBuckets(ctx, appID, endpointID, since, until, widthMS)
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	var out []hookbridge.AttemptCount
	for _, b := range buckets {
		out = append(out, hookbridge.AttemptCount{Start: bucketStart(since, widthMS, b.Index), Success: b.Success, Fail: b.Fail})
	}
	return out, nil
}

// Backlog counts the deliveries not final yet, by status, and those due at
// now.
func (s *Store) Backlog(ctx context.Context, now time.Time) (hookbridge.Backlog, error) {
	counts, err := s.d.DeliveryBacklog(ctx, now)
	if err != nil {
		return hookbridge.Backlog{}, fmt.Errorf("backlog: %w", err)
	}
	var b hookbridge.Backlog
	for _, c := range counts {
		countBacklog(&b, c.Status, c.N, c.Due)
	}
	return b, nil
}

// Retention.

// PurgeBefore deletes up to limit messages created before before whose
// deliveries are all final (or that have none), oldest first, with their
// deliveries and attempts, and returns how many messages it deleted.
func (s *Store) PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.MessagePurge(ctx, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// PurgeInboundBefore deletes up to limit inbound events received before
// before, up to limit observations seen before it, and up to limit payment
// states last changed before it.
func (s *Store) PurgeInboundBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.InboundPurge(ctx, before, limit)
	if err != nil {
		return n, fmt.Errorf("purge inbound before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// PurgeInboundBodiesBefore drops the raw bodies of up to limit inbound
// events received before before, keeping the events.
func (s *Store) PurgeInboundBodiesBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.InboundBodyPurge(ctx, before, limit, TruncMS(s.now()))
	if err != nil {
		return n, fmt.Errorf("drop inbound bodies before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// PurgeIdempotentBefore deletes up to limit Idempotency-Key records created
// before before, oldest first.
func (s *Store) PurgeIdempotentBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.IdempotentPurge(ctx, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}

// Idempotency-Key records: the driver keeps them as its database allows
// (see hookbridge.IdempotencyStore); the responses are sealed for their
// key, like other secrets.

// BeginIdempotent records that the request with key starts, or returns the
// record of the key.
func (s *Store) BeginIdempotent(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error) {
	return s.d.IdempotentBegin(ctx, key, fingerprint, now, staleBefore, expiredBefore)
}

// FinishIdempotent stores the response to the request with key.
func (s *Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	return s.d.IdempotentFinish(ctx, key, status, s.keys.SealBytes(body, key))
}

// ForgetIdempotent removes key, so that a retry runs again.
func (s *Store) ForgetIdempotent(ctx context.Context, key string) error {
	return s.d.IdempotentForget(ctx, key)
}

// Operational events.

// OperationalEvents returns up to limit recorded operational events, oldest
// first.
func (s *Store) OperationalEvents(ctx context.Context, limit int) ([]hookbridge.OperationalEvent, error) {
	data, err := s.d.OperationalEventList(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("operational events: %w", err)
	}
	events := make([]hookbridge.OperationalEvent, len(data))
	for i, d := range data {
		if err := json.Unmarshal(d, &events[i]); err != nil {
			return nil, fmt.Errorf("operational events: %w", err)
		}
	}
	return events, nil
}

// DeleteOperationalEvents deletes the recorded events with these ids.
func (s *Store) DeleteOperationalEvents(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.d.OperationalEventDelete(ctx, ids); err != nil {
		return fmt.Errorf("delete operational events: %w", err)
	}
	return nil
}

// CountOperationalEvents counts the recorded events not deleted yet.
func (s *Store) CountOperationalEvents(ctx context.Context) (int64, error) {
	n, err := s.d.OperationalEventCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count operational events: %w", err)
	}
	return n, nil
}

// Sources.

// CreateSource stores src, filling in its ID and times if unset, and
// records its initial rollout as the first change, by actor.
func (s *Store) CreateSource(ctx context.Context, src *hookbridge.Source, actor string) error {
	newSource(src, s.now())
	creds, err := s.keys.SealJSON(src.Credentials, src.ID)
	if err != nil {
		return fmt.Errorf("create source: credentials: %w", err)
	}
	return Err(s.d.SourceInsert(ctx, src, creds, actor), "source", sourceIDTaken(src.ID), "create source")
}

// GetSource finds a source by id.
func (s *Store) GetSource(ctx context.Context, id string) (*hookbridge.Source, error) {
	src, err := s.d.SourceGet(ctx, id)
	return one(src, err, "source", "get source %s", id)
}

// UpdateSource replaces the source's configuration, leaving its rollout.
func (s *Store) UpdateSource(ctx context.Context, src *hookbridge.Source) error {
	now := TruncMS(s.now())
	src.StalePolicy = src.StalePolicy.Or()
	creds, err := s.keys.SealJSON(src.Credentials, src.ID)
	if err != nil {
		return fmt.Errorf("update source %s: credentials: %w", src.ID, err)
	}
	n, err := s.d.SourceUpdate(ctx, src, creds, now)
	if err := oneChanged(n, err, "source", "update source %s", src.ID); err != nil {
		return err
	}
	src.UpdatedAt = now
	return nil
}

// SetRollout changes the source's rollout and audits the change, in one
// transaction, so that the audit cannot miss a change or record one that
// did not happen (see ChangeRollout).
func (s *Store) SetRollout(ctx context.Context, id string, r hookbridge.Rollout, actor string, now time.Time) (*hookbridge.Source, error) {
	src, err := s.d.SourceSetRollout(ctx, id, r, actor, TruncMS(now))
	return one(src, err, "source", "set rollout of source %s", id)
}

// DeleteSource removes the source with its events, rollout history and
// observations.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	n, err := s.d.SourceDelete(ctx, id)
	return oneChanged(n, err, "source", "delete source %s", id)
}

// ListSources lists sources, oldest first by default.
func (s *Store) ListSources(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Source], error) {
	return list(opt, "list sources", func(limit int) ([]hookbridge.Source, error) {
		return s.d.SourceList(ctx, opt, limit)
	})
}

// ListRolloutChanges lists a source's rollout changes, newest first by
// default.
func (s *Store) ListRolloutChanges(ctx context.Context, sourceID string, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.RolloutChange], error) {
	return list(opt, "list rollout changes of "+sourceID, func(limit int) ([]hookbridge.RolloutChange, error) {
		return s.d.RolloutChangeList(ctx, sourceID, opt, limit)
	})
}

// CreateInboundEvent stores ev, filling in its ID and ReceivedAt if unset,
// its body sealed for it, unless its source already has its EventID: then
// it returns the stored event, and created == false. When it stores it,
// the payments it concerns advance in the same transaction (Settle).
func (s *Store) CreateInboundEvent(ctx context.Context, ev *hookbridge.InboundEvent) (*hookbridge.InboundEvent, bool, error) {
	newInboundEvent(ev, s.now())
	body := ev.Body
	if body == nil {
		body = []byte{}
	}
	stored, created, err := s.d.InboundEventInsert(ctx, ev, s.keys.SealBytes(body, ev.ID), Settle(ev))
	if err != nil {
		return nil, false, Err(missingParent(err, "source"), "", inboundEventIDTaken(ev.ID), "create inbound event")
	}
	if created {
		return ev, true, nil
	}
	if err := openInbound(s.keys, &stored); err != nil {
		return nil, false, err
	}
	return &stored, false, nil
}

// GetInboundEvent finds an event of the source by id.
func (s *Store) GetInboundEvent(ctx context.Context, sourceID, id string) (*hookbridge.InboundEvent, error) {
	ev, err := s.d.InboundEventGet(ctx, sourceID, id)
	if err != nil {
		return nil, Err(err, "inbound event", nil, "get inbound event %s", id)
	}
	if err := openInbound(s.keys, &ev); err != nil {
		return nil, err
	}
	return &ev, nil
}

// ReleaseInboundEvent releases a held event (see Release), in one
// transaction.
func (s *Store) ReleaseInboundEvent(ctx context.Context, sourceID, id, actor string, now time.Time) (*hookbridge.InboundEvent, error) {
	ev, err := s.d.InboundEventRelease(ctx, sourceID, id, Release(actor, now))
	if err != nil {
		return nil, Err(err, "inbound event", nil, "release inbound event %s", id)
	}
	if err := openInbound(s.keys, &ev); err != nil {
		return nil, err
	}
	return &ev, nil
}

// SetInboundMessages records the messages an event was forwarded as.
func (s *Store) SetInboundMessages(ctx context.Context, sourceID, id string, msgIDs []string) error {
	n, err := s.d.InboundEventSetMessages(ctx, sourceID, id, msgIDs)
	return oneChanged(n, err, "inbound event", "set messages of inbound event %s", id)
}

// ListInboundEvents lists a source's events, newest first by default.
func (s *Store) ListInboundEvents(ctx context.Context, sourceID string, f hookbridge.InboundFilter) (hookbridge.Page[hookbridge.InboundEvent], error) {
	page, err := list(f.ListOptions, "list inbound events of "+sourceID, func(limit int) ([]hookbridge.InboundEvent, error) {
		return s.d.InboundEventList(ctx, sourceID, f, limit)
	})
	if err != nil {
		return page, err
	}
	for i := range page.Data {
		if err := openInbound(s.keys, &page.Data[i]); err != nil {
			return page, err
		}
	}
	return page, nil
}

// GetPaymentState returns what the source's events said of the payment.
func (s *Store) GetPaymentState(ctx context.Context, sourceID, paymentID string) (*hookbridge.PaymentState, error) {
	st, err := s.d.PaymentStateGet(ctx, sourceID, paymentID)
	return one(st, err, "payment", "get payment %s of %s", paymentID, sourceID)
}

// AddObservations stores what polling saw, keeping the first report of
// each event, and returns how many were new.
func (s *Store) AddObservations(ctx context.Context, sourceID string, obs []hookbridge.Observation) (int, error) {
	n, err := s.d.ObservationInsert(ctx, sourceID, obs)
	if err != nil {
		return 0, Err(err, "", nil, "add observations to %s", sourceID)
	}
	return n, nil
}

// CompareObservations classifies the events either side saw in [since,
// until) by what each side saw of them at any time, and returns the
// webhook's lead for those both saw.
func (s *Store) CompareObservations(ctx context.Context, sourceID string, since, until time.Time) (hookbridge.Comparison, error) {
	c, err := s.d.ObservationCompare(ctx, sourceID, since, until)
	if err != nil {
		return hookbridge.Comparison{}, Err(err, "", nil, "compare observations of %s", sourceID)
	}
	if len(c.Leads) == 0 {
		c.Leads = nil
	}
	return c, nil
}

// GetBackfillState returns what the source's backfill has done.
func (s *Store) GetBackfillState(ctx context.Context, sourceID string) (*hookbridge.BackfillState, error) {
	st, err := s.d.BackfillStateGet(ctx, sourceID)
	return one(st, err, "source", "get backfill state of %s", sourceID)
}

// RecordBackfillRun adds run to the source's backfill state, its times to
// the store's precision.
func (s *Store) RecordBackfillRun(ctx context.Context, run *hookbridge.BackfillState) error {
	run.HighWater, run.LastRunAt, run.LastSuccessAt = TruncMS(run.HighWater), TruncMS(run.LastRunAt), TruncMS(run.LastSuccessAt)
	return Err(missingParent(s.d.BackfillRunAdd(ctx, run), "source"), "", nil, "record a backfill run of %s", run.SourceID)
}

// Messages.

// CreateMessage stores msg, filling in its ID and CreatedAt if unset, and
// fans it out (see hookbridge.MessageStore); the driver decides how the
// write is grouped with others.
func (s *Store) CreateMessage(ctx context.Context, msg *hookbridge.Message) (*hookbridge.Message, bool, error) {
	newMessage(msg, s.now())
	return s.d.MessageCreate(ctx, msg)
}

// CreateMessages stores msgs in one transaction, each as CreateMessage
// would.
func (s *Store) CreateMessages(ctx context.Context, msgs []*hookbridge.Message) ([]hookbridge.CreateResult, error) {
	if len(msgs) == 0 {
		return []hookbridge.CreateResult{}, nil
	}
	now := s.now()
	for _, msg := range msgs {
		newMessage(msg, now)
	}
	return s.d.MessageCreateBatch(ctx, msgs)
}

// CreateMessageTo stores msg with one delivery, to the given endpoint only.
func (s *Store) CreateMessageTo(ctx context.Context, msg *hookbridge.Message, endpointID string) error {
	newMessage(msg, s.now())
	return s.d.MessageCreateTo(ctx, msg, endpointID)
}

// GetMessage finds a message of the application by id or EventID (see
// lookup).
func (s *Store) GetMessage(ctx context.Context, appID, idOrEventID string) (*hookbridge.Message, error) {
	return lookup(idOrEventID, hookbridge.PrefixMessage, "message", func(byID bool) (hookbridge.Message, error) {
		return s.d.MessageGet(ctx, appID, byID, idOrEventID)
	})
}

// ListMessages pages through the application's messages by id, newest first
// by default.
func (s *Store) ListMessages(ctx context.Context, appID string, f hookbridge.MessageFilter) (hookbridge.Page[hookbridge.Message], error) {
	return list(f.ListOptions, "list messages", func(limit int) ([]hookbridge.Message, error) {
		return s.d.MessageList(ctx, appID, f, limit)
	})
}

// ListScheduledMessages pages through the application's scheduled
// messages that have not gone out, by id, newest first by default.
func (s *Store) ListScheduledMessages(ctx context.Context, appID string, now time.Time, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Message], error) {
	return list(opt, "list scheduled messages", func(limit int) ([]hookbridge.Message, error) {
		return s.d.MessageScheduledList(ctx, appID, TruncMS(now), opt, limit)
	})
}

// CancelMessage cancels the scheduled message's deliveries that have not
// gone out (see hookbridge.MessageStore).
func (s *Store) CancelMessage(ctx context.Context, appID, msgID string, now time.Time) (int, error) {
	scheduled, n, err := s.d.MessageCancel(ctx, appID, msgID, TruncMS(now))
	switch {
	case err != nil:
		return 0, Err(err, "message", nil, "cancel message %s", msgID)
	case !scheduled:
		return 0, hookbridge.Errorf(hookbridge.ECONFLICT, "message %s was not scheduled (it had no deliverAt): it went out when it was sent", msgID)
	case n == 0:
		return 0, hookbridge.Errorf(hookbridge.ECONFLICT, "message %s has nothing left to cancel: its deliveries went out or were cancelled already", msgID)
	}
	return int(n), nil
}

// ExpungeMessageContent deletes the payload of a message, keeping the row.
func (s *Store) ExpungeMessageContent(ctx context.Context, appID, msgID string) error {
	n, err := s.d.MessageExpunge(ctx, appID, msgID)
	return oneChanged(n, err, "message", "expunge message %s", msgID)
}

// ListMessageEndpoints returns each endpoint the message was owed to, with
// the state of its latest delivery there, by endpoint id (ascending by
// default). A message the application does not have is ENOTFOUND.
func (s *Store) ListMessageEndpoints(ctx context.Context, appID, msgID string, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.MessageEndpoint], error) {
	return list(opt, "list message endpoints", func(limit int) ([]hookbridge.MessageEndpoint, error) {
		return s.d.MessageEndpointList(ctx, appID, msgID, opt, limit)
	})
}

// ListEndpointMessages returns the messages owed to the endpoint with the
// state of their latest delivery there, by message id, newest first by
// default. An endpoint the application does not have is ENOTFOUND.
func (s *Store) ListEndpointMessages(ctx context.Context, appID, endpointID string, f hookbridge.EndpointMessageFilter) (hookbridge.Page[hookbridge.EndpointMessage], error) {
	return list(f.ListOptions, "list endpoint messages", func(limit int) ([]hookbridge.EndpointMessage, error) {
		return s.d.EndpointMessageList(ctx, appID, endpointID, f, limit)
	})
}

// EndpointStats counts the messages owed to the endpoint, created in [since,
// until) (a zero bound is no bound), by the status of their latest delivery.
func (s *Store) EndpointStats(ctx context.Context, appID, endpointID string, since, until time.Time) (hookbridge.EndpointStats, error) {
	counts, err := s.d.EndpointStatusCounts(ctx, appID, endpointID, since, until)
	if err != nil {
		return hookbridge.EndpointStats{}, fmt.Errorf("endpoint stats: %w", err)
	}
	var st hookbridge.EndpointStats
	for _, c := range counts {
		countStatus(&st, c.Status, c.N)
	}
	return st, nil
}

// Deliveries: the dispatcher's side.

// ClaimDeliveries leases up to limit due deliveries to owner until
// now+lease, earliest due first, and returns them with their message and
// endpoint.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]hookbridge.Claim, error) {
	return s.ClaimDeliveriesSkipping(ctx, owner, now, lease, limit, nil)
}

// ClaimDeliveriesSkipping is ClaimDeliveries leaving the deliveries of the
// endpoints in skip alone. Gated endpoints (paused, rate-limited, FIFO) are
// served first, each within its budget, then the earliest due of the rest.
func (s *Store) ClaimDeliveriesSkipping(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip []string) ([]hookbridge.Claim, error) {
	if limit <= 0 {
		return nil, nil
	}
	claims, err := s.d.DeliveryClaim(ctx, owner, now, TruncMS(now.Add(lease)), limit, skip)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	sortClaims(claims)
	return claims, nil
}

// RecordAttempts stores the results of claimed deliveries in one
// transaction. A result whose delivery is no longer leased to owner (or
// that repeats a delivery of the same batch) is dropped and its id
// returned in rejected. Each Attempt gets its ID and CreatedAt if unset,
// and is stored with its delivery's application, message, endpoint and
// trigger (the dispatcher sets them from the claim); each Event gets its
// Attempt.
func (s *Store) RecordAttempts(ctx context.Context, owner string, results []hookbridge.AttemptResult) ([]string, error) {
	if err := checkResults(results); err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, nil
	}
	now := TruncMS(s.now())
	for _, r := range results {
		if r.Attempt != nil {
			newAttempt(r.Attempt, now)
			if r.Event != nil {
				r.Event.SetAttempt(r.Attempt)
			}
		}
	}
	rejected, err := s.d.DeliveryRecord(ctx, owner, results, now)
	if err != nil {
		return nil, fmt.Errorf("record attempts: %w", err)
	}
	return rejected, nil
}

// RecordEndpointHealth applies the dispatcher's reports about endpoints in
// one transaction (see ApplyReport).
func (s *Store) RecordEndpointHealth(ctx context.Context, reports []hookbridge.EndpointReport, disableBefore time.Time) ([]hookbridge.DisabledEndpoint, error) {
	if len(reports) == 0 {
		return nil, nil
	}
	disabled, err := s.d.EndpointHealthRecord(ctx, reports, disableBefore)
	if err != nil {
		return nil, fmt.Errorf("record endpoint health: %w", err)
	}
	return disabled, nil
}

// RenewLeases extends owner's leases on the given deliveries to until.
// Deliveries owner no longer holds are left alone.
func (s *Store) RenewLeases(ctx context.Context, owner string, deliveryIDs []string, until time.Time) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	if err := s.d.DeliveryRenew(ctx, owner, deliveryIDs, TruncMS(until)); err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	return nil
}

// ReleaseDeliveries ends owner's leases on the given deliveries, leaving
// their state as it is, so they can be claimed again at once.
func (s *Store) ReleaseDeliveries(ctx context.Context, owner string, deliveryIDs []string) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	if err := s.d.DeliveryRelease(ctx, owner, deliveryIDs); err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	return nil
}

// NextDue returns when the earliest non-final delivery can next be claimed:
// its next attempt time, or the end of its lease if that is later.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	at, ok, err := s.d.DeliveryNextDue(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	return at, ok, nil
}

// Resend adds a manual delivery of the message to the endpoint, due at now,
// whatever the endpoint subscribes to. Both must belong to the application.
func (s *Store) Resend(ctx context.Context, appID, msgID, endpointID string, now time.Time) (*hookbridge.Delivery, error) {
	d := ManualDelivery(appID, msgID, endpointID, TruncMS(now))
	if err := s.d.DeliveryResend(ctx, &d); err != nil {
		return nil, fmt.Errorf("resend %s to %s: %w", msgID, endpointID, err)
	}
	return &d, nil
}

// Portal access.

// ExpirePortalAccess makes the application's portal tokens issued before
// issuedBefore stop working at expiresAt; calls older than
// MaxPortalLifetime are forgotten.
func (s *Store) ExpirePortalAccess(ctx context.Context, appID string, issuedBefore, expiresAt time.Time) error {
	err := s.d.PortalExpire(ctx, appID, issuedBefore.Add(-hookbridge.MaxPortalLifetime), issuedBefore, expiresAt)
	return Err(missingParent(err, "application"), "", nil, "expire portal access of %s", appID)
}

// RevokePortalToken records that the application's portal token with
// nonce was logged out; see hookbridge.ApplicationStore.
func (s *Store) RevokePortalToken(ctx context.Context, appID, nonce string, expiresAt time.Time) error {
	if err := s.d.PortalRevoke(ctx, appID, nonce, TruncMS(expiresAt)); err != nil {
		return fmt.Errorf("revoke portal token of %s: %w", appID, err)
	}
	return nil
}

// PortalAccessExpiry says what ends the application's portal token issued
// at issuedAt with nonce: the expire-all calls that cover it and its
// logout, in one read.
func (s *Store) PortalAccessExpiry(ctx context.Context, appID string, issuedAt time.Time, nonce string) (hookbridge.PortalExpiry, error) {
	e, err := s.d.PortalExpiry(ctx, appID, issuedAt, nonce)
	if err != nil {
		return hookbridge.PortalExpiry{}, fmt.Errorf("portal access expiry of %s: %w", appID, err)
	}
	return e, nil
}

// PurgePortalRevocationsBefore deletes up to limit revocations of tokens
// that expired before before, oldest first.
func (s *Store) PurgePortalRevocationsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.PortalRevocationsPurge(ctx, TruncMS(before), limit)
	if err != nil {
		return 0, fmt.Errorf("purge portal revocations: %w", err)
	}
	return n, nil
}
