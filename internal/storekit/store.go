package storekit

import (
	"context"
	"encoding/json"
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
	d    Driver
	now  func() time.Time
	keys *sealed.Keyring
}

// New returns the Store over d; now is the store's clock, which fills in
// the times a caller leaves unset, and keys seal the secrets it keeps (nil:
// none is sealed; see package sealed).
func New(d Driver, now func() time.Time, keys *sealed.Keyring) *Store {
	return &Store{d: d, now: now, keys: keys}
}

// Applications.

func (s *Store) CreateApplication(ctx context.Context, app *hookbridge.Application) error {
	NewApplication(app, s.now())
	return Err(s.d.ApplicationInsert(ctx, app), "application", ApplicationUIDTaken(app.UID), "create application")
}

// GetApplication finds an application by id or uid (see Lookup).
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	return Lookup(idOrUID, hookbridge.PrefixApplication, "application", true, false, func(byID bool) (hookbridge.Application, error) {
		return s.d.ApplicationGet(ctx, byID, idOrUID)
	})
}

// UpdateApplication replaces the mutable fields of the application with
// app.ID, and sets app.UpdatedAt (and app.CreatedAt, from the stored row).
func (s *Store) UpdateApplication(ctx context.Context, app *hookbridge.Application) error {
	now := TruncMS(s.now())
	created, err := s.d.ApplicationUpdate(ctx, app, now)
	if err != nil {
		return Err(err, "application", ApplicationUIDTaken(app.UID), "update application %s", app.ID)
	}
	app.UpdatedAt, app.CreatedAt = now, created
	return nil
}

// DeleteApplication removes the application and everything it owns.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	n, err := s.d.ApplicationDelete(ctx, id)
	return Changed(n, err, "application", "delete application %s", id)
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
	limit := Limit(opt.Limit)
	rows, err := query(limit)
	if err != nil {
		return hookbridge.Page[T]{}, Err(err, "", nil, "%s", op)
	}
	return Page(rows, limit), nil
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
	NewEventType(et, s.now())
	return Err(s.d.EventTypeInsert(ctx, et), "event type", EventTypeTaken(et.Name), "create event type %s", et.Name)
}

// GetEventType finds an event type by name, archived or not.
func (s *Store) GetEventType(ctx context.Context, name string) (*hookbridge.EventType, error) {
	et, err := s.d.EventTypeGet(ctx, name)
	return one(et, err, "event type", "get event type %s", name)
}

// UpdateEventType replaces the mutable fields of the event type with
// et.Name, and sets et.UpdatedAt (and et.CreatedAt, from the stored row).
func (s *Store) UpdateEventType(ctx context.Context, et *hookbridge.EventType) error {
	now := TruncMS(s.now())
	created, err := s.d.EventTypeUpdate(ctx, et, now)
	if err != nil {
		return Err(err, "event type", nil, "update event type %s", et.Name)
	}
	et.UpdatedAt, et.CreatedAt = now, created
	return nil
}

// DeleteEventType removes the event type for good. Messages of that type
// keep their type name.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	n, err := s.d.EventTypeDelete(ctx, name)
	return Changed(n, err, "event type", "delete event type %s", name)
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
	return MissingEventTypes(names, known), nil
}

// Endpoints.

// CreateEndpoint stores ep, filling in its ID and times if unset. The
// application must exist.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	NewEndpoint(ep, s.now())
	err := MissingParent(s.d.EndpointInsert(ctx, ep), "application")
	return Err(err, "endpoint", EndpointUIDTaken(ep.UID), "create endpoint")
}

// GetEndpoint finds an endpoint of the application by id or uid (see
// Lookup).
func (s *Store) GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error) {
	return Lookup(idOrUID, hookbridge.PrefixEndpoint, "endpoint", true, false, func(byID bool) (hookbridge.Endpoint, error) {
		return s.d.EndpointGet(ctx, appID, byID, idOrUID)
	})
}

// UpdateEndpoint replaces every mutable field of the endpoint with ep.AppID
// and ep.ID, and sets ep.UpdatedAt (and ep.CreatedAt, FailingSince and
// PausedUntil, from the stored row). Deliveries already owed to the
// endpoint are kept: subscriptions apply at ingest.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookbridge.Endpoint) error {
	now := TruncMS(s.now())
	TruncSecrets(ep)
	if err := s.d.EndpointUpdate(ctx, ep, now); err != nil {
		return Err(err, "endpoint", EndpointUIDTaken(ep.UID), "update endpoint %s", ep.ID)
	}
	ep.UpdatedAt = now
	return nil
}

