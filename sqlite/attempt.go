package sqlite

import (
	"context"

	"github.com/hookbridge/hookbridge"
)

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
	// listAttempts walks attempts_app_msg or attempts_app_endpoint when
	// the filter names a message or an endpoint, as every API list does.
	// Without either it sorts the application's attempts, which is fine
	// for occasional use and not worth a third index on the hot insert.
	listAttempts := `SELECT ` + attemptColumns + ` FROM attempts a` + join + ` WHERE ` + w.where() + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, listAttempts, append(w.args, limit+1), scanAttempt)
}

// AttemptGet reads an attempt of the application's message.
func (s driver) AttemptGet(ctx context.Context, appID, msgID, attemptID string) (hookbridge.Attempt, error) {
	const getAttempt = `SELECT ` + attemptColumns + ` FROM attempts a WHERE a.id = ? AND a.app_id = ? AND a.msg_id = ?`
	return scanAttempt(s.r.QueryRowContext(ctx, getAttempt, attemptID, appID, msgID))
}

// AttemptExpunge empties the response body of an attempt, keeping the row.
func (s driver) AttemptExpunge(ctx context.Context, appID, msgID, attemptID string) (int64, error) {
	return s.exec(ctx, `UPDATE attempts SET response = '' WHERE id = ? AND app_id = ? AND msg_id = ?`, attemptID, appID, msgID)
}
