package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/ui"
)

// The flags of `hookbridge serve`: what it can be told, their defaults and
// the checks of their values. The wiring of what they configure is in
// serve.go.

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
	// reconcileCheck is how often the periodic backfill looks for sources
	// due a run; 0 = reconcileCheck. Tests shorten it.
	reconcileCheck time.Duration
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
	fs.Bool(&c.HTTPSOnly, "https-only", false, "accept only encrypted endpoint URLs: https, and for brokers amqps://, tls:// (NATS), rediss:// and kafkas://; send nothing to another one stored before (its deliveries fail, saying why)")
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
