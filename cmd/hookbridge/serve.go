package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// Defaults of `hookbridge serve`, written down once.
const (
	defaultAddr            = "127.0.0.1:8071"
	defaultDB              = "hookbridge.db"
	defaultShutdownTimeout = 10 * time.Second
	// tracingFlushTimeout bounds the sending of the last spans on shutdown.
	tracingFlushTimeout = 5 * time.Second
)

// serveConfig is everything `hookbridge serve` can be told.
type serveConfig struct {
	Addr            string
	DB              string
	APIKey          string
	SecretKey       string // keys that seal stored secrets, comma-separated, current first; "" = those of SecretKeyFile
	SecretKeyFile   string // file of those keys; "" = DB + keyFileSuffix on SQLite (made on first start), required on PostgreSQL without SecretKey
	AllowPrivate    string
	HTTPSOnly       bool
	Proxy           string
	OTelEndpoint    string
	RetrySchedule   string
	OTelSampleRatio string // "" = OTEL_TRACES_SAMPLER's choice, else all
	MaxPayload      int64
	RequestTimeout  time.Duration
	Workers         int
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string

	Migrate           bool          // apply the schema on start (PostgreSQL; SQLite always does)
	Lease             time.Duration // how long a claimed delivery is held; 0 = dispatch.DefaultLease
	Retention         time.Duration // age after which finished messages are deleted; 0 = keep everything
	RawRetention      time.Duration // age after which inbound raw bodies are dropped; 0 = kept as long as their events
	RetentionInterval time.Duration // how often retention runs; 0 = defaultRetentionInterval

	EndpointConcurrency int           // requests in flight per endpoint, per instance
	DisableAfter        time.Duration // failing this long disables an endpoint; 0 = dispatch.DefaultDisableAfter, dispatch.NeverDisable = never

	PublicURL            string // where browsers reach the server, for portal links; "" = each request's host
	PortalFrameAncestors string // CSP frame-ancestors of the consumer portal; "" = ui.DefaultFrameAncestors

	// StrictEventTypes refuses messages of event types not in the
	// catalogue, or archived (422); by default they are accepted and counted.
	StrictEventTypes bool

	// Dashboard sign-in through an OpenID Connect provider (ui.OIDCConfig),
	// on when OIDCIssuer is set. Lists are comma- or space-separated.
	OIDCIssuer         string
	OIDCClientID       string
	OIDCClientSecret   string
	OIDCRedirectURL    string // "" = PublicURL + ui.OIDCCallbackPath
	OIDCScopes         string
	OIDCRolesClaim     string
	OIDCAdminValues    string
	OIDCReadOnlyValues string
	// NoAdminKeySignIn turns off the dashboard's sign-in with the admin
	// key (--admin-key-sign-in=false); it needs OIDCIssuer.
	NoAdminKeySignIn bool

	// keyFileCheck is how often the key file is read for a new key list;
	// 0 = keyFileCheck. Tests shorten it.
	keyFileCheck time.Duration
}

