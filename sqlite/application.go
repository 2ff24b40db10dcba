package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookbridge/hookbridge"
)

// applicationColumns is the column list scanApplication reads.
const applicationColumns = `id, uid, name, rate_limit, metadata, created_at, updated_at`

func scanApplication(row rowScanner) (hookbridge.Application, error) {
	var (
		a         hookbridge.Application
		uid       sql.NullString
		rateLimit sql.NullInt64
		created   int64
		updated   int64
	)
	if err := row.Scan(&a.ID, &uid, &a.Name, &rateLimit, jsonScan{&a.Metadata}, &created, &updated); err != nil {
		return a, err
	}
	a.UID = uid.String
	a.RateLimit = fromNullInt(rateLimit)
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return a, nil
}

// CreateApplication stores app, filling in its ID and times if unset.
func (s *Store) CreateApplication(ctx context.Context, app *hookbridge.Application) error {
	now := truncMS(s.now())
	if app.ID == "" {
		app.ID = hookbridge.NewID(hookbridge.PrefixApplication)
	}
	if app.CreatedAt.IsZero() {
		app.CreatedAt = now
	}
	if app.UpdatedAt.IsZero() {
		app.UpdatedAt = app.CreatedAt
	}
	app.CreatedAt, app.UpdatedAt = truncMS(app.CreatedAt), truncMS(app.UpdatedAt)

	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
			nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(app.CreatedAt), ms(app.UpdatedAt))
		return err
	})
	if isUniqueViolation(err) {
		return hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", app.UID)
	}
	if err != nil {
		return fmt.Errorf("create application: %w", err)
	}
	return nil
}

// getApplicationByID and getApplicationByUID each use a unique index. Every
// accepted message runs one, so they are prepared (see readStatements).
const (
	getApplicationByID  = `SELECT ` + applicationColumns + ` FROM applications WHERE id = ?`
	getApplicationByUID = `SELECT ` + applicationColumns + ` FROM applications WHERE uid = ?`
)

// GetApplication finds an application by id or uid. A value shaped like an
// application id is looked up as an id first; anything else, or an id-shaped
// value that matches no id, is looked up as a uid.
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	// A lookup by a unique index takes microseconds, and the driver watches
	// a cancellable context with a goroutine per statement, which doubles
	// the cost of this one; every accepted message makes it.
	ctx = context.WithoutCancel(ctx)
	if hookbridge.HasPrefix(idOrUID, hookbridge.PrefixApplication) {
		a, err := scanApplication(s.rstmts.applicationByID.QueryRowContext(ctx, idOrUID))
		if err == nil {
			return &a, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("get application %s: %w", idOrUID, err)
		}
	}
	a, err := scanApplication(s.rstmts.applicationByUID.QueryRowContext(ctx, idOrUID))
	if errors.Is(err, sql.ErrNoRows) {
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
		UPDATE applications SET uid = ?, name = ?, rate_limit = ?, metadata = ?, updated_at = ?
		WHERE id = ?
		RETURNING created_at`
	now := truncMS(s.now())
	var created int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, updateApplication, nullString(app.UID), app.Name,
			nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(now), app.ID).Scan(&created)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return hookbridge.NotFound("application")
	case isUniqueViolation(err):
		return hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", app.UID)
	case err != nil:
		return fmt.Errorf("update application %s: %w", app.ID, err)
	}
	app.UpdatedAt, app.CreatedAt = now, fromMS(created)
	return nil
}

// DeleteApplication removes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	const deleteApplication = `DELETE FROM applications WHERE id = ?`
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteApplication, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete application %s: %w", id, err)
	}
	if n == 0 {
		return hookbridge.NotFound("application")
	}
	return nil
}

// ListApplications pages through applications by id, oldest first by
// default.
func (s *Store) ListApplications(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Application], error) {
	limit := listLimit(opt.Limit)
	where, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	// listApplications walks the primary key in either direction.
	listApplications := `SELECT ` + applicationColumns + ` FROM applications WHERE ` + where + orderBy + ` LIMIT ?`
	rows, err := collect(ctx, s.r, listApplications, append(args, limit+1), scanApplication)
	if err != nil {
		return hookbridge.Page[hookbridge.Application]{}, fmt.Errorf("list applications: %w", err)
	}
	return page(rows, limit), nil
}
