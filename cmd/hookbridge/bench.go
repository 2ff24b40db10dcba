package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/bench"
	"github.com/hookbridge/hookbridge/dispatch"
)

const benchSynopsis = `Measure end-to-end webhook throughput and latency on this machine.

The bench starts a local receiver (keep-alive HTTP on loopback, answering 200
and recording when each webhook-id arrives) and a Hookbridge server: by
default ` + "`hookbridge serve`" + ` as a child process on a temporary SQLite file (so
its peak RSS and CPU seconds are its own), or on --db, or the server already
running at --url. It creates --endpoints applications with --fanout endpoints
each, sends --messages messages spread over them round-robin, and waits until
every accepted message has arrived at every endpoint it is owed to (or
--timeout passes). It reports ingest and delivery rates, accept-to-arrival
latency (from when the producer sent the message, so the server's commit is
included), the server's peak RSS and CPU seconds (with a PostgreSQL --db
served from this machine, the database's CPU too; with SQLite, what its one
writer did over the load, from the server's /metrics: commits, their time, how
busy it was), and lost and duplicate deliveries. --baseline runs the same load
client straight against the receiver, before the server starts and again after
it has stopped: the ceiling of this machine (the higher of the two, so that a
busy moment does not flatter the ratio), to which the delivery rate is
compared. --relay also runs the same load through a relay (a child process, as
the server is) that forwards each message but writes nothing down: what HTTP
alone allows on this machine, and its CPU per delivery. It too runs before the
server and after it, and the two are averaged: the relay at the server's
moment, for a machine whose speed drifts. --durable-relay does the same with
the relay also writing each message to an append-only file, synced
(group-committed) before it answers: the least a durable gateway can do on
this machine and disk.
--destination amqp, nats or redis has the endpoints publish to RabbitMQ, NATS
JetStream or Redis streams instead, which the bench consumes from; several
destinations with --rounds are run interleaved and compared, and so are
several builds given to --server-binary, and several stores given to --db
(sqlite,postgres://…: SQLite and PostgreSQL in the same rounds); --rounds
alone repeats the run. With
--baseline, --relay or --durable-relay, every run of a round measures them
around its own server, and the ratios to them are given per round and as
medians.
Every message's signature is checked; a repeated arrival is a duplicate only
if the server's attempt log shows it delivered twice, else the server had
given up on that request (abandoned_requests).

Everything runs on loopback, on free ports unless --addr and --receiver-addr
name them (beside other services). --timeout bounds each run. The exit status
is 1 if a delivery was lost, or if a run could not measure; a comparison that
fails after its first round still reports the rounds before it (unfinished
says why it stopped).`

// benchConfig is everything `hookbridge bench` can be told: the run, and
// what this command does with its report and its own process.
type benchConfig struct {
	bench.Config
	JSON       bool
	CPUProfile string
	MemProfile string
	ServeRelay string
	RelayLog   string
}

