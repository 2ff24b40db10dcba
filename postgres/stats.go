package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// AttemptBuckets (see storekit.Driver) computes each attempt's bucket from
// the epoch of its timestamptz, in milliseconds.
func (s driver) AttemptBuckets(ctx context.Context, appID, endpointID string, since, until time.Time, widthMS int64) ([]storekit.Bucket, error) {
	var q query
	bucket := `((extract(epoch FROM created_at) * 1000)::bigint - ` + q.arg(since.UnixMilli()) + `) / ` + q.arg(widthMS)
	success, fail := q.arg(int16(hookbridge.StatusSuccess)), q.arg(int16(hookbridge.StatusFail))
	q.where(`a.created_at >= ` + q.arg(storekit.TruncMS(since)) + ` AND a.created_at < ` + q.arg(storekit.TruncMS(until)))
	if appID != "" {
		q.where(`a.app_id = ` + q.arg(appID))
	}
	if endpointID != "" {
		q.where(`a.endpoint_id = ` + q.arg(endpointID))
	}
	// attemptCounts reads both places attempts are kept (see attempt.go),
	// with the same parameters: attempts_app_endpoint and
	// deliveries_first_attempt for one endpoint's attempts or one
	// application's, the whole tables otherwise. It serves the dashboard's
	// chart, a few reads a minute, so it is not worth an index by time on
	// the hot writes. Integer division by the width puts each attempt in
	// its bucket.
	attemptCounts := `
		SELECT ` + bucket + ` AS bucket,
		       count(*) FILTER (WHERE status = ` + success + `), count(*) FILTER (WHERE status = ` + fail + `)
		FROM (SELECT a.created_at, a.status FROM ` + attemptSources[0] + ` WHERE ` + q.clause() + `
			UNION ALL
			SELECT a.created_at, a.status FROM ` + attemptSources[1] + ` WHERE ` + q.clause() + `) a
		GROUP BY bucket
		ORDER BY bucket`
	return collect(ctx, s.pool, attemptCounts, q.args, func(row pgx.Row) (storekit.Bucket, error) {
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
		SELECT status, count(*), count(*) FILTER (WHERE next_attempt_at <= $1)
		FROM deliveries
		WHERE next_attempt_at IS NOT NULL
		GROUP BY status`
	return collect(ctx, s.pool, backlog, []any{storekit.TruncMS(now)}, scanStatusCount)
}

// scanStatusCount reads a status, a count and (if the query has it) how
// many of those are due.
func scanStatusCount(row pgx.Row) (storekit.StatusCount, error) {
	var (
		c      storekit.StatusCount
		status int16
	)
	err := row.Scan(&status, &c.N, &c.Due)
	c.Status = hookbridge.MessageStatus(status)
	return c, err
}
