package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

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

// ApplicationInsert inserts app.
func (s driver) ApplicationInsert(ctx context.Context, app *hookbridge.Application) error {
	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	defer s.apps.Invalidate()
	_, err := s.exec(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
		nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(app.CreatedAt), ms(app.UpdatedAt))
	return err
}

// getApplicationByID and getApplicationByUID each use a unique index. Every
// accepted message runs one, so they are prepared (see readStatements).
const (
	getApplicationByID  = `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE id = ?`
	getApplicationByUID = `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE uid = ?`
)

// ApplicationGet reads the application with id (byID) or uid key.
//
// Applications are served from memory once read (storekit.AppCache),
// which is exact because one process owns the file and every write to
// applications goes through this store.
func (s driver) ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error) {
	a, gen, ok := s.apps.Get(byID, key)
	if ok {
		return *a, nil
	}
	stmt := s.rstmts.applicationByUID
	if byID {
		stmt = s.rstmts.applicationByID
	}
	// A lookup by a unique index takes microseconds, and the driver watches
	// a cancellable context with a goroutine per statement, which doubles
	// the cost of this one.
	app, err := scanApplication(stmt.QueryRowContext(context.WithoutCancel(ctx), key))
	if err != nil {
		return app, err
	}
	s.apps.Put(gen, byID, key, &app)
	return app, nil
}

// ApplicationUpdate writes app's mutable fields, if the row is as read
// (see storekit.Driver). ?7, when not NULL, is the updated_at the caller
// read.
func (s driver) ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) error {
	const updateApplication = `
		UPDATE applications SET uid = ?1, name = ?2, rate_limit = ?3, metadata = ?4, updated_at = max(?5, updated_at + 1)
		WHERE id = ?6 AND (?7 IS NULL OR updated_at = ?7)
		RETURNING created_at, updated_at`
	var created, updated int64
	defer s.apps.Invalidate()
	err := s.write(ctx, func(tx *sql.Tx) error {
		read := readAt(app.UpdatedAt)
		err := tx.QueryRowContext(ctx, updateApplication, nullString(app.UID), app.Name,
			nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(now), app.ID, read).Scan(&created, &updated)
		if errors.Is(err, sql.ErrNoRows) && read != nil {
			return staleUnlessGone(appExists(ctx, tx, app.ID))
		}
		return err
	})
	if err != nil {
		return err
	}
	app.CreatedAt, app.UpdatedAt = fromMS(created), fromMS(updated)
	return nil
}

// ApplicationDelete deletes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s driver) ApplicationDelete(ctx context.Context, id string) (int64, error) {
	defer s.apps.Invalidate()
	return s.exec(ctx, `DELETE FROM applications WHERE id = ?`, id)
}

// ApplicationList reads a page of applications by id (the primary key, in
// either direction).
func (s driver) ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error) {
	where, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	listApplications := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE ` + where + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, listApplications, append(args, limit+1), scanApplication)
}
