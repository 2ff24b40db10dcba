package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/bench"
	"github.com/hookbridge/hookbridge/dispatch/brokertest"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// TestBenchSmoke runs `hookbridge bench` end to end on small loads, with the
// real binary as the server: every accepted message must arrive, once, at
// every endpoint it is owed to. It checks counts only, never timings.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := hookbridgeBinary(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"OnePerRequest", []string{"--messages", "2000", "--baseline", "--relay"}},
		// In batches, so that the durable relay's batch path is the one
		// that writes its log.
		{"DurableRelay", []string{"--messages", "1000", "--batch", "20", "--relay", "--durable-relay"}},
		{"IdempotencyKeys", []string{"--messages", "1000", "--idempotency-keys"}},
		{"BatchFanOut", []string{"--messages", "1000", "--batch", "100", "--endpoints", "3", "--fanout", "2"}},
		// Sealed: the restart must read the secrets the first start sealed.
		{"BacklogSealed", []string{"--backlog", "500", "--batch", "50", "--sealed"}},
		{"Hang", []string{"--messages", "1000", "--endpoints", "5", "--hang", "1"}},
		// Filters: a message is owed to 3 of the 5 endpoints; one
		// delivered to the other two would count as unexpected.
		{"Filter", []string{"--messages", "300", "--batch", "20", "--fanout", "5", "--filter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := runBenchSmoke(t, append([]string{"--server-binary", bin}, tc.args...))
			if tc.name == "OnePerRequest" {
				wantPositive(t, "--relay --baseline", map[string]*float64{"relay_per_s": rep.RelayPerS, "relay_ratio": rep.RelayRatio,
					"of_relay": rep.OfRelay, "relay_cpu_us_per_delivery": rep.RelayCPUPerDelivUS})
				wantMeanOfTwo(t, "relay", rep.RelayPerS, rep.RelayRuns)
				// The writer's figures over the load, from the server's
				// /metrics: every message is a write, and it never works
				// more than all the time.
				if w := rep.Writer; w == nil || w.Commits == 0 || w.WritesPerCommit < 1 || w.CommitMeanMS <= 0 || w.Busy <= 0 || w.Busy > 1.05 {
					t.Errorf("sqlite_writer = %+v, want commits carrying a write or more each, taking time, the writer busy part of the time", w)
				}
			}
			if strings.Contains(tc.name, "Backlog") && rep.Writer != nil {
				t.Errorf("sqlite_writer = %+v in a backlog run, whose server restarts; want none", rep.Writer)
			}
			// The claims, from the servers' /metrics. A backlog's
			// deliveries are all claimed after the restart.
			switch {
			case rep.Claims == nil:
				t.Error("no claims reported")
			case strings.Contains(tc.name, "Backlog") && rep.Claims.Found == 0:
				t.Errorf("claims = %+v in a backlog run's drain, want some that found deliveries", rep.Claims)
			}
			if tc.name == "DurableRelay" {
				wantPositive(t, "--relay --durable-relay", map[string]*float64{"durable_relay_per_s": rep.DurableRelayPerS,
					"of_durable_relay": rep.OfDurableRelay, "durable_relay_cpu_us_per_delivery": rep.DurableRelayCPUPerDelivUS, "relay_per_s": rep.RelayPerS})
				wantMeanOfTwo(t, "durable_relay", rep.DurableRelayPerS, rep.DurableRelayRuns)
			}
			if strings.Contains(tc.name, "Backlog") && (rep.Backlog == nil || rep.Backlog.Pending != 500) {
				t.Errorf("backlog = %+v, want 500 pending", rep.Backlog)
			}
			if tc.name == "Filter" && (!rep.Filter || rep.Deliveries != 900) {
				t.Errorf("filter %v, %d deliveries owed; want true and 900", rep.Filter, rep.Deliveries)
			}
			if strings.Contains(tc.name, "Sealed") && !rep.Sealed {
				t.Error("sealed = false with --sealed")
			}
			if tc.name == "Hang" && (rep.Hanging != 1 || rep.HealthyDeliveredPerS == nil || *rep.HealthyDeliveredPerS <= 0) {
				t.Errorf("hanging %d, healthy rate %v; want 1 and a rate", rep.Hanging, rep.HealthyDeliveredPerS)
			}
		})
	}
}

