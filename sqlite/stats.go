package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// AttemptCounts counts the attempts made in [since, until) per bucket of
// width, by outcome, for one application or (appID "") for all, and for
// one endpoint of it or (endpointID "") for all.
func (s *Store) AttemptCounts(ctx context.Context, appID, endpointID string, since, until time.Time, width time.Duration) ([]hookbridge.AttemptCount, error) {
	widthMS, ok, err := storekit.Buckets(since, until, width)
	if !ok {
		return nil, err
	}
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
	rows, err := collect(ctx, s.r, attemptCounts, args, func(row rowScanner) (hookbridge.AttemptCount, error) {
		var (
			c      hookbridge.AttemptCount
			bucket int64
		)
		if err := row.Scan(&bucket, &c.Success, &c.Fail); err != nil {
			return c, err
		}
		c.Start = storekit.BucketStart(since, widthMS, bucket)
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	return rows, nil
}

// Backlog counts the deliveries not final yet, by status, and those due at
// now.
func (s *Store) Backlog(ctx context.Context, now time.Time) (hookbridge.Backlog, error) {
	// backlog reads the rows of the partial index deliveries_due, which
	// holds exactly the non-final deliveries: its cost is the backlog's
	// size, not the table's.
	const backlog = `
		SELECT status, count(*), coalesce(sum(next_attempt_at <= ?), 0)
		FROM deliveries
		WHERE next_attempt_at IS NOT NULL
		GROUP BY status`
	type row struct {
		status hookbridge.MessageStatus
		n, due int64
	}
	rows, err := collect(ctx, s.r, backlog, []any{ms(now)}, func(rs rowScanner) (row, error) {
		var r row
		err := rs.Scan(&r.status, &r.n, &r.due)
		return r, err
	})
	if err != nil {
		return hookbridge.Backlog{}, fmt.Errorf("backlog: %w", err)
	}
	var b hookbridge.Backlog
	for _, r := range rows {
		storekit.CountBacklog(&b, r.status, r.n, r.due)
	}
	return b, nil
}
