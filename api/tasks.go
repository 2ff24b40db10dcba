package api

import (
	"net/http"
	"time"

	"github.com/hookbridge/hookbridge"
)

// This file holds background tasks: the bulk replays and recoveries that
// run page by page in the task worker (package replay), and their
// progress.

// backgroundTaskOut is Svix's BackgroundTaskOut; data carries the
// progress.
type backgroundTaskOut struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Task      string         `json:"task"`
	Data      backgroundData `json:"data"`
	UpdatedAt string         `json:"updatedAt"`
}

// backgroundData is a task's data: what it works on and how far it got.
type backgroundData struct {
	AppID      string `json:"appId"`
	EndpointID string `json:"endpointId"`
	// Done counts the deliveries queued so far; Total the messages the
	// task selected when it started (0 until it counted them).
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Error string `json:"error,omitempty"`
}

func toBackgroundTaskOut(t *hookbridge.Task) backgroundTaskOut {
	return backgroundTaskOut{
		ID: t.ID, Status: string(t.Status), Task: t.Kind, UpdatedAt: formatTime(t.UpdatedAt),
		Data: backgroundData{AppID: t.AppID, EndpointID: t.EndpointID, Done: t.Done, Total: t.Total, Error: t.Error},
	}
}

// taskStartedOut is Svix's RecoverOut and ReplayOut: the task just made.
type taskStartedOut struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Task      string `json:"task"`
	UpdatedAt string `json:"updatedAt"`
}

// startTask creates the task of kind selecting sel for the path's
// endpoint and answers 202 with it.
func (s *Server) startTask(w http.ResponseWriter, r *http.Request, kind string, sel hookbridge.TaskSelection) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	t := &hookbridge.Task{Kind: kind, AppID: app.ID, EndpointID: ep.ID, Selection: sel, CreatedAt: s.timeNow()}
	if err := s.store.CreateTask(r.Context(), t); err != nil {
		return err
	}
	if s.taskCreated != nil {
		s.taskCreated()
	}
	writeJSON(w, http.StatusAccepted, taskStartedOut{ID: t.ID, Status: string(t.Status), Task: t.Kind, UpdatedAt: formatTime(t.UpdatedAt)})
	return nil
}

// replayIn is Svix's ReplayIn, and the window of RecoverIn and
// BulkReplayIn.
type replayIn struct {
	Since *string `json:"since"`
	Until *string `json:"until"`
}

// window reads since (required) and until into a selection of the
// messages created in [since, until).
func (in replayIn) window(fe *fieldErrors) hookbridge.TaskSelection {
	var since, until time.Time
	var err error
	if in.Since == nil {
		fe.body("field required", "since")
	} else if since, err = parseTime(*in.Since); err != nil {
		fe.body(err.Error(), "since")
	}
	if in.Until != nil {
		if until, err = parseTime(*in.Until); err != nil {
			fe.body(err.Error(), "until")
		}
	}
	if len(*fe) == 0 && !until.IsZero() && !since.Before(until) {
		fe.body("must be before until", "since")
	}
	// After is exclusive; since, in whole milliseconds as stored, is not.
	return hookbridge.TaskSelection{After: since.Truncate(time.Millisecond).Add(-time.Millisecond), Before: until}
}

// handleRecoverEndpoint starts a task that sends again, once, every
// message created in [since, until) whose latest delivery to the endpoint
// failed.
func (s *Server) handleRecoverEndpoint(w http.ResponseWriter, r *http.Request) error {
	failed := hookbridge.StatusFail
	return s.startWindowTask(w, r, hookbridge.TaskEndpointRecover, hookbridge.TaskSelection{Status: &failed})
}

// handleReplayMissing starts a task that sends the endpoint every message
// created in [since, until) that it never got a delivery of (it was
// created later, or its filters left them out then) and that it would be
// owed now: its event types, channels and filter as they are.
func (s *Server) handleReplayMissing(w http.ResponseWriter, r *http.Request) error {
	return s.startWindowTask(w, r, hookbridge.TaskEndpointReplay, hookbridge.TaskSelection{Missing: true})
}

// startWindowTask starts the task of kind selecting the messages of the
// body's window (replayIn) that sel's conditions keep.
func (s *Server) startWindowTask(w http.ResponseWriter, r *http.Request, kind string, sel hookbridge.TaskSelection) error {
	var in replayIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	window := in.window(&fe)
	if err := fe.err(); err != nil {
		return err
	}
	sel.After, sel.Before = window.After, window.Before
	return s.startTask(w, r, kind, sel)
}

