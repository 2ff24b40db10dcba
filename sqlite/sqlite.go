package sqlite

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

var _ hookbridge.Store = (*Store)(nil)

// Connection settings. See docs/decisions.md ("SQLite driver") for why
// synchronous is FULL.
const (
	// busyTimeout is how long a connection waits for a lock before failing
	// with SQLITE_BUSY. Only a second process on the same file (a backup, the
	// sqlite3 shell, a checkpoint) can hold one for long: within the process
	// all writes go through the one writer connection.
	busyTimeout = 5 * time.Second

	// writerParams configure the single writer connection. _txlock=immediate
	// makes every transaction BEGIN IMMEDIATE: it takes the write lock at the
	// start, so a transaction that reads then writes can never fail on a lock
	// upgrade. synchronous=FULL in WAL mode fsyncs the WAL on every commit,
	// which is what "accepted means durable" needs across a power loss.
	// temp_store=MEMORY keeps the savepoint journal of group commit (the
	// pages a grouped write changed, for undoing it alone) in memory rather
	// than in a temporary file written on every first change of a page.
	//
	// secure_delete=ON (on every connection, see secureDelete) makes SQLite
	// overwrite with zeros what a write removes from a page, so that the
	// former value of a secret (plain text, or sealed under a key that has
	// since been dropped) does not live on in the file's free space.
	writerParams = "_txlock=immediate&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_pragma=temp_store(MEMORY)&" + secureDelete

	// readerParams configure the read pool. query_only turns an accidental
	// write through the pool into an error instead of a lock fight with the
	// writer.
	readerParams = "_query_only=1&" + secureDelete

	secureDelete = "_pragma=secure_delete(ON)"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of hookbridge.Store. It is safe for
// concurrent use.
//
// SQLite allows one writer at a time, so writes go through one connection
// (w, MaxOpenConns 1), used by one goroutine (wr, see writer.go), and queue
// in Go instead of spinning on SQLITE_BUSY; concurrent hot-path writes
// share transactions there (group commit). Reads use a separate pool (r):
// in WAL mode readers see the last committed state, and wait for the writer
// only when rows kept behind the log must be moved first (kept.go).
type Store struct {
	// Store is hookbridge.Store: the contract's rules, written once above
	// the SQL, over this package's queries (driver).
	*storekit.Store

	keys   *sealed.Keyring // seals secrets; nil: stored as they are (see Reseal)
	w      *sql.DB
	r      *sql.DB
	wr     *writer
	stmts  *statements     // prepared on w, used by the writer
	rstmts *readStatements // prepared on r
	lock   *os.File        // holds the instance lock (see Open) until Close
	// migrated names the migrations Open applied, in order (Migrated).
	migrated []string
	now      func() time.Time
	apps     storekit.AppCache
	// running are the requests with an Idempotency-Key being served
	// (idempotency.go).
	running runningKeys
	// stopMover ends the goroutine that has the rows kept behind the log
	// moved when no write comes to do it (kept.go); it returns once the
	// goroutine has.
	stopMover func()
}

// options are what Open can be told besides the path.
type options struct {
	keys *sealed.Keyring
}

// Option configures Open.
type Option func(*options)

// WithKeys makes the store seal the secrets it keeps (endpoint signing
// secrets, source credentials) with keys, and open those sealed with any of
// them. Without it nothing is sealed, and sealed secrets cannot be read.
// Reseal brings what is stored in line with the keys.
func WithKeys(keys *sealed.Keyring) Option { return func(o *options) { o.keys = keys } }

// ErrLocked is returned by Open when another process has the database open.
var ErrLocked = errors.New("the database is in use by another Hookbridge process (one instance per SQLite file; use PostgreSQL for several)")

// Open opens the SQLite database at path, creating it if needed, switches it
// to WAL mode and applies every migration not applied yet. It takes an
// exclusive lock on path+"-lock" for as long as the Store is open: a second
// Open of the same file, in this process or another, fails with ErrLocked.
// Leases left by a previous process are ended, so its claimed deliveries are
// due again at once.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	// One process per file: the lock makes that a rule rather than a hope,
	// and it is what lets Open end every lease below. Leases exist so that
	// instances can take over each other's work; with one instance, a lease
	// found at start belongs to a process that died, and waiting for it to
	// expire would only delay its deliveries.
	lock, err := lockFile(path + "-lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// A file: URI so that SQLite, not the driver, parses the name: the path
	// is escaped, so '?' or '#' in it cannot be taken for the query.
	name := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + "&"

	w, err := sql.Open("sqlite", name+writerParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{w: w, lock: lock, now: time.Now, keys: o.keys}
	s.Store = storekit.New(driver{s}, s.now, s.keys)
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if len(s.migrated) > 0 && strings.HasPrefix(s.migrated[0], "0001_") {
		// A new file, written with secure_delete from its first page:
		// nothing in it needs scrubbing (see fileScrubbed).
		if _, err := w.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(fileScrubbed)); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	// What a stopped process kept behind the log goes into the tables
	// first, so that the leases below end on its deliveries too.
	if err := errors.Join(moveKept(ctx, w, nil)); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: move the rows kept behind the log: %w", path, err)
	}
	for _, end := range []string{endAllLeases, endTaskLeases} {
		if _, err := w.ExecContext(ctx, end); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open %s: end leases of a previous process: %w", path, err)
		}
	}
	if s.stmts, err = prepareStatements(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", name+readerParams)
	if err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		s.stmts.close()
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	if s.rstmts, err = prepareReadStatements(ctx, r); err != nil {
		s.stmts.close()
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	s.r = r
	var msgHigh string
	if err := w.QueryRowContext(ctx, `SELECT coalesce(max(id), '') FROM messages`).Scan(&msgHigh); err != nil {
		s.stmts.close()
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.wr = startWriter(w, s.stmts, s.keys, msgHigh)
	s.stopMover = s.startMover()
	ok = true
	return s, nil
}

// ownerOnly creates the database file at path if it is missing, and makes
// it and its -wal and -shm files (those that exist) readable and writable
// by their owner only, whatever the umask: they hold everything the store
// keeps. SQLite creates a -wal or -shm file later with the mode of the
// database file, so those follow.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return err
	}
	err = f.Chmod(filePerm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("make %s readable by its owner only: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+suffix, filePerm); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make %s readable by its owner only: %w", path+suffix, err)
		}
	}
	return nil
}

