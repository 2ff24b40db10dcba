package postgres

import (
	"context"
	"errors"
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
//
// While this store listens (see Listen), applications are served from
// memory once read (storekit.AppCache): every accepted message looks its
// application up, a round trip to the database. A write to applications by
// any instance reaches the cache as a notification from the writing
// transaction, so an instance serves another's change once the
// notification has travelled (well under a millisecond on one network).
func (s driver) ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error) {
	a, gen, ok := s.apps.Get(byID, key)
	if ok {
		return *a, nil
	}
	getApplication := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE uid = $1`
	if byID {
		getApplication = `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE id = $1`
	}
	app, err := scanApplication(s.pool.QueryRow(ctx, getApplication, key))
	if err != nil {
		return app, err
	}
	s.apps.Put(gen, byID, key, &app)
	return app, nil
}

// ApplicationUpdate writes app's mutable fields, if the row is as read
// (see storekit.Driver). $7, when not NULL, is the updated_at the caller
// read; under READ COMMITTED a row changed by a concurrent transaction is
// checked again in its newest version.
func (s driver) ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) error {
	const updateApplication = `
		UPDATE applications SET uid = $1, name = $2, rate_limit = $3, metadata = $4,
			updated_at = greatest($5, updated_at + interval '1 millisecond')
		WHERE id = $6 AND ($7::timestamptz IS NULL OR updated_at = $7)
		RETURNING created_at, updated_at`
	var created, updated time.Time
	err := s.changeApplications(ctx, func(tx pgx.Tx) error {
		read := readAt(app.UpdatedAt)
		err := tx.QueryRow(ctx, updateApplication, nullString(app.UID), app.Name,
			nullInt32(app.RateLimit), jsonMap(app.Metadata), now, app.ID, read).Scan(&created, &updated)
		if errors.Is(err, pgx.ErrNoRows) && read != nil {
			return staleUnlessGone(ctx, tx, `SELECT EXISTS (SELECT 1 FROM applications WHERE id = $1)`, app.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	app.CreatedAt, app.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

// ApplicationDelete deletes the application; its endpoints and their
// attempts go by foreign keys, its messages and deliveries by the cascade
// triggers (migration 0021).
func (s driver) ApplicationDelete(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.changeApplications(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM applications WHERE id = $1`, id)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// appsChanged is the payload of the notification a write to applications
// sends on the store's channel (see ApplicationGet and Listen).
const appsChanged = "applications"

// changeApplications runs write, a change to applications, in a
// transaction that also notifies every listening instance, this one
// included, to empty its cache of applications; this one's is emptied
// once the transaction has ended, committed or not.
func (s *Store) changeApplications(ctx context.Context, write func(pgx.Tx) error) error {
	defer s.apps.Invalidate()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.notify, appsChanged)
		return err
	})
}

// ApplicationList reads a page of applications by id (the primary key, in
// either direction).
func (s driver) ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error) {
	var q query
	tail := q.keyset("id", opt, hookbridge.OrderAscending, limit)
	listApplications := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listApplications, q.args, scanApplication)
}
