package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/webhook"
)

// Run runs the bench that cfg describes and returns what it measured.
// Each run (one, or one per destination or server binary and round) is
// bounded by cfg.Timeout, so that a comparison of many runs is not cut
// short by a bound chosen for one. A progress bar is drawn on stderr when
// it is a terminal; warnings, and those of a server run in this process,
// are written to it. Deliveries that did not arrive are reported
// (Report.Lost), not returned as an error: an error means that the run
// could not measure. A comparison that fails after its first round also
// returns the rounds completed before the failure (Report.Unfinished).
func Run(ctx context.Context, cfg Config, stderr io.Writer) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	variants := cfg.variants()
	rounds := max(cfg.Rounds, 1)
	// One admin key and one secret key for every run: a PostgreSQL
	// database keeps what the first run's server sealed, which the next
	// run's must open.
	keys := runKeys{apiKey: hookbridge.NewAdminKey(), secret: sealed.NewKey()}
	if cfg.URL == "" {
		for i, v := range variants {
			if isPostgres(v.db) && !slices.ContainsFunc(variants[:i], func(u variant) bool { return u.db == v.db }) {
				if err := checkDatabase(ctx, v.db, stderr); err != nil {
					return nil, err
				}
			}
		}
	}
	var runs []*Report
	for round := range rounds {
		for _, v := range variants {
			one := cfg
			one.Destination, one.ServerBinary, one.DB = v.destination, v.serverBinary, v.db
			if !isPostgres(v.db) {
				one.Instances = 1 // --instances is of the PostgreSQL stores compared
			}
			b := &bench{cfg: one, keys: keys, stderr: stderr, progress: newProgress(stderr)}
			rep, err := b.runWithin(ctx, cfg.Timeout)
			if err != nil {
				if len(variants) == 1 && rounds == 1 {
					return nil, err
				}
				err = fmt.Errorf("round %d, %s: %w", round+1, v.name(), err)
				return unfinished(runs[:round*len(variants)], variants, err), err
			}
			if v.by == byStore {
				rep.DB = storeLabel(v.db)
			}
			runs = append(runs, rep)
		}
	}
	if len(runs) == 1 {
		return runs[0], nil
	}
	return compare(runs, variants), nil
}

// unfinished is what Run returns with the error that stopped a
// comparison: the rounds completed before it, compared, so that a long
// comparison that fails late does not take the earlier rounds with it;
// nil if none was.
func unfinished(runs []*Report, variants []variant, err error) *Report {
	if len(runs) == 0 {
		return nil
	}
	rep := compare(runs, variants)
	rep.Unfinished = err.Error()
	return rep
}

// variant is what one run of a comparison measures: a destination, a
// build of the server, or a store.
type variant struct {
	destination  string
	serverBinary string // "" is the running executable
	db           string // "" is a new SQLite file
	by           comparedBy
}

// comparedBy is what tells a comparison's variants apart.
type comparedBy uint8

const (
	byDestination comparedBy = iota // also a single run, or rounds of one
	byServer
	byStore
)

func (v variant) name() string {
	switch v.by {
	case byServer:
		return "server " + v.serverBinary
	case byStore:
		return "store " + storeLabel(v.db)
	}
	return "destination " + v.destination
}

// variants are the runs of each round: one per destination, one per server
// binary, or one per store (Check allows several of one of them at most).
func (c *Config) variants() []variant {
	dests, _ := c.destinations() // checked
	stores, _ := c.stores()      // checked
	bins := c.serverBinaries()
	var bin string // the running executable, or the one named
	if len(bins) == 1 {
		bin = bins[0]
	}
	var out []variant
	switch {
	case len(bins) > 1:
		for _, b := range bins {
			out = append(out, variant{destination: dests[0], serverBinary: b, db: stores[0], by: byServer})
		}
	case len(stores) > 1:
		for _, s := range stores {
			out = append(out, variant{destination: dests[0], serverBinary: bin, db: s, by: byStore})
		}
	default:
		for _, d := range dests {
			out = append(out, variant{destination: d, serverBinary: bin, db: stores[0]})
		}
	}
	return out
}

// runKeys are the keys the servers the bench starts are given, the same
// in every run of a comparison (see Run).
type runKeys struct {
	apiKey string // their admin key, unless --api-key names one
	secret string // their --secret-key, when they are given one
}

// bench is one run.
type bench struct {
	cfg      Config
	keys     runKeys
	stderr   io.Writer
	progress *progress

	recv   *receiver
	client *loadClient
	db     string // what the server under test is started on
	apiKey string
	secret string // the servers' --secret-key with --sealed, "" without

	endpointSecret string   // every endpoint's signing secret
	consumer       consumer // of a broker --destination; nil for http
}

// runWithin runs b within timeout. An error that the bound caused says
// so, where the step it cut short would only say that its context ended.
func (b *bench) runWithin(ctx context.Context, timeout time.Duration) (*Report, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	rep, err := b.run(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errTimeout) {
		err = fmt.Errorf("%w (%w after %s)", err, errTimeout, timeout)
	}
	return rep, err
}

// errTimeout is the cause of a run's context ending at --timeout.
var errTimeout = errors.New("--timeout passed")

