package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/operational"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/replay"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/sqlite"
	"github.com/hookbridge/hookbridge/tracing"
	"github.com/hookbridge/hookbridge/ui"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", "Run the management API and the delivery dispatcher.\nWith no flags it listens on "+defaultAddr+" and keeps everything in ./"+defaultDB+".", stderr)
	cfg.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return usageError("%v", err)
	}
	tuneGC()
	// The OpenTelemetry SDK reports what goes wrong (a malformed
	// OTEL_* variable, a collector's partial refusal) to a process-wide
	// handler: into the log with the rest.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "component", "tracing", "err", err)
	}))
	// So does the Redis client of broker deliveries.
	dispatch.LogClientsTo(logger.With("component", "dispatch"))
	srv, err := startServer(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return srv.Shutdown()
}

// serveGCPercent is the garbage collector's target that serve runs with
// unless GOGC says otherwise: Go's default of 100 spends a tenth of the
// server's CPU on collection under load, and the heap is small.
// Measured (docs/benchmarks.md): 4-6 % less CPU per delivery for 5-20 MB
// more RSS.
const serveGCPercent = 200

// tuneGC sets serveGCPercent, leaving GOGC (and GOMEMLIMIT) to whoever set
// them in the environment.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// server is a running Hookbridge: store, dispatcher and HTTP server, with
// the order in which they stop.
type server struct {
	Addr   string // the address actually listened on
	store  hookbridge.Store
	keys   *sealed.Keyring // the store's
	keySrc keySetup        // where keys came from
	http   *http.Server
	cancel context.CancelFunc // stops the dispatcher
	replay *replay.Worker     // runs background tasks (bulk replays)
	wg     sync.WaitGroup     // the HTTP server and the dispatcher
	// stopTracing flushes and stops the trace exporter, once the HTTP
	// server and the dispatcher have ended their last spans.
	stopTracing func()
	logger      *slog.Logger
	cfg         serveConfig
	api         *api.Server // runs the periodic backfill (Reconcile)

	mu  sync.Mutex
	err error // first error of a component that stopped on its own

	shutdown    sync.Once
	shutdownErr error
}

