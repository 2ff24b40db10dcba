package storekit

import (
	"time"

	"github.com/hookbridge/hookbridge"
)

// Scanner is a row as both drivers' rows read: *sql.Row and *sql.Rows,
// pgx.Row and pgx.CollectableRow.
type Scanner interface {
	Scan(dest ...any) error
}

// ScanBackfillState reads a row of BackfillStateColumns. Its optional
// times (high water, last run, last success) are read into the driver's
// nullable form N and converted with fromNull, which gives the zero time
// for NULL.
func ScanBackfillState[N any](row Scanner, fromNull func(N) time.Time) (hookbridge.BackfillState, error) {
	var (
		st                   hookbridge.BackfillState
		high, run, succeeded N
	)
	err := row.Scan(&st.SourceID, &high, &run, &succeeded, &st.LastError, &st.Runs,
		&st.Failures, &st.Fetched, &st.Backfilled, &st.Duplicates, &st.Requests)
	st.HighWater, st.LastRunAt, st.LastSuccessAt = fromNull(high), fromNull(run), fromNull(succeeded)
	return st, err
}

// ScanMillis reads a row of one whole number of milliseconds as a
// duration (ObservationCompare's leads); R is the row type the driver's
// collector hands its scanner.
func ScanMillis[R Scanner](row R) (time.Duration, error) {
	var n int64
	err := row.Scan(&n)
	return time.Duration(n) * time.Millisecond, err
}
