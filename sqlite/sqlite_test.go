package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/storetest"
)

// openTest opens a store on a new file in the test's temporary directory.
// openAt opens the store at path, for tests that close and reopen it: the
// caller closes it.
func openAt(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookbridge.Store { return openTest(t) })
}

func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a b?c#d.db") // characters a URI would misread
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	app := &hookbridge.Application{Name: "kept"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	applied := migrationRows(t, s)
	if len(applied) == 0 {
		t.Fatal("no migrations recorded")
	}
	if got := s.Migrated(); len(got) != len(applied) || got[0] != "0001_init.sql" {
		t.Errorf("Migrated() after the first Open = %q; want every migration (%v)", got, applied)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		s, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if got := migrationRows(t, s); strings.Join(got, ",") != strings.Join(applied, ",") {
			t.Errorf("migrations after reopen = %v, want %v", got, applied)
		}
		if got := s.Migrated(); len(got) != 0 {
			t.Errorf("Migrated() after reopen = %q, want none", got)
		}
		if _, err := s.GetApplication(ctx, app.ID); err != nil {
			t.Errorf("data lost on reopen: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// migrationRows lists schema_migrations as "version:name".
func migrationRows(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			v    int
			name string
		)
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"}, // FULL
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "5000"},
		{"writer", "temp_store", "2"}, // MEMORY
		{"writer", "secure_delete", "1"},
		{"reader", "journal_mode", "wal"},
		{"reader", "secure_delete", "1"},
		{"reader", "query_only", "1"},
		{"reader", "busy_timeout", "5000"},
	} {
		db := s.w
		if tc.pool == "reader" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
}

// TestReadsDoNotWaitForWriter holds a write transaction open and reads
// meanwhile: the read pool must answer from the last commit.
func TestReadsDoNotWaitForWriter(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := &hookbridge.Application{Name: "before"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE applications SET name = 'during' WHERE id = ?`, app.ID); err != nil {
		t.Fatal(err)
	}
	readCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got, err := s.GetApplication(readCtx, app.ID)
	if err != nil {
		t.Fatalf("read during a write: %v", err)
	}
	if got.Name != "before" {
		t.Errorf("read saw %q, want the committed %q", got.Name, "before")
	}
}

// queryPlan returns SQLite's plan for query, one step per line.
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var (
			id, parent, notused int
			detail              string
		)
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestClaimUsesDueIndex checks the plans of the dispatcher's claim: the
// walk must read deliveries_due in order, not scan the table or sort; the
// claim by endpoint must search deliveries_ready, endpoint by endpoint,
// and never scan the deliveries.
func TestClaimUsesDueIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	testkit.WantPlan(t, "claim", queryPlan(t, s, claimDeliveries, "owner", 1, 2, 100, "[]", storekit.ClaimWalk),
		[]string{"USING INDEX deliveries_due (next_attempt_at<?)"}, []string{"TEMP B-TREE"})
	testkit.WantPlan(t, "claim by endpoint", queryPlan(t, s, claimByEndpoint, "owner", 1, 2, 100, "[]"),
		[]string{
			"SEARCH deliveries USING INDEX deliveries_ready (endpoint_id>?)",                       // the next endpoint
			"SEARCH deliveries USING INDEX deliveries_ready (endpoint_id=? AND next_attempt_at>?)", // its head
			"SEARCH deliveries USING INDEX deliveries_ready (endpoint_id=? AND next_attempt_at<?)", // its earliest
		},
		[]string{"SCAN deliveries", "SCAN d "})
}

// TestNextDueUsesDueIndex: both parts of NextDue walk deliveries_due in due
// order from its start; neither scans the table or sorts.
func TestNextDueUsesDueIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	plan := queryPlan(t, s, nextDue)
	testkit.WantPlan(t, "next due", plan,
		[]string{
			"SEARCH deliveries USING INDEX deliveries_due (next_attempt_at>?)",                       // head: the first row not held back
			"SEARCH deliveries USING INDEX deliveries_due (next_attempt_at>? AND next_attempt_at<?)", // the leased rows before it
		},
		[]string{"TEMP B-TREE", "SCAN deliveries"})
}

// TestPreparedStatementsKeepTheirPlans checks that the statements the
// writer keeps prepared are not parsed and planned again when the values
// bound to them change. SQLite plans a LIMIT or OFFSET that is a bare
// parameter with the value bound, and prepares the statement again when
// another value is bound (docs/benchmarks.md, (w)). An authorizer runs at
// every compilation, so counting its calls counts the preparations.
func TestPreparedStatementsKeepTheirPlans(t *testing.T) {
	t.Parallel()
	bare := regexp.MustCompile(`(?i)\b(LIMIT|OFFSET)\s+\?`)
	for id, query := range stmtSQL {
		if loc := bare.FindStringIndex(query); loc != nil {
			t.Errorf("statement %d has a bare parameter as its %s (write +?N): %s", id, query[loc[0]:loc[1]], strings.Join(strings.Fields(query), " "))
		}
	}

	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	if err := openAt(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var compiled atomic.Int64
	if err := conn.Raw(func(c any) error {
		return c.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(
			func(sqlite.AuthorizerActionCode, string, string, string, string) sqlite.AuthorizerReturnCode {
				compiled.Add(1)
				return sqlite.AuthorizerOK
			})
	}); err != nil {
		t.Fatal(err)
	}

	// The claims, with the limits and due times a dispatcher binds: a
	// claim's limit is the room it has, and its walk is bounded only when
	// it skips endpoints.
	for name, c := range map[string]struct {
		query string
		args  func(i int) []any
	}{
		"claimDeliveries": {claimDeliveries, func(i int) []any {
			walk := -1
			if i%2 == 1 {
				walk = storekit.ClaimWalk
			}
			return []any{"owner", 2000 + i, 1000 + i, 10 + i, `["ep_x"]`, walk}
		}},
		"claimByEndpoint": {claimByEndpoint, func(i int) []any {
			return []any{"owner", 2000 + i, 1000 + i, 10 + i, `["ep_x"]`}
		}},
	} {
		stmt, err := conn.PrepareContext(ctx, c.query)
		if err != nil {
			t.Fatal(name, err)
		}
		for i := range 4 {
			rows, err := stmt.QueryContext(ctx, c.args(i)...)
			if err != nil {
				t.Fatal(name, err)
			}
			for rows.Next() {
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				t.Fatal(name, err)
			}
			if i == 0 {
				compiled.Store(0) // prepared, and run once
			}
		}
		if n := compiled.Load(); n != 0 {
			t.Errorf("%s was compiled again when its values changed (%d authorizer calls)", name, n)
		}
		stmt.Close()
	}
}

// TestFinishAttemptsUsesPrimaryKey checks the plans of the recorder's
// updates: one primary-key probe per result, never a scan of the
// deliveries.
func TestFinishAttemptsUsesPrimaryKey(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	for name, plan := range map[string]string{
		"finishAttempts":     queryPlan(t, s, finishAttempts, 1, `[["dlv_x", 0, 1, null]]`, "owner"),
		"finishFirstAttempt": queryPlan(t, s, finishFirstAttempt, 1, nil, 1, "atmpt_x", "https://x", 1, 200, "ok", 3, 1, "dlv_x", "owner"),
	} {
		testkit.WantPlan(t, name, plan, []string{"SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 (id=?)"},
			[]string{"SCAN deliveries"})
	}
}

// TestAttemptListUsesIndexes checks that an endpoint's and a message's
// attempt lists walk an index in both places attempts are kept, rather
// than scanning deliveries or attempts.
func TestAttemptListUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	for _, tc := range []struct {
		name string
		f    hookbridge.AttemptFilter
		want []string
	}{
		{"Endpoint", hookbridge.AttemptFilter{EndpointID: "ep_x", ListOptions: hookbridge.ListOptions{Iterator: "atmpt_x"}},
			[]string{"deliveries USING INDEX deliveries_first_attempt", "USING INDEX attempts_app_endpoint"}},
		{"Message", hookbridge.AttemptFilter{MsgID: "msg_x"},
			[]string{"deliveries USING INDEX deliveries_msg_endpoint", "USING INDEX attempts_app_msg"}},
		{"Application", hookbridge.AttemptFilter{},
			[]string{"deliveries USING INDEX deliveries_first_attempt", "USING INDEX attempts_app_"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, args := attemptList("app_x", tc.f, 10)
			testkit.WantPlan(t, "attempt list", queryPlan(t, s, query, args...), tc.want, []string{"SCAN deliveries", "SCAN attempts"})
		})
	}
}

// TestRecordAttemptsRepeatedDelivery: a batch that names a delivery twice
// records the first result only, as one-at-a-time writes would (the first
// ends the lease the second needs).
func TestRecordAttemptsRepeatedDelivery(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	now := time.Now()
	if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDeliveries(ctx, "w", now, time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claimed %d (%v)", len(claims), err)
	}
	id := claims[0].Delivery.ID
	attempt := func(code int) *hookbridge.Attempt {
		return &hookbridge.Attempt{URL: "https://receiver.example/", Status: hookbridge.StatusFail, StatusCode: code}
	}
	rejected, err := s.RecordAttempts(ctx, "w", []hookbridge.AttemptResult{
		{DeliveryID: id, Attempt: attempt(500), Status: hookbridge.StatusSending, NextAttempt: now.Add(time.Hour)},
		{DeliveryID: id, Attempt: attempt(503), Status: hookbridge.StatusFail},
	})
	if err != nil || len(rejected) != 1 || rejected[0] != id {
		t.Fatalf("rejected %v (%v), want the repeat", rejected, err)
	}
	atts, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{})
	if err != nil || len(atts.Data) != 1 || atts.Data[0].StatusCode != 500 {
		t.Fatalf("attempts = %+v (%v), want the first result's only", atts.Data, err)
	}
	if due, ok, err := s.NextDue(ctx); err != nil || !ok || !due.Equal(storekit.TruncMS(now.Add(time.Hour))) {
		t.Errorf("next due = %v, %v, %v; want the first result's retry", due, ok, err)
	}
}

// TestDeliveryInvariant checks that the schema refuses a final delivery
// with a due time, the invariant deliveries_due relies on.
func TestDeliveryInvariant(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := &hookbridge.Application{Name: "a"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/"}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a.b", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.w.ExecContext(ctx, `UPDATE deliveries SET status = ?`, int(hookbridge.StatusSuccess))
	if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Errorf("final delivery with a due time: err = %v, want a CHECK failure", err)
	}
}

// TestRecordAttemptsRejectsBadResult checks that a result breaking the
// delivery invariants writes nothing.
func TestRecordAttemptsRejectsBadResult(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	for _, r := range []hookbridge.AttemptResult{
		{DeliveryID: "dlv_x", Status: hookbridge.StatusSending},
		{DeliveryID: "dlv_x", Status: hookbridge.StatusPending},
	} {
		if _, err := s.RecordAttempts(t.Context(), "w", []hookbridge.AttemptResult{r}); err == nil {
			t.Errorf("RecordAttempts(%+v) succeeded", r)
		}
	}
}

// TestOneProcessPerFile: a second Open of an open file is refused, and a
// reopen after a crash ends the dead process's leases, so its claimed
// deliveries are due again at once instead of after the lease.
func TestOneProcessPerFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(ctx, path); !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}

	app := &hookbridge.Application{Name: "a"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://example.com/", Secrets: []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a.b", Payload: json.RawMessage(`{}`), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDeliveries(ctx, "dead-instance", now, time.Hour, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d claims", err, len(claims))
	}
	// The process "dies": its lease is still in the file.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	claims, err = s.ClaimDeliveries(ctx, "new-instance", now, time.Hour, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim after reopen: %v, %d claims, want the dead instance's delivery", err, len(claims))
	}
}

// TestApplicationCacheFollowsWrites: an application read (and cached) is
// read again as written after each update and delete, by id and by uid,
// and changing what GetApplication returned does not change what it
// returns next.
func TestApplicationCacheFollowsWrites(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := &hookbridge.Application{UID: "shop", Name: "Shop", Metadata: map[string]string{"k": "v"}}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	get := func(key string) *hookbridge.Application {
		t.Helper()
		a, err := s.GetApplication(ctx, key)
		if hookbridge.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for range 2 { // the second read comes from the cache
		if a := get("shop"); a == nil || a.ID != app.ID || a.Metadata["k"] != "v" {
			t.Fatalf("by uid: %+v", a)
		}
		if a := get(app.ID); a == nil || a.UID != "shop" {
			t.Fatalf("by id: %+v", a)
		}
	}
	got := get(app.ID)
	got.Name, got.Metadata["k"] = "changed", "changed"
	if a := get(app.ID); a.Name != "Shop" || a.Metadata["k"] != "v" {
		t.Fatalf("a caller's change reached the cache: %+v", a)
	}

	app.UID, app.Name = "store", "Store"
	if err := s.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if a := get("shop"); a != nil {
		t.Errorf("the old uid still finds %+v", a)
	}
	if a := get("store"); a == nil || a.Name != "Store" {
		t.Errorf("by the new uid: %+v", a)
	}
	if a := get(app.ID); a == nil || a.Name != "Store" {
		t.Errorf("by id after the update: %+v", a)
	}
	if err := s.DeleteApplication(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	if a, b := get(app.ID), get("store"); a != nil || b != nil {
		t.Errorf("deleted, yet found: %+v, %+v", a, b)
	}
}

func TestSealedSecrets(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	storetest.RunSealed(t, storetest.SealedDB{
		Open: func(t *testing.T, keys *sealed.Keyring) hookbridge.Store { return openAt(t, path, WithKeys(keys)) },
		Raw: func(t *testing.T, s hookbridge.Store, table, keyColumn, column, key string) string {
			var v string
			if err := s.(*Store).r.QueryRowContext(t.Context(), `SELECT `+column+` FROM `+table+` WHERE `+keyColumn+` = ?`, key).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		},
	})
}

// TestIdempotencyRunningInMemory: a request with a key that is running is
// this process's alone, so it is not written. Of concurrent requests with
// one key exactly one starts; a running key blocks others until it
// finishes, and then they get its kept response; after a restart (the
// process that ran it is gone) a retry runs at once.
func TestIdempotencyRunningInMemory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	s := openAt(t, path)
	now := time.Now()
	var (
		wg      sync.WaitGroup
		started atomic.Int32
	)
	for range 16 {
		wg.Go(func() {
			_, ok, err := s.BeginIdempotent(ctx, "k", "POST /x", now, now.Add(-time.Minute), now.Add(-time.Hour))
			if err != nil {
				t.Error(err)
			}
			if ok {
				started.Add(1)
			}
		})
	}
	wg.Wait()
	if n := started.Load(); n != 1 {
		t.Fatalf("%d of 16 concurrent requests with one key started, want 1", n)
	}
	var rows int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d rows written for a running request (%v), want 0", rows, err)
	}
	if err := s.FinishIdempotent(ctx, "k", 202, []byte(`{"id":"msg_1"}`)); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.BeginIdempotent(ctx, "k", "POST /x", now, now.Add(-time.Minute), now.Add(-time.Hour))
	if err != nil || ok || !rec.Done || rec.Status != 202 || string(rec.Body) != `{"id":"msg_1"}` {
		t.Fatalf("after finishing: %+v, started %v, %v", rec, ok, err)
	}

	// Running when the process stops: the next one runs a retry at once.
	if _, ok, err := s.BeginIdempotent(ctx, "k2", "POST /x", now, now.Add(-time.Minute), now.Add(-time.Hour)); err != nil || !ok {
		t.Fatalf("k2 did not start: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	if _, ok, err := s.BeginIdempotent(ctx, "k2", "POST /x", now, now.Add(-time.Minute), now.Add(-time.Hour)); err != nil || !ok {
		t.Fatalf("a retry after the restart did not run: %v", err)
	}
	if _, ok, err := s.BeginIdempotent(ctx, "k", "POST /x", now, now.Add(-time.Minute), now.Add(-time.Hour)); err != nil || ok {
		t.Fatalf("a finished key ran again after the restart: %v", err)
	}
}

// TestBackupWhileOpen: a backup taken while a store has the database open
// (and its writer running) holds everything committed, opens as a store of
// its own, and refuses what is not a fresh copy of a Hookbridge database.
func TestBackupWhileOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "hookbridge.db")
	s := openAt(t, path)
	app := &hookbridge.Application{Name: "Shop"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	msg := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":1}`), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, _, err := s.CreateMessage(ctx, msg); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, path, dest); err != nil {
		t.Fatal(err)
	}
	// The store is still open and writing.
	if err := s.CreateApplication(ctx, &hookbridge.Application{Name: "After"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if err := Backup(ctx, path, dest); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a backup over an existing file: %v", err)
	}
	if err := Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db")); err == nil {
		t.Fatal("a backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Fatal("a backup created the database it was asked to copy")
	}
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, other, filepath.Join(dir, "y.db")); err == nil || !strings.Contains(err.Error(), "not a Hookbridge database") {
		t.Fatalf("a backup of another file: %v", err)
	}

	c := openAt(t, dest)
	defer c.Close()
	if _, err := c.GetApplication(ctx, app.ID); err != nil {
		t.Fatalf("the application is not in the copy: %v", err)
	}
	if got, err := c.GetMessage(ctx, app.ID, msg.ID); err != nil || string(got.Payload) != `{"n":1}` {
		t.Fatalf("the message in the copy: %+v, %v", got, err)
	}
	page, err := c.ListApplications(ctx, hookbridge.ListOptions{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("the copy has %d applications (%v), want the one made before it", len(page.Data), err)
	}
}