// startServer listens on the address, opens the store, makes sure an admin
// key exists, and starts the dispatcher and the HTTP server. The returned server runs until Shutdown.
// The generated admin key, if any, is printed to out.
func startServer(ctx context.Context, cfg serveConfig, logger *slog.Logger, out io.Writer) (*server, error) {
	if cfg.APIKey != "" {
		if err := checkAdminKeyStrength(cfg.APIKey); err != nil {
			return nil, usageError("--api-key: %v", err)
		}
	}
	allow, err := netguard.ParseCIDRs(cfg.AllowPrivate)
	if err != nil {
		return nil, usageError("--allow-private: %v", err)
	}
	guard := netguard.New(allow...)
	if cfg.HTTPSOnly {
		guard = guard.HTTPSOnly()
	}
	var proxy *url.URL
	if cfg.Proxy != "" {
		if proxy, err = dispatch.ParseProxy(cfg.Proxy); err != nil {
			return nil, usageError("--proxy: %v", err)
		}
	}
	// A negative age would reach into the future and delete everything.
	if cfg.Retention < 0 {
		return nil, usageError("--retention %s: must not be negative (0 keeps everything)", cfg.Retention)
	}
	if cfg.RawRetention < 0 {
		return nil, usageError("--raw-retention %s: must not be negative (0 keeps raw bodies as long as their events)", cfg.RawRetention)
	}
	delays := dispatch.DefaultDelays() // also for a serveConfig made in code
	if cfg.RetrySchedule != "" {
		if delays, err = dispatch.ParseDelays(cfg.RetrySchedule); err != nil {
			return nil, usageError("--retry-schedule: %v", err)
		}
	}
	if cfg.OTelEndpoint != "" {
		if u, err := url.Parse(cfg.OTelEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError("--otel-endpoint %q: want the collector's http(s)://host:port", cfg.OTelEndpoint)
		}
	}
	var ratio *float64
	if cfg.OTelSampleRatio != "" {
		r, err := strconv.ParseFloat(cfg.OTelSampleRatio, 64)
		if err != nil || !(r >= 0 && r <= 1) { // NaN too
			return nil, usageError("--otel-sample-ratio %q: want a number from 0 to 1", cfg.OTelSampleRatio)
		}
		ratio = &r
	}
	tracer, err := tracing.New(ctx, tracing.Config{Endpoint: cfg.OTelEndpoint, SampleRatio: ratio,
		Service: "hookbridge", Version: buildVersion(), Logger: logger.With("component", "tracing")})
	if err != nil {
		return nil, usageError("tracing: %v", err)
	}
	ok := false
	defer func() {
		if !ok {
			tracer.Shutdown(context.Background())
		}
	}()

	keySrc, err := resolveKeys(cfg.DB, cfg.SecretKey, cfg.SecretKeyFile, true)
	if err != nil {
		return nil, err
	}
	var keys *sealed.Keyring
	if !keySrc.generate {
		if keys, err = sealed.ParseKeys(keySrc.list); err != nil {
			return nil, usageError("--secret-key: %v", err)
		}
		if keys == nil { // blanks: nothing would be sealed
			return nil, usageError("--secret-key: no key in %q (make one with: hookbridge keygen)", keySrc.list)
		}
	}
	if err := ui.ValidateFrameAncestors(cfg.PortalFrameAncestors); err != nil {
		return nil, usageError("--portal-frame-ancestors: %v", err)
	}
	oidcCfg, err := cfg.oidcConfig()
	if err != nil {
		return nil, err
	}

	// The address first: a start that cannot listen must not leave a new
	// database (and a generated admin key nobody will use) behind.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer func() {
		if !ok {
			ln.Close()
		}
	}()
	if keySrc.generate {
		// The key is stored before anything is sealed with it; it is
		// removed again if this start ends before anything could be.
		keySrc.list = sealed.NewKey()
		if err := createKeyFile(keySrc.file, keySrc.list); err != nil {
			return nil, err
		}
		keys, _ = sealed.ParseKeys(keySrc.list)
	}
	keyInUse := !keySrc.generate
	defer func() {
		if !keyInUse {
			os.Remove(keySrc.file)
		}
	}()
	store, err := openStore(ctx, cfg.DB, cfg.Migrate, keys, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			store.Close()
		}
	}()
	if m, is := store.(migrationReporter); is && len(m.Migrated()) > 0 {
		logger.Info("schema migrated", "applied", strings.Join(m.Migrated(), ","))
	}
	// Stored secrets follow the keys: sealed with a new key, or first
	// sealed, before anything reads them; a secret the keys cannot open
	// stops the start here rather than every delivery to its endpoint.
	resealed, err := store.Reseal(ctx)
	switch {
	case err != nil && keySrc.generate:
		return nil, fmt.Errorf("%w: the database's secrets were sealed with a key kept elsewhere (no key file was at %s): "+
			"put that key's file there, or give the key with %s", err, absPath(keySrc.file), secretKeyFlags)
	case err != nil && keySrc.file != "":
		return nil, fmt.Errorf("%w; list the key that sealed it in %s, after the current key", err, absPath(keySrc.file))
	case err != nil:
		return nil, fmt.Errorf("%w; start with the --secret-key (HOOKBRIDGE_SECRET_KEY) that sealed it, listed after the current key", err)
	}
	keyInUse = true
	logKeys(logger, keySrc, keys)
	if resealed > 0 {
		logger.Info("stored secrets sealed with the current key", "rows", resealed, "key_id", keys.CurrentID())
	}
	scrub(ctx, store, logger)

	keyHash, err := ensureAdminKey(ctx, store, cfg.APIKey, out, logger)
	if err != nil {
		return nil, err
	}
	if err := seedEventTypes(ctx, store); err != nil {
		return nil, err
	}

	var disp *dispatch.Dispatcher
	// Operational events are messages of the reserved operational
	// application, sent by this same dispatcher. The store records each
	// with the change or result it reports, and the relay turns them into
	// messages.
	notifier := &operational.Notifier{Store: store, Wake: func() { disp.Wake() }}
	relay := operational.NewRelay(notifier, 0, logger.With("component", "operational"))
	if x, ok := store.(hookbridge.ExclusiveRunner); ok {
		relay.OneAtATime(x.RunExclusive)
	}
	disp, err = dispatch.New(dispatch.Config{
		Store:               store,
		Guard:               guard,
		Proxy:               proxy,
		Tracer:              tracer,
		Retry:               &dispatch.Schedule{Delays: delays, Jitter: dispatch.DefaultJitter},
		Workers:             cfg.Workers,
		RequestTimeout:      cfg.RequestTimeout,
		Lease:               cfg.Lease,
		Logger:              logger.With("component", "dispatch"),
		UserAgent:           "Hookbridge/" + buildVersion(),
		EndpointConcurrency: cfg.EndpointConcurrency,
		DisableAfter:        cfg.DisableAfter,
		EventsRecorded:      relay.Kick,
	})
	if err != nil {
		return nil, err
	}
	// The store hands the deliveries of new messages straight to the
	// dispatcher, leased to it, instead of leaving them to be claimed.
	hs, storeWakes := store.(hookbridge.HandoffStore)
	if storeWakes {
		hs.SetHandoff(disp)
	}
	// Bulk replays and recoveries run as background tasks, queued as
	// manual deliveries for this dispatcher (or any instance's).
	replayer := replay.New(replay.Config{Store: store, Wake: disp.Wake, Logger: logger.With("component", "replay")})
	handler := api.New(api.Config{
		Store:          store,
		TaskCreated:    replayer.Kick,
		Guard:          guard,
		AdminKeyHash:   keyHash,
		MaxPayload:     cfg.MaxPayload,
		Wake:           disp.Wake,
		StoreWakes:     storeWakes,
		EventsRecorded: relay.Kick,
		// A schedule changed here applies at the next failed try here;
		// other instances read it again within their schedule TTL.
		RetryScheduleChanged: disp.ForgetRetrySchedule,
		Logger:               logger.With("component", "api"),
		Version:              buildVersion(),
		PublicURL:            cfg.PublicURL,
		Tracer:               tracer,

		StrictEventTypes: cfg.StrictEventTypes,
	})
	pages, err := ui.New(ctx, ui.Config{
		Store:            store,
		API:              handler,
		AdminKeyHash:     keyHash,
		OIDC:             oidcCfg,
		NoAdminKeySignIn: cfg.NoAdminKeySignIn,
		FrameAncestors:   cfg.PortalFrameAncestors,
		Logger:           logger.With("component", "ui"),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", handler) // the API, and its JSON 404 for anything unrouted
	pages.Register(mux)      // the dashboard (/ui/) and the consumer portal (/portal/)
	mux.Handle("GET /metrics", handler.RequireAdmin(metricsHandler(handler, disp, tracer, store, logger.With("component", "metrics"))))

	s := &server{
		api:    handler,
		Addr:   ln.Addr().String(),
		store:  store,
		replay: replayer,
		keys:   keys,
		keySrc: keySrc,
		logger: logger,
		cfg:    cfg,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}
	// The exporter outlives the components whose spans it sends: stop
	// flushes it after they have stopped, within a bound of its own.
	s.stopTracing = func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tracer.Shutdown(ctx); err != nil {
			logger.Warn("tracing: flush on shutdown", "err", err)
		}
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := disp.Run(dctx); err != nil && !errors.Is(err, context.Canceled) {
			s.fail(fmt.Errorf("dispatcher: %w", err))
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	s.wg.Go(func() { relay.Run(dctx) })
	s.startJobs(dctx, disp.WakeFor)
	ok = true
	started := []any{"addr", s.Addr, "db", redactDSN(cfg.DB), "version", buildVersion()}
	if proxy != nil {
		started = append(started, "proxy", proxy.Redacted())
	}
	if oidcCfg != nil {
		started = append(started, "oidc_issuer", oidcCfg.Issuer, "admin_key_sign_in", !cfg.NoAdminKeySignIn)
	}
	if tracer != nil {
		started = append(started, "tracing", true)
		if cfg.OTelEndpoint != "" {
			started = append(started, "otel_endpoint", cfg.OTelEndpoint)
		}
		if ratio != nil {
			started = append(started, "otel_sample_ratio", *ratio)
		}
	}
	logger.Info("hookbridge started", started...)
	return s, nil
}

func (s *server) fail(err error) {
	s.logger.Error("component stopped", "err", err)
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Shutdown stops accepting requests and lets those in flight finish, then
// stops the dispatcher (which finishes or releases its in-flight
// deliveries), then closes the store. Accepted messages are already durable,
// so nothing is lost whatever the order; this order just wastes least work.
// Calls after the first return the first one's result.
func (s *server) Shutdown() error {
	s.shutdown.Do(func() { s.shutdownErr = s.stop() })
	return s.shutdownErr
}

// stop is Shutdown's work, done once.
func (s *server) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	herr := s.http.Shutdown(ctx)
	s.cancel()
	s.wg.Wait()
	s.stopTracing()
	cerr := s.store.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.err, herr, cerr)
}

// openStore opens the database named by dsn: a postgres:// or
// postgresql:// URL is PostgreSQL, anything else a SQLite file path. With
// migrate the schema is brought up to date; without, PostgreSQL's is
// checked instead (SQLite, one process per file, always migrates).
func openStore(ctx context.Context, dsn string, migrate bool, keys *sealed.Keyring, logger *slog.Logger) (hookbridge.Store, error) {
	if isPostgres(dsn) {
		opts := []postgres.Option{postgres.WithLogger(logger.With("component", "store")), postgres.WithKeys(keys)}
		if !migrate {
			opts = append(opts, postgres.WithoutMigrations())
		}
		st, err := postgres.Open(ctx, dsn, opts...)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, dsn, sqlite.WithKeys(keys))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dsn, err)
	}
	return st, nil
}