func (c *serveConfig) register(fs *flagSet) {
	fs.String(&c.Addr, "addr", defaultAddr, "address to listen on (host:port)")
	fs.String(&c.DB, "db", defaultDB, "database: a SQLite file path (created if missing), or a postgres:// URL shared by every instance")
	fs.Secret(&c.APIKey, "api-key", "server-wide admin `key`: at least 32 characters, at least 10 of them different, not a shorter string repeated; it replaces a stored one (a warning says so). When unset, the stored key is used, or one is generated and printed once on first start")
	fs.Secret(&c.SecretKey, "secret-key", "the `key` that encrypts the secrets stored in the database (endpoint secrets, source credentials, the keys that sign portal links and sessions, responses kept for retries): base64 of 32 bytes, from: hookbridge keygen; a comma-separated list seals with the first and still opens with the others, to rotate keys. It wins over --secret-key-file. Prefer the environment variable, which ps does not show; every instance on one database needs the same keys")
	fs.String(&c.SecretKeyFile, "secret-key-file", "", "`file` holding the key (or list) of --secret-key, when that is unset; serve follows changes to it while it runs. Default on SQLite: the database's path followed by "+keyFileSuffix+", made (for the owner only) on first start; on PostgreSQL one of the two must be given, the same for every instance. Keep a copy in a secret manager: without the key the stored secrets cannot be read")
	fs.String(&c.AllowPrivate, "allow-private", "", "comma-separated CIDRs that deliveries may reach although private, loopback or link-local (e.g. 127.0.0.1/32)")
	fs.String(&c.RetrySchedule, "retry-schedule", "5s,5m,30m,2h,5h,10h,10h", "delays between the tries of a failing delivery, each spread ±20 % (Go durations, comma-separated; \"none\": one try only)")
	fs.String(&c.OTelEndpoint, "otel-endpoint", "", "send OpenTelemetry traces (a span per API request and per delivery attempt) to the OTLP collector at this `url`, e.g. http://localhost:4318 (OTLP/HTTP; gRPC with OTEL_EXPORTER_OTLP_PROTOCOL=grpc); it wins over OTEL_EXPORTER_OTLP_ENDPOINT, and the other OTEL_EXPORTER_OTLP_* variables apply")
	fs.String(&c.OTelSampleRatio, "otel-sample-ratio", "", "share of new traces to record, a `ratio` from 0 to 1 (a caller's traceparent decides for its own trace); it wins over OTEL_TRACES_SAMPLER, and with neither every trace is recorded")
	fs.String(&c.Proxy, "proxy", "", "send every delivery through this egress proxy (http://, https:// or socks5://host:port, e.g. Smokescreen), which then decides which addresses receivers may have; deliveries to brokers (amqp://, nats://, redis://, kafka:// endpoints) are then refused, saying why")
	fs.Bool(&c.HTTPSOnly, "https-only", false, "accept only encrypted endpoint URLs: https, and for brokers amqps://, tls:// (NATS) and rediss:// (no kafka://); send nothing to another one stored before (its deliveries fail, saying why)")
	fs.Bool(&c.StrictEventTypes, "strict-event-types", false, "refuse (422 on eventType) a message whose event type is not in the catalogue, or is archived; by default it is accepted, as Svix does, and counted in /metrics and on the dashboard")
	fs.Int64(&c.MaxPayload, "max-payload", api.DefaultMaxPayload, "largest message payload accepted, in bytes")
	fs.Duration(&c.RequestTimeout, "request-timeout", dispatch.DefaultRequestTimeout, "timeout of one delivery request")
	fs.Int(&c.Workers, "workers", dispatch.DefaultWorkers, "deliveries sent concurrently")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long shutdown waits for in-flight requests and deliveries")
	fs.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.String(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.Bool(&c.Migrate, "migrate", true, "apply the database schema on start; with false, PostgreSQL's is checked and a schema that is behind is refused (apply it with: hookbridge migrate)")
	fs.Duration(&c.Lease, "lease", dispatch.DefaultLease, "how long a claimed delivery is held before another instance may take it over (must exceed --request-timeout)")
	fs.Int(&c.EndpointConcurrency, "endpoint-concurrency", dispatch.DefaultEndpointConcurrency, "requests in flight to one endpoint at most, per instance, so a slow receiver cannot take every worker")
	fs.DurationOrNever(&c.DisableAfter, "disable-after", dispatch.DefaultDisableAfter, dispatch.NeverDisable, "disable an endpoint whose attempts have all failed for this `duration`, and send endpoint.disabled to the operational webhook endpoints; never keeps failing endpoints enabled")
	fs.Duration(&c.Retention, "retention", defaultRetention, "delete messages older than this whose deliveries are all final, with their attempts; 0 keeps everything")
	fs.Duration(&c.RawRetention, "raw-retention", defaultRawRetention, "drop the raw body of an inbound notification this old (its event stays as long as --retention says); 0 keeps bodies as long as their events")
	fs.Duration(&c.RetentionInterval, "retention-interval", defaultRetentionInterval, "how often the retention job runs")
	fs.String(&c.PublicURL, "public-url", "", "URL at which browsers reach this server (e.g. https://hooks.example.com), used in consumer portal links; when unset, the address each request was sent to")
	fs.String(&c.PortalFrameAncestors, "portal-frame-ancestors", ui.DefaultFrameAncestors, "pages that may embed the consumer portal in an iframe: a CSP frame-ancestors source list, e.g. \"'self' https://app.example.com\"")

	fs.String(&c.OIDCIssuer, "oidc-issuer", "", "let operators sign in to the dashboard through this OpenID Connect provider: its issuer `url` (https; http only on loopback), e.g. https://login.example.com/realms/ops")
	fs.String(&c.OIDCClientID, "oidc-client-id", "", "the dashboard's client id at the OpenID Connect provider")
	fs.Secret(&c.OIDCClientSecret, "oidc-client-secret", "the dashboard's client `secret` at the OpenID Connect provider; prefer the environment variable, which ps does not show. Empty for a public client (PKCE only)")
	fs.String(&c.OIDCRedirectURL, "oidc-redirect-url", "", "where the provider sends the browser back to, as registered with it (its path ends in "+ui.OIDCCallbackPath+"); when unset, --public-url followed by "+ui.OIDCCallbackPath)
	fs.String(&c.OIDCScopes, "oidc-scopes", strings.Join(strings.Fields(ui.DefaultOIDCScopes), ","), "scopes asked of the provider, comma-separated (openid is always asked); add the one that puts the roles claim in the ID token if the provider needs it, e.g. groups")
	fs.String(&c.OIDCRolesClaim, "oidc-roles-claim", ui.DefaultRolesClaim, "the ID token `claim` that carries the user's groups or roles (a string or a list; a dotted name such as realm_access.roles looks into nested objects)")
	fs.String(&c.OIDCAdminValues, "oidc-admin-values", "", "`values` of the roles claim, comma-separated, that make a user admin: everything the dashboard does")
	fs.String(&c.OIDCReadOnlyValues, "oidc-read-only-values", "", "`values` of the roles claim, comma-separated, that make a user read-only: every page, no change (admin wins when both match; a user with neither is refused)")
	fs.BoolOff(&c.NoAdminKeySignIn, "admin-key-sign-in", "let the dashboard be signed in to with the admin key; false (only with --oidc-issuer) leaves sign-in to the OpenID Connect provider and ends the sessions made with the key. The API takes the key either way")
}

// oidcFlags names the flag of each ui.OIDCConfig field, for errors.
var oidcFlags = map[string]string{
	"Issuer": "--oidc-issuer", "ClientID": "--oidc-client-id", "RedirectURL": "--oidc-redirect-url",
	"Scopes": "--oidc-scopes", "RolesClaim": "--oidc-roles-claim",
	"AdminValues": "--oidc-admin-values", "ReadOnlyValues": "--oidc-read-only-values",
}

// oidcConfig returns the dashboard's OpenID Connect settings, nil when
// --oidc-issuer is unset, or a usage error naming the flag at fault.
func (c *serveConfig) oidcConfig() (*ui.OIDCConfig, error) {
	if c.OIDCIssuer == "" {
		if c.NoAdminKeySignIn {
			return nil, usageError("--admin-key-sign-in=false needs --oidc-issuer: without either, nobody could sign in to the dashboard")
		}
		for flag, v := range map[string]string{"--oidc-client-id": c.OIDCClientID, "--oidc-client-secret": c.OIDCClientSecret,
			"--oidc-redirect-url": c.OIDCRedirectURL, "--oidc-admin-values": c.OIDCAdminValues, "--oidc-read-only-values": c.OIDCReadOnlyValues} {
			if v != "" {
				return nil, usageError("%s is set but --oidc-issuer is not: set the provider's issuer URL too", flag)
			}
		}
		return nil, nil
	}
	redirect := c.OIDCRedirectURL
	if redirect == "" {
		if c.PublicURL == "" {
			return nil, usageError("--oidc-redirect-url: set it to the callback URL registered with the provider (ending in %s), or set --public-url to derive it", ui.OIDCCallbackPath)
		}
		redirect = strings.TrimSuffix(c.PublicURL, "/") + ui.OIDCCallbackPath
	}
	oc := &ui.OIDCConfig{
		Issuer:         c.OIDCIssuer,
		ClientID:       c.OIDCClientID,
		ClientSecret:   c.OIDCClientSecret,
		RedirectURL:    redirect,
		Scopes:         splitList(c.OIDCScopes),
		RolesClaim:     c.OIDCRolesClaim,
		AdminValues:    splitList(c.OIDCAdminValues),
		ReadOnlyValues: splitList(c.OIDCReadOnlyValues),
	}
	if err := ui.ValidateOIDC(oc); err != nil {
		var fe *ui.OIDCConfigError
		if errors.As(err, &fe) && oidcFlags[fe.Field] != "" {
			if fe.Field == "RedirectURL" && c.OIDCRedirectURL == "" {
				return nil, usageError("--public-url: the OpenID Connect redirect URL derived from it, %s", fe.Msg)
			}
			return nil, usageError("%s: %s", oidcFlags[fe.Field], fe.Msg)
		}
		return nil, usageError("%v", err)
	}
	return oc, nil
}

// splitList splits a flag's list at commas and spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

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

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid log level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid log format %q (text or json)", format)
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
		Logger:         logger.With("component", "api"),
		Version:        buildVersion(),
		PublicURL:      cfg.PublicURL,
		Tracer:         tracer,

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
	s.startJobs(dctx, disp.Wake)
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

// The strength an admin key chosen with --api-key must have. A generated
// one (hookbridge.NewAdminKey: 47 characters, 256 random bits) has it.
const (
	minAdminKeyLen      = 32
	minAdminKeyDistinct = 10
)

// adminKeyRule is the rule an operator's admin key must follow, as the
// refusal says it.
var adminKeyRule = fmt.Sprintf("an admin key needs at least %d characters, at least %d of them different, "+
	"and must not repeat a shorter string; leave --api-key unset to have one generated, "+
	"or make one with: openssl rand -base64 32", minAdminKeyLen, minAdminKeyDistinct)

// checkAdminKeyStrength refuses an operator's admin key that is short or
// plainly guessable: few distinct characters ("aaaa…", "abab…"), or one
// shorter string over and over ("0123456789" four times). Failed
// authentication is throttled, but the throttle never refuses a right
// key, so the key's strength is what keeps guessing out.
func checkAdminKeyStrength(key string) error {
	n := utf8.RuneCountInString(key)
	if n < minAdminKeyLen {
		return fmt.Errorf("too short (%d characters): %s", n, adminKeyRule)
	}
	distinct := make(map[rune]bool)
	for _, c := range key {
		distinct[c] = true
	}
	if len(distinct) < minAdminKeyDistinct {
		return fmt.Errorf("only %d different characters: %s", len(distinct), adminKeyRule)
	}
	if p := period(key); p <= len(key)/2 {
		return fmt.Errorf("it is a string of %d characters repeated: %s", utf8.RuneCountInString(key[:p]), adminKeyRule)
	}
	return nil
}

// period returns the smallest p such that s[i] == s[i-p] for every i ≥ p
// (len(s) when s repeats nothing), in linear time: the length of s less
// its longest proper prefix that is also a suffix (Knuth–Morris–Pratt).
func period(s string) int {
	if s == "" {
		return 0
	}
	border := make([]int, len(s)) // border[i]: longest proper border of s[:i+1]
	for i := 1; i < len(s); i++ {
		k := border[i-1]
		for k > 0 && s[i] != s[k] {
			k = border[k-1]
		}
		if s[i] == s[k] {
			k++
		}
		border[i] = k
	}
	return len(s) - border[len(s)-1]
}

// settingEventTypesSeeded records that the canonical event types were
// seeded, so that ones an operator deleted are not brought back.
const settingEventTypesSeeded = "event_types_seeded"

// settingEventTypesGeneration records which generation of the canonical
// catalogue a database was seeded with (absent: 1 if it was seeded at all),
// so that a newer binary adds what came later without bringing back what
// an operator deleted or overwriting what an operator edited.
const settingEventTypesGeneration = "event_types_generation"

// Generations of the canonical catalogue: 1, the first twelve types; 2, a
// JSON Schema with an example on every type, and payment.updated; 3,
// version "2" of the payment.*, refund.* and dispute.* schemas (the
// payment's state).
const eventTypesGeneration = 3

// eventTypeSince is the generation that added a type; the others are 1.
var eventTypeSince = map[string]int{"payment.updated": 2}

// seedEventTypes brings the catalogue up to eventTypesGeneration: a fresh
// database gets every canonical type; one seeded by an older generation
// gets the types added since, the schema of each type it has that has none,
// and the newer schema of each type whose schema is still the one an older
// generation seeded (one the operator gave a schema of their own, or
// deleted, is left as it is).
func seedEventTypes(ctx context.Context, store hookbridge.Store) error {
	gen, err := seededGeneration(ctx, store)
	if err != nil || gen >= eventTypesGeneration {
		return err
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		since := max(eventTypeSince[et.Name], 1)
		if since > gen {
			et := et
			if err := store.CreateEventType(ctx, &et); err != nil && hookbridge.ErrorCode(err) != hookbridge.ECONFLICT {
				return fmt.Errorf("seed event type %s: %w", et.Name, err)
			}
			continue
		}
		if gen >= 3 || len(et.Schemas) == 0 { // every schema is as generation 3 has it
			continue
		}
		cur, err := store.GetEventType(ctx, et.Name)
		if hookbridge.IsNotFound(err) {
			continue // deleted by the operator
		} else if err != nil {
			return fmt.Errorf("seed event type %s: %w", et.Name, err)
		}
		// Schemas came with generation 2, version "2" of the payment
		// types' with generation 3: replace what an older generation
		// seeded, nothing else.
		if hasSchema(cur.Schemas) && !sameJSON(cur.Schemas, schemasBefore(et.Schemas, "2")) {
			continue
		}
		if sameJSON(cur.Schemas, et.Schemas) {
			continue
		}
		cur.Schemas = et.Schemas
		if err := store.UpdateEventType(ctx, cur); err != nil {
			return fmt.Errorf("seed the schema of event type %s: %w", et.Name, err)
		}
	}
	if _, err := store.PutSetting(ctx, settingEventTypesSeeded, time.Now().UTC().Format(time.RFC3339), true); err != nil {
		return err
	}
	_, err = store.PutSetting(ctx, settingEventTypesGeneration, strconv.Itoa(eventTypesGeneration), false)
	return err
}

// schemasBefore is an event type's Schemas without the versions from
// version on: what an older generation seeded.
func schemasBefore(schemas []byte, version string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(schemas, &m) != nil {
		return schemas
	}
	for v := range m {
		if v >= version {
			delete(m, v)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return schemas
	}
	return out
}

// sameJSON reports whether two JSON documents hold the same value, however
// a store wrote them back (PostgreSQL's jsonb orders object keys its way).
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// seededGeneration is the catalogue generation the database was seeded
// with: 0 for none.
func seededGeneration(ctx context.Context, store hookbridge.Store) (int, error) {
	v, err := store.Setting(ctx, settingEventTypesGeneration)
	if err == nil {
		gen, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("setting %s is %q, not a number", settingEventTypesGeneration, v)
		}
		return gen, nil
	}
	if !hookbridge.IsNotFound(err) {
		return 0, err
	}
	if _, err := store.Setting(ctx, settingEventTypesSeeded); err == nil {
		return 1, nil
	} else if !hookbridge.IsNotFound(err) {
		return 0, err
	}
	return 0, nil
}

// hasSchema reports whether an event type's schemas hold any.
func hasSchema(raw []byte) bool {
	var m map[string]any
	return json.Unmarshal(raw, &m) == nil && len(m) > 0
}
