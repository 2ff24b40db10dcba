package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"sync"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
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
	storekit.NewApplication(app, s.now())
	const insertApplication = `
		INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	defer s.apps.invalidate()
	_, err := s.exec(ctx, insertApplication, app.ID, nullString(app.UID), app.Name,
		nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(app.CreatedAt), ms(app.UpdatedAt))
	return storekit.Err(err, "application", storekit.ApplicationUIDTaken(app.UID), "create application")
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
//
// Applications are served from memory once read (appCache): every accepted
// message looks its application up, and a read transaction costs more than
// the rest of the lookup.
func (s *Store) GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	if a, ok := s.apps.get(idOrUID); ok {
		return a, nil
	}
	gen := s.apps.generation()
	a, err := s.readApplication(ctx, idOrUID)
	if err != nil {
		return nil, err
	}
	s.apps.put(gen, idOrUID, a)
	return a, nil
}

// readApplication is GetApplication from the database.
func (s *Store) readApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error) {
	// A lookup by a unique index takes microseconds, and the driver watches
	// a cancellable context with a goroutine per statement, which doubles
	// the cost of this one.
	ctx = context.WithoutCancel(ctx)
	return storekit.Lookup(idOrUID, hookbridge.PrefixApplication, "application", s.rstmts.applicationByID, s.rstmts.applicationByUID,
		func(stmt *sql.Stmt) (hookbridge.Application, error) {
			return scanApplication(stmt.QueryRowContext(ctx, idOrUID))
		})
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
	byKey map[string]*hookbridge.Application
}

// maxCachedApps bounds the cache; past it, it starts over.
const maxCachedApps = 10_000

// get returns a copy of the cached application, which the caller may
// change.
func (c *appCache) get(key string) (*hookbridge.Application, bool) {
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
func (c *appCache) put(gen uint64, key string, a *hookbridge.Application) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.byKey == nil || len(c.byKey) >= maxCachedApps {
		c.byKey = make(map[string]*hookbridge.Application)
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

// UpdateApplication replaces the mutable fields of the application with
// app.ID, and sets app.UpdatedAt (and app.CreatedAt, from the stored row).
func (s *Store) UpdateApplication(ctx context.Context, app *hookbridge.Application) error {
	const updateApplication = `
		UPDATE applications SET uid = ?, name = ?, rate_limit = ?, metadata = ?, updated_at = ?
		WHERE id = ?
		RETURNING created_at`
	now := storekit.TruncMS(s.now())
	var created int64
	defer s.apps.invalidate()
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, updateApplication, nullString(app.UID), app.Name,
			nullInt(app.RateLimit), jsonValue{app.Metadata}, ms(now), app.ID).Scan(&created)
	})
	if err != nil {
		return storekit.Err(err, "application", storekit.ApplicationUIDTaken(app.UID), "update application %s", app.ID)
	}
	app.UpdatedAt, app.CreatedAt = now, fromMS(created)
	return nil
}

// DeleteApplication removes the application; the foreign keys cascade to
// its endpoints, messages, deliveries and attempts.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	defer s.apps.invalidate()
	n, err := s.exec(ctx, `DELETE FROM applications WHERE id = ?`, id)
	return storekit.Changed(n, err, "application", "delete application %s", id)
}

// ListApplications pages through applications by id, oldest first by
// default.
func (s *Store) ListApplications(ctx context.Context, opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Application], error) {
	limit := storekit.Limit(opt.Limit)
	where, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	// listApplications walks the primary key in either direction.
	listApplications := `SELECT ` + applicationColumns + ` FROM applications WHERE ` + where + orderBy + ` LIMIT ?`
	rows, err := collect(ctx, s.r, listApplications, append(args, limit+1), scanApplication)
	if err != nil {
		return hookbridge.Page[hookbridge.Application]{}, fmt.Errorf("list applications: %w", err)
	}
	return storekit.Page(rows, limit), nil
}
