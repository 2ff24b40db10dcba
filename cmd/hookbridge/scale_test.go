package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
)

// scaleFlags are the serve flags of the several-instance tests: a short
// lease so that a dead or frozen instance's deliveries are taken over within
// seconds, and a small pool so that three instances and the other test
// packages fit in PostgreSQL's default 100 connections.
const (
	scaleLease   = 3 * time.Second
	scaleWorkers = 16
)

var scaleFlags = []string{"--lease", scaleLease.String(), "--request-timeout", "2s", "--workers", fmt.Sprint(scaleWorkers)}

// scaleDSN creates an empty database for one test and returns its DSN, and
// the DSN the instances use: the same with a small pool.
func scaleDSN(t testing.TB, prefix string) (dsn, serveDSN string) {
	t.Helper()
	dsn = pgtest.Database(t, prefix)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "6")
	u.RawQuery = q.Encode()
	return dsn, u.String()
}

// countingReceiver counts the requests of each (path, webhook-id).
type countingReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newCountingReceiver(t testing.TB, hold func()) *countingReceiver {
	t.Helper()
	r := &countingReceiver{got: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.got[req.URL.Path+" "+req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		if hold != nil {
			hold()
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// count returns how often the message reached the path.
func (r *countingReceiver) count(path, msgID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[path+" "+msgID]
}

// createAppAndEndpoints creates an application with one endpoint per path
// on the receiver, through the instance at base.
func createAppAndEndpoints(t testing.TB, client *http.Client, base, receiverURL string, paths ...string) string {
	t.Helper()
	ctx := context.Background()
	var app struct {
		ID string `json:"id"`
	}
	if _, err := apiCall(ctx, client, "POST", base+"/app", map[string]any{"name": "scale"}, &app); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := apiCall(ctx, client, "POST", base+"/app/"+app.ID+"/endpoint", map[string]any{"url": receiverURL + p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return app.ID
}

// TestScaleOut runs three real instances on one PostgreSQL database, started
// together on an empty database, sends a few thousand messages through all
// three, kills one with SIGKILL midway, and checks that every accepted
// message reaches every endpoint at least once, with duplicates limited to
// what the killed instance can have had in flight.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn, serveDSN := scaleDSN(t, "hb_scale")
	hookbridgeBinary(t)

	// Started together against an empty database: they race to migrate.
	procs := make([]*process, 3)
	for i := range procs {
		procs[i] = spawnProcess(t, serveDSN, scaleFlags...)
	}
	for _, p := range procs {
		p.waitListening(t)
	}
	checkMigratedOnce(t, dsn)

	// A receiver that takes a moment per request, as real ones do, so
	// that the killed instance has requests in flight when it dies.
	recv := newCountingReceiver(t, func() { time.Sleep(2 * time.Millisecond) })
	paths := []string{"/a", "/b"}
	client := &http.Client{Timeout: 10 * time.Second}
	appID := createAppAndEndpoints(t, client, "http://"+procs[0].addr+"/api/v1", recv.URL, paths...)

	const (
		total     = 3000 // messages attempted
		killAfter = total / 3
		producers = 12
	)
	var (
		next      atomic.Int64 // the next message number to send
		accepted  = make([][]string, producers)
		count     atomic.Int64
		killOnce  sync.Once
		killing   atomic.Bool
		refused   atomic.Int64
		wg        sync.WaitGroup
		victim    = procs[1]
		ctx       = context.Background()
		startedAt = time.Now()
	)
	for w := range producers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				p := procs[i%int64(len(procs))]
				var msg struct {
					ID string `json:"id"`
				}
				_, err := apiCall(ctx, client, "POST", "http://"+p.addr+"/api/v1/app/"+appID+"/msg",
					map[string]any{"eventType": "order.created", "payload": map[string]any{"i": i}}, &msg)
				if err != nil {
					if p == victim && killing.Load() {
						refused.Add(1)
						continue // the killed instance: not accepted
					}
					t.Errorf("message %d through %s: %v", i, p.addr, err)
					return
				}
				accepted[w] = append(accepted[w], msg.ID)
				if count.Add(1) == killAfter {
					killOnce.Do(func() {
						killing.Store(true)
						if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
							t.Error(err)
						}
					})
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sent := time.Since(startedAt)
	var ids []string
	for _, a := range accepted {
		ids = append(ids, a...)
	}
	t.Logf("accepted %d of %d messages in %v (%d refused by the killed instance)", len(ids), total, sent.Round(time.Millisecond), refused.Load())

	// Every accepted message reaches both endpoints: the survivors take
	// over the killed instance's deliveries once its leases end.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var missing []string
		for _, id := range ids {
			for _, p := range paths {
				if recv.count(p, id) == 0 {
					missing = append(missing, p+" "+id)
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries never made, e.g. %s", len(missing), len(ids)*len(paths), strings.Join(missing[:min(5, len(missing))], ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("all %d deliveries made %v after the first message", len(ids)*len(paths), time.Since(startedAt).Round(time.Millisecond))

	// Duplicates come only from deliveries the killed instance had sent
	// but not recorded: at most what it holds at once (its queue and its
	// requests in flight).
	recv.mu.Lock()
	dups := 0
	for _, n := range recv.got {
		dups += n - 1
	}
	recv.mu.Unlock()
	limit := scaleWorkers + dispatch.DefaultBatchSize
	t.Logf("%d duplicate deliveries (the killed instance holds at most %d at once)", dups, limit)
	if dups > limit {
		t.Errorf("%d duplicate deliveries, more than the killed instance can have had in flight (%d)", dups, limit)
	}
}

// checkMigratedOnce fails the test unless every migration is recorded
// exactly once.
func checkMigratedOnce(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var (
		version int32
		n       int64
		seen    int
	)
	if _, err := pgx.ForEachRow(rows, []any{&version, &n}, func() error {
		seen++
		if n != 1 {
			t.Errorf("migration %d recorded %d times", version, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Error("no migrations recorded")
	}
}

// TestLeaseTakeover freezes an instance (SIGSTOP) while its requests are in
// flight: it stops renewing its leases, so a second instance delivers the
// messages once the leases end; when the first one resumes, its late
// results are rejected and the attempt log shows only the second
// instance's attempts.
func TestLeaseTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, dsn := scaleDSN(t, "hb_lease")

	// The receiver holds the first instance's requests until it is frozen.
	const messages = 4
	var (
		held     = make(chan struct{}, messages)
		release  = make(chan struct{})
		firstMu  sync.Mutex
		firstAt  time.Time
		holdOnce atomic.Bool
	)
	var takenAt atomic.Int64 // unix ns of the first request after the freeze: the second instance's
	recv := newCountingReceiver(t, func() {
		if holdOnce.Load() {
			takenAt.CompareAndSwap(0, time.Now().UnixNano())
			return // released: answer at once
		}
		firstMu.Lock()
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		firstMu.Unlock()
		held <- struct{}{}
		<-release
	})

	a := startProcess(t, dsn, scaleFlags...)
	client := &http.Client{Timeout: 10 * time.Second}
	baseA := "http://" + a.addr + "/api/v1"
	appID := createAppAndEndpoints(t, client, baseA, recv.URL, "/a")
	// No delivery can be claimed before its message exists, so no lease can
	// end before sentAt + lease: the lower bound that the takeover must
	// respect, whatever the load delays between claim and request.
	sentAt := time.Now()
	var ids []string
	for i := range messages {
		var msg struct {
			ID string `json:"id"`
		}
		if _, err := apiCall(context.Background(), client, "POST", baseA+"/app/"+appID+"/msg",
			map[string]any{"eventType": "order.created", "payload": map[string]any{"i": i}}, &msg); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.ID)
	}
	for range messages {
		select {
		case <-held:
		case <-time.After(30 * time.Second):
			t.Fatal("the first instance did not send every message")
		}
	}
	// Every message is now claimed by a and in flight; a freezes. The
	// signal only starts that: a must be seen stopped before its requests
	// are answered, or on a busy machine it may still record them.
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, a.cmd.Process.Pid)
	holdOnce.Store(true)
	close(release) // a's requests are answered into its socket buffers

	b := startProcess(t, dsn, scaleFlags...)
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for recv.count("/a", id) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("message %s not taken over by the second instance\nleases: %s\nsecond instance:\n%s",
					id, leaseStates(t, dsn), b.logText())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	firstMu.Lock()
	sinceFirst := time.Since(firstAt)
	firstMu.Unlock()
	t.Logf("taken over %v after the frozen instance sent (lease %v)", sinceFirst.Round(time.Millisecond), scaleLease)
	if waited := time.Unix(0, takenAt.Load()).Sub(sentAt); waited < scaleLease {
		t.Errorf("taken over %v after the messages were sent, before the lease (%v) could have ended", waited, scaleLease)
	}

	// a resumes and records what it did: the results are rejected.
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(a.logText(), "results rejected, lease lost") {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed instance's late results were not rejected:\n%s", a.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Only b's attempts are in the log, one success per message, once b
	// has recorded them (its requests arrived before it wrote them).
	baseB := "http://" + b.addr + "/api/v1"
	deadline = time.Now().Add(30 * time.Second)
	for _, id := range ids {
		var page struct {
			Data []struct {
				ResponseStatusCode int `json:"responseStatusCode"`
				Status             int `json:"status"`
			} `json:"data"`
		}
		for {
			if _, err := apiCall(context.Background(), client, "GET", baseB+"/app/"+appID+"/attempt/msg/"+id, nil, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Data) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(page.Data) != 1 || page.Data[0].Status != 0 {
			t.Errorf("message %s: attempts %+v, want only the second instance's success", id, page.Data)
		}
	}
}

// BenchmarkInstances measures what one PostgreSQL carries with one and with
// three instances in front of it, all on this machine: messages accepted
// per second (producers posting one message per request, spread over the
// instances) and delivered per second (to one endpoint on a local
// receiver), from the first request to the last acceptance and the last
// delivery. It also reports how many transactions PostgreSQL committed per
// message: ingest, claims, results, notifications, and the read-only ones
// (subscription reads, next-due queries). Run it on its own, once:
//
//	go test -run - -bench Instances -benchtime 1x ./cmd/hookbridge
//
// It needs HOOKBRIDGE_TEST_POSTGRES. See docs/scaling.md for figures.
func BenchmarkInstances(b *testing.B) {
	const (
		messages  = 20000
		producers = 64
	)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("%dx", n), func(b *testing.B) {
			plainDSN, dsn := scaleDSN(b, "hb_bench")
			hookbridgeBinary(b)
			var delivered atomic.Int64
			lastDelivery := atomic.Int64{}
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				delivered.Add(1)
				lastDelivery.Store(time.Now().UnixNano())
			}))
			defer recv.Close()
			procs := make([]*process, n)
			for i := range procs {
				procs[i] = spawnProcess(b, strings.Replace(dsn, "pool_max_conns=6", "pool_max_conns=16", 1))
			}
			for _, p := range procs {
				p.waitListening(b)
			}
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: producers}}
			appID := createAppAndEndpoints(b, client, "http://"+procs[0].addr+"/api/v1", recv.URL, "/")
			for range b.N {
				commitsBefore := databaseCommits(b, plainDSN)
				delivered.Store(0)
				var next atomic.Int64
				start := time.Now()
				var wg sync.WaitGroup
				for range producers {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= messages {
								return
							}
							p := procs[i%int64(n)]
							if _, err := apiCall(context.Background(), client, "POST", "http://"+p.addr+"/api/v1/app/"+appID+"/msg",
								map[string]any{"eventType": "order.created", "payload": map[string]any{"i": i}}, nil); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				accepted := time.Since(start)
				deadline := time.Now().Add(5 * time.Minute)
				for delivered.Load() < messages {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d delivered", delivered.Load(), messages)
					}
					time.Sleep(10 * time.Millisecond)
				}
				done := time.Unix(0, lastDelivery.Load()).Sub(start)
				b.ReportMetric(messages/accepted.Seconds(), "accepted/s")
				b.ReportMetric(messages/done.Seconds(), "delivered/s")
				b.ReportMetric(float64(databaseCommits(b, plainDSN)-commitsBefore)/messages, "xacts/msg")
			}
		})
	}
}

// TestWakeAcrossInstances: a message accepted by another instance (here
// the test itself, writing through a PostgreSQL store as an instance's API
// does) is delivered by a running instance within milliseconds, woken by
// the NOTIFY, rather than at its next poll (up to a second later).
func TestWakeAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, dsn := scaleDSN(t, "hb_wake")
	b := startProcess(t, dsn, scaleFlags...)
	arrived := make(chan time.Time, 16)
	recv := newCountingReceiver(t, func() { arrived <- time.Now() })
	client := &http.Client{Timeout: 10 * time.Second}
	appID := createAppAndEndpoints(t, client, "http://"+b.addr+"/api/v1", recv.URL, "/a")

	keys, err := sealed.ParseKeys(testSecretKey) // the instances' key: the endpoint secrets are sealed with it
	if err != nil {
		t.Fatal(err)
	}
	other, err := postgres.Open(context.Background(), dsn, postgres.WithKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Let b's dispatcher go idle: with nothing due it sleeps for its poll
	// interval unless woken.
	const messages = 7
	var latencies []time.Duration
	for i := range messages {
		m := &hookbridge.Message{AppID: appID, EventType: "order.created", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		sent := time.Now()
		if _, _, err := other.CreateMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-arrived:
			latencies = append(latencies, at.Sub(sent))
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not delivered", i)
		}
	}
	slices.Sort(latencies)
	median := latencies[messages/2]
	t.Logf("latency from another instance's commit to delivery: median %v, max %v", median, latencies[messages-1])
	// Found by polling alone, the median would be about half the poll
	// interval (500 ms).
	if median > 250*time.Millisecond {
		t.Errorf("median latency %v: the running instance was not woken by the notification", median)
	}
}

// databaseCommits returns how many transactions the database of dsn has
// committed so far, as PostgreSQL's statistics report it.
func databaseCommits(t testing.TB, dsn string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Backends report statistics every second or so; this connection's
	// own query is one more commit, which does not matter at this scale.
	var n int64
	if err := conn.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// leaseStates describes every delivery's lease, for a failure message.
func leaseStates(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn) // the DSN carries pool settings
	if err != nil {
		return err.Error()
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT id, status::text, coalesce(lease_owner, ''), coalesce(lease_until::text, ''), now()::text FROM deliveries ORDER BY id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, status, owner, until, now string
		if err := rows.Scan(&id, &status, &owner, &until, &now); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "\n  %s status %s lease %q until %s (now %s)", id, status, owner, until, now)
	}
	return b.String()
}

// waitStopped returns once the process pid is stopped (state T in
// /proc/<pid>/stat), failing the test after 10 s.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'T' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped after SIGSTOP: %s", pid, stat)
		}
		time.Sleep(time.Millisecond)
	}
}