func (c *benchConfig) register(fs *flagSet) {
	// --db and --api-key are deliberately not read from HOOKBRIDGE_DB and
	// HOOKBRIDGE_API_KEY: those configure `serve`, and an environment set up
	// for a real server must never point the bench at its database.
	fs.StringVar(&c.DB, "db", "", "database of the server under test, which should be empty (the server delivers whatever is pending in it; a PostgreSQL database a server ran on before is refused, its settings being sealed under another key): a postgres:// URL or a SQLite file (default, or sqlite: a new SQLite file in a temporary directory, removed afterwards); several, comma-separated, each sqlite or a postgres:// URL, compare those stores: each serves once per round (--rounds), interleaved, with the same load client (--instances applies to the PostgreSQL ones); not read from HOOKBRIDGE_DB")
	fs.String(&c.URL, "url", "", "measure the server already running at this loopback URL (e.g. http://127.0.0.1:8071) instead of starting one; it must allow deliveries to 127.0.0.1 (serve --allow-private 127.0.0.1/32)")
	fs.StringVar(&c.APIKey, "api-key", "", "admin key of the server at --url; not read from HOOKBRIDGE_API_KEY")
	// --addr is not read from HOOKBRIDGE_ADDR either: that is serve's.
	fs.StringVar(&c.Addr, "addr", "", "loopback host:port the server the bench starts listens on (default: a free port); with --instances N, N consecutive ports from it; not read from HOOKBRIDGE_ADDR")
	fs.StringVar(&c.ReceiverAddr, "receiver-addr", "", "loopback host:port the bench's webhook receiver listens on (default: a free port); the server is allowed to deliver to that IP alone (--relay's own relay and receiver still take free ports)")
	fs.Int(&c.Endpoints, "endpoints", 1, "applications to create, each with --fanout endpoints; messages are spread over them round-robin")
	fs.Int(&c.Fanout, "fanout", 1, "endpoints per application: every message is delivered to each")
	fs.Int(&c.Messages, "messages", bench.DefaultMessages, "messages to send")
	fs.Int(&c.Concurrency, "concurrency", bench.DefaultConcurrency, "requests the load client keeps in flight at most")
	fs.Int(&c.Rate, "rate", 0, "send at this fixed rate (messages/s) instead of as fast as possible; for latency runs")
	fs.Int(&c.Batch, "batch", 1, fmt.Sprintf("messages per request: more than 1 uses batch ingest (POST …/msg/batch, at most %d)", api.MaxBatchMessages))
	fs.Bool(&c.Baseline, "baseline", false, "also measure the same load client posting straight to the receiver, before and after the run: the ceiling of this machine")
	fs.Bool(&c.DurableRelay, "durable-relay", false, "also measure a durable relay: the --relay relay writing each message to an append-only file (in a new directory under the system's temporary directory, where the server's database is made too unless --db names one) and syncing it, group-committed with the gathering wait of the server's writer, before it answers, and each delivery's end after forwarding it, synced in the same groups — the least a durable gateway can do on this machine and disk; run before and after the server and averaged as --relay is (durable_relay_per_s, of_durable_relay, durable_relay_cpu_us_per_delivery); with --relay, its rate is also set against the store-less relay's (one endpoint; not with --backlog, --hang or --fanout)")
	fs.Bool(&c.Relay, "relay", false, "also measure a store-less relay (a child process; with --in-process, inside the bench): the same load through an HTTP relay that answers at once and forwards each message signed from a worker pool, but writes nothing down — what net/http alone allows a gateway on this machine, and its CPU per delivery (relay_cpu_us_per_delivery); with --rate, at the same pace (one endpoint; not with --backlog, --hang or --fanout)")
	fs.Int(&c.Backlog, "backlog", 0, "instead of a throughput run: build up this many pending deliveries (the receiver holds requests), restart the server, and measure how soon it delivers and how fast it drains them")
	fs.Int(&c.Hang, "hang", 0, "the first N endpoints hang: the receiver holds every request to them until the others have all their deliveries; reports the others' delivery rate (healthy_delivered_per_s), to compare with a run without --hang")
	fs.Int(&c.Instances, "instances", 1, "servers to start on the one --db postgres:// database (on each, when several stores are compared); the load is spread over them round-robin, and their CPU seconds and peak RSS are summed")
	fs.Int(&c.Workers, "workers", 0, "deliveries the server sends concurrently (serve --workers; default: the server's default)")
	fs.Bool(&c.Sealed, "sealed", false, "give the server a new --secret-key (a server of this version keeps secrets encrypted anyway, with a key file of its own on SQLite, and is always given a key on PostgreSQL); for a --server-binary older than that, it turns the encryption on")
	fs.Bool(&c.Filter, "filter", false, "give every endpoint a CEL filter (the filter field of EndpointIn): those at even places of each application take every message, the others none, so that a message is owed to half of --fanout and the server evaluates a filter per endpoint")
	fs.Bool(&c.Idempotency, "idempotency-keys", false, "send an Idempotency-Key with every message request, as Svix SDKs do (the server then keeps each response for retries)")
	fs.String(&c.Destination, "destination", bench.DestHTTP, "where the endpoints deliver: http (the bench's receiver), amqp (RabbitMQ), nats (NATS JetStream) or redis (Redis streams); the bench creates a queue, stream or stream key per endpoint, consumes from it, checks each message's headers and signature and counts it as the receiver does. Several, comma-separated (e.g. http,amqp,nats,redis), compare them: one run each per round, interleaved, with the ratios to the first")
	fs.Int(&c.Rounds, "rounds", 1, "runs of each --destination (or each --server-binary, or each --db), interleaved (each with a server of its own), for figures side by side on a noisy machine; with --baseline, --relay or --durable-relay, each run measures them around its own server, and the ratios to them are given per round and as medians (not with --backlog or --hang)")
	fs.String(&c.AMQPURL, "amqp-url", bench.DefaultAMQPURL, "RabbitMQ of --destination amqp (the URL's virtual host is used)")
	fs.String(&c.NATSURL, "nats-url", bench.DefaultNATSURL, "NATS server, with JetStream, of --destination nats (the bench creates a file-stored stream per endpoint)")
	fs.String(&c.RedisURL, "redis-url", bench.DefaultRedisURL, "Redis of --destination redis (the URL's database number is used)")
	fs.Duration(&c.Timeout, "timeout", bench.DefaultTimeout, "bound on each run (with --rounds, several --destination or --server-binary, on each of them, its --baseline and relays included); deliveries still missing then are reported lost")
	fs.Bool(&c.JSON, "json", false, "print the results as one JSON object")
	fs.Bool(&c.InProcess, "in-process", false, "run the server inside this process (for --cpuprofile); peak RSS and CPU seconds are then the whole process's, load client and receiver included")
	fs.String(&c.ServerBinary, "server-binary", "", "the hookbridge binary to run as the server and as the --relay (default: this one); several, comma-separated, compare those builds: each serves once per round (--rounds), interleaved, with the same load client, and the figures are set side by side as with several --destination")
	fs.String(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process to this file (with --in-process it includes the server; the load client and receiver are labelled role=client and role=receiver)")
	fs.String(&c.MemProfile, "memprofile", "", "write an allocation profile of this process to this file at the end")
	fs.String(&c.ServeRelay, "serve-relay", "", "run only the store-less relay, forwarding every message to this loopback URL with --workers workers, until interrupted: how --relay runs it, as a child process whose CPU is its own")
	fs.String(&c.RelayLog, "relay-log", "", "with --serve-relay: make the relay durable, with its log in this directory (how --durable-relay runs it)")
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", benchSynopsis, stderr)
	cfg.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if cfg.RelayLog != "" && cfg.ServeRelay == "" {
		return usageError("--relay-log goes with --serve-relay")
	}
	if cfg.ServeRelay != "" {
		if err := bench.CheckRelayTarget(cfg.ServeRelay); err != nil {
			return usageError("%v", err)
		}
		return bench.ServeRelay(ctx, cfg.ServeRelay, cfg.Workers, cfg.RelayLog, stderr)
	}
	cfg.Serve = serveInProcess
	if err := cfg.Check(); err != nil {
		return usageError("%v", err)
	}

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	rep, err := bench.Run(ctx, cfg.Config, stderr)
	if err != nil && rep == nil {
		return err
	}
	// A comparison that failed late (err with a report) still reports its
	// completed rounds, then returns err.
	if cfg.MemProfile != "" {
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			return err
		}
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if rep.Lost > 0 {
		return fmt.Errorf("%d of %d deliveries lost", rep.Lost, rep.Deliveries)
	}
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}

// serveInProcess starts a server inside this process for `bench
// --in-process`, as serve does, with the bench's settings and the
// defaults for the rest.
func serveInProcess(ctx context.Context, s bench.ServeSettings, logger *slog.Logger) (string, func() error, error) {
	srv, err := startServer(ctx, serveConfig{
		Addr:            s.Addr,
		DB:              s.DB,
		APIKey:          s.APIKey,
		SecretKey:       s.SecretKey,
		AllowPrivate:    s.AllowPrivate,
		MaxPayload:      api.DefaultMaxPayload,
		RequestTimeout:  cmp.Or(s.RequestTimeout, dispatch.DefaultRequestTimeout),
		Workers:         cmp.Or(s.Workers, dispatch.DefaultWorkers),
		ShutdownTimeout: 10 * time.Second,
	}, logger, io.Discard)
	if err != nil {
		return "", nil, err
	}
	return srv.Addr, srv.Shutdown, nil
}
