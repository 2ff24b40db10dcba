// Package postgres is the shared storage adapter: hookbridge.Store on
// PostgreSQL, for one or many Hookbridge instances using the same database.
// It uses pgx v5 and its connection pool (see docs/decisions.md,
// "PostgreSQL driver"); nothing else is shared between instances.
//
// Invariants:
//
//   - The schema changes only through the numbered files in migrations/,
//     applied by Open (unless told not to) under a session advisory lock, so
//     instances starting together migrate exactly once. Each migration runs
//     in its own transaction with its schema_migrations row. Open without
//     migrating refuses a schema that is behind this binary.
//   - Claiming is one statement: due deliveries are picked earliest first
//     with FOR UPDATE SKIP LOCKED, so concurrent claimers never wait for
//     each other and never get the same delivery, and are leased (owner,
//     until). A delivery whose lease has ended is claimable again.
//   - A result is recorded only while the recording instance still holds
//     the lease (lease_owner = owner in the same statement that writes it);
//     a presumed-dead instance's late result is rejected whole.
//   - Every write that makes a delivery due now (CreateMessage(s),
//     CreateMessageTo, Resend, Recover) is followed, once committed, by a
//     payload-free NOTIFY on the store's channel, so a woken instance finds
//     what it was woken for. A store goroutine sends them, merging bursts,
//     each in a transaction of its own that does not wait for the WAL flush
//     (see notifyDue for why not in the writing transaction). Listen turns
//     them into dispatcher wake-ups; a lost one costs a poll interval.
//     With a handoff set (SetHandoff), ingest writes the deliveries it hands
//     over leased to this process's dispatcher and gives them to it after
//     the commit; they need no wake-up, so ingest notifies (and calls the
//     handoff's Wake) only when some new delivery was not handed over.
//   - A delivery's next_attempt_at is NULL exactly when its status is final
//     (a CHECK constraint); the partial index deliveries_due over the
//     non-NULL rows is what the claim query walks.
//   - Times are timestamptz truncated to milliseconds, returned in UTC. The
//     store's own clock (Go) fills in times, except a delivery's created_at,
//     which comes from PostgreSQL's clock: "the latest delivery" of a
//     message to an endpoint is the greatest (created_at, id), and one clock
//     for every instance keeps that order right when their clocks differ.
//   - Hot-path writes are batched and short: a batch of messages is two
//     round trips whatever its size (one batch reading the subscriptions,
//     one statement writing the messages and their deliveries with arrays
//     and unnest), a batch of results is one statement, and neither holds
//     a transaction open across round trips. Single messages
//     (CreateMessage) waiting at the same time are written as one such
//     batch (group commit, group.go), each caller answered after the
//     commit.
//
// The database schema is the one in the connection's search_path (the
// default is public), so several installations, or test runs, can share a
// database in separate schemas; the NOTIFY channel and the advisory lock
// keys are derived from that schema's name.
//
// The Store methods themselves, with the rules of the contract (defaults,
// paging, error answers, sealing), are internal/storekit's Store, which
// Store embeds; this package is its Driver: the statements, named
// entity-then-verb (driver.ApplicationInsert, …), the transactions, and
// what only PostgreSQL needs. A driver's error reaches storekit as the
// database gave it, its constraint violations marked (markErr).
package postgres