func (b *bench) run(ctx context.Context) (*Report, error) {
	cfg := b.cfg
	start := time.Now()
	recv, err := startReceiver(cmp.Or(cfg.ReceiverAddr, anyLoopbackPort))
	if err != nil {
		return nil, err
	}
	defer recv.close()
	b.recv = recv
	// Every endpoint gets this secret, so that the receiver checks each
	// signature as a consumer would.
	if b.endpointSecret, err = webhook.NewSecret(); err != nil {
		return nil, err
	}
	if recv.verifier, err = webhook.NewVerifier(b.endpointSecret); err != nil {
		return nil, err
	}
	b.client = newLoadClient(cfg.Concurrency)
	defer b.client.close()
	if cfg.Destination != DestHTTP {
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		c, err := startConsumer(ctx, &cfg, cfg.Destination, run, cfg.Endpoints*cfg.Fanout, recv)
		if err != nil {
			return nil, err
		}
		defer c.close()
		b.consumer = c
	}

	rep := &Report{
		Destination: cfg.Destination, ServerBinary: cfg.ServerBinary,
		CPUs: runtime.NumCPU(), Store: "sqlite", Server: "process", Instances: cfg.Instances, Sealed: cfg.Sealed, Filter: cfg.Filter, Idempotency: cfg.Idempotency,
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
	// The relays run before the server and again after it, as the
	// baseline does (see Report.addRelay), the durable one inside the
	// store-less one's two runs, so that both pairs centre on the server.
	var kinds []bool // the relays asked for, by durable, in the order run before the server
	if cfg.Relay {
		kinds = append(kinds, false)
	}
	if cfg.DurableRelay {
		kinds = append(kinds, true)
	}
	relays := map[bool][]relayResult{}
	for _, durable := range kinds {
		r, err := b.relay(ctx, rep.Messages, "before", durable)
		if err != nil {
			return nil, err
		}
		relays[durable] = append(relays[durable], r)
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
			b.apiKey = b.keys.apiKey
		}
		// One key for every start, so that a restart reads what was
		// sealed; on PostgreSQL always, since every instance needs the
		// same one (a server on SQLite makes its own key file otherwise).
		if cfg.Sealed || isPostgres(b.db) {
			b.secret = b.keys.secret
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
	rep.ReceiverAddr, rep.ServerAddrs = recv.addr, srv.addrs()
	// srv is whichever servers run now; on an early return they are
	// stopped, and a database the bench does not own is cleaned up first.
	var apps []application
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
	// The server's CPU from here on is the load's: its start and the
	// setup (many endpoints, with --fanout 1000) are left out. So is the
	// database's, when it runs here.
	var db dbUsage
	if isPostgres(b.db) {
		db.postmaster, db.known = localPostgres(ctx, b.db)
	}
	dbCPU0, dbKnown := db.cpuSoFar()
	cpu0, cpu0Known := srv.cpuSoFar()
	// SQLite's writer figures, and every server's claims, over the load
	// (not over a backlog run, whose servers restart: there the claims
	// are the drain's, counted from the restart).
	var figures0 figures
	if cfg.Backlog == 0 {
		figures0 = b.readFigures(ctx, srv)
	}
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
		b.recv.releaseWhenGone(ctx, serverStopTimeout)
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
	// The database's share ends with the last arrival: the look-ups and
	// the teardown below are the bench's.
	dbCPU1, dbKnown1 := db.cpuSoFar()
	figures1 := b.readFigures(ctx, srv)
	if cfg.Backlog > 0 {
		figures0 = figures{claims: claimSample{known: true}} // the restarted servers counted from 0
	}
	rep.Writer = writerBetween(figures0.writer, figures1.writer)
	rep.Claims = claimsBetween(figures0.claims, figures1.claims)
	// Repeated arrivals so far are told apart by the server's attempt
	// log while it runs; any that come later count as duplicates.
	split, err := b.classify(ctx, srv.base(0), apps, ing)
	if err != nil {
		fmt.Fprintf(b.stderr, "hookbridge bench: repeated arrivals not told apart (all counted as duplicates): %v\n", err)
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
	rep.Duplicates -= split.abandoned
	rep.Abandoned = split.abandoned
	rep.Invalid = b.recv.invalid.Load()
	if cfg.Backlog > 0 {
		rep.addBacklog(b.recv, restart, held)
		usage = held.then(usage)
	}
	rep.addUsage(usage, cpu0, cpu0Known)
	if dbKnown && dbKnown1 && dbCPU1 >= dbCPU0 {
		rep.addDBCPU(dbCPU1 - dbCPU0)
	}
	for _, durable := range slices.Backward(kinds) {
		r, err := b.relay(ctx, rep.Messages, "after", durable)
		if err != nil {
			return nil, err
		}
		relays[durable] = append(relays[durable], r)
	}
	rep.addRelay(relays[false])
	rep.addDurableRelay(relays[true])
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
	if rep.RelayPerS != nil && *rep.RelayPerS > 0 && cfg.Rate == 0 {
		r := rep.DeliveredPerS / *rep.RelayPerS
		rep.OfRelay = &r
	}
	if rep.DurableRelayPerS != nil && *rep.DurableRelayPerS > 0 && cfg.Rate == 0 {
		r := rep.DeliveredPerS / *rep.DurableRelayPerS
		rep.OfDurableRelay = &r
	}
	rep.ElapsedS = time.Since(start).Seconds()
	if rep.Accepted == 0 {
		return nil, fmt.Errorf("the server accepted no message: %s", rep.firstError)
	}
	return rep, nil
}
