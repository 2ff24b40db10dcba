package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	sinceMS := since.UnixMilli()
	var q query
	bucket := `((extract(epoch FROM created_at) * 1000)::bigint - ` + q.arg(sinceMS) + `) / ` + q.arg(widthMS)
	success, fail := q.arg(int16(hookbridge.StatusSuccess)), q.arg(int16(hookbridge.StatusFail))
	q.where(`created_at >= ` + q.arg(storekit.TruncMS(since)) + ` AND created_at < ` + q.arg(storekit.TruncMS(until)))
	if appID != "" {
		q.where(`app_id = ` + q.arg(appID))
	}
	if endpointID != "" {
		q.where(`endpoint_id = ` + q.arg(endpointID))
	}
	// attemptCounts walks attempts_app_endpoint for one endpoint's
	// attempts, attempts_app_msg for one application's and the whole table
	// otherwise: it serves the dashboard's chart, a few
	// reads a minute, so it is not worth an index on the hot insert.
	// Integer division by the width puts each attempt in its bucket.
	attemptCounts := `
		SELECT ` + bucket + ` AS bucket,
		       count(*) FILTER (WHERE status = ` + success + `), count(*) FILTER (WHERE status = ` + fail + `)
		FROM attempts
		WHERE ` + q.clause() + `
		GROUP BY bucket
		ORDER BY bucket`
	rows, err := collect(ctx, s.pool, attemptCounts, q.args, func(row pgx.Row) (hookbridge.AttemptCount, error) {
		var (
			c hookbridge.AttemptCount
			b int64
		)
		if err := row.Scan(&b, &c.Success, &c.Fail); err != nil {
			return c, err
		}
		c.Start = storekit.BucketStart(since, widthMS, b)
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
		SELECT status, count(*), count(*) FILTER (WHERE next_attempt_at <= $1)
		FROM deliveries
		WHERE next_attempt_at IS NOT NULL
		GROUP BY status`
	rows, err := s.pool.Query(ctx, backlog, storekit.TruncMS(now))
	if err != nil {
		return hookbridge.Backlog{}, fmt.Errorf("backlog: %w", err)
	}
	var (
		b      hookbridge.Backlog
		status int16
		n, due int64
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n, &due}, func() error {
		storekit.CountBacklog(&b, hookbridge.MessageStatus(status), n, due)
		return nil
	})
	if err != nil {
		return hookbridge.Backlog{}, fmt.Errorf("backlog: %w", err)
	}
	return b, nil
}
