package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// migrationReporter is a store that tells which migrations its Open
// applied (both stores do).
type migrationReporter interface {
	Migrated() []string
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var db string
	fs := newFlagSet("migrate", "Apply the database schema (embedded, numbered migrations) and exit, naming each migration applied,\n"+
		"or saying the schema is up to date when none was needed.\n"+
		"`serve` does the same on start unless --migrate=false; run this where schema changes are applied separately.\n"+
		"Several instances may run it, or start, at once: PostgreSQL migrations take an advisory lock.", stderr)
	fs.String(&db, "db", defaultDB, "database: a SQLite file path (created if missing), or a postgres:// URL")
	if err := fs.parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, db, true, nil, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	var applied []string
	if m, ok := st.(migrationReporter); ok {
		applied = m.Migrated()
	}
	if err := st.Close(); err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema of %s is up to date: no migration to apply\n", redactDSN(db))
		return nil
	}
	fmt.Fprintf(stdout, "applied %d %s to %s: %s\n", len(applied), plural(len(applied), "migration", "migrations"),
		redactDSN(db), strings.Join(applied, ", "))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
