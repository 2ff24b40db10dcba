package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/storetest"
)

// openTest opens a store on a new, empty schema.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openDSN(t, pgtest.Schema(t))
}

// openDSN opens a store on dsn and closes it when the test ends.
func openDSN(t testing.TB, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, append([]Option{WithMaxConns(4)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) hookbridge.Store { return openTest(t) })
}

// TestConcurrentOpenMigratesOnce starts several stores on an empty schema at
// once, as instances starting together do: all succeed and every migration
// is recorded once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	const n = 5
	var (
		wg     sync.WaitGroup
		errs   = make([]error, n)
		stores = make([]*Store, n)
		start  = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), dsn, WithMaxConns(2))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		} else {
			defer stores[i].Close()
		}
	}
	if t.Failed() {
		return
	}
	rows, err := stores[0].pool.Query(t.Context(), `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var version, count int
		if err := rows.Scan(&version, &count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("migration %d recorded %d times", version, count)
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(all) {
		t.Errorf("%d migrations recorded, want %d", seen, len(all))
	}
	// The one that took the lock first applied everything; the others
	// found nothing to do, and say so.
	var migrators int
	for i, s := range stores {
		switch got := s.Migrated(); len(got) {
		case 0:
		case len(all):
			migrators++
		default:
			t.Errorf("store %d applied %q, some of %d", i, got, len(all))
		}
	}
	if migrators != 1 {
		t.Errorf("%d stores say they applied the migrations; want 1", migrators)
	}
}

// TestOpenWithoutMigrations: an operator who applies the schema separately
// gets a clear error from a store opened on a schema that is behind, and a
// working store once it is applied.
func TestOpenWithoutMigrations(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	_, err := Open(t.Context(), dsn, WithoutMigrations())
	if !errors.Is(err, ErrSchemaBehind) {
		t.Fatalf("Open without migrations on an empty schema: err = %v, want ErrSchemaBehind", err)
	}
	openDSN(t, dsn) // migrates
	s := openDSN(t, dsn, WithoutMigrations())
	if err := s.CreateApplication(t.Context(), &hookbridge.Application{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	// A migration this binary needs is missing again: refused.
	if _, err := s.pool.Exec(t.Context(), `DELETE FROM schema_migrations WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), dsn, WithoutMigrations()); !errors.Is(err, ErrSchemaBehind) || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("Open on a schema missing 0001: err = %v, want ErrSchemaBehind naming it", err)
	}
}

// TestOpenBadDSN: a DSN that cannot be parsed is refused without repeating
// it (it may hold a password).
func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://u:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v, want an error that does not show the password", err)
	}
}

