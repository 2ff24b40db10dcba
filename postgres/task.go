package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// taskColumns is the column list scanTask reads.
const taskColumns = `id, kind, app_id, endpoint_id, selection, status, done, total, cursor, error, created_at, updated_at`

func scanTask(row pgx.Row) (storekit.TaskRow, error) {
	var t storekit.TaskRow
	err := row.Scan(&t.ID, &t.Kind, &t.AppID, &t.EndpointID, &t.Sel, &t.Status, &t.Done, &t.Total,
		&t.Cursor, &t.Error, &t.CreatedAt, &t.UpdatedAt)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// TaskInsert inserts t as it is, once its endpoint is found.
func (s driver) TaskInsert(ctx context.Context, t *hookbridge.Task, sel []byte) error {
	const insert = `
		INSERT INTO tasks (id, kind, app_id, endpoint_id, selection, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := endpointExists(ctx, tx, t.AppID, t.EndpointID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, insert, t.ID, t.Kind, t.AppID, t.EndpointID, string(sel), string(t.Status), t.CreatedAt, t.UpdatedAt)
		return err
	})
}

// TaskCancel fails the running task with id, its lease ended; see
// storekit.Driver. Under READ COMMITTED it waits for a page in progress
// (TaskAdvance locks the row) and then applies to the task as that left
// it: finished by that page, it is no longer running.
func (s driver) TaskCancel(ctx context.Context, id string, now time.Time, reason string) (storekit.TaskRow, bool, error) {
	const cancel = `
		UPDATE tasks SET status = 'failed', error = $1, updated_at = greatest($2::timestamptz, updated_at),
			owner = NULL, lease_until = NULL
		WHERE id = $3 AND status = 'running'
		RETURNING ` + taskColumns
	t, err := scanTask(s.pool.QueryRow(ctx, cancel, reason, now, id))
	if storekit.IsNoRows(err) {
		return t, false, nil
	}
	return t, err == nil, err
}

// TaskGet reads the task with id.
func (s driver) TaskGet(ctx context.Context, id string) (storekit.TaskRow, error) {
	return scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
}

// TaskList reads a page of tasks by id.
func (s driver) TaskList(ctx context.Context, f hookbridge.TaskFilter, limit int) ([]storekit.TaskRow, error) {
	var q query
	if f.Status != "" {
		q.where(`status = ` + q.arg(string(f.Status)))
	}
	if f.Kind != "" {
		q.where(`kind = ` + q.arg(f.Kind))
	}
	if f.AppID != "" {
		q.where(`app_id = ` + q.arg(f.AppID))
	}
	if f.EndpointID != "" {
		q.where(`endpoint_id = ` + q.arg(f.EndpointID))
	}
	tail := q.keyset("id", f.ListOptions, hookbridge.OrderDescending, limit)
	return collect(ctx, s.pool, `SELECT `+taskColumns+` FROM tasks WHERE `+q.clause()+tail, q.args, scanTask)
}

// TaskClaim leases the oldest running task nothing holds at now to owner
// until until. SKIP LOCKED lets instances claiming at once take different
// tasks; the lease condition, checked again on the locked row, keeps two
// from taking one.
func (s driver) TaskClaim(ctx context.Context, owner string, now, until time.Time) (storekit.TaskRow, bool, error) {
	const claim = `
		UPDATE tasks SET owner = $1, lease_until = $2
		WHERE id = (
			SELECT id FROM tasks
			WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		AND (lease_until IS NULL OR lease_until <= $3)
		RETURNING ` + taskColumns
	t, err := scanTask(s.pool.QueryRow(ctx, claim, owner, until, now))
	if storekit.IsNoRows(err) {
		return t, false, nil
	}
	return t, err == nil, markErr(err)
}

// TaskMessages reads the next limit messages after t's cursor that its
// time range, event types and channel select, by id, and returns those
// its Missing or Status condition keeps, with the id of the last one read.
// The page is read by messages_app_id, bounded by the LIMIT, and the
// condition is one index probe of deliveries per message: the cost of a
// page does not grow with the messages or deliveries already handled,
// whatever plan a prepared statement was given when the tables were small.
func (s driver) TaskMessages(ctx context.Context, t hookbridge.Task, limit int) ([]hookbridge.Message, string, error) {
	sel := t.Selection
	var q query
	q.where(`m.app_id = ` + q.arg(t.AppID))
	q.messageFilter(sel.EventTypes, sel.Channel, "m.created_at", sel.Before, sel.After)
	if t.Cursor != "" {
		q.where(`m.id > ` + q.arg(t.Cursor))
	}
	wanted := "true"
	if sel.Missing {
		wanted = `NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ` + q.arg(t.EndpointID) + `)`
	}
	if sel.Status != nil {
		wanted = `EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ` + q.arg(t.EndpointID) +
			` AND ` + latestDelivery + ` AND ` + deliveryStatus + ` = ` + q.arg(int16(*sel.Status)) + `)`
	}
	page := `SELECT ` + messageColumns + `, ` + wanted + `
		FROM (SELECT * FROM messages m WHERE ` + q.clause() + ` ORDER BY m.app_id, m.id LIMIT ` + q.arg(limit) + `) m
		ORDER BY m.id`
	var (
		msgs []hookbridge.Message
		last string
	)
	_, err := collect(ctx, s.pool, page, q.args, func(r pgx.Row) (struct{}, error) {
		var keep bool
		m, err := scanMessage(r, &keep)
		if err == nil {
			last = m.ID
			if keep {
				msgs = append(msgs, m)
			}
		}
		return struct{}{}, err
	})
	return msgs, last, err
}

// TaskAdvance records a page of t held by owner; see storekit.Driver. The
// first statement locks the task's row, so a claim by another instance
// waits for the page to commit, and then finds the lease renewed. The
// deliveries' created_at comes from PostgreSQL's clock, so the task's
// updated_at is taken from it too when later than the store's: no
// delivery of the page was made after it (the throttle counts from it).
func (s driver) TaskAdvance(ctx context.Context, owner string, t *hookbridge.Task, ds []hookbridge.Delivery, leaseUntil time.Time) (bool, error) {
	const (
		held   = `SELECT true FROM tasks WHERE id = $1 AND owner = $2 AND status = 'running' FOR UPDATE`
		update = `
			UPDATE tasks SET cursor = $1, done = done + $2, total = $3, status = $4, error = $5,
				updated_at = greatest($6::timestamptz, date_trunc('milliseconds', clock_timestamp())),
				owner = CASE WHEN $4 = 'running' THEN owner END,
				lease_until = CASE WHEN $4 = 'running' THEN $7::timestamptz END
			WHERE id = $8
			RETURNING done, updated_at`
	)
	var ok, added bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, held, t.ID, owner).Scan(&ok); err != nil {
			if storekit.IsNoRows(err) {
				return nil // not held: nothing written
			}
			return err
		}
		if len(ds) == 0 {
			// Nothing to deliver: a count, a finish or a failure,
			// whatever became of the endpoint.
		} else if err := endpointExists(ctx, tx, t.AppID, t.EndpointID); err != nil {
			return err
		}
		n, err := s.insertManualBatch(ctx, tx, t.AppID, t.EndpointID, ds)
		if err != nil {
			return err
		}
		added = n > 0
		err = tx.QueryRow(ctx, update, t.Cursor, n, t.Total, string(t.Status), t.Error, t.UpdatedAt, leaseUntil, t.ID).Scan(&t.Done, &t.UpdatedAt)
		t.UpdatedAt = t.UpdatedAt.UTC()
		return err
	})
	if err == nil && added {
		s.notifyDue(t.EndpointID)
	}
	return ok, err
}

// TaskPurge deletes up to limit ended tasks last updated before before.
func (s driver) TaskPurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.exec(ctx, `DELETE FROM tasks WHERE id IN (
		SELECT id FROM tasks WHERE status <> 'running' AND updated_at < $1 ORDER BY updated_at LIMIT $2)`, before, limit)
}

// TaskRelease ends owner's lease on the task.
func (s driver) TaskRelease(ctx context.Context, owner, id string) error {
	_, err := s.exec(ctx, `UPDATE tasks SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2`, id, owner)
	return err
}
