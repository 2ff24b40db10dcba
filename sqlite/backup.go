package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
)

// Backup writes a consistent copy of the database at path to a new file at
// dest, while a Store (another process's, even) has it open: it reads in
// one read transaction, which in WAL mode neither waits for the writer nor
// holds it up, and writes the copy with VACUUM INTO, compacted and with its
// write-ahead log folded in, so the copy is one self-contained file; then
// it checks the copy (quick_check) and removes it if it does not pass. dest
// must not exist; the copy is readable by its owner only, as the database
// is. Sealed secrets stay sealed in the copy (under the same key).
func Backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// The copy is created empty here, for its owner only whatever the
	// umask, and VACUUM INTO fills it (it takes an empty file).
	f, err := os.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sqlite: backup: %s exists; name a new file", dest)
	} else if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	err = f.Chmod(filePerm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	kept := false
	defer func() {
		if !kept {
			os.Remove(dest) // a partial copy is no backup
		}
	}()
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	name := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?mode=ro&_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var migrations int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&migrations); err != nil {
		return fmt.Errorf("sqlite: backup %s: not a Hookbridge database: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("sqlite: backup %s to %s: %w", path, dest, err)
	}
	if err := check(ctx, dest); err != nil {
		return fmt.Errorf("sqlite: backup %s to %s: the copy does not check out: %w", path, dest, err)
	}
	kept = true
	return nil
}

// check runs SQLite's quick_check on the database at path: every page
// read, and the b-trees well formed.
func check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return errors.New(result)
	}
	return nil
}
