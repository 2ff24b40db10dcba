package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// orphans counts the messages without their application and the
// deliveries without their message or endpoint.
func orphans(t *testing.T, s *Store) int {
	t.Helper()
	const count = `
		SELECT (SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = m.app_id))
		     + (SELECT count(*) FROM deliveries d
		        WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.msg_id)
		           OR NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id))`
	var n int
	if err := s.pool.QueryRow(t.Context(), count).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// storedRows counts the messages and deliveries stored.
func storedRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM deliveries)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReferencesCascade: deleting an endpoint, a message or an
// application deletes what depends on it, as the foreign keys that
// migration 0021 replaced did, and leaves nothing else's rows.
func TestReferencesCascade(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, e1 := fixture(t, s)
	e2 := &hookbridge.Endpoint{AppID: app.ID, URL: "https://second.example/", Secrets: e1.Secrets}
	if err := s.CreateEndpoint(ctx, e2); err != nil {
		t.Fatal(err)
	}
	other, otherEP := fixture(t, s)
	var msgs []*hookbridge.Message
	for _, a := range []string{app.ID, app.ID, other.ID} {
		m := newMessage(a)
		if _, _, err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	deliveries := func(where string, args ...any) int {
		t.Helper()
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := deliveries(`app_id = $1`, app.ID); n != 4 {
		t.Fatalf("%d deliveries for two messages to two endpoints", n)
	}

	if err := s.DeleteEndpoint(ctx, app.ID, e1.ID); err != nil {
		t.Fatal(err)
	}
	if n, m := deliveries(`endpoint_id = $1`, e1.ID), deliveries(`endpoint_id = $1`, e2.ID); n != 0 || m != 2 {
		t.Errorf("after deleting an endpoint: %d of its deliveries left, %d of the other's (want 0 and 2)", n, m)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM messages WHERE id = $1`, msgs[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, m := deliveries(`msg_id = $1`, msgs[0].ID), deliveries(`msg_id = $1`, msgs[1].ID); n != 0 || m != 1 {
		t.Errorf("after deleting a message: %d of its deliveries left, %d of the other's (want 0 and 1)", n, m)
	}
	if err := s.DeleteApplication(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE app_id = $1`, app.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if n := deliveries(`app_id = $1`, app.ID); left != 0 || n != 0 {
		t.Errorf("after deleting the application: %d messages and %d deliveries left", left, n)
	}
	if n := deliveries(`endpoint_id = $1`, otherEP.ID); n != 1 {
		t.Errorf("the other application's deliveries: %d, want 1", n)
	}
	if n := orphans(t, s); n != 0 {
		t.Errorf("%d rows without their parent", n)
	}
}

// TestReferencesDeletionWaitsForWriter: a writer that locked a parent
// FOR KEY SHARE, as every statement writing messages or deliveries does,
// makes its deletion wait; once the writer commits, the deletion deletes
// what the writer wrote as well, although the deletion began before it.
func TestReferencesDeletionWaitsForWriter(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, ep := fixture(t, s)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var pid int32
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	const write = `
		WITH a AS (SELECT id FROM applications WHERE id = $1 FOR KEY SHARE),
		e AS (SELECT id FROM endpoints WHERE id = $2 FOR KEY SHARE),
		m AS (
			INSERT INTO messages (id, app_id, event_type, payload, created_at)
			SELECT 'msg_written_while_deleting', a.id, 'order.created', '\x7b7d', now() FROM a
			RETURNING id, app_id)
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_written_while_deleting', m.app_id, m.id, e.id, 1, 0, 0, now(), now(), now() FROM m, e`
	if _, err := tx.Exec(ctx, write, app.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteApplication(ctx, app.ID) }()
	waitedFor(t, s, pid)
	select {
	case err := <-deleted:
		t.Fatalf("the deletion did not wait for the writer: %v", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if n := storedRows(t, s); n != 0 {
		t.Errorf("%d messages and deliveries left after their application's deletion", n)
	}
}

// TestCascadesUseIndexes: the cascade triggers' deletions (migration
// 0021) find the rows through an index however many parents a statement
// deleted, as the foreign keys' cascades did: checked on the statements
// they run, with a common table expression of n ids in place of the
// transition table, on tables large enough for the planner to tell
// (20 000 messages over 50 applications, each with a delivery, over 50
// endpoints).
func TestCascadesUseIndexes(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	const fill = `
		WITH m AS (
			INSERT INTO messages (id, app_id, event_type, payload, created_at)
			SELECT 'msg_' || lpad(i::text, 26, '0'), 'app_' || (i % 50), 'a.b', '\x7b7d', now()
			FROM generate_series(1, 20000) i
			RETURNING id, app_id)
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, created_at, updated_at)
		SELECT 'dlv_' || substr(m.id, 5), m.app_id, m.id, 'ep_' || right(m.id, 2), 0, 0, 1, now(), now() FROM m`
	if _, err := s.pool.Exec(t.Context(), fill); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ids, delete, index string
	}{
		{"MessageDeliveries", `'msg_' || lpad(i::text, 26, '0')`, `DELETE FROM deliveries WHERE msg_id = ANY (ARRAY(SELECT id FROM gone))`, "deliveries_msg_endpoint"},
		{"EndpointDeliveries", `'ep_' || i`, `DELETE FROM deliveries WHERE endpoint_id = ANY (ARRAY(SELECT id FROM gone))`, "deliveries_endpoint_msg"},
		{"ApplicationMessages", `'app_' || i`, `DELETE FROM messages WHERE app_id = ANY (ARRAY(SELECT id FROM gone))`, "messages_app_id"},
	} {
		for _, n := range []int{1, 20000} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, n), func(t *testing.T) {
				query := fmt.Sprintf(`WITH gone AS MATERIALIZED (SELECT %s AS id FROM generate_series(1, %d) i) %s`, tc.ids, n, tc.delete)
				testkit.WantPlan(t, "cascade", explain(t, s, query), []string{tc.index}, []string{"Seq Scan"})
			})
		}
	}
}

// TestCascadesKeepNoTableScan: a session's trigger functions keep the
// plans they made on their first run, until the tables' statistics change.
// A cascade first run while the tables were nearly empty (retention at a
// server's start, say) must not keep a plan that reads the whole table: a
// later deletion of 20 000 parents through it would test each of the
// table's rows against every deleted id (measured: 2 s for an application
// with 20 000 messages, against 90 ms through the index). So the
// deletion's transaction, in the session that first ran the cascades on
// nearly empty tables and with the tables grown and never analyzed since,
// scans neither table whole.
func TestCascadesKeepNoTableScan(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	const fill = `
		WITH m AS (
			INSERT INTO messages (id, app_id, event_type, payload, created_at)
			SELECT 'msg_' || $1 || lpad(i::text, 20, '0'), $1, 'a.b', '\x7b7d', now()
			FROM generate_series(1, $2::int) i
			RETURNING id, app_id)
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, created_at, updated_at)
		SELECT 'dlv_' || substr(m.id, 5), m.app_id, m.id, 'ep_' || m.app_id, 0, 0, 1, now(), now() FROM m`
	for _, app := range []string{"app_first", "app_large"} {
		if _, err := conn.Exec(ctx, `INSERT INTO applications (id, name, created_at, updated_at) VALUES ($1, $1, now(), now())`, app); err != nil {
			t.Fatal(err)
		}
	}
	// The cascades' first run in conn's session, on nearly empty tables.
	if _, err := conn.Exec(ctx, fill, "app_first", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM applications WHERE id = 'app_first'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, fill, "app_large", 20000); err != nil {
		t.Fatal(err)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `DELETE FROM applications WHERE id = 'app_large'`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname IN ('messages', 'deliveries') AND schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	scans, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 {
		t.Fatalf("scans of the two tables: %v", scans)
	}
	for _, r := range scans {
		if n := r["seq_scan"].(int64); n != 0 {
			t.Errorf("the cascade read %s whole %d times in the deletion's transaction", r["relname"], n)
		}
	}
	var left int
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM deliveries)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d messages and deliveries left (%v), want 0", left, err)
	}
}

// TestCascadesFromAnotherSearchPath: a deletion made from a session whose
// search_path does not name Hookbridge's schema (an operator's psql, say)
// still cascades to that schema's tables, as a foreign key's cascade
// would.
func TestCascadesFromAnotherSearchPath(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app, _ := fixture(t, s)
	if _, _, err := s.CreateMessage(ctx, newMessage(app.ID)); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, "applications"}.Sanitize()+` WHERE id = $1`, app.ID); err != nil {
		t.Fatal(err)
	}
	if n := storedRows(t, s); n != 0 {
		t.Errorf("%d messages and deliveries left after their application's deletion", n)
	}
}