// filePerm is the mode of every file of a database: the database, its
// -wal, -shm and -lock files, and its backups.
const filePerm = 0o600

// driver is storekit's Driver on this store: the methods named after an
// entity and a verb (ApplicationInsert, …), which run this package's
// queries for the rules in storekit.Store.
type driver struct{ *Store }

var _ storekit.Driver = driver{}

// endAllLeases frees every delivery claimed by a process that is gone.
const endAllLeases = `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL`

// endTaskLeases frees every background task held by a process that is
// gone, so that the new one goes on with it at once.
const endTaskLeases = `UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL`

// SetHandoff makes the store hand the deliveries of new messages to h, a
// dispatcher in this process, leased to it in the transaction that creates
// them (see hookbridge.Handoff). Deliveries h refuses, and those of gated
// endpoints, are written unleased and claimed as usual.
func (s *Store) SetHandoff(h hookbridge.Handoff) { s.wr.setHandoff(h) }

var _ hookbridge.HandoffStore = (*Store)(nil)

// Close finishes the writes already queued, moves the rows kept behind the
// log into the tables, stops the writer and closes both connection pools.
// Writes that arrive later fail.
func (s *Store) Close() error {
	s.stopMover()
	s.wr.close()
	return errors.Join(s.wr.closeErr, s.stmts.close(), s.rstmts.close(), s.r.Close(), s.w.Close(), s.lock.Close())
}

