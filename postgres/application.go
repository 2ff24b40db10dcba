package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// applicationColumns is the column list scanApplication reads.
const applicationColumns = `id, uid, name, rate_limit, metadata, created_at, updated_at`

func scanApplication(row pgx.Row) (hookbridge.Application, error) {
	var (
		a         hookbridge.Application
		uid       *string
		rateLimit *int32
	)
	if err := row.Scan(&a.ID, &uid, &a.Name, &rateLimit, &a.Metadata, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return a, err
	}
	a.UID = fromNullString(uid)
	a.RateLimit = fromNullInt32(rateLimit)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

// CreateApplication stores app, filling in its ID and times if unset.
func (s *Store) CreateApplication(ctx context.Context, app *hookbridge.Application) error {
	storekit.NewApplication(app, s.now())
	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	_, err := s.exec(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
		nullInt32(app.RateLimit), jsonMap(app.Metadata), app.CreatedAt, app.UpdatedAt)
	return storekit.Err(err, "application", storekit.ApplicationUIDTaken(app.UID), "create application")
}

// GetApplication finds an application by id or uid (see storekit.Lookup).
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	// getApplicationByID and getApplicationByUID each use a unique index.
	const (
		getApplicationByID  = `SELECT ` + applicationColumns + ` FROM applications WHERE id = $1`
		getApplicationByUID = `SELECT ` + applicationColumns + ` FROM applications WHERE uid = $1`
	)
	return storekit.Lookup(idOrUID, hookbridge.PrefixApplication, "application", getApplicationByID, getApplicationByUID,
		func(query string) (hookbridge.Application, error) {
			return scanApplication(s.pool.QueryRow(ctx, query, idOrUID))
		})
}

// UpdateApplication replaces the mutable fields of the application with
// app.ID, and sets app.UpdatedAt (and app.CreatedAt, from the stored row).
func (s *Store) UpdateApplication(ctx context.Context, app *hookbridge.Application) error {
	const updateApplication = `
		UPDATE applications SET uid = $1, name = $2, rate_limit = $3, metadata = $4, updated_at = $5
		WHERE id = $6
		RETURNING created_at`
	now := storekit.TruncMS(s.now())
	var created time.Time
	err := s.pool.QueryRow(ctx, updateApplication, nullString(app.UID), app.Name,
		nullInt32(app.RateLimit), jsonMap(app.Metadata), now, app.ID).Scan(&created)
	if err != nil {
		return storekit.Err(markErr(err), "application", storekit.ApplicationUIDTaken(app.UID), "update application %s", app.ID)
	}
	app.UpdatedAt, app.CreatedAt = now, created.UTC()
	return nil
}

// DeleteApplication removes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `DELETE FROM applications WHERE id = $1`, id)
	return storekit.Changed(n, err, "application", "delete application %s", id)
}

// ListApplications pages through applications by id, oldest first by
// default.
func (s *Store) ListApplications(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Application], error) {
	limit := storekit.Limit(opt.Limit)
	var q query
	tail := q.keyset("id", opt, hookbridge.OrderAscending, limit)
	// listApplications walks the primary key in either direction.
	listApplications := `SELECT ` + applicationColumns + ` FROM applications WHERE ` + q.clause() + tail
	rows, err := collect(ctx, s.pool, listApplications, q.args, scanApplication)
	if err != nil {
		return hookbridge.Page[hookbridge.Application]{}, fmt.Errorf("list applications: %w", err)
	}
	return storekit.Page(rows, limit), nil
}
