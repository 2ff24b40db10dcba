package sqlite

import (
	"context"
	"database/sql"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// A delivery's first attempt is kept in the delivery's row (the
// first_attempt_ columns, see migration 0019), and the tries after it in
// attempts, so every read of attempts reads both: attemptSources, each
// aliased as a. SQLite flattens storekit.FirstAttempts into the query
// around it, whose conditions then reach deliveries_first_attempt or
// deliveries_msg_endpoint.
var attemptSources = [2]string{`(` + storekit.FirstAttempts + `) a`, `attempts a`}

// attemptColumns is the column list scanAttempt reads. Queries alias
// attempts as a.
const attemptColumns = `a.id, a.delivery_id, a.app_id, a.msg_id, a.endpoint_id, a.url, a.status, a.trigger,
	a.status_code, a.response, a.duration_ms, a.created_at`

func scanAttempt(row rowScanner) (hookbridge.Attempt, error) {
	var (
		a       hookbridge.Attempt
		created int64
	)
	if err := row.Scan(&a.ID, &a.DeliveryID, &a.AppID, &a.MsgID, &a.EndpointID, &a.URL, &a.Status, &a.Trigger,
		&a.StatusCode, &a.Response, &a.DurationMS, &created); err != nil {
		return a, err
	}
	a.CreatedAt = fromMS(created)
	return a, nil
}

// AttemptList reads a page of the application's attempts by id. Event type
// and channel filters apply to the attempt's message; Before and After to
// the attempt's time.
func (s driver) AttemptList(ctx context.Context, appID string, f hookbridge.AttemptFilter, limit int) ([]hookbridge.Attempt, error) {
	query, args := attemptList(appID, f, limit)
	var attempts []hookbridge.Attempt
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		attempts, err = collect(ctx, tx, query, args, scanAttempt)
		return err
	})
	return attempts, err
}

// attemptList is AttemptList's query and its arguments.
func attemptList(appID string, f hookbridge.AttemptFilter, limit int) (string, []any) {
	var w filter
	w.add(`a.app_id = ?`, appID)
	if f.MsgID != "" {
		w.add(`a.msg_id = ?`, f.MsgID)
	}
	if f.EndpointID != "" {
		w.add(`a.endpoint_id = ?`, f.EndpointID)
	}
	if f.Status != nil {
		w.add(`a.status = ?`, int(*f.Status))
	}
	if f.StatusCodeClass != nil {
		// A class is a hundred codes; class 0 is "no response" (code 0).
		w.add(`a.status_code >= ? AND a.status_code < ?`, *f.StatusCodeClass, *f.StatusCodeClass+100)
	}
	join := ""
	if len(f.EventTypes) > 0 || f.Channel != "" {
		join = ` JOIN messages m ON m.id = a.msg_id`
	}
	w.messageFilter(f.EventTypes, f.Channel, "a.created_at", f.Before, f.After)
	cond, args, orderBy := keyset("a.id", f.ListOptions, hookbridge.OrderDescending)
	w.add(cond, args...)
	// Each source gives its own first limit+1 in order, and the union
	// keeps the first limit+1 of both. Each walks its index when the
	// filter names a message or an endpoint, as every API list does:
	// attempts_app_msg or attempts_app_endpoint, deliveries_msg_endpoint or
	// deliveries_first_attempt (TestAttemptListUsesIndexes). Without
	// either it sorts the application's attempts, which is fine for
	// occasional use and not worth another index on the hot writes.
	var (
		query string
		qargs []any
	)
	for i, from := range attemptSources {
		if i > 0 {
			query += ` UNION ALL `
		}
		query += `SELECT * FROM (SELECT ` + attemptColumns + ` FROM ` + from + join + ` WHERE ` + w.where() + orderBy + ` LIMIT ?)`
		qargs = append(append(qargs, w.args...), limit+1)
	}
	_, _, outer := keyset("id", f.ListOptions, hookbridge.OrderDescending)
	return query + outer + ` LIMIT ?`, append(qargs, limit+1)
}

// AttemptGet reads an attempt of the application's message.
func (s driver) AttemptGet(ctx context.Context, appID, msgID, attemptID string) (hookbridge.Attempt, error) {
	const where = ` WHERE a.id = ? AND a.app_id = ? AND a.msg_id = ?`
	getAttempt := `SELECT ` + attemptColumns + ` FROM ` + attemptSources[0] + where +
		` UNION ALL SELECT ` + attemptColumns + ` FROM ` + attemptSources[1] + where
	var a hookbridge.Attempt
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		a, err = scanAttempt(tx.QueryRowContext(ctx, getAttempt, attemptID, appID, msgID, attemptID, appID, msgID))
		return err
	})
	return a, err
}

// AttemptExpunge empties the response body of an attempt, keeping the row.
func (s driver) AttemptExpunge(ctx context.Context, appID, msgID, attemptID string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, expunge := range []string{
			`UPDATE deliveries SET first_attempt_response = '' WHERE first_attempt_id = ? AND app_id = ? AND msg_id = ?`,
			`UPDATE attempts SET response = '' WHERE id = ? AND app_id = ? AND msg_id = ?`,
		} {
			res, err := tx.ExecContext(ctx, expunge, attemptID, appID, msgID)
			if err != nil {
				return err
			}
			changed, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += changed
		}
		return nil
	})
	return n, err
}
