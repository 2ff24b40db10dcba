package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// taskColumns is the column list scanTask reads.
const taskColumns = `id, kind, app_id, endpoint_id, selection, status, done, total, cursor, error, created_at, updated_at`

func scanTask(row rowScanner) (storekit.TaskRow, error) {
	var (
		t                storekit.TaskRow
		created, updated int64
	)
	err := row.Scan(&t.ID, &t.Kind, &t.AppID, &t.EndpointID, &t.Sel, &t.Status, &t.Done, &t.Total,
		&t.Cursor, &t.Error, &created, &updated)
	t.CreatedAt, t.UpdatedAt = fromMS(created), fromMS(updated)
	return t, err
}

// TaskInsert inserts t as it is, once its endpoint is found.
func (s driver) TaskInsert(ctx context.Context, t *hookbridge.Task, sel []byte) error {
	const insert = `
		INSERT INTO tasks (id, kind, app_id, endpoint_id, selection, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := endpointExists(ctx, tx, t.AppID, t.EndpointID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insert, t.ID, t.Kind, t.AppID, t.EndpointID, string(sel), string(t.Status),
			ms(t.CreatedAt), ms(t.UpdatedAt))
		return err
	})
}

// TaskCancel fails the running task with id, its lease ended; see
// storekit.Driver.
func (s driver) TaskCancel(ctx context.Context, id string, now time.Time, reason string) (storekit.TaskRow, bool, error) {
	const cancel = `
		UPDATE tasks SET status = 'failed', error = ?, updated_at = max(?, updated_at), owner = NULL, lease_until = NULL
		WHERE id = ? AND status = 'running'
		RETURNING ` + taskColumns
	return s.updateTask(ctx, cancel, reason, ms(now), id)
}

// updateTask runs update, an UPDATE of one task RETURNING taskColumns,
// and returns the task as it left it; found is false if it changed none.
func (s driver) updateTask(ctx context.Context, update string, args ...any) (storekit.TaskRow, bool, error) {
	var (
		t     storekit.TaskRow
		found bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTask(tx.QueryRowContext(ctx, update, args...))
		if storekit.IsNoRows(err) {
			return nil
		}
		found = err == nil
		return err
	})
	return t, found, err
}

// TaskGet reads the task with id.
func (s driver) TaskGet(ctx context.Context, id string) (storekit.TaskRow, error) {
	return scanTask(s.r.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
}

// TaskList reads a page of tasks by id.
func (s driver) TaskList(ctx context.Context, f hookbridge.TaskFilter, limit int) ([]storekit.TaskRow, error) {
	var w filter
	if f.Status != "" {
		w.add(`status = ?`, string(f.Status))
	}
	if f.Kind != "" {
		w.add(`kind = ?`, f.Kind)
	}
	if f.AppID != "" {
		w.add(`app_id = ?`, f.AppID)
	}
	if f.EndpointID != "" {
		w.add(`endpoint_id = ?`, f.EndpointID)
	}
	cond, args, orderBy := keyset("id", f.ListOptions, hookbridge.OrderDescending)
	w.add(cond, args...)
	list := `SELECT ` + taskColumns + ` FROM tasks WHERE ` + w.where() + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, list, append(w.args, limit+1), scanTask)
}

// TaskClaim leases the oldest running task nothing holds at now to owner
// until until.
func (s driver) TaskClaim(ctx context.Context, owner string, now, until time.Time) (storekit.TaskRow, bool, error) {
	const claim = `
		UPDATE tasks SET owner = ?, lease_until = ?
		WHERE id = (SELECT id FROM tasks WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT 1)
		RETURNING ` + taskColumns
	return s.updateTask(ctx, claim, owner, ms(until), ms(now))
}

// TaskMessages reads up to limit messages of t's selection after its
// cursor, by id; the last of them is where the next page starts.
func (s driver) TaskMessages(ctx context.Context, t hookbridge.Task, limit int) ([]hookbridge.Message, string, error) {
	sel := t.Selection
	var w filter
	w.add(`m.app_id = ?`, t.AppID)
	w.messageFilter(sel.EventTypes, sel.Channel, "m.created_at", sel.Before, sel.After)
	if t.Cursor != "" {
		w.add(`m.id > ?`, t.Cursor)
	}
	if sel.Missing {
		// deliveries_msg_endpoint answers this from the index.
		w.add(`NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ?)`, t.EndpointID)
	}
	if sel.Status != nil {
		w.add(`EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = ? AND `+
			latestDelivery+` AND `+deliveryStatus+` = ?)`, t.EndpointID, int(*sel.Status))
	}
	page := `SELECT ` + messageColumns + ` FROM messages m WHERE ` + w.where() + ` ORDER BY m.id LIMIT ?`
	var msgs []hookbridge.Message
	err := s.readSettled(ctx, t.AppID, func(tx *sql.Tx) (err error) {
		msgs, err = collect(ctx, tx, page, append(w.args, limit), scanMessage)
		return err
	})
	if err != nil || len(msgs) == 0 {
		return nil, "", err
	}
	return msgs, msgs[len(msgs)-1].ID, nil
}

// TaskAdvance records a page of t held by owner; see storekit.Driver.
func (s driver) TaskAdvance(ctx context.Context, owner string, t *hookbridge.Task, ds []hookbridge.Delivery, leaseUntil time.Time) (bool, error) {
	const (
		held   = `SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ? AND owner = ? AND status = 'running')`
		exist  = `SELECT id FROM messages WHERE app_id = ? AND id IN (SELECT value FROM json_each(?))`
		update = `
			UPDATE tasks SET cursor = ?, done = done + ?, total = ?, status = ?, error = ?, updated_at = ?,
				owner = CASE WHEN ? = 'running' THEN owner END,
				lease_until = CASE WHEN ? = 'running' THEN ? END
			WHERE id = ?
			RETURNING done`
	)
	var ok bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, held, t.ID, owner).Scan(&ok); err != nil || !ok {
			return err
		}
		if len(ds) == 0 {
			// Nothing to deliver: a count, a finish or a failure,
			// whatever became of the endpoint.
		} else if err := endpointExists(ctx, tx, t.AppID, t.EndpointID); err != nil {
			return err
		}
		msgIDs := make([]string, len(ds))
		for i, d := range ds {
			msgIDs[i] = d.MsgID
		}
		found, err := collect(ctx, tx, exist, []any{t.AppID, jsonList(msgIDs)}, func(r rowScanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		added := 0
		for _, d := range ds {
			if !slices.Contains(found, d.MsgID) {
				continue // purged since it was read
			}
			if err := insertManual(ctx, tx, d); err != nil {
				return err
			}
			added++
		}
		if added > 0 {
			if _, err := tx.ExecContext(ctx, resetPendingFrom, t.EndpointID); err != nil {
				return err
			}
		}
		status := string(t.Status)
		return tx.QueryRowContext(ctx, update, t.Cursor, added, t.Total, status, t.Error, ms(t.UpdatedAt),
			status, status, ms(leaseUntil), t.ID).Scan(&t.Done)
	})
	return ok, err
}

// TaskPurge deletes up to limit ended tasks last updated before before.
func (s driver) TaskPurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.exec(ctx, `DELETE FROM tasks WHERE id IN (
		SELECT id FROM tasks WHERE status <> 'running' AND updated_at < ? ORDER BY updated_at LIMIT ?)`, ms(before), limit)
}

// TaskRelease ends owner's lease on the task.
func (s driver) TaskRelease(ctx context.Context, owner, id string) error {
	_, err := s.exec(ctx, `UPDATE tasks SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?`, id, owner)
	return err
}