// fixture creates an application with one endpoint that takes everything.
func fixture(t *testing.T, s hookbridge.Store) (*hookbridge.Application, *hookbridge.Endpoint) {
	t.Helper()
	app := &hookbridge.Application{Name: "a"}
	if err := s.CreateApplication(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/", Secrets: []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	if err := s.CreateEndpoint(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	return app, ep
}

// TestListenWakes: a message accepted through one store (one instance)
// wakes a listener on another store of the same schema, and only after
// commit; a store on another schema is not woken.
func TestListenWakes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	writer, listener := openDSN(t, dsn), openDSN(t, dsn)
	other := openTest(t)
	app, ep := fixture(t, writer)

	ctx, cancel := context.WithCancel(t.Context())
	wakes, otherWakes := make(chan []string, 16), make(chan []string, 16)
	done := make(chan error, 2)
	go func() { done <- listener.Listen(ctx, func(ids []string) { wakes <- ids }) }()
	go func() { done <- other.Listen(ctx, func(ids []string) { otherWakes <- ids }) }()
	// The first wake-up of each says it is listening.
	waitWake(t, wakes, "listening")
	waitWake(t, otherWakes, "other listening")

	m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`)}
	if _, _, err := writer.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	wantNamed(t, waitWake(t, wakes, "CreateMessage"), ep.ID)
	if _, err := writer.Resend(t.Context(), app.ID, m.ID, ep.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	wantNamed(t, waitWake(t, wakes, "Resend"), ep.ID)

	// A message to more endpoints than a notification names is announced
	// to any.
	many := &hookbridge.Application{Name: "many"}
	if err := writer.CreateApplication(t.Context(), many); err != nil {
		t.Fatal(err)
	}
	for range maxNamedEndpoints + 1 {
		if err := writer.CreateEndpoint(t.Context(), &hookbridge.Endpoint{AppID: many.ID, URL: "https://receiver.example/"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := writer.CreateMessage(t.Context(), &hookbridge.Message{AppID: many.ID, EventType: "order.created", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	wantNamed(t, waitWake(t, wakes, "a message to many endpoints"))

	// A message owed to nobody makes nothing due: no notification.
	if err := writer.DeleteEndpoint(t.Context(), app.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := writer.CreateMessage(t.Context(), &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The store on another schema is not told about any of it. A marker
	// notification sent after everything else proves the listener has
	// seen all that came before it, so the absence is not a race.
	if _, err := writer.pool.Exec(t.Context(), `SELECT pg_notify($1, 'marker')`, writer.notify); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wakes, "marker")
	select {
	case <-wakes:
		t.Error("woken by a message that made nothing due")
	default:
	}
	select {
	case <-otherWakes:
		t.Error("a store on another schema was woken")
	default:
	}

	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Listen returned %v", err)
		}
	}
}

// waitWake waits for a wake-up and returns the endpoints it names, or
// fails after 10s.
func waitWake(t *testing.T, wakes <-chan []string, what string) []string {
	t.Helper()
	select {
	case ids := <-wakes:
		return ids
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up after %s", what)
		return nil
	}
}

// wantNamed fails unless a wake-up named exactly the endpoints want, in
// any order (none: any endpoint).
func wantNamed(t *testing.T, got []string, want ...string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("the wake-up names endpoints %q, want %q", got, want)
	}
}

// TestListenReconnects: a listener whose connection is killed reconnects
// and wakes the dispatcher again.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wakes := make(chan []string, 16)
	go s.Listen(ctx, func(ids []string) { wakes <- ids })
	waitWake(t, wakes, "listening")
	// End the listener's session from the server side.
	if _, err := s.pool.Exec(t.Context(), `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`, s.notify); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wakes, "reconnecting")
}

// TestRecordAttemptsKeepsOddResponses: a response excerpt with a NUL byte
// and invalid UTF-8 (what a receiver may send) is stored, mended, instead of
// failing the batch it is in.
func TestRecordAttemptsKeepsOddResponses(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, _ := fixture(t, s)
	now := time.Now()
	for range 2 {
		if _, _, err := s.CreateMessage(t.Context(), &hookbridge.Message{AppID: app.ID, EventType: "a.b", Payload: json.RawMessage(`{}`), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := s.ClaimDeliveries(t.Context(), "w", now, time.Minute, 10)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claimed %d: %v", len(claims), err)
	}
	var results []hookbridge.AttemptResult
	for i, c := range claims {
		resp := "ok"
		if i == 0 {
			resp = "bin\x00ary\xff"
		}
		results = append(results, hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Status: hookbridge.StatusSuccess,
			Attempt: &hookbridge.Attempt{URL: c.Endpoint.URL, Status: hookbridge.StatusSuccess, StatusCode: 200, Response: resp}})
	}
	rejected, err := s.RecordAttempts(t.Context(), "w", results)
	if err != nil || len(rejected) > 0 {
		t.Fatalf("RecordAttempts: %v, rejected %v", err, rejected)
	}
	a, err := s.GetAttempt(t.Context(), app.ID, claims[0].Message.ID, results[0].Attempt.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "bin\uFFFDary\uFFFD"; a.Response != want {
		t.Errorf("stored response %q, want %q", a.Response, want)
	}
}

// TestInstances runs the tests of what instances sharing a database
// offer each other (LISTEN/NOTIFY wake-ups, advisory-lock jobs) on two
// stores of one schema.
func TestInstances(t *testing.T) {
	pgtest.DSN(t)
	storetest.RunInstances(t, func(t *testing.T) (a, b hookbridge.Store) {
		dsn := pgtest.Schema(t)
		return openDSN(t, dsn), openDSN(t, dsn)
	})
}

// TestHotQueriesUseDueIndex checks the plans of the dispatcher's queries on
// a table of finished deliveries with a few due ones: they must walk
// deliveries_due in order, never scan the table or sort it.
func TestHotQueriesUseDueIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, ep := fixture(t, s)
	fillAndAnalyze(t, s, app.ID, ep.ID, `
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_' || substr(m.id, 5), $1, m.id, $2,
			CASE WHEN m.id > 'msg_00000000000000000000019900' THEN 1 ELSE 0 END, 0, 0,
			CASE WHEN m.id > 'msg_00000000000000000000019900' THEN now() END, now(), now()
		FROM m`)
	for _, tc := range []struct {
		name, query string
		args        []any
	}{
		{"claim", claimDeliveries[0], []any{"w", time.Now().Add(time.Minute), time.Now(), 256, []string{}, int64(0), "msg_", "msg_"}},
		{"next due", nextDue[0], nil},
	} {
		testkit.WantPlan(t, tc.name, explain(t, s, tc.query, tc.args...),
			[]string{"Index Scan using deliveries_due on deliveries"}, []string{"Seq Scan on deliveries", "Sort", "Gather"})
	}
}

// TestSkippingClaimStepsByEndpoint checks the plan of a claim that skips
// an endpoint with a backlog of 5 000 due deliveries, while another has a
// few: it walks the head of deliveries_due, looks past it through
// deliveries_ready endpoint by endpoint, and never scans the deliveries.
func TestSkippingClaimStepsByEndpoint(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, busy := fixture(t, s)
	other := &hookbridge.Endpoint{AppID: app.ID, URL: "https://other.example/", Secrets: busy.Secrets}
	if err := s.CreateEndpoint(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	fillAndAnalyze(t, s, app.ID, busy.ID, `
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_a' || substr(m.id, 6), $1, m.id, $2,
			CASE WHEN m.id > 'msg_00000000000000000000015000' THEN 1 ELSE 0 END, 0, 0,
			CASE WHEN m.id > 'msg_00000000000000000000015000' THEN now() END, now(), now()
		FROM m
		UNION ALL
		SELECT 'dlv_b' || substr(m.id, 6), $1, m.id, (SELECT id FROM endpoints WHERE id <> $2),
			CASE WHEN m.id > 'msg_00000000000000000000019000' THEN 1 ELSE 0 END, 0, 0,
			CASE WHEN m.id > 'msg_00000000000000000000019000' THEN now() END, now(), now()
		FROM m WHERE right(m.id, 1) = '0'`)
	// It must not scan the deliveries, nor walk the due order for one endpoint.
	testkit.WantPlan(t, "skipping claim",
		explain(t, s, claimSkipping[0], "w", time.Now().Add(time.Minute), time.Now(), 256, []string{busy.ID}, int64(0), "msg_", "msg_", storekit.ClaimWalk),
		[]string{"Index Scan using deliveries_due on deliveries", "using deliveries_ready on deliveries x"},
		[]string{"Seq Scan on deliveries", "using deliveries_due on deliveries x"})
}

// TestClaimRewritesInPlace checks that claiming deliveries written
// together keeps each in its page: the claim changes nothing indexed, so
// with room in the page (migration 0020's fillfactor) PostgreSQL updates it
// there, without an entry in any of the table's indexes (HOT). At the
// former fillfactor most of a page's claims moved elsewhere.
func TestClaimRewritesInPlace(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, _ := fixture(t, s)
	const n = 300
	msgs := make([]*hookbridge.Message, n)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{AppID: app.ID, EventType: "payment.captured",
			Payload: json.RawMessage(`{"type":"payment.captured","amount":1250,"currency":"EUR"}`)}
	}
	if _, err := s.CreateMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	pages := func() map[string]int64 {
		rows, err := s.pool.Query(ctx, `SELECT id, (ctid::text::point)[0]::bigint FROM deliveries`)
		if err != nil {
			t.Fatal(err)
		}
		m, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (kv struct {
			id   string
			page int64
		}, err error) {
			err = row.Scan(&kv.id, &kv.page)
			return kv, err
		})
		if err != nil {
			t.Fatal(err)
		}
		byID := make(map[string]int64, len(m))
		for _, kv := range m {
			byID[kv.id] = kv.page
		}
		return byID
	}
	before := pages()
	if len(before) != n {
		t.Fatalf("%d deliveries, want %d", len(before), n)
	}
	claims, err := s.ClaimDeliveries(ctx, "w", time.Now().Add(time.Second), time.Minute, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != n {
		t.Fatalf("claimed %d, want %d", len(claims), n)
	}
	moved := 0
	for id, page := range pages() {
		if page != before[id] {
			moved++
		}
	}
	if moved > 0 {
		t.Errorf("%d of %d claimed deliveries moved to another page (a claim that is not a HOT update)", moved, n)
	}
}

// fillAndAnalyze fills the tables for a plan test: 20 000 messages of
// the application appID (ids msg_…01 to msg_…20000), inserted by the CTE
// m, then rest, which continues the statement ($1 appID, $2 endpointID);
// and ANALYZE, so that the planner knows the tables' sizes.
func fillAndAnalyze(t *testing.T, s *Store, appID, endpointID, rest string) {
	t.Helper()
	const messages = `
		WITH m AS (
			INSERT INTO messages (id, app_id, event_type, payload, created_at)
			SELECT 'msg_' || lpad(i::text, 26, '0'), $1, 'a.b', '\x7b7d', now() FROM generate_series(1, 20000) i
			RETURNING id)`
	if _, err := s.pool.Exec(t.Context(), messages+rest, appID, endpointID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `ANALYZE`); err != nil {
		t.Fatal(err)
	}
}

// explain returns PostgreSQL's plan of query, without running it.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestAttemptListUsesIndexes checks that an endpoint's and a message's
// attempt lists walk an index in both places attempts are kept, on tables
// large enough for the planner to tell: 20 000 deliveries with their first
// attempt, and a retry for one in ten.
func TestAttemptListUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, ep := fixture(t, s)
	fillAndAnalyze(t, s, app.ID, ep.ID, `,
		d AS (
			INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, created_at, updated_at,
				first_attempt_id, first_attempt_url, first_attempt_status, first_attempt_status_code,
				first_attempt_response, first_attempt_duration_ms, first_attempt_at)
			SELECT 'dlv_' || substr(m.id, 5), $1, m.id, $2, 0, 0, 1, now(), now(),
				'atmpt_' || substr(m.id, 5) || 'a', 'https://receiver.example/', 0, 200, 'ok', 3, now()
			FROM m
			RETURNING id, msg_id)
		INSERT INTO attempts (id, delivery_id, app_id, msg_id, endpoint_id, url, status, trigger, status_code, duration_ms, created_at)
		SELECT 'atmpt_' || substr(d.msg_id, 5) || 'b', d.id, $1, d.msg_id, $2, 'https://receiver.example/', 0, 0, 200, 3, now()
		FROM d WHERE right(d.msg_id, 1) = '0'`)
	for _, tc := range []struct {
		name string
		f    hookbridge.AttemptFilter
		want []string
	}{
		{"Endpoint", hookbridge.AttemptFilter{EndpointID: ep.ID, ListOptions: hookbridge.ListOptions{Iterator: "atmpt_00000000000000000000010000"}},
			// attempts: attempts_app_endpoint, or its primary key backwards
			// where every attempt is this endpoint's, as here.
			[]string{"deliveries_first_attempt", "Merge Append"}},
		{"Message", hookbridge.AttemptFilter{MsgID: "msg_00000000000000000000010000"},
			[]string{"deliveries_msg_endpoint", "attempts_app_msg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, args := attemptList(app.ID, tc.f, 10)
			testkit.WantPlan(t, "attempt list", explain(t, s, query, args...), tc.want, []string{"Seq Scan on deliveries", "Seq Scan on attempts"})
		})
	}
}

// TestIngestWhileEndpointsComeAndGo: ingest reads subscriptions, then
// writes; endpoints deleted in between must not fail it (it skips them),
// and every message it accepts is owed to the endpoints that were there.
func TestIngestWhileEndpointsComeAndGo(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, stable := fixture(t, s)
	done := make(chan struct{})
	churnErr := make(chan error, 1)
	go func() {
		defer close(churnErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://churn.example/"}
			if err := s.CreateEndpoint(ctx, ep); err != nil {
				churnErr <- err
				return
			}
			if err := s.DeleteEndpoint(ctx, app.ID, ep.ID); err != nil {
				churnErr <- err
				return
			}
		}
	}()
	const messages = 200
	for i := range messages {
		m := &hookbridge.Message{AppID: app.ID, EventType: "a.b", Payload: json.RawMessage(`{}`)}
		if _, _, err := s.CreateMessage(ctx, m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	close(done)
	if err := <-churnErr; err != nil {
		t.Fatal(err)
	}
	st, err := s.EndpointStats(ctx, app.ID, stable.ID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != messages {
		t.Errorf("the stable endpoint is owed %d messages, want %d", st.Pending, messages)
	}
}

// TestLockedIngestHoldsOffDeletion: ingest's last try reads subscriptions
// FOR KEY SHARE inside its transaction, so a deletion of what it read
// (here an endpoint) waits for it, and its write cannot lose a race a
// third time.
func TestLockedIngestHoldsOffDeletion(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, ep := fixture(t, s)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	msg := &hookbridge.Message{ID: hookbridge.NewID(hookbridge.PrefixMessage), AppID: app.ID, EventType: "a.b",
		Payload: json.RawMessage(`{}`), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := readSubscriptionsLocked(ctx, s, tx, app.ID); err != nil {
		t.Fatal(err)
	}

	var ingestPID int32
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&ingestPID); err != nil {
		t.Fatal(err)
	}

	// The deletion blocks on the lock: the database says it waits for the
	// ingest's transaction, and it has not returned.
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteEndpoint(ctx, app.ID, ep.ID) }()
	const waiting = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for blocked := false; !blocked; {
		select {
		case err := <-deleted:
			t.Fatalf("endpoint deletion returned (%v) while an ingest transaction held it", err)
		case <-tick.C:
		}
		if err := s.pool.QueryRow(ctx, waiting, ingestPID).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the deletion never waited for the ingest")
		}
	}

	// The ingest writes its delivery and commits; the deletion then goes through.
	res, written, err := s.tryCreateMessages(ctx, tx, []*hookbridge.Message{msg}, "", []string{app.ID}, time.Now(), true, s.newHandover(time.Now()))
	if err != nil || len(res) != 1 || !res[0].Created || written != 1 {
		t.Fatalf("locked ingest: %+v, %d deliveries, %v", res, written, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete after the ingest committed: %v", err)
	}
}

// readSubscriptionsLocked takes ingest's locks on one application's rows.
func readSubscriptionsLocked(ctx context.Context, s *Store, tx pgx.Tx, appID string) ([]hookbridge.Endpoint, error) {
	_, endpoints, err := s.readSubscriptions(ctx, tx, []string{appID}, true)
	return endpoints, err
}

func TestSealedSecrets(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	storetest.RunSealed(t, storetest.SealedDB{
		Open: func(t *testing.T, keys *sealed.Keyring) hookbridge.Store {
			s, err := Open(t.Context(), dsn, WithKeys(keys))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Raw: func(t *testing.T, s hookbridge.Store, table, keyColumn, column, key string) string {
			var v []byte // text, jsonb's text or bytea's bytes, as stored
			if err := s.(*Store).pool.QueryRow(t.Context(), `SELECT `+column+` FROM `+table+` WHERE `+keyColumn+` = $1`, key).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return string(v)
		},
	})
}

// TestUnavailable: PostgreSQL refusing writes (a read-only database, as a
// standby or a primary in recovery is) and a server that cannot be reached
// are EUNAVAILABLE, which the API answers 503 with Retry-After, not 500.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	openDSN(t, dsn) // migrates
	readOnly := dsn + " default_transaction_read_only=on"
	if strings.Contains(dsn, "://") {
		readOnly = dsn + "&default_transaction_read_only=on"
		if !strings.Contains(dsn, "?") {
			readOnly = dsn + "?default_transaction_read_only=on"
		}
	}
	s := openDSN(t, readOnly, WithoutMigrations())
	if err := s.ProbeWrite(ctx); !hookbridge.IsUnavailable(err) {
		t.Errorf("ProbeWrite on a read-only database: %v, want EUNAVAILABLE", err)
	}
	if err := s.CreateApplication(ctx, &hookbridge.Application{Name: "a"}); !hookbridge.IsUnavailable(err) {
		t.Errorf("CreateApplication on a read-only database: %v, want EUNAVAILABLE", err)
	}
	if _, err := s.Setting(ctx, "health_probe"); !hookbridge.IsNotFound(err) {
		t.Errorf("reads go on: Setting = %v, want ENOTFOUND", err)
	}
	w := openDSN(t, dsn, WithoutMigrations())
	if err := w.ProbeWrite(ctx); err != nil {
		t.Errorf("ProbeWrite on a writable database: %v", err)
	}
	app, _ := fixture(t, w)
	if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "e", Payload: []byte(`{}`)}); !hookbridge.IsUnavailable(err) {
		t.Errorf("CreateMessage on a read-only database: %v, want EUNAVAILABLE", err)
	}

	// Nothing listens on port 1: the connection fails.
	_, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/test?connect_timeout=5")
	if err == nil || !hookbridge.IsUnavailable(markErr(err)) {
		t.Errorf("a failed connection (%v) is not EUNAVAILABLE", err)
	}
}

// TestRunExclusiveLeavesThePoolToTheJob runs exclusive jobs on a pool of
// one connection, each job using the store, and one job inside another:
// the advisory locks live on a connection of their own, so holding one
// never takes the connection a job (or a request meanwhile) needs.
func TestRunExclusiveLeavesThePoolToTheJob(t *testing.T) {
	s, err := Open(t.Context(), pgtest.Schema(t), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ran, err := s.RunExclusive(ctx, "retention", func(ctx context.Context) error {
		ranInner, err := s.RunExclusive(ctx, "backfill", func(ctx context.Context) error {
			_, err := s.ListApplications(ctx, hookbridge.ListOptions{})
			return err
		})
		if err != nil || !ranInner {
			return fmt.Errorf("inner job: ran %v, %v", ranInner, err)
		}
		_, err = s.ListApplications(ctx, hookbridge.ListOptions{})
		return err
	})
	if err != nil || !ran {
		t.Fatalf("ran %v, %v; want the jobs run on a pool of one connection", ran, err)
	}
}
