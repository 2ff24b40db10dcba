package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

var (
	_ hookbridge.Store           = (*Store)(nil)
	_ hookbridge.Listener        = (*Store)(nil)
	_ hookbridge.ExclusiveRunner = (*Store)(nil)
)

// DefaultMaxConns is the pool size when the DSN does not set
// pool_max_conns. The dispatcher needs two or three connections (claimer,
// recorder, wake-up listener); the rest serve the API's requests.
const DefaultMaxConns = 16

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of hookbridge.Store. It is safe for
// concurrent use, and any number of Stores (in one process or many) may use
// the same database.
type Store struct {
	// Store is hookbridge.Store: the contract's rules, written once above
	// the SQL, over this package's queries (driver).
	*storekit.Store

	keys   *sealed.Keyring // seals secrets; nil: stored as they are (see Reseal)
	pool   *pgxpool.Pool
	cfg    *pgxpool.Config
	schema string // the schema the tables live in (current_schema())
	notify string // the NOTIFY channel of this schema
	now    func() time.Time
	log    *slog.Logger
	// migrated names the migrations Open applied, in order (Migrated).
	migrated []string

	// handoff takes the deliveries of new messages (see SetHandoff); nil
	// until set. Atomic, since SetHandoff may come while requests run.
	handoff atomic.Pointer[hookbridge.Handoff]

	// ingest is the queue of CreateMessage calls, written in groups
	// (group.go).
	ingest *ingestQueue

	// notifyReq asks the notifier goroutine for a NOTIFY (buffered, 1: a
	// request that finds it full is covered by the pending one).
	notifyReq    chan struct{}
	stopNotifier context.CancelFunc
	notifierDone chan struct{}
}

// options are what Open can be told besides the DSN.
type options struct {
	keys     *sealed.Keyring
	migrate  bool
	maxConns int32
	now      func() time.Time
	logger   *slog.Logger
}

// Option configures Open.
type Option func(*options)

// WithoutMigrations makes Open check that the schema is up to date instead
// of applying migrations, for installations where schema changes are
// applied separately (`hookbridge migrate`). Open then fails if the
// database is behind this binary.
func WithoutMigrations() Option { return func(o *options) { o.migrate = false } }

// WithMaxConns sets the size of the connection pool; pool_max_conns in the
// DSN wins over it. Zero means DefaultMaxConns.
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithClock sets the clock the store fills in times with. Nil means
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithKeys makes the store seal the secrets it keeps (endpoint signing
// secrets, source credentials) with keys, and open those sealed with any of
// them. Without it nothing is sealed, and sealed secrets cannot be read.
// Every instance sharing the database needs the keys. Reseal brings what is
// stored in line with them.
func WithKeys(keys *sealed.Keyring) Option { return func(o *options) { o.keys = keys } }

// WithLogger sets where Listen reports lost connections. Nil means
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// ErrSchemaBehind is returned by Open with WithoutMigrations when the
// database lacks migrations this binary needs.
var ErrSchemaBehind = errors.New("the database schema is older than this Hookbridge (apply it with `hookbridge migrate --db …`)")

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL
// or a key=value string, as pgx reads it; pool_max_conns and the other
// pool_ settings of pgxpool are honoured) and applies every migration not
// applied yet, unless WithoutMigrations is given.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error quotes the DSN, password included: do not wrap it.
		return nil, errors.New("postgres: open: cannot parse the database URL")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = cmp.Or(o.maxConns, DefaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{
		keys:      o.keys,
		pool:      pool,
		cfg:       cfg,
		now:       o.now,
		log:       cmp.Or(o.logger, slog.Default()),
		notifyReq: make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.Store = storekit.New(driver{s}, s.now, s.keys)
	if err := s.init(ctx, o.migrate); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopNotifier, s.notifierDone = cancel, make(chan struct{})
	go s.notifier(nctx)
	s.ingest = startIngest(s)
	return s, nil
}

// driver is storekit's Driver on this store: the methods named after an
// entity and a verb (ApplicationInsert, …), which run this package's
// queries for the rules in storekit.Store.
type driver struct{ *Store }

var _ storekit.Driver = driver{}

// init finds the schema, then migrates it or checks that it is current.
func (s *Store) init(ctx context.Context, migrate bool) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("no schema to use: the search_path names no existing schema")
	}
	s.schema = *schema
	s.notify = notifyChannel(s.schema)
	if migrate {
		return s.migrate(ctx)
	}
	return s.checkSchema(ctx)
}

