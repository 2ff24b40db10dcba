package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hookbridge/hookbridge"
)

// TestReadOnlyIsUnavailable: SQLite refusing a write to a file opened
// read-only (SQLITE_READONLY) is marked EUNAVAILABLE, which the API answers
// 503 with Retry-After; a full disk (SQLITE_FULL) is tested end to end in
// cmd/hookbridge (TestDiskFull), on a file system it fills.
func TestReadOnlyIsUnavailable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeWrite(t.Context()); err != nil {
		t.Fatalf("ProbeWrite on a writable file: %v", err)
	}
	s.Close()
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.ExecContext(t.Context(), `INSERT INTO settings (name, value, updated_at) VALUES ('x', 'y', 0)`)
	if err == nil || !hookbridge.IsUnavailable(markErr(err)) {
		t.Fatalf("a write to a read-only file: %v, want it marked EUNAVAILABLE", err)
	}
}
