package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// A delivery's first attempt is kept in the delivery's row (the
// first_attempt_ columns, see migration 0018), and the tries after it in
// attempts, so every read of attempts reads both: attemptSources, each
// aliased as a. PostgreSQL pulls up storekit.FirstAttempts into the query
// around it, whose conditions then reach deliveries_first_attempt or
// deliveries_msg_endpoint.
var attemptSources = [2]string{`(` + storekit.FirstAttempts + `) a`, `attempts a`}

// attemptColumns is the column list scanAttempt reads. Queries alias
// attempts as a.
const attemptColumns = `a.id, a.delivery_id, a.app_id, a.msg_id, a.endpoint_id, a.url, a.status, a.trigger,
	a.status_code, a.response, a.duration_ms, a.created_at`

func scanAttempt(row pgx.Row) (hookbridge.Attempt, error) {
	var (
		a               hookbridge.Attempt
		status, trigger int16
		code            int32
	)
	if err := row.Scan(&a.ID, &a.DeliveryID, &a.AppID, &a.MsgID, &a.EndpointID, &a.URL, &status, &trigger,
		&code, &a.Response, &a.DurationMS, &a.CreatedAt); err != nil {
		return a, err
	}
	a.Status, a.Trigger, a.StatusCode = hookbridge.MessageStatus(status), hookbridge.TriggerType(trigger), int(code)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// AttemptList reads a page of the application's attempts by id. Event type
// and channel filters apply to the attempt's message; Before and After to
// the attempt's time.
func (s driver) AttemptList(ctx context.Context, appID string, f hookbridge.AttemptFilter, limit int) ([]hookbridge.Attempt, error) {
	query, args := attemptList(appID, f, limit)
	return collect(ctx, s.pool, query, args, scanAttempt)
}

// attemptList is AttemptList's query and its arguments.
func attemptList(appID string, f hookbridge.AttemptFilter, limit int) (string, []any) {
	var q query
	q.where(`a.app_id = ` + q.arg(appID))
	if f.MsgID != "" {
		q.where(`a.msg_id = ` + q.arg(f.MsgID))
	}
	if f.EndpointID != "" {
		q.where(`a.endpoint_id = ` + q.arg(f.EndpointID))
	}
	if f.Status != nil {
		q.where(`a.status = ` + q.arg(int16(*f.Status)))
	}
	if f.StatusCodeClass != nil {
		// A class is a hundred codes; class 0 is "no response" (code 0).
		q.where(`a.status_code >= ` + q.arg(int32(*f.StatusCodeClass)) + ` AND a.status_code < ` + q.arg(int32(*f.StatusCodeClass+100)))
	}
	join := ""
	if len(f.EventTypes) > 0 || f.Channel != "" {
		join = ` JOIN messages m ON m.id = a.msg_id`
	}
	q.messageFilter(f.EventTypes, f.Channel, "a.created_at", f.Before, f.After)
	tail := q.keyset("a.id", f.ListOptions, hookbridge.OrderDescending, limit)
	// Each source gives its own first limit+1 in order (the same
	// parameters serve both), and the union keeps the first limit+1 of
	// both. Each walks its index when the filter names a message or an
	// endpoint, as every API list does: attempts_app_msg or
	// attempts_app_endpoint, deliveries_msg_endpoint or
	// deliveries_first_attempt (TestAttemptListUsesIndexes). Without either it sorts the application's
	// attempts, which is fine for occasional use and not worth another
	// index on the hot writes.
	listAttempts := `(SELECT ` + attemptColumns + ` FROM ` + attemptSources[0] + join + ` WHERE ` + q.clause() + tail +
		`) UNION ALL (SELECT ` + attemptColumns + ` FROM ` + attemptSources[1] + join + ` WHERE ` + q.clause() + tail +
		`)` + strings.Replace(tail, "a.id", "id", 1)
	return listAttempts, q.args
}

// AttemptGet reads an attempt of the application's message.
func (s driver) AttemptGet(ctx context.Context, appID, msgID, attemptID string) (hookbridge.Attempt, error) {
	const where = ` WHERE a.id = $1 AND a.app_id = $2 AND a.msg_id = $3`
	getAttempt := `SELECT ` + attemptColumns + ` FROM ` + attemptSources[0] + where +
		` UNION ALL SELECT ` + attemptColumns + ` FROM ` + attemptSources[1] + where
	return scanAttempt(s.pool.QueryRow(ctx, getAttempt, attemptID, appID, msgID))
}

// AttemptExpunge empties the response body of an attempt, keeping the row.
func (s driver) AttemptExpunge(ctx context.Context, appID, msgID, attemptID string) (int64, error) {
	// One statement for both places (its parts run as one), counting the
	// rows both changed.
	const expunge = `
		WITH first AS (
			UPDATE deliveries SET first_attempt_response = ''
			WHERE first_attempt_id = $1 AND app_id = $2 AND msg_id = $3
			RETURNING 1),
		later AS (
			UPDATE attempts SET response = ''
			WHERE id = $1 AND app_id = $2 AND msg_id = $3
			RETURNING 1)
		SELECT (SELECT count(*) FROM first) + (SELECT count(*) FROM later)`
	var n int64
	err := s.pool.QueryRow(ctx, expunge, attemptID, appID, msgID).Scan(&n)
	return n, markErr(err)
}
