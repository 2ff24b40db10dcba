package postgres

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/storetest"
)

// TestPlansFollowGrowth grows deliveries from empty through one connection,
// as a new installation does: the statement recording results must look
// its deliveries up by primary key once the table is large, not keep the
// table scan of the generic plan PostgreSQL made while it was nearly
// empty (plans.go). The tables are not analyzed, as autovacuum would not
// have in the first minute either.
func TestPlansFollowGrowth(t *testing.T) {
	t.Parallel()
	s := openDSN(t, pgtest.Schema(t), WithMaxConns(1))
	app := storetest.BenchApp(t, s)
	ctx := t.Context()
	now := time.Now().Add(time.Hour) // every delivery made below is due by then
	var results []hookbridge.AttemptResult
	grow := func(messages, batch int) {
		t.Helper()
		msgs := make([]*hookbridge.Message, batch)
		for range messages / batch {
			for i := range msgs {
				msgs[i] = newMessage(app.ID)
			}
			if _, err := s.CreateMessages(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			results = storetest.BenchClaimRecord(t, s, now, batch, results)
		}
	}
	grow(16, 2) // eight claims and records on a nearly empty table: past the five custom plans
	grow(6000, 200)

	text := recordAttempts.at(&s.plans)
	if text == recordAttempts[0] {
		t.Fatalf("after %d deliveries the statement is still the first text", s.plans.seen.Load())
	}
	var name string
	if err := s.pool.QueryRow(ctx, `SELECT name FROM pg_prepared_statements WHERE statement = $1`, text).Scan(&name); err != nil {
		t.Fatalf("the current text is not prepared on the connection: %v", err)
	}
	// EXPLAIN EXECUTE shows the plan the prepared statement runs with,
	// the generic one once it is chosen: the last executions above were
	// more than five.
	plan := explain(t, s, "EXECUTE "+name+`('nobody', '{dlv_1}', '{0}', '{1}', '{NULL}', now(), '{atmpt_1}', '{u}',
		'{0}', '{200}', '{""}', '{1}', '{2026-01-01}', '{}', '{}', '{}')`)
	testkit.WantPlan(t, "recording results", plan, []string{"deliveries_pkey"}, []string{"Seq Scan on deliveries"})
}
