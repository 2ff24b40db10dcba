package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge/api"
)

// Defaults of `hookbridge bench`, written down once.
const (
	DefaultMessages    = 20_000
	DefaultConcurrency = 64
	DefaultTimeout     = 10 * time.Minute

	// eventType is the type of every bench message, one of the event
	// types seeded on first start.
	eventType = "payment.captured"
	// serverStartTimeout bounds how long a server may take to listen, and
	// serverStopTimeout how long it may take to stop after being asked.
	serverStartTimeout = 30 * time.Second
	serverStopTimeout  = 30 * time.Second
	// heldRequestTimeout is the delivery request timeout of the server that
	// builds up a backlog (--backlog): long enough that requests held by
	// the receiver do not time out while the backlog is ingested, short
	// enough to stay under the dispatcher's lease.
	heldRequestTimeout = 50 * time.Second
	// filterMatch and filterMiss are the endpoint filters of --filter: the
	// first takes every bench message (amount 4250 EUR), the second none,
	// and both cost the same to evaluate.
	filterMatch = `payload.amount >= 1000 && payload.currency == "EUR"`
	filterMiss  = `payload.amount >= 1000 && payload.currency == "USD"`
	// anyLoopbackPort is the listen address of what the bench starts when
	// it is not told one: a free port on loopback.
	anyLoopbackPort = "127.0.0.1:0"
)

// Config is everything a run can be told: one field per flag of
// `hookbridge bench`, whose --help says what each means. Check names the
// flags in its errors.
type Config struct {
	DB           string        // --db; "" or "sqlite" is a new SQLite file in a temporary directory; several, comma-separated, for a comparison (see stores)
	URL          string        // --url
	Addr         string        // --addr; "" is a free port on 127.0.0.1
	ReceiverAddr string        // --receiver-addr; "" is a free port on 127.0.0.1
	APIKey       string        // --api-key
	Endpoints    int           // --endpoints
	Fanout       int           // --fanout
	Messages     int           // --messages
	Concurrency  int           // --concurrency
	Rate         int           // --rate; 0 is as fast as possible
	Batch        int           // --batch
	Baseline     bool          // --baseline
	Relay        bool          // --relay
	DurableRelay bool          // --durable-relay
	Backlog      int           // --backlog
	Hang         int           // --hang
	Instances    int           // --instances
	Workers      int           // --workers; 0 is the server's default
	Sealed       bool          // --sealed
	Filter       bool          // --filter: a filter on every endpoint, which every other one of an application's endpoints passes
	Idempotency  bool          // --idempotency-keys
	Destination  string        // --destination: http, amqp, nats or redis, or several comma-separated
	Rounds       int           // --rounds: runs of each destination, interleaved
	AMQPURL      string        // --amqp-url
	NATSURL      string        // --nats-url
	RedisURL     string        // --redis-url
	Timeout      time.Duration // --timeout: the bound on each run (of each round, destination and server binary)
	InProcess    bool          // --in-process: the server runs in this process, started by Serve
	ServerBinary string        // --server-binary; "" is the running executable; several, comma-separated, are compared

	// Serve starts a server inside this process for InProcess, as
	// `hookbridge serve` does: the command that runs the bench provides
	// it, so that the bench does not wire a server of its own.
	Serve ServeFunc
}

// Check rejects contradictory or out-of-range settings.
func (c *Config) Check() error {
	switch {
	case c.Endpoints < 1 || c.Fanout < 1 || c.Messages < 1 || c.Concurrency < 1 || c.Instances < 1:
		return errors.New("--endpoints, --fanout, --messages, --concurrency and --instances must be at least 1")
	case c.Rate < 0 || c.Backlog < 0 || c.Workers < 0 || c.Timeout <= 0:
		return errors.New("--rate, --backlog and --workers must not be negative, --timeout must be positive")
	case c.Hang < 0 || c.Hang >= c.Endpoints*c.Fanout:
		return fmt.Errorf("--hang must leave at least one of the %d endpoints answering", c.Endpoints*c.Fanout)
	case c.Hang > 0 && c.Backlog > 0:
		return errors.New("--hang and --backlog measure different things; use one at a time")
	case c.Batch < 1 || c.Batch > api.MaxBatchMessages:
		return fmt.Errorf("--batch must be from 1 to %d", api.MaxBatchMessages)
	case c.URL != "" && c.APIKey == "":
		return errors.New("--url needs --api-key")
	case c.URL != "" && (c.DB != "" || c.InProcess || c.ServerBinary != "" || c.Backlog > 0 || c.Workers > 0 || c.Sealed):
		return errors.New("--url measures a running server: --db, --in-process, --server-binary, --workers, --sealed and --backlog start one")
	case (c.Relay || c.DurableRelay) && (c.Backlog > 0 || c.Hang > 0 || c.Fanout > 1):
		return errors.New("--relay and --durable-relay measure one delivery per message: not with --backlog, --hang or --fanout")
	case c.Filter && c.Hang > 0:
		return errors.New("--filter and --hang measure different things; use one at a time")
	case c.InProcess && c.ServerBinary != "":
		return errors.New("--in-process and --server-binary exclude each other")
	case strings.HasPrefix(c.ServerBinary, ",") || strings.HasSuffix(c.ServerBinary, ",") || strings.Contains(c.ServerBinary, ",,"):
		return fmt.Errorf("--server-binary: want one path, or several separated by single commas, got %q", c.ServerBinary)
	case c.InProcess && c.Serve == nil:
		return errors.New("--in-process needs a Serve function that starts the server in this process")
	}
	dests, err := c.destinations()
	if err != nil {
		return err
	}
	bins := c.serverBinaries()
	stores, err := c.stores()
	if err != nil {
		return err
	}
	brokers := slices.ContainsFunc(dests, func(d string) bool { return d != DestHTTP })
	several := 0
	for _, n := range []int{len(dests), len(bins), len(stores)} {
		if n > 1 {
			several++
		}
	}
	switch {
	case c.Rounds < 0:
		return errors.New("--rounds must not be negative")
	case c.Instances > 1 && (!slices.ContainsFunc(stores, isPostgres) || c.InProcess):
		return errors.New("--instances needs --db postgres://…: several servers share one PostgreSQL database (and run as processes)")
	case several > 1:
		return errors.New("compare several --destination, several --server-binary or several --db, one at a time")
	case (several > 0 || c.Rounds > 1) && (c.Backlog > 0 || c.Hang > 0):
		return errors.New("several --destination, --server-binary, --db or --rounds compare delivery rates: not with --backlog or --hang")
	case brokers && (c.Backlog > 0 || c.Hang > 0 || c.Relay || c.DurableRelay):
		return errors.New("a broker --destination measures throughput: not with --backlog, --hang, --relay or --durable-relay")
	case brokers && c.Endpoints*c.Fanout > maxBrokerEndpoints:
		return fmt.Errorf("a broker --destination takes at most %d endpoints (--endpoints × --fanout): each has a queue or stream and a consumer of its own", maxBrokerEndpoints)
	}
	for _, d := range dests {
		if d == DestHTTP {
			continue
		}
		if u, err := url.Parse(c.brokerURL(d)); err != nil || u.Host == "" {
			return fmt.Errorf("--%s-url: want a URL such as %s, got %q", d, map[string]string{DestAMQP: DefaultAMQPURL, DestNATS: DefaultNATSURL, DestRedis: DefaultRedisURL}[d], c.brokerURL(d))
		}
	}
	if c.Addr != "" {
		if c.URL != "" {
			return errors.New("--addr is where a server the bench starts listens: not with --url")
		}
		if err := checkLoopbackAddr(c.Addr); err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
	}
	if c.ReceiverAddr != "" {
		if err := checkLoopbackAddr(c.ReceiverAddr); err != nil {
			return fmt.Errorf("--receiver-addr: %w", err)
		}
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--url: want http://host:port, got %q", c.URL)
		}
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("--url: %s is not a loopback address; the bench's receiver listens on loopback, so the server must run on this machine", u.Hostname())
		}
	}
	return nil
}