// Close writes the messages queued for ingest and refuses later ones, stops
// the notifier, sending a NOTIFY still pending, and closes the connection
// pool.
func (s *Store) Close() error {
	s.ingest.close()
	s.stopNotifier()
	<-s.notifierDone
	s.pool.Close()
	return nil
}

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	body    string
}

// embeddedMigrations returns the migrations in version order.
func embeddedMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(files)
	out := make([]migration, 0, len(files))
	for _, file := range files {
		name := strings.TrimPrefix(file, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := migrations.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, migration{version, name, string(body)})
	}
	return out, nil
}

// createMigrationsTable is the one piece of schema outside the numbered
// migrations: it records them.
const createMigrationsTable = `
	CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`

// migrate applies the embedded migrations that schema_migrations does not
// list yet, in order, each in its own transaction together with its
// schema_migrations row. It holds a session advisory lock (keyed by the
// schema) throughout, so instances starting together take turns: the first
// applies everything, the others find it applied. A crash releases the lock
// with the session, and a failed migration leaves nothing behind.
func (s *Store) migrate(ctx context.Context) error {
	all, err := embeddedMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := s.lockKey("migrate")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A connection whose unlock failed is closed rather than returned
		// to the pool still holding the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range all {
		ran := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
				return err
			}
			if applied {
				return nil
			}
			ran = true
			// No arguments: the simple protocol, which runs a file of
			// several statements.
			if _, err := tx.Exec(ctx, m.body, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, storekit.TruncMS(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if ran {
			s.migrated = append(s.migrated, m.name)
		}
	}
	return nil
}

// Migrated returns the names of the migrations Open applied, in order
// (e.g. "0001_init.sql"): empty when the schema was already up to date, or
// another instance migrated it first.
func (s *Store) Migrated() []string { return slices.Clone(s.migrated) }

// checkSchema fails with ErrSchemaBehind unless every embedded migration
// has been applied. Versions this binary does not know (a newer binary
// migrated) are accepted: migrations only add.
func (s *Store) checkSchema(ctx context.Context) error {
	all, err := embeddedMigrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("schema %q has no Hookbridge tables: %w", s.schema, ErrSchemaBehind)
	}
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	var missing []string
	for _, m := range all {
		if !slices.Contains(applied, int32(m.version)) {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("schema %q lacks %s: %w", s.schema, strings.Join(missing, ", "), ErrSchemaBehind)
	}
	return nil
}

// lockKey is the advisory lock key for a named job in this store's schema,
// so that installations in different schemas of one database do not
// exclude each other.
func (s *Store) lockKey(job string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hookbridge\x00" + job + "\x00" + s.schema))
	return int64(h.Sum64())
}

// RunExclusive runs fn unless another instance using the same schema is
// running a job of the same name, and reports whether it ran. It holds a
// session advisory lock (pg_try_advisory_lock) on a connection of its own
// while fn runs; the lock ends with the session if the process dies.
func (s *Store) RunExclusive(ctx context.Context, job string, fn func(context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("run %s exclusively: %w", job, err)
	}
	defer conn.Release()
	key := s.lockKey(job)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return false, fmt.Errorf("run %s exclusively: %w", job, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	return true, fn(ctx)
}

// inTx runs fn in a transaction and commits it if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return markErr(pgx.BeginFunc(ctx, s.pool, fn))
}

// exec runs one statement on the pool and returns how many rows it
// changed.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), markErr(err)
}

// notifyDue tells listening instances (see Listen) that deliveries may be
// due now. Writers call it after their transaction committed, so a woken
// instance finds the deliveries. It never blocks: the notifier goroutine
// sends the NOTIFY, and requests made while one is pending or being sent
// are covered by the next, so a burst of commits costs a few NOTIFYs, not
// one each.
//
// The NOTIFY is not part of the writing transaction, although that would
// tie it to the commit for free: a transaction that notifies holds a
// database-wide lock from its commit until its WAL is flushed, so every
// notifying commit would wait for the previous one's fsync, and ingest on
// every instance together would be capped at one commit per disk flush
// (measured: docs/scaling.md). Sent on its own, the notification needs no
// durability (a lost one only delays a delivery until the next poll), so
// its transaction commits without waiting for the flush and holds the lock
// for microseconds.
func (s *Store) notifyDue() {
	select {
	case s.notifyReq <- struct{}{}:
	default:
	}
}

