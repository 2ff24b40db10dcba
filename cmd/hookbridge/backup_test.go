package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/sqlite"
)

// TestBackupCommand: `hookbridge backup` copies the database of a running
// server, and the copy opens with what was accepted before it.
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