// destinations returns the destinations of --destination, in order, http
// when none is given.
func (c *Config) destinations() ([]string, error) {
	if c.Destination == "" {
		return []string{DestHTTP}, nil
	}
	var out []string
	for d := range strings.SplitSeq(c.Destination, ",") {
		d = strings.TrimSpace(d)
		switch {
		case d != DestHTTP && d != DestAMQP && d != DestNATS && d != DestRedis:
			return nil, fmt.Errorf("--destination: %q is none of http, amqp, nats, redis", d)
		case slices.Contains(out, d):
			return nil, fmt.Errorf("--destination: %s is named twice", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// stores returns the stores of --db, in order: one (a postgres:// URL, a
// SQLite file, or "" for a new SQLite file in a temporary directory), or
// several for a comparison, each "sqlite" (a new SQLite file, returned as
// "") or a postgres:// URL, separated by commas. A comma in a URL that
// names several hosts stays in it; a value that does not begin with sqlite
// or a URL is one SQLite file, whatever its name holds.
func (c *Config) stores() ([]string, error) {
	isStore := func(s string) bool { s = strings.TrimSpace(s); return s == "sqlite" || isPostgres(s) }
	if !isStore(strings.Split(c.DB, ",")[0]) {
		return []string{strings.TrimSpace(c.DB)}, nil
	}
	var out []string
	for part := range strings.SplitSeq(c.DB, ",") {
		if len(out) > 0 && isPostgres(out[len(out)-1]) && !isStore(part) {
			out[len(out)-1] += "," + part // the URL's next host
			continue
		}
		out = append(out, strings.TrimSpace(part))
	}
	for i := range out {
		if out[i] == "sqlite" {
			out[i] = ""
		}
	}
	if len(out) == 1 {
		return out, nil
	}
	for i, s := range out {
		switch {
		case s != "" && !isPostgres(s):
			return nil, fmt.Errorf("--db: to compare stores, name each sqlite or postgres://…, got %q", s)
		case slices.Contains(out[:i], s):
			return nil, fmt.Errorf("--db: %s is named twice", storeLabel(s))
		}
	}
	return out, nil
}

// storeLabel names a store of stores in a report: sqlite, or the
// PostgreSQL URL without its password.
func storeLabel(db string) string {
	if db == "" {
		return "sqlite"
	}
	if u, err := url.Parse(db); err == nil {
		return u.Redacted()
	}
	return db
}

// serverBinaries returns the --server-binary paths in the order given: none
// for the running executable, several for a comparison of builds.
func (c *Config) serverBinaries() []string {
	var out []string
	for b := range strings.SplitSeq(c.ServerBinary, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// checkLoopbackAddr checks a listen address of the bench: host:port on a
// loopback IP, the port a number (0 is any free one).
func checkLoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q is not a port number", port)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback IP address: everything the bench starts listens on loopback", host)
	}
	return nil
}

// addrPlus returns addr with its port increased by i (port 0 stays 0):
// the address of the i-th of several servers started from one --addr.
func addrPlus(addr string, i int) string {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	if n == 0 || i == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(n+i))
}

// allowPrivateFor is the --allow-private range of a server that delivers to
// a receiver listening on addr (a loopback IP and port): that IP alone.
func allowPrivateFor(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if ip.To4() != nil {
		return ip.String() + "/32"
	}
	return ip.String() + "/128"
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
