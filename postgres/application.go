package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

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

// ApplicationInsert inserts app.
func (s driver) ApplicationInsert(ctx context.Context, app *hookbridge.Application) error {
	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	_, err := s.exec(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
		nullInt32(app.RateLimit), jsonMap(app.Metadata), app.CreatedAt, app.UpdatedAt)
	return err
}

// ApplicationGet reads the application with id (byID) or uid key; each
// query uses a unique index.
func (s driver) ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error) {
	getApplication := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE uid = $1`
	if byID {
		getApplication = `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE id = $1`
	}
	return scanApplication(s.pool.QueryRow(ctx, getApplication, key))
}

// ApplicationUpdate writes app's mutable fields, updated at now.
func (s driver) ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) (time.Time, error) {
	const updateApplication = `
		UPDATE applications SET uid = $1, name = $2, rate_limit = $3, metadata = $4, updated_at = $5
		WHERE id = $6
		RETURNING created_at`
	var created time.Time
	err := s.pool.QueryRow(ctx, updateApplication, nullString(app.UID), app.Name,
		nullInt32(app.RateLimit), jsonMap(app.Metadata), now, app.ID).Scan(&created)
	return created.UTC(), markErr(err)
}

// ApplicationDelete deletes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s driver) ApplicationDelete(ctx context.Context, id string) (int64, error) {
	return s.exec(ctx, `DELETE FROM applications WHERE id = $1`, id)
}

// ApplicationList reads a page of applications by id (the primary key, in
// either direction).
func (s driver) ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error) {
	var q query
	tail := q.keyset("id", opt, hookbridge.OrderAscending, limit)
	listApplications := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listApplications, q.args, scanApplication)
}