// scrubber is a store whose files keep what a reseal replaced until they
// are scrubbed (SQLite's).
type scrubber interface {
	Scrub(ctx context.Context) error
}

// scrub has the store remove from its files the former values of the
// secrets a reseal replaced (now or at an earlier start that could not
// finish it). A failure is logged, not fatal: the secrets are sealed, the
// store remembers the scrub is due, and the next start tries again.
func scrub(ctx context.Context, store hookbridge.Store, logger *slog.Logger) {
	sc, ok := store.(scrubber)
	if !ok {
		return
	}
	if err := sc.Scrub(ctx); err != nil {
		logger.Error("the database file may still hold the former values of resealed secrets (plain text from an older version, "+
			"or values under a retired key); the scrub is tried again at the next start or key change", "err", err)
	}
}

// logKeys says where the keys that seal the stored secrets are: never
// the keys themselves. A key file that others than its owner may read is
// warned about.
func logKeys(logger *slog.Logger, src keySetup, keys *sealed.Keyring) {
	if src.file == "" {
		logger.Info("stored secrets are sealed with the key of --secret-key (HOOKBRIDGE_SECRET_KEY)", "key_id", keys.CurrentID(), "keys", len(keys.IDs()))
		return
	}
	file := absPath(src.file)
	if src.generate {
		logger.Warn("generated the key that seals the stored secrets, in a file beside the database: keep a copy in a secret manager, "+
			"apart from the database and its backups; without it the secrets cannot be read (README: Secrets at rest)", "key_file", file, "key_id", keys.CurrentID())
		return
	}
	logger.Info("stored secrets are sealed with the key in the key file", "key_file", file, "key_id", keys.CurrentID(), "keys", len(keys.IDs()))
	if info, err := os.Stat(src.file); err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warn("the key file may be read by others than its owner: chmod 600 it", "key_file", file, "mode", fmt.Sprintf("%o", info.Mode().Perm()))
	}
}

