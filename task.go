package hookbridge

import (
	"context"
	"time"
)

// Background task kinds, as Svix names them (BackgroundTaskType).
const (
	// TaskEndpointReplay sends an endpoint the messages it never got
	// (replay-missing: Missing).
	TaskEndpointReplay = "endpoint.replay"
	// TaskEndpointRecover sends again every message whose latest delivery
	// to the endpoint failed (Status StatusFail).
	TaskEndpointRecover = "endpoint.recover"
	// TaskEndpointBulkReplay sends again the messages of a filtered set
	// (the dashboard's message list, Svix's bulk-replay).
	TaskEndpointBulkReplay = "endpoint.bulk_replay"
)

// TaskStatus is where a Task is (Svix's BackgroundTaskStatus).
type TaskStatus string

const (
	TaskRunning  TaskStatus = "running"
	TaskFinished TaskStatus = "finished"
	TaskFailed   TaskStatus = "failed"
)

// Task is a background task: a bulk replay or recovery of messages to one
// endpoint, done page by page by the task worker of whichever instance
// holds its lease. Each page adds one manual Delivery per message selected
// and moves Cursor past it in one transaction, so that a task taken over
// after a restart goes on where it was and queues no message twice.
type Task struct {
	ID         string // qtask_…
	Kind       string // TaskEndpointReplay, TaskEndpointRecover or TaskEndpointBulkReplay
	AppID      string
	EndpointID string
	Selection  TaskSelection
	Status     TaskStatus
	Done       int64  // deliveries queued so far
	Total      int64  // messages selected, counted before the first page
	Cursor     string // the id of the last message handled; "" before the first
	Error      string // why it failed (TaskFailed)
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TaskSelection is which messages of the application a Task sends to its
// endpoint: those created in (After, Before) — either bound zero for none
// — of one of EventTypes (empty: any) and on Channel ("" any), and then:
//
//   - Missing: only those with no delivery at all to the endpoint, and
//     that the endpoint would be owed now (its event types, channels and
//     filter, as at fan-out, evaluated when the page is read).
//   - Status: only those whose latest delivery to the endpoint has it.
//
// Neither: every message selected, whatever the endpoint subscribes to
// (a bulk replay the operator chose by its filters, sent as Resend would).
type TaskSelection struct {
	After      time.Time `json:"after,omitzero"`
	Before     time.Time `json:"before,omitzero"`
	EventTypes []string  `json:"eventTypes,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Missing    bool      `json:"missing,omitempty"`
	// Status, when set: only those whose latest delivery to the
	// endpoint has this status (StatusFail for a recovery).
	Status *MessageStatus `json:"status,omitempty"`
}

// TaskFilter selects tasks. Tasks list newest first.
type TaskFilter struct {
	ListOptions
	Status TaskStatus // "" = any
	Kind   string     // "" = any
	AppID  string     // "" = any
	// EndpointID: only the tasks of this endpoint ("" = any); with AppID,
	// as an endpoint id is only looked up within its application.
	EndpointID string
}

// TaskStore keeps background tasks and runs their pages.
type TaskStore interface {
	// CreateTask stores t as a new running task, filling in its ID and
	// times (if unset), Status and counts. ENOTFOUND if the endpoint is not
	// the application's.
	CreateTask(ctx context.Context, t *Task) error
	// GetTask finds a task by id.
	GetTask(ctx context.Context, id string) (*Task, error)
	ListTasks(ctx context.Context, f TaskFilter) (Page[Task], error)
	// ClaimTask leases to owner until now+lease the running task that
	// nothing holds (never leased, released, or its lease ended at now),
	// oldest first, and returns it; nil when there is none. On a store
	// that several instances share, one task is held by one at a time.
	ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*Task, error)
	// TaskMessages returns up to limit messages of the task's Selection
	// with ids after its Cursor, by id. With
	// Missing, those the endpoint would not be owed now are left out of
	// the result; last is the id of the last message read either way
	// (the cursor to go on from), "" when none was left to read. A page
	// may hold fewer than limit messages, none even, and not be the last.
	TaskMessages(ctx context.Context, t *Task, limit int) (msgs []Message, last string, err error)
	// AdvanceTask records a page of t held by owner, in one transaction:
	// one manual Delivery, due at now, to t's endpoint for each message
	// of msgIDs that still exists, then t's Cursor, Done (increased by
	// the deliveries added), Total, Status and Error as given, and the
	// lease extended to leaseUntil (released when the task is no longer
	// running). ECONFLICT, and nothing written, if owner no longer holds
	// the task; ENOTFOUND if its endpoint is gone
	// and msgIDs is not empty (a finish or failure is recorded whatever
	// became of the endpoint).
	AdvanceTask(ctx context.Context, owner string, t *Task, msgIDs []string, now, leaseUntil time.Time) error
	// ReleaseTask ends owner's lease on the task, so that any instance
	// may claim it at once (a worker that stops).
	ReleaseTask(ctx context.Context, owner, id string) error
	// CancelTask stops the running task with id: it is failed, its Error
	// TaskCanceled, at now, and whoever holds it no longer does (its next
	// AdvanceTask is ECONFLICT, and writes nothing). The deliveries its
	// pages queued stay queued. ENOTFOUND if there is no such task;
	// ECONFLICT if it is not running (finished, failed or canceled).
	CancelTask(ctx context.Context, id string, now time.Time) (*Task, error)
}

// TaskCanceled is the Error of a task stopped by CancelTask. Such a task
// is TaskFailed: Svix's BackgroundTaskStatus has no other end.
const TaskCanceled = "canceled"
