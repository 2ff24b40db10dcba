package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
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
	// apps caches applications while Listen is listening, and only then:
	// every write to applications notifies appsChanged on the channel
	// from its transaction, and the listener empties the cache on it.
	apps storekit.AppCache
	// locks holds RunExclusive's advisory locks.
	locks lockSession
	// plans picks the texts of the statements on the delivery tables
	// (plans.go).
	plans planAges
	now   func() time.Time
	log   *slog.Logger
	// migrated names the migrations Open applied, in order (Migrated).
	migrated []string

	// handoff takes the deliveries of new messages (see SetHandoff); nil
	// until set. Atomic, since SetHandoff may come while requests run.
	handoff atomic.Pointer[hookbridge.Handoff]

	// ingest is the queue of CreateMessage calls, written in groups
	// (group.go).
	ingest *ingestQueue

	// notifyReq asks the notifier goroutine for a NOTIFY (buffered, 1: a
	// request that finds it full is covered by the pending one) of what
	// due gathered.
	notifyReq    chan struct{}
	due          dueNotice
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
	s.apps.Enable(false) // until Listen hears other instances' writes
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
// the notifier, sending a NOTIFY still pending, and closes the lock
// connection (see RunExclusive) and the connection pool.
func (s *Store) Close() error {
	s.ingest.Close()
	s.stopNotifier()
	<-s.notifierDone
	s.locks.close(context.Background())
	s.pool.Close()
	return nil
}

// exclude each other.
func (s *Store) lockKey(job string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hookbridge\x00" + job + "\x00" + s.schema))
	return int64(h.Sum64())
}

// RunExclusive runs fn unless another instance using the same schema is
// running a job of the same name, or this one is, and reports whether it
// ran. It holds a session advisory lock (pg_try_advisory_lock) while fn
// runs, on the store's lock connection (see lockSession), outside the
// pool: holding a lock never takes a connection from fn or from requests.
// The lock ends with the session if the process dies.
func (s *Store) RunExclusive(ctx context.Context, job string, fn func(context.Context) error) (bool, error) {
	key := s.lockKey(job)
	got, err := s.locks.acquire(ctx, s.cfg.ConnConfig, job, key)
	if err != nil {
		return false, fmt.Errorf("run %s exclusively: %w", job, err)
	}
	if !got {
		return false, nil
	}
	defer s.locks.release(context.WithoutCancel(ctx), job, key)
	return true, fn(ctx)
}

// lockSession is the connection that holds RunExclusive's advisory locks,
// one of its own beside the pool (as Listen's is), connected when first
// needed and again after it failed. A job that held a lock on a
// connection that failed has lost it, as it would have with the process:
// another instance may then start the same job.
type lockSession struct {
	mu   sync.Mutex
	conn *pgx.Conn
	held map[string]bool // jobs running here (a session may take its own lock again)
}

// acquire takes the lock key for job unless it is held, here or by
// another session.
func (l *lockSession) acquire(ctx context.Context, cfg *pgx.ConnConfig, job string, key int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[job] {
		return false, nil
	}
	if l.conn == nil || l.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return false, fmt.Errorf("connect: %w", err)
		}
		l.conn = conn
	}
	var got bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		l.closeConn(ctx)
		return false, err
	}
	if got {
		if l.held == nil {
			l.held = make(map[string]bool)
		}
		l.held[job] = true
	}
	return got, nil
}

// release gives back the lock of job; if that fails, it closes the
// connection, which ends every lock it held.
func (l *lockSession) release(ctx context.Context, job string, key int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, job)
	if l.conn == nil {
		return
	}
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		l.closeConn(ctx)
	}
}

// close closes the connection, ending every lock it holds.
func (l *lockSession) close(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeConn(ctx)
}

func (l *lockSession) closeConn(ctx context.Context) {
	if l.conn != nil {
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
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
