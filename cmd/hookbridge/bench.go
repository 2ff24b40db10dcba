package main

import (
	"bufio"
	"bytes"
	"cmp"
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
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/sealed"
)

// Defaults of `hookbridge bench`, written down once.
const (
	defaultBenchMessages    = 20_000
	defaultBenchConcurrency = 64
	defaultBenchTimeout     = 10 * time.Minute

	// benchEventType is the type of every bench message, one of the event
	// types seeded on first start.
	benchEventType = "payment.captured"
	// serverStartTimeout bounds how long a server may take to listen, and
	// serverStopTimeout how long it may take to stop after being asked.
	serverStartTimeout = 30 * time.Second
	serverStopTimeout  = 30 * time.Second
	// heldRequestTimeout is the delivery request timeout of the server that
	// builds up a backlog (--backlog): long enough that requests held by
	// the receiver do not time out while the backlog is ingested, short
	// enough to stay under the dispatcher's lease.
	heldRequestTimeout = 50 * time.Second
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
included), the server's peak RSS and CPU seconds, and lost and duplicate
deliveries. --baseline runs the same load client straight against the
receiver, before the server starts and again after it has stopped: the
ceiling of this machine (the higher of the two, so that a busy moment does
not flatter the ratio), to which the delivery rate is compared. --relay also
runs the same load through a relay inside the bench that forwards each
message but writes nothing down: what HTTP alone allows on this machine.