// wantPositive checks that each named figure of a run with flags was
// measured.
func wantPositive(t *testing.T, flags string, figures map[string]*float64) {
	t.Helper()
	for name, v := range figures {
		if v == nil || *v <= 0 {
			t.Errorf("%s = %v with %s, want a positive figure", name, v, flags)
		}
	}
}

// wantMeanOfTwo checks that a relay ran before the server and after it,
// and that its rate (<name>_per_s) is the mean of the two runs.
func wantMeanOfTwo(t *testing.T, name string, mean *float64, runs []float64) {
	t.Helper()
	if len(runs) != 2 || runs[0] <= 0 || runs[1] <= 0 {
		t.Errorf("%s_runs_per_s = %v, want two rates", name, runs)
	} else if mean != nil && math.Abs(*mean-(runs[0]+runs[1])/2) > 1e-6**mean {
		t.Errorf("%s_per_s = %v, want the mean of %v", name, *mean, runs)
	}
}

// TestBenchBrokers: --destination compares the HTTP receiver with RabbitMQ,
// NATS JetStream and Redis streams (the test servers), each consumed by the
// bench, which checks every message's signature and counts it by
// (webhook-id, endpoint): nothing lost, nothing twice, nothing unsigned,
// in every run, and a figure for each destination.
func TestBenchBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	amqpURL := brokertest.NewAMQP(t).Server.String()
	natsURL := brokertest.NewNATS(t).Server.String()
	redisURL := brokertest.NewRedis(t).Server.String()
	rep := runBenchSmoke(t, []string{"--server-binary", hookbridgeBinary(t), "--messages", "300", "--batch", "10",
		"--endpoints", "2", "--fanout", "2", "--destination", "http,amqp,nats,redis",
		"--amqp-url", amqpURL, "--nats-url", natsURL, "--redis-url", redisURL})
	if len(rep.Runs) != 4 || len(rep.Comparison) != 4 {
		t.Fatalf("%d runs, %d destinations compared; want 4 and 4", len(rep.Runs), len(rep.Comparison))
	}
	for i, want := range []string{"http", "amqp", "nats", "redis"} {
		run, f := rep.Runs[i], rep.Comparison[i]
		if run.Destination != want || f.Destination != want {
			t.Errorf("run %d to %s, figures of %s; want %s", i, run.Destination, f.Destination, want)
		}
		if run.Lost != 0 || run.Duplicates != 0 || run.Invalid != 0 || run.Accepted != 300 {
			t.Errorf("%s: accepted %d, lost %d, duplicates %d, invalid %d", want, run.Accepted, run.Lost, run.Duplicates, run.Invalid)
		}
		if f.MedianPerS <= 0 || f.MedianOfFirst <= 0 || f.MedianCPUUS == nil {
			t.Errorf("%s: %v deliveries/s, %v of http, CPU %v µs per delivery: not measured", want, f.MedianPerS, f.MedianOfFirst, f.MedianCPUUS)
		}
	}
}