// redactDSN hides a password in a database URL before it is logged.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon+1] + "xxxxx" + dsn[at:]
			}
		}
	}
	return dsn
}

// ensureAdminKey returns the hash of the admin key to accept. A key given
// on the command line (its strength checked before) wins and its hash is
// stored, with a warning when it replaces another (the key printed on
// first start, say), since that one stops working; otherwise the stored
// hash is used; on first start a key is generated, its hash stored, and
// the key printed once to out. No key is ever logged.
func ensureAdminKey(ctx context.Context, store hookbridge.SettingStore, key string, out io.Writer, logger *slog.Logger) (string, error) {
	if key != "" {
		hash := hookbridge.HashKey(key)
		stored, err := store.Setting(ctx, hookbridge.SettingAdminKeyHash)
		if err != nil && !hookbridge.IsNotFound(err) {
			return "", fmt.Errorf("read admin key hash: %w", err)
		}
		if err == nil && stored == hash {
			return hash, nil
		}
		if _, err := store.PutSetting(ctx, hookbridge.SettingAdminKeyHash, hash, false); err != nil {
			return "", fmt.Errorf("store admin key hash: %w", err)
		}
		if stored != "" {
			logger.Warn("the admin key given with --api-key (HOOKBRIDGE_API_KEY) replaces the one stored before " +
				"(generated on first start, or given earlier); that key no longer works")
		}
		return hash, nil
	}
	hash, err := store.Setting(ctx, hookbridge.SettingAdminKeyHash)
	if err == nil {
		return hash, nil
	}
	if !hookbridge.IsNotFound(err) {
		return "", fmt.Errorf("read admin key hash: %w", err)
	}
	key = hookbridge.NewAdminKey()
	stored, err := store.PutSetting(ctx, hookbridge.SettingAdminKeyHash, hookbridge.HashKey(key), true)
	if err != nil {
		return "", fmt.Errorf("store admin key hash: %w", err)
	}
	if !stored { // another instance generated one first
		return store.Setting(ctx, hookbridge.SettingAdminKeyHash)
	}
	fmt.Fprintf(out, "\nGenerated the admin API key. It is shown only this once; only its hash is stored:\n\n    %s\n\nUse it as \"Authorization: Bearer <key>\". To choose your own, start with --api-key or HOOKBRIDGE_API_KEY.\n\n", key)
	return hookbridge.HashKey(key), nil
}