Everything runs on loopback. The exit status is 1 if a delivery was lost.`

// benchConfig is everything `hookbridge bench` can be told.
type benchConfig struct {
	DB           string
	URL          string
	APIKey       string
	Endpoints    int
	Fanout       int
	Messages     int
	Concurrency  int
	Rate         int
	Batch        int
	Baseline     bool
	Relay        bool
	Backlog      int
	Hang         int
	Instances    int
	Workers      int
	Sealed       bool
	Idempotency  bool
	Timeout      time.Duration
	JSON         bool
	InProcess    bool
	ServerBinary string
	CPUProfile   string
	MemProfile   string
}

func (c *benchConfig) register(fs *flagSet) {
	// --db and --api-key are deliberately not read from HOOKBRIDGE_DB and
	// HOOKBRIDGE_API_KEY: those configure `serve`, and an environment set up
	// for a real server must never point the bench at its database.
	fs.StringVar(&c.DB, "db", "", "database of the server under test, which should be empty (the server delivers whatever is pending in it): a postgres:// URL or a SQLite file (default: a new SQLite file in a temporary directory, removed afterwards); not read from HOOKBRIDGE_DB")
	fs.String(&c.URL, "url", "", "measure the server already running at this loopback URL (e.g. http://127.0.0.1:8071) instead of starting one; it must allow deliveries to 127.0.0.1 (serve --allow-private 127.0.0.1/32)")
	fs.StringVar(&c.APIKey, "api-key", "", "admin key of the server at --url; not read from HOOKBRIDGE_API_KEY")
	fs.Int(&c.Endpoints, "endpoints", 1, "applications to create, each with --fanout endpoints; messages are spread over them round-robin")
	fs.Int(&c.Fanout, "fanout", 1, "endpoints per application: every message is delivered to each")
	fs.Int(&c.Messages, "messages", defaultBenchMessages, "messages to send")
	fs.Int(&c.Concurrency, "concurrency", defaultBenchConcurrency, "requests the load client keeps in flight at most")
	fs.Int(&c.Rate, "rate", 0, "send at this fixed rate (messages/s) instead of as fast as possible; for latency runs")
	fs.Int(&c.Batch, "batch", 1, fmt.Sprintf("messages per request: more than 1 uses batch ingest (POST …/msg/batch, at most %d)", api.MaxBatchMessages))
	fs.Bool(&c.Baseline, "baseline", false, "also measure the same load client posting straight to the receiver, before and after the run: the ceiling of this machine")
	fs.Bool(&c.Relay, "relay", false, "also measure a store-less relay inside the bench: the same load through an HTTP relay that answers at once and forwards each message signed from a worker pool, but writes nothing down — what net/http alone allows a gateway on this machine (one endpoint; not with --rate, --backlog, --hang or --fanout)")
	fs.Int(&c.Backlog, "backlog", 0, "instead of a throughput run: build up this many pending deliveries (the receiver holds requests), restart the server, and measure how soon it delivers and how fast it drains them")
	fs.Int(&c.Hang, "hang", 0, "the first N endpoints hang: the receiver holds every request to them until the others have all their deliveries; reports the others' delivery rate (healthy_delivered_per_s), to compare with a run without --hang")
	fs.Int(&c.Instances, "instances", 1, "servers to start on the one --db postgres:// database; the load is spread over them round-robin, and their CPU seconds and peak RSS are summed")
	fs.Int(&c.Workers, "workers", 0, "deliveries the server sends concurrently (serve --workers; default: the server's default)")
	fs.Bool(&c.Sealed, "sealed", false, "run the server with a new --secret-key, so that it keeps endpoint secrets encrypted")
	fs.Bool(&c.Idempotency, "idempotency-keys", false, "send an Idempotency-Key with every message request, as Svix SDKs do (the server then keeps each response for retries)")
	fs.Duration(&c.Timeout, "timeout", defaultBenchTimeout, "bound on the whole run; deliveries still missing then are reported lost")
	fs.Bool(&c.JSON, "json", false, "print the results as one JSON object")
	fs.Bool(&c.InProcess, "in-process", false, "run the server inside this process (for --cpuprofile); peak RSS and CPU seconds are then the whole process's, load client and receiver included")
	fs.String(&c.ServerBinary, "server-binary", "", "the hookbridge binary to run as the server (default: this one), e.g. to compare two builds")
	fs.String(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process to this file (with --in-process it includes the server; the load client and receiver are labelled role=client and role=receiver)")
	fs.String(&c.MemProfile, "memprofile", "", "write an allocation profile of this process to this file at the end")
}

// check rejects contradictory or out-of-range settings.
func (c *benchConfig) check() error {
	switch {
	case c.Endpoints < 1 || c.Fanout < 1 || c.Messages < 1 || c.Concurrency < 1 || c.Instances < 1:
		return usageError("--endpoints, --fanout, --messages, --concurrency and --instances must be at least 1")
	case c.Instances > 1 && (!isPostgres(c.DB) || c.InProcess):
		return usageError("--instances needs --db postgres://…: several servers share one PostgreSQL database (and run as processes)")
	case c.Rate < 0 || c.Backlog < 0 || c.Workers < 0 || c.Timeout <= 0:
		return usageError("--rate, --backlog and --workers must not be negative, --timeout must be positive")
	case c.Hang < 0 || c.Hang >= c.Endpoints*c.Fanout:
		return usageError("--hang must leave at least one of the %d endpoints answering", c.Endpoints*c.Fanout)
	case c.Hang > 0 && c.Backlog > 0:
		return usageError("--hang and --backlog measure different things; use one at a time")
	case c.Batch < 1 || c.Batch > api.MaxBatchMessages:
		return usageError("--batch must be from 1 to %d", api.MaxBatchMessages)
	case c.URL != "" && c.APIKey == "":
		return usageError("--url needs --api-key")
	case c.URL != "" && (c.DB != "" || c.InProcess || c.ServerBinary != "" || c.Backlog > 0 || c.Workers > 0 || c.Sealed):
		return usageError("--url measures a running server: --db, --in-process, --server-binary, --workers, --sealed and --backlog start one")
	case c.Relay && (c.Rate > 0 || c.Backlog > 0 || c.Hang > 0 || c.Fanout > 1):
		return usageError("--relay measures throughput with one delivery per message: not with --rate, --backlog, --hang or --fanout")
	case c.InProcess && c.ServerBinary != "":
		return usageError("--in-process and --server-binary exclude each other")
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--url: want http://host:port, got %q", c.URL)
		}
		if !isLoopbackHost(u.Hostname()) {
			return usageError("--url: %s is not a loopback address; the bench's receiver listens on loopback, so the server must run on this machine", u.Hostname())
		}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", benchSynopsis, stderr)
	cfg.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

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

	b := &bench{cfg: cfg, stderr: stderr, progress: newProgress(stderr)}
	rep, err := b.run(ctx)
	if err != nil {
		return err
	}
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
		rep.print(stdout)
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

// bench is one run of `hookbridge bench`.
type bench struct {
	cfg      benchConfig
	stderr   io.Writer
	progress *progress

	recv   *benchReceiver
	client *loadClient
	db     string // what the server under test is started on
	apiKey string
	secret string // the servers' --secret-key with --sealed, "" without
}

// benchReport is the result of a run. Figures that were not measured are
// null in JSON: latency in a backlog run, the baseline without --baseline,
// resource usage of a server the bench did not start.
type benchReport struct {
	CPUs        int    `json:"cpus"`   // of this machine
	Store       string `json:"store"`  // sqlite, postgres, or unknown (--url)
	Server      string `json:"server"` // process, in-process, or remote
	Instances   int    `json:"instances"`
	Sealed      bool   `json:"sealed"`           // --sealed: the server kept secrets encrypted
	Idempotency bool   `json:"idempotency_keys"` // --idempotency-keys
	Endpoints   int    `json:"endpoints"`
	Fanout      int    `json:"fanout"`
	Messages    int    `json:"messages"`
	Concurrency int    `json:"concurrency"`
	Rate        int    `json:"rate"`
	Batch       int    `json:"batch"`

	Accepted   int   `json:"accepted"`   // messages the server accepted (2xx)
	Refused    int   `json:"refused"`    // messages it did not (error status or no answer)
	Deliveries int64 `json:"deliveries"` // owed: accepted × fanout

	IngestPerS    float64   `json:"ingest_per_s"`
	DeliveredPerS float64   `json:"delivered_per_s"`     // deliveries (arrivals) per second, end to end
	BaselinePerS  *float64  `json:"baseline_per_s"`      // the higher of the two below
	BaselineRuns  []float64 `json:"baseline_runs_per_s"` // before the server started, after it stopped
	Ratio         *float64  `json:"ratio"`               // delivered_per_s / baseline_per_s
	RelayPerS     *float64  `json:"relay_per_s"`         // --relay: the store-less relay's deliveries per second
	RelayRatio    *float64  `json:"relay_ratio"`         // relay_per_s / baseline_per_s
	OfRelay       *float64  `json:"of_relay"`            // delivered_per_s / relay_per_s
	P50MS         *float64  `json:"p50_ms"`
	P95MS         *float64  `json:"p95_ms"`
	P99MS         *float64  `json:"p99_ms"`
	MaxMS         *float64  `json:"max_ms"`
	Lost          int64     `json:"lost"`
	Duplicates    int64     `json:"duplicates"`
	Unexpected    int64     `json:"unexpected"` // arrivals of messages this run did not send
	PeakRSSBytes  *int64    `json:"peak_rss_bytes"`
	CPUS          *float64  `json:"cpu_s"`
	ElapsedS      float64   `json:"elapsed_s"`

	Backlog *backlogReport `json:"backlog,omitempty"`
	// With --hang: the endpoints that hung, and the delivery rate of the
	// others while they did (deliveries to them / time to their last).
	Hanging              int      `json:"hanging,omitempty"`
	HealthyDeliveredPerS *float64 `json:"healthy_delivered_per_s,omitempty"`

	firstError string
}

// backlogReport is what --backlog measures.
type backlogReport struct {
	Pending int `json:"pending"` // deliveries built up
	// HeldPeakRSSBytes is the peak RSS of the server that accepted the
	// backlog and held it.
	HeldPeakRSSBytes *int64 `json:"held_peak_rss_bytes"`
	// RestartFirstDeliveryMS is from starting the new server to the first
	// delivery arriving.
	RestartFirstDeliveryMS float64 `json:"restart_first_delivery_ms"`
	// DrainPerS is the rate at which the restarted server delivered it.
	DrainPerS float64 `json:"drain_per_s"`
}

func (b *bench) run(ctx context.Context) (*benchReport, error) {
	cfg := b.cfg
	start := time.Now()
	recv, err := startBenchReceiver()
	if err != nil {
		return nil, err
	}
	defer recv.close()
	b.recv = recv
	b.client = newLoadClient(cfg.Concurrency)
	defer b.client.close()

	rep := &benchReport{
		CPUs: runtime.NumCPU(), Store: "sqlite", Server: "process", Instances: cfg.Instances, Sealed: cfg.Sealed, Idempotency: cfg.Idempotency,
		Endpoints: cfg.Endpoints, Fanout: cfg.Fanout, Messages: cfg.Messages,
		Concurrency: cfg.Concurrency, Rate: cfg.Rate, Batch: cfg.Batch,
	}
	switch {
	case cfg.URL != "":
		rep.Store, rep.Server = "unknown", "remote"
	case isPostgres(cfg.DB):
		rep.Store = "postgres"
	}
	if cfg.InProcess {
		rep.Server = "in-process"
	}
	if cfg.Backlog > 0 {
		rep.Messages = cfg.Backlog
	}

	if cfg.Baseline {
		rate, err := b.baseline(ctx, rep.Messages, "before")
		if err != nil {
			return nil, err
		}
		rep.BaselineRuns = append(rep.BaselineRuns, rate)
	}
	if cfg.Relay {
		rate, err := b.relay(ctx, rep.Messages)
		if err != nil {
			return nil, err
		}
		rep.RelayPerS = &rate
	}

	b.db, b.apiKey = cfg.DB, cfg.APIKey
	ownDB := false
	if cfg.URL == "" {
		if b.db == "" {
			dir, err := os.MkdirTemp("", "hookbridge-bench-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
			b.db, ownDB = filepath.Join(dir, "bench.db"), true
		}
		if b.apiKey == "" {
			b.apiKey = hookbridge.NewAdminKey()
		}
		if cfg.Sealed {
			b.secret = sealed.NewKey() // one for every start, so that a restart reads what was sealed
		}
	}
	b.client.apiKey = b.apiKey
	if cfg.Idempotency {
		b.client.idempotencyPrefix = "bench-" + hookbridge.NewID("run") + "-"
	}
	// A backlog run's first server gets a request timeout that outlasts
	// the ingest, so that the requests the receiver holds stay held.
	var requestTimeout time.Duration
	if cfg.Backlog > 0 || cfg.Hang > 0 {
		requestTimeout = heldRequestTimeout
	}
	srv, err := b.launchAll(ctx, requestTimeout)
	if err != nil {
		return nil, err
	}
	// srv is whichever servers run now; on an early return they are
	// stopped, and a database the bench does not own is cleaned up first.
	var apps []benchApp
	stopped := false
	defer func() {
		if !stopped {
			b.recv.release()
			if !ownDB {
				b.teardown(srv, apps)
			}
			srv.stop()
		}
	}()
	if apps, err = b.setup(ctx, srv.base(0)); err != nil {
		return nil, err
	}

	var (
		ing  *ingestResult
		held serverUsage // of the server that built up the backlog
	)
	restart := time.Now()
	if cfg.Backlog > 0 {
		b.recv.hold()
		ing = b.ingest(ctx, b.recv, srv, apps, cfg.Backlog, 0, "ingest")
		rep.addIngest(ing, cfg.Fanout)
		// Stop the server holding the backlog. It stops claiming at once,
		// releases what it claimed but did not send, and waits out its
		// drain timeout for the requests the receiver holds before
		// cancelling and releasing them too: a graceful restart, after
		// which every delivery of the backlog is still to be made.
		u, err := srv.stop()
		stopped = true
		b.recv.release()
		if err != nil {
			return nil, err
		}
		held = u
		restart = time.Now()
		if srv, err = b.launchAll(ctx, 0); err != nil {
			return nil, err
		}
		stopped = false
		b.wait(ctx, b.recv, ing, cfg.Fanout, "drain")
	} else {
		if cfg.Hang > 0 {
			b.recv.hang(cfg.Hang)
		}
		ing = b.ingest(ctx, b.recv, srv, apps, cfg.Messages, cfg.Rate, "ingest")
		rep.addIngest(ing, cfg.Fanout)
		if cfg.Hang > 0 {
			// The healthy endpoints' deliveries first, while the
			// others hang; then theirs, so that nothing is lost.
			want := ing.owedFrom(cfg.Hang, cfg.Fanout)
			stop := b.progress.show("healthy", want, b.recv.uniqueCount, nil)
			b.waitFor(ctx, func() bool { return b.recv.uniqueCount() >= want })
			stop()
			rep.addHealthy(b.recv, ing, cfg.Hang)
			b.recv.release()
		}
		b.wait(ctx, b.recv, ing, cfg.Fanout, "deliver")
	}
	if !ownDB {
		// A database or server the bench does not own gets its bench
		// applications (and with them their messages) removed. It needs
		// the server, so the usage read below includes it.
		b.teardown(srv, apps)
	}
	stopped = true
	usage, err := srv.stop()
	if err != nil {
		return nil, err
	}
	rep.addDeliveries(b.recv, ing, cfg.Fanout, cfg.Backlog == 0)
	if cfg.Backlog > 0 {
		rep.addBacklog(b.recv, restart, held)
		usage = held.then(usage)
	}
	rep.addUsage(usage)
	if cfg.Baseline {
		// Again now that the server is gone: the machine is shared, and
		// the ceiling is the better of the two moments.
		rate, err := b.baseline(ctx, rep.Messages, "after")
		if err != nil {
			return nil, err
		}
		rep.BaselineRuns = append(rep.BaselineRuns, rate)
		ceiling := slices.Max(rep.BaselineRuns)
		rep.BaselinePerS = &ceiling
	}
	if rep.BaselinePerS != nil && *rep.BaselinePerS > 0 {
		ratio := rep.DeliveredPerS / *rep.BaselinePerS
		rep.Ratio = &ratio
		if rep.RelayPerS != nil {
			r := *rep.RelayPerS / *rep.BaselinePerS
			rep.RelayRatio = &r
		}
	}
	if rep.RelayPerS != nil && *rep.RelayPerS > 0 {
		r := rep.DeliveredPerS / *rep.RelayPerS
		rep.OfRelay = &r
	}
	rep.ElapsedS = time.Since(start).Seconds()
	if rep.Accepted == 0 {
		return nil, fmt.Errorf("the server accepted no message: %s", rep.firstError)
	}
	return rep, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// baseline measures the ceiling: the load client posting the same messages,
// with the same concurrency, straight to the receiver. pass names the
// measurement, which must be new to the receiver.
func (b *bench) baseline(ctx context.Context, n int, pass string) (float64, error) {
	target := b.recv.url + "/baseline"
	before := b.recv.baselineCount()
	var (
		next  atomic.Int64
		done  atomic.Int64
		errMu sync.Mutex
		first error
	)
	stop := b.progress.show("baseline "+pass, int64(n), done.Load, nil)
	t0 := time.Now()
	b.client.run(ctx, b.cfg.Concurrency, "client", func(w *clientWorker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n || ctx.Err() != nil {
				return
			}
			w.body = appendMessage(w.body[:0], i)
			_, err := w.post(ctx, target, w.body, "base_"+pass+"_"+strconv.Itoa(i))
			if err != nil {
				errMu.Lock()
				first = cmp.Or(first, err)
				errMu.Unlock()
				return
			}
			done.Add(1)
		}
	})
	elapsed := time.Since(t0)
	stop()
	if first != nil {
		return 0, fmt.Errorf("baseline: %w", first)
	}
	if got := b.recv.baselineCount() - before; got != int64(n) {
		return 0, fmt.Errorf("baseline: receiver got %d of %d requests", got, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// benchApp is one application the bench created, with its endpoints: the
// receiver paths /e/<first> … /e/<first+fanout-1>.
type benchApp struct {
	id    string
	first int
}

// setup creates the applications and endpoints through the API.
func (b *bench) setup(ctx context.Context, base string) ([]benchApp, error) {
	cfg := b.cfg
	apps := make([]benchApp, cfg.Endpoints)
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	var (
		next  atomic.Int64
		done  atomic.Int64
		errMu sync.Mutex
		first error
	)
	stop := b.progress.show("setup", int64(len(apps)), done.Load, nil)
	defer stop()
	b.client.run(ctx, min(cfg.Concurrency, 16), "client", func(w *clientWorker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(apps) || ctx.Err() != nil {
				return
			}
			err := b.createApp(ctx, w, base, run, i, &apps[i])
			if err != nil {
				errMu.Lock()
				first = cmp.Or(first, err)
				errMu.Unlock()
				return
			}
			done.Add(1)
		}
	})
	if first != nil {
		return nil, fmt.Errorf("setup: %w", first)
	}
	return apps, ctx.Err()
}

func (b *bench) createApp(ctx context.Context, w *clientWorker, base, run string, i int, app *benchApp) error {
	var out struct {
		ID string `json:"id"`
	}
	in := map[string]any{"name": fmt.Sprintf("hookbridge bench %s #%d", run, i)}
	if err := w.call(ctx, http.MethodPost, base+"/app", in, &out); err != nil {
		return err
	}
	app.id, app.first = out.ID, i*b.cfg.Fanout
	for f := range b.cfg.Fanout {
		in := map[string]any{
			"url":         b.recv.url + "/e/" + strconv.Itoa(app.first+f),
			"description": "hookbridge bench",
		}
		if err := w.call(ctx, http.MethodPost, base+"/app/"+app.id+"/endpoint", in, nil); err != nil {
			if strings.Contains(err.Error(), "private") || strings.Contains(err.Error(), "loopback") {
				err = fmt.Errorf("%w (start the server with --allow-private 127.0.0.1/32)", err)
			}
			return err
		}
	}
	return nil
}

// teardown deletes the bench's applications from a database the bench does
// not own. It is best effort, with a bound of its own: the run's context may
// be over.
func (b *bench) teardown(srv fleet, apps []benchApp) {
	if len(apps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var next atomic.Int64
	b.client.run(ctx, min(b.cfg.Concurrency, 16), "client", func(w *clientWorker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(apps) || ctx.Err() != nil {
				return
			}
			if err := w.call(ctx, http.MethodDelete, srv.base(0)+"/app/"+apps[i].id, nil, nil); err != nil {
				fmt.Fprintf(b.stderr, "hookbridge bench: delete application %s: %v\n", apps[i].id, err)
			}
		}
	})
}

// sent is one message of the load.
type sent struct {
	id  string        // the message id the server answered with; "" when refused
	at  time.Duration // since t0: when it was sent (under --rate, when it was due)
	app int32
}

// ingestResult is what the load client did.
type ingestResult struct {
	t0         time.Time
	msgs       []sent
	accepted   int
	refused    int
	lastAccept time.Duration // since t0
	firstError string
}

// ingest sends n messages, cfg.Batch per request, spread over apps (and
// the servers of srv) round-robin, either as fast as the concurrency allows
// or, with rate > 0, each at its due time.
func (b *bench) ingest(ctx context.Context, recv *benchReceiver, srv fleet, apps []benchApp, n, rate int, label string) *ingestResult {
	k := b.cfg.Batch
	units := (n + k - 1) / k
	res := &ingestResult{msgs: make([]sent, n)}
	var (
		next       atomic.Int64
		accepted   atomic.Int64
		refused    atomic.Int64
		lastAccept atomic.Int64
		errMu      sync.Mutex
	)
	fail := func(err error, count int) {
		refused.Add(int64(count))
		errMu.Lock()
		res.firstError = cmp.Or(res.firstError, err.Error())
		errMu.Unlock()
	}
	stop := b.progress.show(label, int64(n), accepted.Load, func() string {
		return fmt.Sprintf("delivered %d", recv.uniqueCount())
	})
	res.t0 = time.Now()
	b.client.run(ctx, b.cfg.Concurrency, "client", func(w *clientWorker) {
		for {
			j := int(next.Add(1)) - 1
			if j >= units || ctx.Err() != nil {
				return
			}
			first, count := j*k, min(k, n-j*k)
			app := j % len(apps)
			var at time.Duration
			if rate > 0 {
				at = time.Duration(float64(first) / float64(rate) * float64(time.Second))
				if !sleepUntil(ctx, res.t0.Add(at)) {
					return
				}
			} else {
				at = time.Since(res.t0)
			}
			ids, err := w.send(ctx, srv.base(j), apps[app].id, first, count, k > 1)
			if err != nil {
				fail(err, count)
				continue
			}
			now := int64(time.Since(res.t0))
			ok := 0
			for i, id := range ids {
				if id != "" {
					res.msgs[first+i] = sent{id: id, at: at, app: int32(app)}
					ok++
				}
			}
			if ok < count {
				fail(errors.New("some messages of a batch were refused"), count-ok)
			}
			accepted.Add(int64(ok))
			for {
				last := lastAccept.Load()
				if now <= last || lastAccept.CompareAndSwap(last, now) {
					break
				}
			}
		}
	})
	stop()
	res.accepted, res.refused = int(accepted.Load()), int(refused.Load())
	res.lastAccept = time.Duration(lastAccept.Load())
	return res
}

// sleepUntil waits until t, and reports false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// wait returns once every delivery owed for ing (fanout to each accepted
// message) has arrived at recv, or ctx ends.
func (b *bench) wait(ctx context.Context, recv *benchReceiver, ing *ingestResult, fanout int, label string) {
	want := int64(ing.accepted * fanout)
	stop := b.progress.show(label, want, recv.uniqueCount, nil)
	defer stop()
	// The unique count is cheap; an exact match of arrivals against the
	// accepted messages is made only once it says all are in.
	b.waitFor(ctx, func() bool {
		return recv.uniqueCount() >= want && recv.matched(ing, fanout) >= want
	})
}

// waitFor returns once done says so, looking every 5 ms, or when ctx ends.
func (b *bench) waitFor(ctx context.Context, done func() bool) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// owedFrom counts the deliveries owed for the accepted messages of ing to
// endpoints numbered from on (the healthy ones of a --hang run).
func (ing *ingestResult) owedFrom(from, fanout int) int64 {
	var n int64
	for i := range ing.msgs {
		if ing.msgs[i].id == "" {
			continue
		}
		first := int(ing.msgs[i].app) * fanout
		n += int64(max(0, first+fanout-max(first, from)))
	}
	return n
}

// addHealthy fills in the delivery rate of the endpoints that did not
// hang, from their arrivals so far: every one of them, since the hanging
// endpoints have had none.
func (r *benchReport) addHealthy(recv *benchReceiver, ing *ingestResult, hang int) {
	r.Hanging = hang
	_, last, n := recv.arrivalsAfter(ing.t0)
	if n > 0 && last.After(ing.t0) {
		rate := float64(n) / last.Sub(ing.t0).Seconds()
		r.HealthyDeliveredPerS = &rate
	}
}

// addBacklog fills in what a backlog run measured: the peak RSS of the
// server that held the backlog, and how soon after restart the first
// delivery arrived and how fast the rest followed.
func (r *benchReport) addBacklog(recv *benchReceiver, restart time.Time, held serverUsage) {
	br := &backlogReport{Pending: int(r.Deliveries)}
	if held.rssKnown {
		br.HeldPeakRSSBytes = &held.peakRSS
	}
	if first, last, n := recv.arrivalsAfter(restart); n > 0 {
		br.RestartFirstDeliveryMS = ms(first.Sub(restart))
		if d := last.Sub(restart); d > 0 {
			br.DrainPerS = float64(n) / d.Seconds()
		}
		r.DeliveredPerS = br.DrainPerS
	}
	r.Backlog = br
}

func (r *benchReport) addIngest(ing *ingestResult, fanout int) {
	r.Accepted, r.Refused = ing.accepted, ing.refused
	r.Deliveries = int64(ing.accepted * fanout)
	r.firstError = ing.firstError
	if ing.lastAccept > 0 {
		r.IngestPerS = float64(ing.accepted) / ing.lastAccept.Seconds()
	}
}

// addDeliveries matches the receiver's arrivals against the accepted
// messages: lost and duplicate counts and, with latency, the delivery rate
// and the accept-to-arrival percentiles.
func (r *benchReport) addDeliveries(recv *benchReceiver, ing *ingestResult, fanout int, latency bool) {
	lat, dups, unexpected := recv.collect(ing, fanout)
	r.Lost = r.Deliveries - int64(len(lat))
	r.Duplicates, r.Unexpected = dups, unexpected
	if !latency || len(lat) == 0 {
		return
	}
	// lat holds, per delivery, arrival minus send; the last arrival
	// (since t0) is the largest send offset plus latency.
	var last time.Duration
	for i := range lat {
		if a := lat[i].sentAt + lat[i].latency; a > last {
			last = a
		}
	}
	if last > 0 {
		r.DeliveredPerS = float64(len(lat)) / last.Seconds()
	}
	ds := make([]time.Duration, len(lat))
	for i := range lat {
		ds[i] = lat[i].latency
	}
	slices.Sort(ds)
	pct := func(q float64) *float64 {
		i := max(int(float64(len(ds))*q+0.999999)-1, 0)
		v := ms(ds[min(i, len(ds)-1)])
		return &v
	}
	r.P50MS, r.P95MS, r.P99MS, r.MaxMS = pct(0.50), pct(0.95), pct(0.99), pct(1)
}

func (r *benchReport) addUsage(u serverUsage) {
	if u.rssKnown {
		r.PeakRSSBytes = &u.peakRSS
	}
	if u.cpuKnown {
		s := u.cpu.Seconds()
		r.CPUS = &s
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *benchReport) print(w io.Writer) {
	mode := fmt.Sprintf("%d message(s) per request, concurrency %d", r.Batch, r.Concurrency)
	if r.Rate > 0 {
		mode += fmt.Sprintf(", at %d msg/s", r.Rate)
	}
	server := r.Server
	if r.Instances > 1 {
		server = fmt.Sprintf("%d × %s", r.Instances, r.Server)
	}
	fmt.Fprintf(w, "hookbridge bench: %s store, server %s; %d application(s) × %d endpoint(s); %d messages; %s\n",
		r.Store, server, r.Endpoints, r.Fanout, r.Messages, mode)
	if r.BaselinePerS != nil {
		fmt.Fprintf(w, "  baseline (straight to the receiver)  %9.0f req/s   (before %.0f, after %.0f)\n",
			*r.BaselinePerS, r.BaselineRuns[0], r.BaselineRuns[1])
	}
	if r.RelayPerS != nil {
		fmt.Fprintf(w, "  store-less relay (writes nothing)    %9.0f deliveries/s", *r.RelayPerS)
		if r.RelayRatio != nil {
			fmt.Fprintf(w, "   = %.2f × baseline", *r.RelayRatio)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  ingest                               %9.0f msg/s   (%d accepted, %d refused)\n", r.IngestPerS, r.Accepted, r.Refused)
	fmt.Fprintf(w, "  delivered                            %9.0f deliveries/s", r.DeliveredPerS)
	if r.Ratio != nil {
		fmt.Fprintf(w, "   = %.2f × baseline", *r.Ratio)
	}
	if r.OfRelay != nil {
		fmt.Fprintf(w, ", %.2f × relay", *r.OfRelay)
	}
	fmt.Fprintln(w)
	if r.P50MS != nil {
		fmt.Fprintf(w, "  latency send→arrival                 p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			*r.P50MS, *r.P95MS, *r.P99MS, *r.MaxMS)
	}
	if r.HealthyDeliveredPerS != nil {
		fmt.Fprintf(w, "  healthy endpoints                    %9.0f deliveries/s   while %d hung (compare with 1-%d/%d × delivered of a run without --hang)\n",
			*r.HealthyDeliveredPerS, r.Hanging, r.Hanging, r.Endpoints*r.Fanout)
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(w, "  backlog                              %d pending deliveries", b.Pending)
		if b.HeldPeakRSSBytes != nil {
			fmt.Fprintf(w, " held in %.1f MB peak RSS", float64(*b.HeldPeakRSSBytes)/1e6)
		}
		fmt.Fprintf(w, "\n  restart                              first delivery after %.0f ms, drained at %.0f deliveries/s\n",
			b.RestartFirstDeliveryMS, b.DrainPerS)
	}
	if r.PeakRSSBytes != nil || r.CPUS != nil {
		fmt.Fprint(w, "  server")
		if r.PeakRSSBytes != nil {
			fmt.Fprintf(w, "                               peak RSS %.1f MB", float64(*r.PeakRSSBytes)/1e6)
		}
		if r.CPUS != nil {
			fmt.Fprintf(w, ", CPU %.2f s", *r.CPUS)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  lost %d, duplicates %d", r.Lost, r.Duplicates)
	if r.Unexpected > 0 {
		fmt.Fprintf(w, ", unexpected %d", r.Unexpected)
	}
	fmt.Fprintf(w, "   (%.1f s in all)\n", r.ElapsedS)
	if r.Refused > 0 && r.firstError != "" {
		fmt.Fprintf(w, "  first refusal: %s\n", r.firstError)
	}
}

// target is the Hookbridge server under test.
type target interface {
	base() string // the API root: http://host:port/api/v1
	// stop stops a server the bench started and reports what it used.
	stop() (serverUsage, error)
}

// serverUsage is what a server used, where known.
type serverUsage struct {
	peakRSS  int64
	rssKnown bool
	cpu      time.Duration
	cpuKnown bool
}

// then combines the usage of a server with that of one that ran after it:
// the larger peak, the summed CPU.
func (u serverUsage) then(o serverUsage) serverUsage {
	return serverUsage{
		peakRSS: max(u.peakRSS, o.peakRSS), rssKnown: u.rssKnown || o.rssKnown,
		cpu: u.cpu + o.cpu, cpuKnown: u.cpuKnown || o.cpuKnown,
	}
}

// and combines the usage of servers that ran side by side: both summed.
func (u serverUsage) and(o serverUsage) serverUsage {
	return serverUsage{
		peakRSS: u.peakRSS + o.peakRSS, rssKnown: u.rssKnown || o.rssKnown,
		cpu: u.cpu + o.cpu, cpuKnown: u.cpuKnown || o.cpuKnown,
	}
}

// fleet is the servers under test: one, or --instances on one PostgreSQL
// database.
type fleet []target

// base returns the API root of the server that takes request j.
func (f fleet) base(j int) string { return f[j%len(f)].base() }

// stop stops every server, at once, and sums what they used.
func (f fleet) stop() (serverUsage, error) {
	usages, errs := make([]serverUsage, len(f)), make([]error, len(f))
	var wg sync.WaitGroup
	for i, t := range f {
		wg.Go(func() { usages[i], errs[i] = t.stop() })
	}
	wg.Wait()
	var total serverUsage
	for _, u := range usages {
		total = total.and(u)
	}
	return total, errors.Join(errs...)
}

// launchAll starts cfg.Instances servers (or returns the one at --url).
func (b *bench) launchAll(ctx context.Context, requestTimeout time.Duration) (fleet, error) {
	var f fleet
	for range b.cfg.Instances {
		t, err := b.launch(ctx, requestTimeout)
		if err != nil {
			f.stop()
			return nil, err
		}
		f = append(f, t)
	}
	return f, nil
}

// launch starts the server under test (or returns the one at --url). A
// requestTimeout of 0 keeps the server's default.
func (b *bench) launch(ctx context.Context, requestTimeout time.Duration) (target, error) {
	cfg := b.cfg
	if cfg.URL != "" {
		return remoteServer(strings.TrimSuffix(cfg.URL, "/") + "/api/v1"), nil
	}
	sc := serveConfig{
		Addr:            "127.0.0.1:0",
		DB:              b.db,
		APIKey:          b.apiKey,
		AllowPrivate:    "127.0.0.1/32",
		MaxPayload:      api.DefaultMaxPayload,
		RequestTimeout:  cmp.Or(requestTimeout, dispatch.DefaultRequestTimeout),
		Workers:         cmp.Or(cfg.Workers, dispatch.DefaultWorkers),
		ShutdownTimeout: 10 * time.Second,
	}
	sc.SecretKey = b.secret
	if cfg.InProcess {
		return startInProcess(ctx, sc, b.stderr)
	}
	bin := cfg.ServerBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find this binary to run the server: %w", err)
		}
	}
	args := []string{"serve", "--addr", sc.Addr, "--db", sc.DB, "--api-key", sc.APIKey,
		"--allow-private", sc.AllowPrivate, "--log-format", "json", "--log-level", "info"}
	if requestTimeout > 0 {
		args = append(args, "--request-timeout", requestTimeout.String())
	}
	if cfg.Workers > 0 {
		args = append(args, "--workers", strconv.Itoa(cfg.Workers))
	}
	return startChild(ctx, bin, args, sc.SecretKey)
}

// remoteServer is a server the bench did not start.
type remoteServer string

func (r remoteServer) base() string               { return string(r) }
func (r remoteServer) stop() (serverUsage, error) { return serverUsage{}, nil }

// inProcessServer is a server running inside the bench's own process.
type inProcessServer struct {
	srv  *server
	cpu0 time.Duration
}

func startInProcess(ctx context.Context, sc serveConfig, stderr io.Writer) (*inProcessServer, error) {
	_, cpu0, _ := selfUsage()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := startServer(ctx, sc, logger, io.Discard)
	if err != nil {
		return nil, err
	}
	return &inProcessServer{srv: srv, cpu0: cpu0}, nil
}

func (p *inProcessServer) base() string { return "http://" + p.srv.Addr + "/api/v1" }

func (p *inProcessServer) stop() (serverUsage, error) {
	err := p.srv.Shutdown()
	rss, cpu, ok := selfUsage()
	return serverUsage{peakRSS: rss, rssKnown: ok, cpu: cpu - p.cpu0, cpuKnown: ok}, err
}

// childServer is a `hookbridge serve` child process.
type childServer struct {
	cmd  *exec.Cmd
	addr string
	logs *logTail
	done chan struct{} // closed once the process has exited and been waited for

	stopOnce sync.Once
	usage    serverUsage
	err      error
}

// startChild runs bin with args (a `serve` command line) and waits until it
// listens. The child is stopped when ctx ends.
func startChild(ctx context.Context, bin string, args []string, secretKey string) (*childServer, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = serverEnv(os.Environ())
	if secretKey != "" {
		cmd.Env = append(cmd.Env, "HOOKBRIDGE_SECRET_KEY="+secretKey) // not on the command line, which ps shows
	}
	cmd.Cancel = func() error { return stopProcess(cmd.Process) }
	cmd.WaitDelay = serverStopTimeout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c := &childServer{cmd: cmd, logs: &logTail{max: 20}, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(c.done)
		c.logs.scan(stderr, func(line []byte) {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "hookbridge started" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
		})
		_ = cmd.Wait() // the exit status is read from ProcessState
	}()
	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case c.addr = <-addrc:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("server exited before listening (%s):\n%s", cmd.ProcessState, c.logs)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-c.done
		return nil, fmt.Errorf("server did not listen within %s:\n%s", serverStartTimeout, c.logs)
	}
}

// serverEnv is the environment of a server child: this one without the
// HOOKBRIDGE_* variables, so that the server under test runs with its
// defaults and the bench's flags, not with settings meant for another
// server.
func serverEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "HOOKBRIDGE_")
	})
}

func (c *childServer) base() string { return "http://" + c.addr + "/api/v1" }

// stop shuts the child down gracefully (SIGTERM), killing it if it does not
// exit in time, and reads its resource usage from the kernel.
func (c *childServer) stop() (serverUsage, error) {
	c.stopOnce.Do(func() {
		if err := stopProcess(c.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.err = fmt.Errorf("stop server: %w", err)
		}
		timer := time.NewTimer(serverStopTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
		case <-timer.C:
			_ = c.cmd.Process.Kill()
			<-c.done
			c.err = cmp.Or(c.err, fmt.Errorf("server did not stop within %s; killed:\n%s", serverStopTimeout, c.logs))
		}
		ps := c.cmd.ProcessState
		if ps == nil {
			return
		}
		c.usage.cpu, c.usage.cpuKnown = ps.UserTime()+ps.SystemTime(), true
		c.usage.peakRSS, c.usage.rssKnown = childPeakRSS(ps)
		if !ps.Success() && c.err == nil {
			c.err = fmt.Errorf("server exited with %s:\n%s", ps, c.logs)
		}
	})
	return c.usage, c.err
}

// logTail keeps the last lines a child wrote, for error messages.
type logTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

// scan reads r line by line to its end, keeping each line and handing it
// to each. Whatever cannot be read as lines is drained, so that the writer
// never blocks on a full pipe.
func (t *logTail) scan(r io.Reader, each func(line []byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		t.add(sc.Bytes())
		each(sc.Bytes())
	}
	_, _ = io.Copy(io.Discard, r)
}

func (t *logTail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, string(line))
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// benchReceiver is the webhook receiver: a keep-alive HTTP server on loopback
// that answers 200 and records when each (webhook-id, endpoint) first
// arrived. Endpoint k is the path /e/<k>; /baseline takes the baseline's
// requests, recorded the same way.
type benchReceiver struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	hanging  int                      // endpoints below this number wait for held
	arrivals map[arrivalKey]time.Time // first arrival of each message at each endpoint
	dups     int64
	base     map[string]struct{} // baseline requests by webhook-id
	held     chan struct{}       // while non-nil, requests wait for it to close

	unique atomic.Int64
}

type arrivalKey struct {
	id string
	ep int32
}

func startBenchReceiver() (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &benchReceiver{
		url:      "http://" + ln.Addr().String(),
		arrivals: make(map[arrivalKey]time.Time),
		base:     make(map[string]struct{}),
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// The receiver's goroutines inherit the label, so a CPU profile can
	// tell them from the server's.
	pprof.Do(context.Background(), pprof.Labels("role", "receiver"), func(context.Context) {
		go r.srv.Serve(ln)
	})
	return r, nil
}

func (r *benchReceiver) close() { _ = r.srv.Close() }

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	id := req.Header.Get("webhook-id")
	if id == "" {
		http.Error(w, "no webhook-id", http.StatusBadRequest)
		return
	}
	if req.URL.Path == "/baseline" {
		r.mu.Lock()
		r.base[id] = struct{}{}
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	ep, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/e/"))
	if err != nil || !strings.HasPrefix(req.URL.Path, "/e/") {
		http.Error(w, "no such endpoint", http.StatusNotFound)
		return
	}
	r.mu.Lock()
	held := r.held
	if held != nil && r.hanging > 0 && ep >= r.hanging {
		held = nil // only the hanging endpoints wait
	}
	r.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-req.Context().Done():
			return // the server gave up on this request: not a delivery
		}
	}
	now := time.Now()
	key := arrivalKey{id: id, ep: int32(ep)}
	r.mu.Lock()
	if _, seen := r.arrivals[key]; seen {
		r.dups++
	} else {
		r.arrivals[key] = now
		r.unique.Add(1)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// hold makes requests wait until release.
func (r *benchReceiver) hold() {
	r.mu.Lock()
	r.held = make(chan struct{})
	r.mu.Unlock()
}

// hang makes requests to endpoints 0 … n-1 wait until release.
func (r *benchReceiver) hang(n int) {
	r.mu.Lock()
	r.held, r.hanging = make(chan struct{}), n
	r.mu.Unlock()
}

func (r *benchReceiver) release() {
	r.mu.Lock()
	if r.held != nil {
		close(r.held)
		r.held, r.hanging = nil, 0
	}
	r.mu.Unlock()
}

func (r *benchReceiver) uniqueCount() int64 { return r.unique.Load() }

func (r *benchReceiver) baselineCount() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.base))
}

// matched counts the arrivals that are owed for ing: an accepted message at
// one of its application's endpoints.
func (r *benchReceiver) matched(ing *ingestResult, fanout int) int64 {
	lat, _, _ := r.collect(ing, fanout)
	return int64(len(lat))
}

// delivery is one owed delivery that arrived: when its message was sent
// (since t0) and how long it took to arrive.
type delivery struct {
	sentAt, latency time.Duration
}

// collect matches arrivals against the accepted messages of ing. It returns
// one delivery per (message, endpoint) owed and arrived, the duplicate
// count, and how many arrivals were not owed by this run.
func (r *benchReceiver) collect(ing *ingestResult, fanout int) (got []delivery, dups, unexpected int64) {
	byID := make(map[string]int, ing.accepted)
	for i := range ing.msgs {
		if ing.msgs[i].id != "" {
			byID[ing.msgs[i].id] = i
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	got = make([]delivery, 0, len(r.arrivals))
	for key, at := range r.arrivals {
		i, ok := byID[key.id]
		if !ok {
			unexpected++
			continue
		}
		m := &ing.msgs[i]
		first := int32(int(m.app) * fanout)
		if key.ep < first || key.ep >= first+int32(fanout) {
			unexpected++
			continue
		}
		got = append(got, delivery{sentAt: m.at, latency: at.Sub(ing.t0) - m.at})
	}
	return got, r.dups, unexpected
}

// arrivalsAfter returns the first and last arrival at or after t and how
// many there were.
func (r *benchReceiver) arrivalsAfter(t time.Time) (first, last time.Time, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, at := range r.arrivals {
		if at.Before(t) {
			continue
		}
		if n == 0 || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
		n++
	}
	return first, last, n
}

// loadClient is the producer side: keep-alive HTTP on loopback only, with
// a connection for every request in flight.
type loadClient struct {
	http   *http.Client
	apiKey string // set once the server under test is known
	// idempotencyPrefix, if set, starts the Idempotency-Key of every
	// message request (--idempotency-keys); the first message's index ends it.
	idempotencyPrefix string
}

func newLoadClient(concurrency int) *loadClient {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        4 * (concurrency + 16),
		MaxIdleConnsPerHost: concurrency + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &loadClient{http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *loadClient) close() { c.http.CloseIdleConnections() }

// loopbackOnly refuses to dial anything but a loopback address: the bench
// never sends traffic off this machine.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench: refusing to dial %s: the bench uses loopback only", address)
	}
	return nil
}

// run runs n copies of fn concurrently, each with its own clientWorker, and
// waits for them. The goroutines carry the pprof label role=<role>.
func (c *loadClient) run(ctx context.Context, n int, role string, fn func(w *clientWorker)) {
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("role", role), func(context.Context) {
		for range n {
			wg.Go(func() { fn(&clientWorker{c: c}) })
		}
	})
	wg.Wait()
}

// clientWorker is one load goroutine's scratch space.
type clientWorker struct {
	c    *loadClient
	body []byte
	resp bytes.Buffer
}

// post sends body and returns the response body of a 2xx answer, which
// stays valid until the worker's next request.
func (w *clientWorker) post(ctx context.Context, url string, body []byte, webhookID string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	if webhookID != "" {
		req.Header["Webhook-Id"] = []string{webhookID}
	}
	return w.do(req)
}

func (w *clientWorker) do(req *http.Request) ([]byte, error) {
	resp, err := w.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	w.resp.Reset()
	if _, err := w.resp.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(w.resp.Bytes()))
	}
	return w.resp.Bytes(), nil
}

// call makes one authenticated JSON API call.
func (w *clientWorker) call(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.do(req)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, req.URL.Path, err)
		}
	}
	return nil
}

// send posts messages [first, first+count) to the application, as one
// request to the batch route with batch set, else one message alone, and
// returns the ids the server accepted them under ("" for one it refused).
func (w *clientWorker) send(ctx context.Context, base, appID string, first, count int, batch bool) ([]string, error) {
	w.body = w.body[:0]
	url := base + "/app/" + appID + "/msg?with_content=false"
	if batch {
		url = base + "/app/" + appID + "/msg/batch?with_content=false"
		w.body = append(w.body, `{"messages":[`...)
		for i := range count {
			if i > 0 {
				w.body = append(w.body, ',')
			}
			w.body = appendMessage(w.body, first+i)
		}
		w.body = append(w.body, "]}"...)
	} else {
		w.body = appendMessage(w.body, first)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{"Bearer " + w.c.apiKey}
	if w.c.idempotencyPrefix != "" {
		req.Header["Idempotency-Key"] = []string{w.c.idempotencyPrefix + strconv.Itoa(first)}
	}
	resp, err := w.do(req)
	if err != nil {
		return nil, err
	}
	if !batch {
		var out struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(resp, &out); err != nil || out.ID == "" {
			return nil, fmt.Errorf("POST %s: no message id in the answer %q", req.URL.Path, resp)
		}
		return []string{out.ID}, nil
	}
	var out struct {
		Data []struct {
			Status  int `json:"status"`
			Message *struct {
				ID string `json:"id"`
			} `json:"message"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || len(out.Data) != count {
		return nil, fmt.Errorf("POST %s: want %d results in the answer, got %q", req.URL.Path, count, resp)
	}
	ids := make([]string, count)
	for i, d := range out.Data {
		if d.Message != nil {
			ids[i] = d.Message.ID
		}
	}
	return ids, nil
}

// benchPayload is the rest of every bench message after its sequence
// number: a thin payment event, as Hookbridge's payloads are meant to be.
const benchPayload = `","orderId":"ord_51aa","status":"captured","amount":4250,"currency":"EUR",` +
	`"processor":"adyen","processorRef":"8535516988037431","capturedAt":"2025-06-01T12:00:00Z"}}`

// appendMessage appends the MessageIn of message seq.
func appendMessage(b []byte, seq int) []byte {
	b = append(b, `{"eventType":"`+benchEventType+`","payload":{"paymentId":"pay_`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	return append(b, benchPayload...)
}

// progress draws a one-line progress bar on stderr when it is a terminal.
type progress struct {
	w io.Writer // nil when disabled
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	return &progress{w: w}
}

// show redraws the bar for a phase every 100 ms until the returned function
// is called, which draws it a last time and ends the line.
func (p *progress) show(label string, total int64, done func() int64, extra func() string) (stop func()) {
	if p.w == nil || total <= 0 {
		return func() {}
	}
	const width = 30
	draw := func() {
		n := min(done(), total)
		fill := int(int64(width) * n / total)
		line := fmt.Sprintf("\r%-9s [%s%s] %d/%d", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, total)
		if extra != nil {
			line += "  " + extra()
		}
		fmt.Fprintf(p.w, "%s\033[K", line)
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				draw()
				fmt.Fprintln(p.w)
				return
			case <-tick.C:
				draw()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-finished
		})
	}
}
