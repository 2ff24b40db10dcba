package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/sqlite"
)

// TestBackupCommand: `hookbridge backup` copies the database of a running
// server, for its owner only, and the copy opens with what was accepted
// before it.
func TestBackupCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	srv := startTestServer(t, func(c *serveConfig) { c.DB = db })
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(dir, "backup.db")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"backup", "--db", db, "--to", dest}, &out, &errOut); code != 0 {
		t.Fatalf("backup exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "copied "+db+" to "+dest) {
		t.Errorf("backup said %q", out.String())
	}
	if info, err := os.Stat(dest); err != nil {
		t.Error(err)
	} else if info.Mode().Perm() != 0o600 {
		t.Errorf("the copy has mode %o, want 600: for its owner only, as the database is", info.Mode().Perm())
	}
	if code := run(ctx, []string{"backup", "--db", db, "--to", dest}, &out, &errOut); code == 0 {
		t.Error("a second backup over the first succeeded")
	}
	if code := run(ctx, []string{"backup", "--db", "postgres://x@y/z"}, &out, &errOut); code != 2 {
		t.Errorf("backup without --to, of PostgreSQL: exit %d, want 2", code)
	}

	copy, err := sqlite.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer copy.Close()
	if got, err := copy.GetApplication(ctx, "shop"); err != nil || got.ID != app.Id {
		t.Fatalf("the application in the copy: %+v, %v", got, err)
	}
}

// TestBackupCreatesFolders: --to may name a folder that does not exist
// yet (backups/x.db, as in the README); the folders made for it are the
// owner's only, like the database, and one that exists is left alone.
func TestBackupCreatesFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(dir, "backups", "daily", "hookbridge.db")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"backup", "--db", db, "--to", dest}, &out, &errOut); code != 0 {
		t.Fatalf("backup into a new folder exited %d: %s", code, errOut.String())
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatalf("the copy: %v", err)
	}
	for _, d := range []string{filepath.Join(dir, "backups"), filepath.Join(dir, "backups", "daily")} {
		info, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %o; want it the owner's only", d, perm)
		}
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("the existing folder: %v, %v; want it left at 755", info.Mode(), err)
	}

	// A database that does not exist makes no folder.
	missing := filepath.Join(dir, "nothing-here", "x.db")
	if code := run(ctx, []string{"backup", "--db", filepath.Join(dir, "no.db"), "--to", missing}, &out, &errOut); code == 0 {
		t.Fatal("backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("backup of a missing database made %s: %v", filepath.Dir(missing), err)
	}
}