// TestBenchCompareBuilds: several --server-binary are compared as
// destinations are, each once per round, interleaved, and each run
// measures the --relay around its own server. Each "build" here
// is a script that notes its run and starts the real binary, so the test
// sees which server every run started.
func TestBenchCompareBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := hookbridgeBinary(t)
	dir := t.TempDir()
	var builds []string
	for _, name := range []string{"a", "b"} {
		script := filepath.Join(dir, name)
		body := "#!/bin/sh\n[ \"$1\" = serve ] && echo run >> " + script + ".runs\nexec " + bin + " \"$@\"\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		builds = append(builds, script)
	}
	rep := runBenchSmoke(t, []string{"--server-binary", strings.Join(builds, ","), "--rounds", "2", "--messages", "300", "--relay"})
	if len(rep.Runs) != 4 || len(rep.Comparison) != 2 {
		t.Fatalf("%d runs, %d builds compared; want 4 and 2", len(rep.Runs), len(rep.Comparison))
	}
	for i, run := range rep.Runs {
		if want := builds[i%2]; run.ServerBinary != want {
			t.Errorf("run %d: server %s, want %s (interleaved)", i, run.ServerBinary, want)
		}
	}
	for i, f := range rep.Comparison {
		if f.ServerBinary != builds[i] || f.MedianPerS <= 0 || f.MedianCPUUS == nil || len(f.DeliveredPerS) != 2 {
			t.Errorf("figures %+v: want %s's, measured in 2 rounds", f, builds[i])
		}
		// --relay: each run measured the relay around its own server.
		if len(f.OfRelay) != 2 || f.MedianOfRelay == nil || *f.MedianOfRelay <= 0 || len(f.RelayCPUUS) != 2 {
			t.Errorf("%s: of_relay %v (median %v), relay CPU %v; want one of each per round", builds[i], f.OfRelay, f.MedianOfRelay, f.RelayCPUUS)
		}
		runs, err := os.ReadFile(builds[i] + ".runs")
		if err != nil || strings.Count(string(runs), "run") != 2 {
			t.Errorf("%s served %q (%v), want 2 runs", builds[i], runs, err)
		}
	}
}

// TestBenchReportsRoundsBeforeAFailure: a comparison whose later round
// cannot run still reports the rounds it completed, says why it stopped,
// and exits non-zero.
func TestBenchReportsRoundsBeforeAFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := hookbridgeBinary(t)
	script := filepath.Join(t.TempDir(), "once")
	// Serves the first time it is run, and fails every time after.
	body := "#!/bin/sh\n[ -e " + script + ".ran ] && exit 3\n[ \"$1\" = serve ] && touch " + script + ".ran\nexec " + bin + " \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--json", "--timeout", "2m", "--server-binary", script, "--rounds", "3", "--messages", "300"}
	if code := run(context.Background(), args, &stdout, &stderr); code == 0 {
		t.Fatalf("bench exited 0 with its second round's server failing:\n%s", stdout.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	if len(rep.Runs) != 1 || rep.Runs[0].Lost != 0 || rep.Runs[0].Deliveries != 300 {
		t.Errorf("%d runs reported (%+v), want the first round's, complete", len(rep.Runs), rep.Runs)
	}
	if !strings.HasPrefix(rep.Unfinished, "round 2,") || !strings.Contains(stderr.String(), rep.Unfinished) {
		t.Errorf("unfinished = %q, stderr %q; want round 2's error in both", rep.Unfinished, stderr.String())
	}
}

// TestBenchTimeoutNamed: a run that --timeout cuts short says that it
// was the bound, not only that some step's context ended.
func TestBenchTimeoutNamed(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--json", "--timeout", "1ns", "--messages", "10"}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("bench with a 1ns --timeout exited 0:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "--timeout passed after 1ns") {
		t.Errorf("stderr = %q, want it to name --timeout", stderr.String())
	}
}

