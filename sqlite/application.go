package sqlite

import (
	"context"
	"database/sql"
	"maps"
	"sync"
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
	defer s.apps.invalidate()
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
// Applications are served from memory once read (appCache): every accepted
// message looks its application up, and a read transaction costs more than
// the rest of the lookup.
func (s driver) ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error) {
	ck := appKey{byID, key}
	if a, ok := s.apps.get(ck); ok {
		return *a, nil
	}
	gen := s.apps.generation()
	stmt := s.rstmts.applicationByUID
	if byID {
		stmt = s.rstmts.applicationByID
	}
	// A lookup by a unique index takes microseconds, and the driver watches
	// a cancellable context with a goroutine per statement, which doubles
	// the cost of this one.
	a, err := scanApplication(stmt.QueryRowContext(context.WithoutCancel(ctx), key))
	if err != nil {
		return a, err
	}
	s.apps.put(gen, ck, &a)
	return a, nil
}

// appCache keeps the applications GetApplication found, by the id or uid
// they were asked for. It can be exact because one process owns the
// database file (see Open) and every write to applications goes through
// the store, which empties the cache once the write has committed. A
// lookup that read the database while such a write committed does not fill
// the cache (the generation tells), so a value read before a write cannot
// outlive it.
type appCache struct {
	mu    sync.Mutex
	gen   uint64
	byKey map[appKey]*hookbridge.Application
}

// appKey is what an application was looked up by: its id or its uid.
type appKey struct {
	byID bool
	key  string
}

// maxCachedApps bounds the cache; past it, it starts over.
const maxCachedApps = 10_000

// get returns a copy of the cached application, which the caller may
// change.
func (c *appCache) get(key appKey) (*hookbridge.Application, bool) {
	c.mu.Lock()
	a, ok := c.byKey[key]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return copyApplication(a), true
}

// generation returns the cache's generation, to pass to put after reading.
func (c *appCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a copy of a, read under generation gen, unless the cache was
// emptied since.
func (c *appCache) put(gen uint64, key appKey, a *hookbridge.Application) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.byKey == nil || len(c.byKey) >= maxCachedApps {
		c.byKey = make(map[appKey]*hookbridge.Application)
	}
	c.byKey[key] = copyApplication(a)
}

// invalidate empties the cache; called after every committed (or possibly
// committed) write to applications.
func (c *appCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byKey)
}

func copyApplication(a *hookbridge.Application) *hookbridge.Application {
	cp := *a
	cp.Metadata = maps.Clone(a.Metadata)
	if a.RateLimit != nil {
		rl := *a.RateLimit
		cp.RateLimit = &rl
	}
	return &cp
}

// ApplicationUpdate writes app's mutable fields, updated at now.
func (s driver) ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) (time.Time, error) {
	const updateApplication = `
		UPDATE applications SET uid = ?, name = ?, rate_limit = ?, metadata = ?, updated_at = ?
		WHERE id = ?
		RETURNING created_at`
	var created int64
	defer s.apps.invalidate()
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, updateApplication, nullString(app.UID), app.Name,
			nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(now), app.ID).Scan(&created)
	})
	return fromMS(created), err
}

// ApplicationDelete deletes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s driver) ApplicationDelete(ctx context.Context, id string) (int64, error) {
	defer s.apps.invalidate()
	return s.exec(ctx, `DELETE FROM applications WHERE id = ?`, id)
}

// ApplicationList reads a page of applications by id (the primary key, in
// either direction).
func (s driver) ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error) {
	where, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	listApplications := `SELECT ` + storekit.ApplicationColumns + ` FROM applications WHERE ` + where + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, listApplications, append(args, limit+1), scanApplication)
}
