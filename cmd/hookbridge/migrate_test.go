package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// TestMigrateCommand: migrate names the migrations it applied to an empty
// database, every one of them, and says "up to date" only on the next run,
// when it applied none; on SQLite and on PostgreSQL.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dir string
		db        func(t *testing.T) string
	}{
		{"sqlite", "../../sqlite/migrations", func(t *testing.T) string { return filepath.Join(t.TempDir(), "hookbridge.db") }},
		{"postgres", "../../postgres/migrations", func(t *testing.T) string { return pgtest.Schema(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tc.db(t)
			entries, err := os.ReadDir(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".sql") {
					all = append(all, e.Name())
				}
			}
			if len(all) < 2 {
				t.Fatalf("found migrations %q in %s", all, tc.dir)
			}

			migrate := func() string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), []string{"migrate", "--db", db}, &stdout, &stderr); code != 0 {
					t.Fatalf("migrate: exit %d: %s", code, stderr.String())
				}
				return stdout.String()
			}
			first := migrate()
			want := "applied " + strconv.Itoa(len(all)) + " migrations to " + redactDSN(db) + ": " + strings.Join(all, ", ") + "\n"
			if first != want {
				t.Errorf("first migrate said\n%q\nwant\n%q", first, want)
			}
			if strings.Contains(first, "up to date") {
				t.Errorf("first migrate says up to date: %q", first)
			}
			if again := migrate(); again != "schema of "+redactDSN(db)+" is up to date: no migration to apply\n" {
				t.Errorf("second migrate said %q", again)
			}
		})
	}
}