// TestBenchFixedPorts: --addr and --receiver-addr put the server and the
// receiver on the ports given, for a bench run beside other services; a
// port already taken is an error naming the receiver, not a run.
func TestBenchFixedPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := hookbridgeBinary(t)
	serverAddr, receiverAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	rep := runBenchSmoke(t, []string{"--server-binary", bin, "--messages", "200",
		"--addr", serverAddr, "--receiver-addr", receiverAddr})
	if rep.ReceiverAddr != receiverAddr || len(rep.ServerAddrs) != 1 || rep.ServerAddrs[0] != serverAddr {
		t.Errorf("receiver on %s, server on %v; want %s and %s", rep.ReceiverAddr, rep.ServerAddrs, receiverAddr, serverAddr)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--server-binary", bin, "--messages", "10", "--receiver-addr", taken.Addr().String()}
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "receiver") {
		t.Errorf("bench on a taken receiver port exited %d, printed %q; want 1 and an error naming the receiver", code, stderr.String())
	}
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestBenchSmokePostgres runs the bench on a PostgreSQL database of its own
// with two servers sharing it.
func TestBenchSmokePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	dsn := pgtest.Database(t, "hb_bench")
	rep := runBenchSmoke(t, []string{"--server-binary", hookbridgeBinary(t), "--db", dsn, "--instances", "2",
		"--messages", "1000", "--batch", "20", "--endpoints", "2"})
	if rep.Store != "postgres" || rep.Instances != 2 {
		t.Errorf("store %q with %d instances, want postgres with 2", rep.Store, rep.Instances)
	}
	if rep.Writer != nil {
		t.Errorf("sqlite_writer = %+v on PostgreSQL, want none", rep.Writer)
	}
	if rep.Claims == nil {
		t.Error("no claims reported from the two servers")
	}
	// CI runs PostgreSQL on the same machine, where its processes can be
	// read; elsewhere it may be in a container or on another host.
	switch {
	case rep.DBCPUPerDelivUS != nil && *rep.DBCPUPerDelivUS <= 0:
		t.Errorf("PostgreSQL's CPU per delivery = %v", *rep.DBCPUPerDelivUS)
	case rep.DBCPUPerDelivUS == nil && os.Getenv("CI") == "true" && runtime.GOOS == "linux":
		t.Error("no db_cpu_us_per_delivery, with PostgreSQL on this machine")
	}
}

// TestBenchCompareStores: --db sqlite,postgres://… runs SQLite and
// PostgreSQL once per round each, interleaved, PostgreSQL with its
// --instances, on one database that each run leaves empty.
func TestBenchCompareStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	dsn := pgtest.Database(t, "hb_bench_stores")
	rep := runBenchSmoke(t, []string{"--server-binary", hookbridgeBinary(t), "--db", "sqlite," + dsn, "--instances", "2",
		"--rounds", "2", "--messages", "300"})
	if len(rep.Runs) != 4 || len(rep.Comparison) != 2 || rep.Store != "sqlite,postgres" {
		t.Fatalf("%d runs, %d stores compared, store %q; want 4, 2 and sqlite,postgres", len(rep.Runs), len(rep.Comparison), rep.Store)
	}
	for i, run := range rep.Runs {
		want, instances := "sqlite", 1
		if i%2 == 1 {
			want, instances = "postgres", 2
		}
		if run.Store != want || run.Instances != instances || run.Accepted != 300 {
			t.Errorf("run %d: %s with %d instances, %d accepted; want %s with %d, 300 (interleaved)",
				i, run.Store, run.Instances, run.Accepted, want, instances)
		}
	}
	if f := rep.Comparison[1]; !strings.HasPrefix(f.DB, "postgres") || len(f.OfFirst) != 2 || f.MedianOfFirst <= 0 {
		t.Errorf("PostgreSQL's figures %+v: want its rate set against SQLite's in each of 2 rounds", f)
	}

	// Another bench on the same database is refused before it starts
	// anything: the first one's servers sealed their settings there
	// under a key the second does not have.
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--server-binary", hookbridgeBinary(t), "--db", dsn, "--messages", "10"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "empty database") {
		t.Errorf("a bench on a used database exited %d, printed %q; want 1 and a request for an empty database", code, stderr.String())
	}
}

