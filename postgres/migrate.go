package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrSchemaBehind is returned by Open with WithoutMigrations when the
// database lacks migrations this binary needs.
var ErrSchemaBehind = errors.New("the database schema is older than this Hookbridge (apply it with `hookbridge migrate --db …`)")

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	body    string
}

// embeddedMigrations returns the migrations in version order.
func embeddedMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(files)
	out := make([]migration, 0, len(files))
	for _, file := range files {
		name := strings.TrimPrefix(file, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := migrations.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, migration{version, name, string(body)})
	}
	return out, nil
}

// createMigrationsTable is the one piece of schema outside the numbered
// migrations: it records them.
const createMigrationsTable = `
	CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`

// migrate applies the embedded migrations that schema_migrations does not
// list yet, in order, each in its own transaction together with its
// schema_migrations row. It holds a session advisory lock (keyed by the
// schema) throughout, so instances starting together take turns: the first
// applies everything, the others find it applied. A crash releases the lock
// with the session, and a failed migration leaves nothing behind.
func (s *Store) migrate(ctx context.Context) error {
	all, err := embeddedMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := s.lockKey("migrate")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A connection whose unlock failed is closed rather than returned
		// to the pool still holding the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range all {
		ran := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
				return err
			}
			if applied {
				return nil
			}
			ran = true
			// No arguments: the simple protocol, which runs a file of
			// several statements.
			if _, err := tx.Exec(ctx, m.body, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, storekit.TruncMS(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if ran {
			s.migrated = append(s.migrated, m.name)
		}
	}
	return nil
}

// Migrated returns the names of the migrations Open applied, in order
// (e.g. "0001_init.sql"): empty when the schema was already up to date, or
// another instance migrated it first.
func (s *Store) Migrated() []string { return slices.Clone(s.migrated) }

// checkSchema fails with ErrSchemaBehind unless every embedded migration
// has been applied. Versions this binary does not know (a newer binary
// migrated) are accepted: migrations only add.
func (s *Store) checkSchema(ctx context.Context) error {
	all, err := embeddedMigrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("schema %q has no Hookbridge tables: %w", s.schema, ErrSchemaBehind)
	}
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	var missing []string
	for _, m := range all {
		if !slices.Contains(applied, int32(m.version)) {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("schema %q lacks %s: %w", s.schema, strings.Join(missing, ", "), ErrSchemaBehind)
	}
	return nil
}

// lockKey is the advisory lock key for a named job in this store's schema,
// so that installations in different schemas of one database do not
