package storekit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Background tasks (hookbridge.Task).

// CreateTask stores t as a new running task: its ID and times (if unset),
// status and counts are filled in, and a selection without an end, or one
// ending later, ends when the task is created: a task replays what was
// there when it was asked for, and what comes later is fanned out anyway.
func (s *Store) CreateTask(ctx context.Context, t *hookbridge.Task) error {
	switch t.Kind {
	case hookbridge.TaskEndpointReplay, hookbridge.TaskEndpointRecover, hookbridge.TaskEndpointBulkReplay:
	default:
		return hookbridge.Errorf(hookbridge.EINVALID, "unknown task kind %q", t.Kind)
	}
	newRow(&t.ID, hookbridge.PrefixTask, &t.CreatedAt, &t.UpdatedAt, s.now())
	t.Status, t.Done, t.Total, t.Cursor, t.Error = hookbridge.TaskRunning, 0, 0, "", ""
	now := t.CreatedAt
	sel := &t.Selection
	sel.After, sel.Before = TruncMS(sel.After), TruncMS(sel.Before)
	if sel.Before.IsZero() || sel.Before.After(now) {
		sel.Before = now
	}
	b, err := json.Marshal(sel)
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	return Err(s.d.TaskInsert(ctx, t, b), "", nil, "create task")
}

// decodeTask is the task of a row, its selection decoded.
func decodeTask(row TaskRow) (hookbridge.Task, error) {
	t := row.Task
	if err := json.Unmarshal(row.Sel, &t.Selection); err != nil {
		return t, fmt.Errorf("task %s: selection: %w", t.ID, err)
	}
	return t, nil
}

// GetTask finds the task with id.
func (s *Store) GetTask(ctx context.Context, id string) (*hookbridge.Task, error) {
	row, err := s.d.TaskGet(ctx, id)
	if err != nil {
		return nil, Err(err, "background task", nil, "get task %s", id)
	}
	t, err := decodeTask(row)
	return &t, err
}

// ListTasks pages through the tasks by id, newest first by default.
func (s *Store) ListTasks(ctx context.Context, f hookbridge.TaskFilter) (hookbridge.Page[hookbridge.Task], error) {
	return list(f.ListOptions, "list tasks", func(limit int) ([]hookbridge.Task, error) {
		rows, err := s.d.TaskList(ctx, f, limit)
		if err != nil {
			return nil, err
		}
		tasks := make([]hookbridge.Task, len(rows))
		for i, row := range rows {
			if tasks[i], err = decodeTask(row); err != nil {
				return nil, err
			}
		}
		return tasks, nil
	})
}

// ClaimTask leases a running task nothing holds to owner; nil when there
// is none.
func (s *Store) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*hookbridge.Task, error) {
	now = TruncMS(now)
	row, found, err := s.d.TaskClaim(ctx, owner, now, now.Add(lease))
	if err != nil || !found {
		return nil, Err(err, "", nil, "claim task")
	}
	t, err := decodeTask(row)
	return &t, err
}

// TaskMessages reads the next page of t's messages. With Missing, the
// endpoint is read too, and the messages it would not be owed now (its
// event types, channels and filter, as at fan-out) are left out.
func (s *Store) TaskMessages(ctx context.Context, t *hookbridge.Task, limit int) ([]hookbridge.Message, string, error) {
	rows, last, err := s.d.TaskMessages(ctx, *t, limit)
	if err != nil || last == "" {
		return nil, "", Err(err, "", nil, "read messages of task %s", t.ID)
	}
	if !t.Selection.Missing || len(rows) == 0 {
		return rows, last, nil
	}
	ep, err := s.d.EndpointGet(ctx, t.AppID, true, t.EndpointID)
	if err != nil {
		return nil, "", Err(err, "endpoint", nil, "read messages of task %s", t.ID)
	}
	owed := rows[:0]
	for i := range rows {
		fan := s.Fan(&rows[i], "")
		if ok, _, _ := fan.owes(&ep); ok {
			owed = append(owed, rows[i])
		}
	}
	return owed, last, nil
}

// AdvanceTask records a page of t: see hookbridge.TaskStore.
func (s *Store) AdvanceTask(ctx context.Context, owner string, t *hookbridge.Task, msgIDs []string, now, leaseUntil time.Time) error {
	now = TruncMS(now)
	ds := make([]hookbridge.Delivery, len(msgIDs))
	for i, id := range msgIDs {
		ds[i] = ManualDelivery(t.AppID, id, t.EndpointID, now)
	}
	t.UpdatedAt = now
	held, err := s.d.TaskAdvance(ctx, owner, t, ds, TruncMS(leaseUntil))
	if err != nil {
		return Err(err, "", nil, "advance task %s", t.ID)
	}
	if !held {
		return hookbridge.Errorf(hookbridge.ECONFLICT, "task %s is no longer held by %s", t.ID, owner)
	}
	return nil
}

// PurgeTasksBefore deletes up to limit ended tasks last updated before
// before, oldest first.
func (s *Store) PurgeTasksBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := s.d.TaskPurge(ctx, TruncMS(before), limit)
	if err != nil {
		return 0, fmt.Errorf("purge tasks: %w", err)
	}
	return int(n), nil
}

// CancelTask stops the running task with id: see hookbridge.TaskStore.
func (s *Store) CancelTask(ctx context.Context, id string, now time.Time) (*hookbridge.Task, error) {
	row, found, err := s.d.TaskCancel(ctx, id, TruncMS(now), hookbridge.TaskCanceled)
	if err != nil {
		return nil, Err(err, "background task", nil, "cancel task %s", id)
	}
	if !found {
		t, err := s.GetTask(ctx, id)
		if err != nil {
			return nil, err
		}
		end := string(t.Status)
		if t.Error == hookbridge.TaskCanceled {
			end = "canceled already"
		}
		return nil, hookbridge.Errorf(hookbridge.ECONFLICT, "background task %s is not running: %s", id, end)
	}
	t, err := decodeTask(row)
	return &t, err
}

// ReleaseTask ends owner's lease on the task.
func (s *Store) ReleaseTask(ctx context.Context, owner, id string) error {
	if err := s.d.TaskRelease(ctx, owner, id); err != nil {
		return fmt.Errorf("release task %s: %w", id, err)
	}
	return nil
}