// runBenchSmoke runs `hookbridge bench --json` with args and checks that
// every accepted message arrived, once, everywhere it was owed.
func runBenchSmoke(t *testing.T, args []string) bench.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"bench", "--json", "--timeout", "2m"}, args...)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", stdout.String(), err)
	}
	if rep.Accepted != rep.Messages || rep.Refused != 0 {
		t.Errorf("accepted %d, refused %d of %d messages", rep.Accepted, rep.Refused, rep.Messages)
	}
	owed := rep.Fanout
	if rep.Filter {
		owed = (rep.Fanout + 1) / 2 // the endpoints at even places
	}
	if want := int64(rep.Accepted * owed); rep.Deliveries != want {
		t.Errorf("deliveries = %d, want %d", rep.Deliveries, want)
	}
	if rep.Lost != 0 || rep.Duplicates != 0 || rep.Unexpected != 0 || rep.Invalid != 0 {
		t.Errorf("lost %d, duplicates %d, unexpected %d, invalid %d; want none", rep.Lost, rep.Duplicates, rep.Unexpected, rep.Invalid)
	}
	if rep.Abandoned != 0 {
		// At-least-once on a loaded machine: the server gave up on a
		// request (its timeout) that the receiver answered after all,
		// and sent it again. Not a duplicate delivery by the server.
		t.Logf("%d requests the server had given up on reached the receiver", rep.Abandoned)
	}
	if rep.DeliveredPerS <= 0 || rep.CPUS == nil {
		t.Errorf("delivered_per_s = %v, cpu_s = %v: not measured", rep.DeliveredPerS, rep.CPUS)
	}
	return rep
}

// TestBenchRefusesContradictions: settings that cannot measure what they
// say are refused as a usage error before anything starts.
func TestBenchRefusesContradictions(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--relay", "--backlog", "100"},
		{"--durable-relay", "--fanout", "2"},
		{"--relay-log", "/tmp"},
		{"--serve-relay", "not a url"},
		{"--serve-relay", "http://example.com/e/0"},
		{"--serve-relay", "https://127.0.0.1:9/e/0"},
		{"--relay", "--endpoints", "2", "--hang", "1"},
		{"--relay", "--fanout", "2"},
		{"--hang", "1", "--endpoints", "3", "--backlog", "10"},
		{"--instances", "2"},
		{"--batch", "0"},
		{"--url", "http://127.0.0.1:8071"},
		{"--url", "http://example.com:8071", "--api-key", "k"},
		{"--destination", "kafka"},
		{"--destination", "http,http"},
		{"--destination", "amqp", "--backlog", "10"},
		{"--destination", "nats", "--endpoints", "101"},
		{"--destination", "redis", "--redis-url", "not a url"},
		{"--rounds", "2", "--backlog", "10"},
		{"--addr", "0.0.0.0:8071"},
		{"--addr", "127.0.0.1"},
		{"--receiver-addr", "localhost:9000"},
		{"--url", "http://127.0.0.1:8071", "--api-key", "k", "--addr", "127.0.0.1:8072"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"bench"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("bench %v exited %d, want 2 (usage)\n%s", args, code, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("bench %v printed %q: it ran", args, stdout.String())
		}
	}
}

// TestBenchIgnoresServeEnvironment: the variables that configure `serve`
// must not point the bench at a real database (nor the server it starts:
// bench.TestServerEnv).
func TestBenchIgnoresServeEnvironment(t *testing.T) {
	t.Setenv("HOOKBRIDGE_DB", "/var/lib/hookbridge/production.db")
	t.Setenv("HOOKBRIDGE_API_KEY", "hbk_production_key_0123456789")
	t.Setenv("HOOKBRIDGE_ADDR", "127.0.0.1:8071")
	var cfg benchConfig
	fs := newFlagSet("bench", "", &bytes.Buffer{})
	cfg.register(fs)
	if err := fs.parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "" || cfg.APIKey != "" || cfg.Addr != "" {
		t.Errorf("--db %q, --api-key %q, --addr %q taken from the environment", cfg.DB, cfg.APIKey, cfg.Addr)
	}
}