// DeleteEndpoint removes the endpoint with its deliveries and attempts.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
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
	return Changed(n, err, "attempt", "expunge attempt %s", attemptID)
}

// Settings.

// Setting returns the value of a server-wide setting, or ENOTFOUND. Values
// are sealed with the store's keys, like other secrets: some are keys.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	v, err := s.d.SettingGet(ctx, name)
	return OpenSetting(s.keys, name, v, err)
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

// Stats.

// AttemptCounts counts the attempts made in [since, until) per bucket of
// width, by outcome, for one application or (appID "") for all, and for
// one endpoint of it or (endpointID "") for all.
func (s *Store) AttemptCounts(ctx context.Context, appID, endpointID string, since, until time.Time, width time.Duration) ([]hookbridge.AttemptCount, error) {
	widthMS, ok, err := Buckets(since, until, width)
	if !ok {
		return nil, err
	}
	buckets, err := s.d.AttemptBuckets(ctx, appID, endpointID, since, until, widthMS)
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	var out []hookbridge.AttemptCount
	for _, b := range buckets {
		out = append(out, hookbridge.AttemptCount{Start: BucketStart(since, widthMS, b.Index), Success: b.Success, Fail: b.Fail})
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
		CountBacklog(&b, c.Status, c.N, c.Due)
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
// before and up to limit observations seen before it.
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
// (see hookbridge.IdempotencyStore).

func (s *Store) BeginIdempotent(ctx context.Context, key, fingerprint string, now, staleBefore, expiredBefore time.Time) (*hookbridge.IdempotentRecord, bool, error) {
	return s.d.IdempotentBegin(ctx, key, fingerprint, now, staleBefore, expiredBefore)
}

func (s *Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	return s.d.IdempotentFinish(ctx, key, status, s.keys.SealBytes(body, key))
}

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
	NewSource(src, s.now())
	creds, err := s.keys.SealJSON(src.Credentials, src.ID)
	if err != nil {
		return fmt.Errorf("create source: credentials: %w", err)
	}
	return Err(s.d.SourceInsert(ctx, src, creds, actor), "source", SourceIDTaken(src.ID), "create source")
}

// GetSource finds a source by id.
func (s *Store) GetSource(ctx context.Context, id string) (*hookbridge.Source, error) {
	src, err := s.d.SourceGet(ctx, id)
	return one(src, err, "source", "get source %s", id)
}

// UpdateSource replaces the source's configuration, leaving its rollout.
func (s *Store) UpdateSource(ctx context.Context, src *hookbridge.Source) error {
	now := TruncMS(s.now())
	creds, err := s.keys.SealJSON(src.Credentials, src.ID)
	if err != nil {
		return fmt.Errorf("update source %s: credentials: %w", src.ID, err)
	}
	n, err := s.d.SourceUpdate(ctx, src, creds, now)
	if err := Changed(n, err, "source", "update source %s", src.ID); err != nil {
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
	return Changed(n, err, "source", "delete source %s", id)
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
// unless its source already has its EventID: then it returns the stored
// event, and created == false.
func (s *Store) CreateInboundEvent(ctx context.Context, ev *hookbridge.InboundEvent) (*hookbridge.InboundEvent, bool, error) {
	NewInboundEvent(ev, s.now())
	stored, created, err := s.d.InboundEventInsert(ctx, ev)
	if err != nil {
		return nil, false, Err(MissingParent(err, "source"), "", InboundEventIDTaken(ev.ID), "create inbound event")
	}
	if created {
		return ev, true, nil
	}
	return &stored, false, nil
}

// SetInboundMessages records the messages an event was forwarded as.
func (s *Store) SetInboundMessages(ctx context.Context, sourceID, id string, msgIDs []string) error {
	n, err := s.d.InboundEventSetMessages(ctx, sourceID, id, msgIDs)
	return Changed(n, err, "inbound event", "set messages of inbound event %s", id)
}

// ListInboundEvents lists a source's events, newest first by default.
func (s *Store) ListInboundEvents(ctx context.Context, sourceID string, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.InboundEvent], error) {
	return list(opt, "list inbound events of "+sourceID, func(limit int) ([]hookbridge.InboundEvent, error) {
		return s.d.InboundEventList(ctx, sourceID, opt, limit)
	})
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