// migrate applies the embedded migrations (migrations/NNNN_name.sql) that
// schema_migrations does not list yet, in order, each in its own transaction
// together with its schema_migrations row, so a failed migration leaves
// nothing behind and is retried on the next start.
func (s *Store) migrate(ctx context.Context) error {
	// createMigrationsTable is the one piece of schema outside the numbered
	// migrations: it records them.
	const createMigrationsTable = `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(files)
	for _, file := range files {
		name := strings.TrimPrefix(file, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := migrations.ReadFile(file)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		// Open runs the migrations before the writer starts.
		ran := false
		err = runTx(ctx, s.w, nil, func(tx *sql.Tx) error {
			var applied bool
			if err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, version,
			).Scan(&applied); err != nil {
				return err
			}
			if applied {
				return nil
			}
			ran = true
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				version, name, s.now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if ran {
			s.migrated = append(s.migrated, name)
		}
	}
	return nil
}

// Migrated returns the names of the migrations Open applied, in order
// (e.g. "0001_init.sql"): empty when the schema was already up to date.
func (s *Store) Migrated() []string { return slices.Clone(s.migrated) }

// write runs fn in a transaction of its own on the writer connection and
// commits it if fn returns nil. The transaction is BEGIN IMMEDIATE (see
// writerParams).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return markErr(s.wr.write(ctx, fn))
}

// exec runs one statement in a write transaction of its own and returns
// how many rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// writeGrouped runs fn in a write transaction that it may share with other
// hot-path writes (group commit, see writer.go) and returns once that
// transaction has committed. fn must run its statements with the ctx it is
// given, and may run twice: it must set its results afresh on each run.
// The rows kept behind the log are moved first, and its group keeps none
// (see kept.go): writeGroupedAs is for the writes that need less.
func (s *Store) writeGrouped(ctx context.Context, fn func(ctx context.Context, tx *writeTx) error) error {
	return markErr(s.wr.writeGrouped(ctx, rowsWhole, nil, fn))
}

// writeGroupedAs is writeGrouped for a write that stands to the rows kept
// behind the log as rows and wholeIf say (see writeReq).
func (s *Store) writeGroupedAs(ctx context.Context, rows rowUse, wholeIf func(*keptRows) bool,
	fn func(ctx context.Context, tx *writeTx) error) error {
	return markErr(s.wr.writeGrouped(ctx, rows, wholeIf, fn))
}

// read runs fn in a read transaction on the read pool, so that several
// queries see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep or lose
	return fn(tx)
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate value
// of a UNIQUE index or PRIMARY KEY.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isUnavailable reports whether err is SQLite failing to write for a
// reason that passes: the disk or file system is full (SQLITE_FULL), the
// file or its directory is read-only (SQLITE_READONLY), or the operating
// system refused a read or write of the file (SQLITE_IOERR, which a full
// disk also gives when the journal cannot grow). Extended codes are
// checked by their primary code.
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

// markErr marks SQLite's refusal of a duplicate (storekit.ErrDuplicate)
// and its failures to write at all (storekit.ErrUnavailable) for the
// rules above the SQL. Every write passes through it; foreign keys need no
// mark, since writes check their parent rows first.
func markErr(err error) error {
	switch {
	case isUniqueViolation(err):
		return storekit.Mark(err, storekit.ErrDuplicate)
	case isUnavailable(err):
		return storekit.Mark(err, storekit.ErrUnavailable)
	}
	return err
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// Times are INTEGER unix milliseconds; the zero time.Time is NULL where a
// column is optional.

// ms converts a time to its stored form.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts a stored time back, in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// msOrNull is the stored form of an optional time.
func msOrNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromNullMS converts a stored optional time back, in UTC.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// nullString stores "" as NULL, for optional unique values such as uids.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// nullInt stores a nil *int as NULL.
func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// fromNullInt converts a stored optional int back.
func fromNullInt(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	i := int(v.Int64)
	return &i
}

// jsonValue binds a slice or map as JSON text. An empty or nil slice is
// stored as '[]' and an empty or nil map as '{}', never as 'null', so SQL can
// always treat the column as an array or an object.
type jsonValue struct{ v any }

func (j jsonValue) Value() (sqldriver.Value, error) {
	rv := reflect.ValueOf(j.v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Len() == 0 {
			return "[]", nil
		}
	case reflect.Map:
		if rv.Len() == 0 {
			return "{}", nil
		}
	}
	b, err := json.Marshal(j.v)
	if err != nil {
		return nil, fmt.Errorf("encode JSON column: %w", err)
	}
	return string(b), nil
}

// jsonScan reads a JSON text column into the slice or map dst points to.
// Empty arrays and objects read back as nil, the zero value of their Go
// type.
type jsonScan struct{ dst any }

func (j jsonScan) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("decode JSON column: unexpected %T", src)
	}
	if s := string(b); s == "[]" || s == "{}" || s == "null" {
		return nil
	}
	if err := json.Unmarshal(b, j.dst); err != nil {
		return fmt.Errorf("decode JSON column: %w", err)
	}
	return nil
}

// jsonList binds a list of strings (ids, names) as a JSON array, to be
// used as `IN (SELECT value FROM json_each(?))`: one statement, however
// many values.
func jsonList(values []string) jsonValue { return jsonValue{values} }

// keyset is the WHERE fragment and ORDER BY for paging by a sort key column:
// rows after the iterator in the list's order. def is the list's default
// order. The fragment is always valid SQL ("1" when there is no iterator),
// so callers can AND it in unconditionally.
func keyset(col string, opt hookbridge.ListOptions, def hookbridge.Ordering) (where string, args []any, orderBy string) {
	dir, cmp := "ASC", ">"
	if storekit.Descending(opt, def) {
		dir, cmp = "DESC", "<"
	}
	orderBy = " ORDER BY " + col + " " + dir
	if opt.Iterator == "" {
		return "1", nil, orderBy
	}
	return col + " " + cmp + " ?", []any{opt.Iterator}, orderBy
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	return scanRows(rows, err, scan)
}

// scanRows scans every row of a query's result (rows, err) with scan.
func scanRows[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
