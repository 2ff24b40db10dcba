package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx", to read what the server stored

	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
)

// TestReplayMissingEndToEnd: an endpoint created after 50 messages gets
// each of them exactly once through replay-missing, on both stores, though
// the server is stopped mid-task and another takes over (on PostgreSQL,
// one that ran beside it all along); the task reports
// its progress up to its total; and the deliveries it queued, by their
// stored creation times, never exceed the endpoint's throttle in any span
// of a second.
func TestReplayMissingEndToEnd(t *testing.T) {
	stores := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "hookbridge.db") }},
		{"PostgreSQL", func(t *testing.T) string { return pgtest.Schema(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			const (
				messages = 50
				rate     = 10 // the endpoint's throttleRate, messages/s
			)
			db := st.db(t)
			cfg := testServeConfig(t, func(c *serveConfig) { c.DB, c.SecretKey, c.Migrate = db, sealed.NewKey(), true })
			first := startTestServer(t, func(c *serveConfig) { *c = cfg })
			rcv := newReceiver(t)

			call := func(srv *server, method, path string, in any) map[string]any {
				t.Helper()
				var body []byte
				if in != nil {
					body, _ = json.Marshal(in)
				}
				status, out := callAPI(t, srv, method, path, body, nil)
				if status >= 300 {
					t.Fatalf("%s %s: %d %s", method, path, status, out)
				}
				var m map[string]any
				_ = json.Unmarshal(out, &m)
				return m
			}
			app := call(first, "POST", "/api/v1/app", map[string]any{"name": "replay"})["id"].(string)
			since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
			sent := map[string]bool{}
			for i := range messages {
				msg := call(first, "POST", "/api/v1/app/"+app+"/msg", map[string]any{
					"eventType": "order.created", "payload": map[string]any{"n": i}})
				sent[msg["id"].(string)] = true
			}
			ep := call(first, "POST", "/api/v1/app/"+app+"/endpoint", map[string]any{
				"url": rcv.URL + "/late", "throttleRate": rate})["id"].(string)

			task := call(first, "POST", "/api/v1/app/"+app+"/endpoint/"+ep+"/replay-missing", map[string]any{"since": since})
			id := task["id"].(string)
			if task["task"] != "endpoint.replay" || task["status"] != "running" {
				t.Fatalf("replay-missing = %v", task)
			}
			progress := func(srv *server) (status string, done, total float64) {
				got := call(srv, "GET", "/api/v1/background-task/"+id, nil)
				data := got["data"].(map[string]any)
				return got["status"].(string), data["done"].(float64), data["total"].(float64)
			}

			// Stop the server mid-task: at the throttle, 50 take five
			// seconds. On PostgreSQL a second instance runs beside the
			// first already, its worker finding the task held; on SQLite
			// (one process per file) it starts after the first stopped.
			waitFor(t, "the replay to be under way", func() bool {
				_, done, _ := progress(first)
				return done >= 2*rate
			})
			var second *server
			if st.name == "PostgreSQL" {
				second = startTestServer(t, func(c *serveConfig) { *c = cfg })
			}
			if err := first.Shutdown(); err != nil {
				t.Fatal(err)
			}
			status, doneAtStop, total := storedTask(t, db, id)
			if status != "running" || doneAtStop >= messages || total != messages {
				t.Fatalf("after the stop: %s, %v done of %v; want running, part of %d", status, doneAtStop, total, messages)
			}
			if second == nil {
				second = startTestServer(t, func(c *serveConfig) { *c = cfg })
			}
			waitFor(t, "the replay to finish", func() bool {
				status, _, _ := progress(second)
				return status != "running"
			})
			status, done, total := progress(second)
			if status != "finished" || done != messages || total != messages {
				t.Fatalf("task = %s, %v done of %v; want finished, %d of %d", status, done, total, messages, messages)
			}

			// Every message reaches the endpoint, once.
			got := map[string]int{}
			for range messages {
				r := rcv.next(t)
				got[r.Header.Get("webhook-id")]++
			}
			for msgID := range sent {
				if got[msgID] != 1 {
					t.Errorf("message %s received %d times, want once", msgID, got[msgID])
				}
			}
			times, msgIDs := storedDeliveries(t, db, ep)
			if len(msgIDs) != messages {
				t.Errorf("%d deliveries to the endpoint, want %d", len(msgIDs), messages)
			}
			slices.Sort(msgIDs)
			if len(slices.Compact(msgIDs)) != len(msgIDs) {
				t.Errorf("a message was queued twice: %v", msgIDs)
			}
			// The throttle, by the stored creation times: no rate+1
			// deliveries within a second.
			for i := 0; i+rate < len(times); i++ {
				if gap := times[i+rate] - times[i]; gap < 1000 {
					t.Errorf("deliveries %d and %d were queued %d ms apart: more than %d in a second", i, i+rate, gap, rate)
				}
			}
		})
	}
}

// openDB opens the test's database itself, to read what the server
// stored: a SQLite file read-only, or the PostgreSQL schema's DSN. ms is
// the SQL for a timestamp column's unix milliseconds there.
func openDB(t *testing.T, db string) (conn *sql.DB, ms func(col string) string) {
	t.Helper()
	driver, dsn := "pgx", db
	ms = func(col string) string { return "(extract(epoch FROM " + col + ") * 1000)::bigint" }
	if filepath.IsAbs(db) {
		driver, dsn = "sqlite", "file:"+db+"?mode=ro"
		ms = func(col string) string { return col }
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, ms
}

// storedTask reads the task's status and progress from the database.
func storedTask(t *testing.T, db, id string) (status string, done, total float64) {
	t.Helper()
	conn, _ := openDB(t, db)
	if err := conn.QueryRow(`SELECT status, done, total FROM tasks WHERE id = $1`, id).Scan(&status, &done, &total); err != nil {
		t.Fatal(err)
	}
	return status, done, total
}

// storedDeliveries reads the creation times (unix ms) of the endpoint's
// deliveries, earliest first, and their messages' ids.
func storedDeliveries(t *testing.T, db, endpointID string) (times []int64, msgIDs []string) {
	t.Helper()
	conn, ms := openDB(t, db)
	rows, err := conn.Query(`SELECT `+ms("created_at")+`, msg_id FROM deliveries WHERE endpoint_id = $1 ORDER BY created_at`, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			at int64
			id string
		)
		if err := rows.Scan(&at, &id); err != nil {
			t.Fatal(err)
		}
		times, msgIDs = append(times, at), append(msgIDs, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return times, msgIDs
}
