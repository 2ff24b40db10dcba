package sqlite

import (
	"context"
	"fmt"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
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

// ListAttempts pages through the application's attempts by id, newest
// first by default. Event type and channel filters apply to the attempt's
// message; Before and After to the attempt's time.
func (s *Store) ListAttempts(ctx context.Context, appID string, f hookbridge.AttemptFilter) (hookbridge.Page[hookbridge.Attempt], error) {
	limit := storekit.Limit(f.Limit)
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
	rows, err := collect(ctx, s.r, listAttempts, append(w.args, limit+1), scanAttempt)
	if err != nil {
		return hookbridge.Page[hookbridge.Attempt]{}, fmt.Errorf("list attempts: %w", err)
	}
	return storekit.Page(rows, limit), nil
}

// GetAttempt finds an attempt of the application's message.
func (s *Store) GetAttempt(ctx context.Context, appID, msgID, attemptID string) (*hookbridge.Attempt, error) {
	const getAttempt = `SELECT ` + attemptColumns + ` FROM attempts a WHERE a.id = ? AND a.app_id = ? AND a.msg_id = ?`
	a, err := scanAttempt(s.r.QueryRowContext(ctx, getAttempt, attemptID, appID, msgID))
	if err != nil {
		return nil, storekit.Err(err, "attempt", nil, "get attempt %s", attemptID)
	}
	return &a, nil
}

// ExpungeAttemptContent deletes the response body of an attempt, keeping
// the row.
func (s *Store) ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error {
	const expungeAttempt = `UPDATE attempts SET response = '' WHERE id = ? AND app_id = ? AND msg_id = ?`
	n, err := s.exec(ctx, expungeAttempt, attemptID, appID, msgID)
	return storekit.Changed(n, err, "attempt", "expunge attempt %s", attemptID)
}
