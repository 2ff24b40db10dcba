package storekit

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Store is hookbridge.Store over a Driver: each method applies the
// contract's rules (defaults, paging, error answers) here, once, and runs
// the driver's queries for the rest. A store package embeds it
// (sqlite.Store, postgres.Store) and gives it its driver.
type Store struct {
	d   Driver
	now func() time.Time
}

// New returns the Store over d; now is the store's clock, which fills in
// the times a caller leaves unset.
func New(d Driver, now func() time.Time) *Store { return &Store{d: d, now: now} }

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
