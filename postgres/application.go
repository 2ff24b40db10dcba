package postgres

import (
	"context"
	"errors"
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
	now := storekit.TruncMS(s.now())
	if app.ID == "" {
		app.ID = hookbridge.NewID(hookbridge.PrefixApplication)
	}
	if app.CreatedAt.IsZero() {
		app.CreatedAt = now
	}
	if app.UpdatedAt.IsZero() {
		app.UpdatedAt = app.CreatedAt
	}
	app.CreatedAt, app.UpdatedAt = storekit.TruncMS(app.CreatedAt), storekit.TruncMS(app.UpdatedAt)

	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	_, err := s.pool.Exec(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
		nullInt32(app.RateLimit), jsonMap(app.Metadata), app.CreatedAt, app.UpdatedAt)
	if pgCode(err) == codeUniqueViolation {
		return hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", app.UID)
	}
	if err != nil {
		return fmt.Errorf("create application: %w", err)
	}
	return nil
}

// GetApplication finds an application by id or uid. A value shaped like an
// application id is looked up as an id first; anything else, or an id-shaped
// value that matches no id, is looked up as a uid.
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	// getApplicationByID and getApplicationByUID each use a unique index.
	const (
		getApplicationByID  = `SELECT ` + applicationColumns + ` FROM applications WHERE id = $1`
		getApplicationByUID = `SELECT ` + applicationColumns + ` FROM applications WHERE uid = $1`
	)
	if hookbridge.HasPrefix(idOrUID, hookbridge.PrefixApplication) {
		a, err := scanApplication(s.pool.QueryRow(ctx, getApplicationByID, idOrUID))
		if err == nil {
			return &a, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("get application %s: %w", idOrUID, err)
		}
	}
	a, err := scanApplication(s.pool.QueryRow(ctx, getApplicationByUID, idOrUID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hookbridge.NotFound("application")
	}
	if err != nil {
		return nil, fmt.Errorf("get application %s: %w", idOrUID, err)
	}
	return &a, nil
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
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hookbridge.NotFound("application")
	case pgCode(err) == codeUniqueViolation:
		return hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", app.UID)
	case err != nil:
		return fmt.Errorf("update application %s: %w", app.ID, err)
	}
	app.UpdatedAt, app.CreatedAt = now, created.UTC()
	return nil
}

// DeleteApplication removes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	const deleteApplication = `DELETE FROM applications WHERE id = $1`
	tag, err := s.pool.Exec(ctx, deleteApplication, id)
	if err != nil {
		return fmt.Errorf("delete application %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return hookbridge.NotFound("application")
	}
	return nil
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