// bulkReplayIn is Svix's BulkReplayIn. Hookbridge keeps no tags and does
// not select by status code class: those filters are refused.
type bulkReplayIn struct {
	replayIn
	EventTypes      []string `json:"eventTypes"`
	Channel         *string  `json:"channel"`
	Status          *int     `json:"status"`
	Tag             *string  `json:"tag"`
	StatusCodeClass *int     `json:"statusCodeClass"`
}

// handleBulkReplay starts a task that sends the endpoint again every
// message created in [since, until) of the given event types and channel
// and, with status, whose latest delivery to the endpoint has it; whatever
// the endpoint subscribes to, as a resend would.
func (s *Server) handleBulkReplay(w http.ResponseWriter, r *http.Request) error {
	var in bulkReplayIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	sel := in.window(&fe)
	if in.EventTypes != nil {
		sel.EventTypes = normalizeSet(in.EventTypes, maxNameLen, MaxFilterValues, &fe, "eventTypes")
	}
	if in.Channel != nil {
		if msg := checkLimitedString(*in.Channel, maxChannelLen); msg != "" {
			fe.body(msg, "channel")
		}
		sel.Channel = *in.Channel
	}
	if in.Status != nil {
		if *in.Status < 0 || *in.Status > 3 {
			fe.body("must be 0 (success), 1 (pending), 2 (fail) or 3 (sending)", "status")
		}
		st := hookbridge.MessageStatus(*in.Status)
		sel.Status = &st
	}
	if in.Tag != nil {
		fe.body("not supported: messages carry no tags here", "tag")
	}
	if in.StatusCodeClass != nil {
		fe.body("not supported", "statusCodeClass")
	}
	if err := fe.err(); err != nil {
		return err
	}
	return s.startTask(w, r, hookbridge.TaskEndpointBulkReplay, sel)
}

func (s *Server) handleListBackgroundTasks(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	query := r.URL.Query()
	q := listParams(query, &fe, idIterator(hookbridge.PrefixTask), true, hookbridge.OrderDescending)
	f := hookbridge.TaskFilter{ListOptions: q.opt}
	switch v := hookbridge.TaskStatus(query.Get("status")); v {
	case "", hookbridge.TaskRunning, hookbridge.TaskFinished, hookbridge.TaskFailed:
		f.Status = v
	default:
		fe.query("status", "must be running, finished or failed")
	}
	switch v := query.Get("task"); v {
	case "", hookbridge.TaskEndpointReplay, hookbridge.TaskEndpointRecover, hookbridge.TaskEndpointBulkReplay:
		f.Kind = v
	default:
		fe.query("task", "must be endpoint.replay, endpoint.recover or endpoint.bulk_replay")
	}
	if err := fe.err(); err != nil {
		return err
	}
	f.AppID = taskScope(r)
	page, err := s.store.ListTasks(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writePage(page, q, toBackgroundTaskOut, func(t *hookbridge.Task) string { return t.ID }, true))
	return nil
}

func (s *Server) handleGetBackgroundTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.task(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBackgroundTaskOut(t))
	return nil
}

// task reads the path's task: ENOTFOUND if there is none, or if the
// request's key is an application's and the task is another's.
func (s *Server) task(r *http.Request) (*hookbridge.Task, error) {
	id := r.PathValue("task_id")
	if !hookbridge.HasPrefix(id, hookbridge.PrefixTask) {
		return nil, hookbridge.NotFound("background task")
	}
	t, err := s.store.GetTask(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if scope := taskScope(r); scope != "" && t.AppID != scope {
		return nil, hookbridge.NotFound("background task")
	}
	return t, nil
}

// taskScope is the application whose tasks alone the request's key may
// reach (routeAppTask): a portal token's or an application-scoped API
// key's; "" for a key that reaches every application's.
func taskScope(r *http.Request) string {
	if a := appAccess(r); a != nil {
		return a.AppID
	}
	if k := requestAPIKey(r); k != nil {
		if appID, ok := hookbridge.ScopeApp(k.Scope); ok {
			return appID
		}
	}
	return ""
}

// handleCancelBackgroundTask stops a running task (Hookbridge's own
// route): it is failed with data.error "canceled", and its worker stops
// before its next page. What its pages queued stays queued.
func (s *Server) handleCancelBackgroundTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.task(r)
	if err != nil {
		return err
	}
	if t, err = s.store.CancelTask(r.Context(), t.ID, s.timeNow()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBackgroundTaskOut(t))
	return nil
}
