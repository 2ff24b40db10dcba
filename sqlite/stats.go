package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// AttemptBuckets (see storekit.Driver) computes each attempt's bucket from
// its stored unix milliseconds.
func (s driver) AttemptBuckets(ctx context.Context, appID, endpointID string, since, until time.Time, widthMS int64) ([]storekit.Bucket, error) {
	var w filter
	w.add(`a.created_at >= ? AND a.created_at < ?`, ms(since), ms(until))
	if appID != "" {
		w.add(`a.app_id = ?`, appID)
	}
	if endpointID != "" {
		w.add(`a.endpoint_id = ?`, endpointID)
	}
	// attemptCounts reads both places attempts are kept (see attempt.go):
	// attempts_app_endpoint and deliveries_first_attempt for one
	// endpoint's attempts or one application's, the whole tables
	// otherwise. It serves the dashboard's chart, a few reads a minute, so
	// it is not worth an index by time on the hot writes. Integer division
	// by the width puts each attempt in its bucket.
	attemptCounts := `
		SELECT (created_at - ?) / ? AS bucket, sum(status = ?), sum(status = ?)
		FROM (SELECT a.created_at, a.status FROM ` + attemptSources[0] + ` WHERE ` + w.where() + `
			UNION ALL
			SELECT a.created_at, a.status FROM ` + attemptSources[1] + ` WHERE ` + w.where() + `)
		GROUP BY bucket
		ORDER BY bucket`
	args := append([]any{ms(since), widthMS, int(hookbridge.StatusSuccess), int(hookbridge.StatusFail)}, w.args...)
	args = append(args, w.args...)
	var buckets []storekit.Bucket
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		buckets, err = collect(ctx, tx, attemptCounts, args, func(row rowScanner) (storekit.Bucket, error) {
			var b storekit.Bucket
			return b, row.Scan(&b.Index, &b.Success, &b.Fail)
		})
		return err
	})
	return buckets, err
}

// DeliveryBacklog counts the deliveries not final yet, by status, and those
// due at now.
func (s driver) DeliveryBacklog(ctx context.Context, now time.Time) ([]storekit.StatusCount, error) {
	// backlog reads the rows of the partial index deliveries_due, which
	// holds exactly the non-final deliveries: its cost is the backlog's
	// size, not the table's.
	const backlog = `
		SELECT status, count(*), coalesce(sum(next_attempt_at <= ?), 0)
		FROM deliveries
		WHERE next_attempt_at IS NOT NULL
		GROUP BY status`
	var counts []storekit.StatusCount
	err := s.readSettled(ctx, "", func(tx *sql.Tx) (err error) {
		counts, err = collect(ctx, tx, backlog, []any{ms(now)}, func(rs rowScanner) (storekit.StatusCount, error) {
			var c storekit.StatusCount
			return c, rs.Scan(&c.Status, &c.N, &c.Due)
		})
		return err
	})
	return counts, err
}
