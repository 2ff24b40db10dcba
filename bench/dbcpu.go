package bench

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// localPostgres returns the process ID of the postmaster of the
// PostgreSQL server at dsn, when that server runs on this machine and its
// processes can be read here: the bench then reports what the database
// spent too (db_cpu_us_per_delivery), since a server on the same cores
// competes with Hookbridge for them. It asks the server for the process
// of its own connection and takes that process's parent, after checking
// that the server is on a loopback address or a Unix socket and that both
// processes are PostgreSQL's here.
func localPostgres(ctx context.Context, dsn string) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var (
		backend int
		addr    *netip.Prefix // inet_server_addr(): NULL on a Unix socket
	)
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid(), inet_server_addr()`).Scan(&backend, &addr); err != nil {
		return 0, false
	}
	if addr != nil && !addr.Addr().IsLoopback() {
		return 0, false
	}
	postmaster, comm, ok := processParent(backend)
	if !ok || comm != "postgres" {
		return 0, false
	}
	if _, comm, ok := processParent(postmaster); !ok || comm != "postgres" {
		return 0, false
	}
	return postmaster, true
}

// dbUsage is the CPU the database server has used so far, by its
// postmaster's process tree; known is false where it cannot be read.
type dbUsage struct {
	postmaster int
	known      bool
}

func (d dbUsage) cpuSoFar() (time.Duration, bool) {
	if !d.known {
		return 0, false
	}
	return treeCPU(d.postmaster)
}

// checkDatabase returns an error if a Hookbridge server has run on the
// PostgreSQL database at dsn before this bench: its settings are sealed
// under a secret key the bench's servers are not given, and they would
// exit at start. Within one bench every run shares one key (see Run), and
// each leaves the database as it found it but for those settings.
//
// It also warns on stderr when the server runs with autovacuum off: the
// results' updates then leave dead rows that nothing clears, so each run
// on the database is slower than the one before (docs/benchmarks.md,
// "Issue 16's targets at 0eae8d1"), which production, with autovacuum
// on, does not show.
func checkDatabase(ctx context.Context, dsn string, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("--db %s: %w", storeLabel(dsn), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The tables are those of the connection's search_path, as the
	// server's are.
	var migrated, used bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('settings') IS NOT NULL`).Scan(&migrated); err != nil {
		return fmt.Errorf("--db %s: %w", storeLabel(dsn), err)
	}
	if migrated {
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM settings)`).Scan(&used); err != nil {
			return fmt.Errorf("--db %s: %w", storeLabel(dsn), err)
		}
	}
	if used {
		return fmt.Errorf("--db %s: a Hookbridge server has run on this database before, and sealed its settings under a key this bench does not have; give the bench an empty database", storeLabel(dsn))
	}
	var autovacuum string
	if err := conn.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&autovacuum); err == nil && autovacuum == "off" {
		fmt.Fprintf(stderr, "hookbridge bench: --db %s: autovacuum is off, so the dead rows the runs leave are not cleared and each run is slower than the one before; production runs with it on\n", storeLabel(dsn))
	}
	return nil
}
