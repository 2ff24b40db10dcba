package sqlite

import (
	"context"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// AttemptBuckets (see storekit.Driver) computes each attempt's bucket from
// its stored unix milliseconds.
func (s driver) AttemptBuckets(ctx context.Context, appID, endpointID string, since, until time.Time, widthMS int64) ([]storekit.Bucket, error) {
	var w filter
	w.add(`created_at >= ? AND created_at < ?`, ms(since), ms(until))
	if appID != "" {
		w.add(`app_id = ?`, appID)
	}
	if endpointID != "" {
		w.add(`endpoint_id = ?`, endpointID)
	}
	// attemptCounts walks attempts_app_endpoint for one endpoint's
	// attempts, attempts_app_msg for one application's and the whole table
	// otherwise: it serves the dashboard's chart, a few
	// reads a minute, so it is not worth an index on the hot insert.
	// Integer division by the width puts each attempt in its bucket.
	attemptCounts := `
		SELECT (created_at - ?) / ? AS bucket,
		       sum(status = ?), sum(status = ?)
		FROM attempts
		WHERE ` + w.where() + `
		GROUP BY bucket
		ORDER BY bucket`
	args := append([]any{ms(since), widthMS, int(hookbridge.StatusSuccess), int(hookbridge.StatusFail)}, w.args...)
	return collect(ctx, s.r, attemptCounts, args, func(row rowScanner) (storekit.Bucket, error) {
		var b storekit.Bucket
		return b, row.Scan(&b.Index, &b.Success, &b.Fail)
	})
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
	return collect(ctx, s.r, backlog, []any{ms(now)}, func(rs rowScanner) (storekit.StatusCount, error) {
		var c storekit.StatusCount
		return c, rs.Scan(&c.Status, &c.N, &c.Due)
	})
}
