package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookbridge/hookbridge/sqlite"
)

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var db, to string
	fs := newFlagSet("backup", "Write a consistent copy of a SQLite database to a new file, while serve runs on it.\n"+
		"The copy is one self-contained file (the write-ahead log folded in, compacted). To restore,\n"+
		"stop serve, put the copy in the database's place (removing its -wal and -shm files), and start.\n"+
		"The copy is for its owner only, and its secrets stay sealed under the database's key (its key file,\n"+
		"or --secret-key): keep that key apart from the backups, and for as long as them.\n"+
		"For PostgreSQL, use pg_dump.", stderr)
	fs.String(&db, "db", defaultDB, "the SQLite database to copy")
	fs.String(&to, "to", "", "the file to write, which must not exist (required); missing folders on its path are created, for the owner only")
	if err := fs.parse(args); err != nil {
		return err
	}
	if to == "" {
		return usageError("--to: name the file to write")
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return usageError("--db: backup copies SQLite files; for PostgreSQL use pg_dump")
	}
	if _, err := os.Stat(db); err != nil { // before making folders for nothing
		return fmt.Errorf("--db: %w", err)
	}
	// The copy holds all the database does (payloads, key hashes, sealed
	// secrets), and the database is for its owner only: so are the copy
	// and the folders made for it. Folders that exist are left as they are.
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if err := sqlite.Backup(ctx, db, to); err != nil {
		return err
	}
	info, err := os.Stat(to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s (%d bytes)\n", db, to, info.Size())
	return nil
}
