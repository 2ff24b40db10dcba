package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestCountsSQLitesOwnLog reads a log that SQLite wrote: three commits of
// five rows each into a table with an index, after the two that made them.
func TestCountsSQLitesOwnLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the log lives as long as its connection
	if _, err := db.Exec(`CREATE TABLE messages (id TEXT PRIMARY KEY, app_id TEXT NOT NULL);
		CREATE INDEX messages_app_id ON messages (app_id, id)`); err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := tx.Exec(`INSERT INTO messages VALUES (?, ?)`,
				fmt.Sprintf("msg_%02d%02d", c, i), fmt.Sprintf("app_%d", i%2)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	b, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	_, commits, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 5 {
		t.Fatalf("%d commits, want 5 (the table's, the index's, three of rows)", len(commits))
	}
	tl := tally{byShape: map[string]int{}}
	tl.add(commits, "msg_")
	if tl.counted != 2 || tl.rowsPerCommit() != 5 {
		t.Errorf("%d rows over %d commits, want 10 over 2 (the first has no predecessor)", tl.rows, tl.counted)
	}
	for _, want := range []string{"table msg_,app_", "index app_,msg_,i", "index msg_,i"} {
		if tl.byShape[want] != 3 {
			t.Errorf("%q: %d frames, want one per commit of rows; all: %v", want, tl.byShape[want], tl.byShape)
		}
	}

	// A frame whose checksum fails ends the log there, as it does for
	// SQLite: the last commit is no longer complete.
	const frame = 24 + 4096
	last := 32 + (len(b)-32)/frame*frame - frame
	b[last+24+100]++
	if _, commits, _ := parse(b); len(commits) != 4 {
		t.Errorf("a damaged last frame: %d commits, want 4", len(commits))
	}
}
