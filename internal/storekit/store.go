package storekit

import (
	"context"
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
