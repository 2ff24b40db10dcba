// Package storekit is the part of hookbridge.Store that the two stores
// (sqlite, postgres) share: the rules of the Store contract that are not
// SQL, written once. Store implements every Store method over a Driver;
// each store package embeds a Store and gives it its driver, a set of thin
// statements named entity-then-verb (ApplicationInsert, DeliveryClaim, …),
// so that the store holds only its SQL, its transactions and its database's
// quirks. A rule written in both stores would drift; a rule here cannot.
//
// It is River's layering (a client above riverdriver) for Hookbridge:
// defaults a new row gets (ids, times), paging, the answers to a missing
// row or a taken unique value, the guards of the dispatcher's calls, the
// decisions about which endpoints a new message is owed to (their filters
// evaluated in Go, filter.go), about an endpoint's health and about a
// delivery's handover, the sealing of what is kept secret and the list of
// sealed columns, all here; the stores' hot paths (SQLite's group commit
// on one writer, PostgreSQL's batched ingest and single-statement claim)
// stay in their drivers, which call the rules they need (Fan, ApplyReport,
// MayHandOver, ScheduledDelivery, …) from inside their transactions.
//
// Adding a Store method is: the method here, with its rules; the Driver
// methods it needs; their statements in sqlite/ and postgres/; and a test
// in storetest/.
//
// Invariants:
//
//   - Nothing here knows a driver: it imports neither a database/sql driver
//     nor pgx. A driver marks its constraint errors with Mark
//     (ErrDuplicate, ErrMissingRef); its "no rows" is sql.ErrNoRows, which
//     pgx's ErrNoRows also is.
//   - Times the stores fill in are whole milliseconds in UTC (TruncMS), as
//     both schemas keep them, so that the caller's struct equals what a
//     later read returns.
//   - A Driver's List method fetches one row more than the page it is
//     asked for: the extra row says whether the list is done.
package storekit
