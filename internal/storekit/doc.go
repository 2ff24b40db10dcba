// Package storekit is what the two stores (sqlite, postgres) share: the
// rules of the hookbridge.Store contract that are not SQL. The defaults a
// new row gets, paging, how a driver's errors become the domain's, the
// decisions about a delivery or an endpoint's health, and the secret
// columns a store reseals are written here once; a store runs its queries
// and calls these with what they returned, so that it holds only its SQL
// and its driver's quirks. A rule written in both stores would drift; a rule
// here cannot.
//
// It plays the part River's client plays above riverdriver, at the grain of
// functions rather than of one interface: each store keeps its own
// transactions and hot paths (SQLite's group commit on one writer,
// PostgreSQL's batched statements), and asks this package what to write and
// what to answer.
//
// Invariants:
//
//   - Nothing here knows a driver: it imports neither database/sql's
//     drivers nor pgx. A store marks its driver's constraint errors with
//     Mark (ErrDuplicate, ErrMissingRef) and its "no rows" is sql.ErrNoRows,
//     which pgx's ErrNoRows also is.
//   - Times a store fills in are whole milliseconds in UTC (TruncMS), as
//     both schemas keep them, so that the caller's struct equals what a
//     later read returns.
//   - Lists fetch Limit(n)+1 rows and Page trims them: the extra row says
//     whether the list is done.
package storekit