// notifier sends the NOTIFYs notifyDue asks for until ctx is done, then
// sends one last if a request is pending.
func (s *Store) notifier(ctx context.Context) {
	defer close(s.notifierDone)
	for {
		select {
		case <-s.notifyReq:
			if err := s.sendNotify(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("postgres: notify other instances; they find new deliveries at their next poll", "err", err)
			}
		case <-ctx.Done():
			select {
			case <-s.notifyReq:
				final, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = s.sendNotify(final) // best effort: the poll is the safety net
			default:
			}
			return
		}
	}
}

// sendNotify sends one payload-free notification on the store's channel,
// in a transaction of its own that does not wait for the WAL flush. One
// round trip: the simple protocol runs the four statements at once.
func (s *Store) sendNotify(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "BEGIN; SET LOCAL synchronous_commit = off; NOTIFY "+
		pgx.Identifier{s.notify}.Sanitize()+"; COMMIT")
	return err
}

// PostgreSQL error codes the store turns into domain errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// markErr marks PostgreSQL's constraint errors for the rules above the
// SQL (storekit.ErrDuplicate, storekit.ErrMissingRef).
func markErr(err error) error {
	switch pgCode(err) {
	case codeUniqueViolation:
		return storekit.Mark(err, storekit.ErrDuplicate)
	case codeForeignKeyViolation:
		return storekit.Mark(err, storekit.ErrMissingRef)
	}
	return err
}

// Times are timestamptz with millisecond precision; the zero time.Time is
// NULL where a column is optional.

// timeOrNull is the stored form of an optional time.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = storekit.TruncMS(t)
	return &t
}

// fromNullTime converts a stored optional time back, in UTC.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullString stores "" as NULL, for optional unique values such as uids.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// fromNullString reads NULL back as "".
func fromNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullInt32 stores a nil *int as NULL.
func nullInt32(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

// fromNullInt32 converts a stored optional int back.
func fromNullInt32(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// jsonList is the stored form of a list of names: never NULL, '[]' when
// empty, so SQL can always treat it as an array.
func jsonList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// jsonMap is the stored form of a map: never NULL, '{}' when empty.
func jsonMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// query builds a statement whose WHERE clause is a list of AND-ed
// conditions, numbering the $n placeholders as arguments are added.
type query struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// where adds a condition.
func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

// clause is the WHERE condition: the conditions AND-ed, or TRUE.
func (q *query) clause() string {
	if len(q.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(q.conds, " AND ")
}

// keyset adds the condition for paging by a sort key column (rows after the
// iterator in the list's order) and returns the ORDER BY and LIMIT, which
// fetches one row more than limit. def is the list's default order.
func (q *query) keyset(col string, opt hookbridge.ListOptions, def hookbridge.Ordering, limit int) string {
	dir, op := "ASC", ">"
	if storekit.Descending(opt, def) {
		dir, op = "DESC", "<"
	}
	if opt.Iterator != "" {
		q.where(col + " " + op + " " + q.arg(opt.Iterator))
	}
	return " ORDER BY " + col + " " + dir + " LIMIT " + q.arg(limit+1)
}

// messageFilter adds the conditions shared by the message, endpoint-message
// and attempt lists on the message m and on a time column.
func (q *query) messageFilter(eventTypes []string, channel string, timeCol string, before, after time.Time) {
	if len(eventTypes) > 0 {
		q.where(`m.event_type = ANY(` + q.arg(eventTypes) + `)`)
	}
	if channel != "" {
		q.where(`m.channels @> jsonb_build_array(` + q.arg(channel) + `::text)`)
	}
	if !before.IsZero() {
		q.where(timeCol + ` < ` + q.arg(storekit.TruncMS(before)))
	}
	if !after.IsZero() {
		q.where(timeCol + ` > ` + q.arg(storekit.TruncMS(after)))
	}
}

// querier is what the pool, a connection and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, sql string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
