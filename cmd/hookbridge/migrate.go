package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var db string
	fs := newFlagSet("migrate", "Apply the database schema (embedded, numbered migrations) and exit.\n`serve` does the same on start unless --migrate=false; run this where schema changes are applied separately.\nSeveral instances may run it, or start, at once: PostgreSQL migrations take an advisory lock.", stderr)
	fs.String(&db, "db", defaultDB, "database: a SQLite file path (created if missing), or a postgres:// URL")
	if err := fs.parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, db, true, nil, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema of %s is up to date\n", redactDSN(db))
	return nil
}
