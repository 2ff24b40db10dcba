// Package sqlite is the embedded storage adapter: hookbridge.Store on one
// SQLite file, for a single Hookbridge instance. It uses modernc.org/sqlite,
// a pure Go driver, so the binary builds with CGO_ENABLED=0 (see
// docs/decisions.md, "SQLite driver").
//
// Invariants:
//
//   - Every write runs in a transaction on the single writer connection,
//     begun IMMEDIATE, with synchronous=FULL in WAL mode: once a method
//     returns nil, what it wrote survives a crash or a power loss. Writes
//     queue in Go, for one goroutine that owns the connection, rather than
//     contend for SQLite's lock; reads use a separate pool, and wait for
//     the writer only to have it move the rows kept behind the log (below)
//     when their application has some.
//   - Group commit: the hot-path writes (messages and their fan-out,
//     claims, attempt results, lease renewals and releases) that are
//     waiting together share one transaction, each in a savepoint of its
//     own, so that one fsync covers them all; each caller is answered only
//     after the commit, and a write that fails is undone alone. See
//     writer.go.
//   - Rows written behind a log: a new message whose deliveries are all
//     handed over, and their first results, go to message_log and
//     delivery_log, which have no secondary index, and the writer moves
//     them into messages and deliveries every 250 ms, and before any read
//     or other write that could see them, in a commit that is not synced
//     (the rows are durable in the log; a later commit syncs the move);
//     Open moves what a stopped process left. Nothing else ever reads the
//     log. See kept.go.
//   - The schema changes only through the numbered files in migrations/,
//     applied by Open in order, each in its own transaction, and recorded in
//     schema_migrations.
//   - Times are INTEGER unix milliseconds, read back in UTC.
//   - A delivery's next_attempt_at is NULL exactly when its status is final
//     (a CHECK constraint holds the table to it); the partial index
//     deliveries_due over the non-NULL rows is what the dispatcher's claim
//     query walks, and deliveries_ready, over those of them with no lease,
//     by endpoint, is where a claim that skips endpoints looks past the
//     head of that walk.
//   - The state of a message at an endpoint is that of its latest delivery
//     there, the one with the greatest id.
//   - The database, its -wal, -shm and -lock files and its backups are
//     readable by their owner only (mode 0600, whatever the umask), and
//     every connection runs with secure_delete on. What a reseal replaced
//     is scrubbed from the file and its log by Scrub; the file's header
//     (user_version) says whether a scrub is due, and how thorough (see
//     fileUnknown), in step with the transactions that make it due.
//
// The Store methods themselves, with the rules of the contract (defaults,
// paging, error answers, sealing), are internal/storekit's Store, which
// Store embeds; this package is its Driver: the statements, named
// entity-then-verb (driver.ApplicationInsert, …), the transactions, and
// what only SQLite needs. A driver's error reaches storekit as the
// database gave it, its constraint violations marked (markErr).
package sqlite
