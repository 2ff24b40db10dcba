package ui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hookbridge/hookbridge"
)

// This file holds background tasks on the dashboard: replaying the
// messages a search found to an endpoint, and the page that lists the
// tasks (bulk replays, replay-missing, recoveries) with their progress.

// tasksShown is how many tasks the page lists, newest first.
const tasksShown = 50

// tasksPage is the background tasks page.
type tasksPage struct {
	Tasks []taskRow
	// Running says a task is still running: the list refreshes itself
	// (data-poll) until none is.
	Running bool
}

// taskRow is a task with what the page shows of it.
type taskRow struct {
	hookbridge.Task
	AppName string // "" when the application is gone
}

// Percent is how far the task got, 0 to 100; 100 once finished.
func (t taskRow) Percent() int {
	if t.Status == hookbridge.TaskFinished {
		return 100
	}
	if t.Total <= 0 {
		return 0
	}
	return int(min(100, t.Done*100/t.Total))
}

// Label names the task's kind as an operator reads it.
func (t taskRow) Label() string {
	switch t.Kind {
	case hookbridge.TaskEndpointRecover:
		return "Recover failed"
	case hookbridge.TaskEndpointReplay:
		return "Replay missing"
	}
	return "Replay"
}

func (h *Handler) dashTasks(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderTasks(w, r, v, http.StatusOK)
}

// dashCancelTask stops a running task (the page's Cancel button): the API
// marks it failed, "canceled", and its worker stops before its next page.
// One that ended meanwhile is said so on the page.
func (h *Handler) dashCancelTask(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	id, err := pathRef(r, "task")
	if err != nil {
		return err
	}
	err = h.callAPI(r, http.MethodPost, apiPath("background-task", id, "cancel"), nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && formFailed(err, v) {
		return h.renderTasks(w, r, v, ae.Status) // 409: it ended
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/tasks?done=task-canceled")
	return nil
}

// renderTasks writes the tasks page with status.
func (h *Handler) renderTasks(w http.ResponseWriter, r *http.Request, v *view, status int) error {
	ctx := r.Context()
	page, err := h.store.ListTasks(ctx, hookbridge.TaskFilter{ListOptions: hookbridge.ListOptions{Limit: tasksShown}})
	if err != nil {
		return err
	}
	var p tasksPage
	names := map[string]string{}
	for _, t := range page.Data {
		name, ok := names[t.AppID]
		if !ok {
			if app, err := h.store.GetApplication(ctx, t.AppID); err == nil {
				name = app.Name
			} else if !hookbridge.IsNotFound(err) {
				return err
			}
			names[t.AppID] = name
		}
		p.Tasks = append(p.Tasks, taskRow{Task: t, AppName: name})
		p.Running = p.Running || t.Status == hookbridge.TaskRunning
	}
	v.Title, v.Nav, v.Data = "Background tasks", "tasks", p
	h.render(w, r, status, "tasks", v)
	return nil
}

// dashReplay replays the messages of a search to an endpoint, as a
// background task (the API's bulk-replay): the search's event type, time
// range and, with an endpoint searched, its status there; the endpoint is
// the one searched, else the one picked.
func (h *Handler) dashReplay(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	app := v.App
	f := r.PostForm
	// refuse shows the application's page again, with the search the
	// form carried and why the replay was not started beside it.
	refuse := func(msg string) error {
		r.URL.RawQuery = searchQuery(f).Encode()
		return h.renderApp(w, r, v, msg)
	}
	ep := f.Get("endpoint")
	if ep == "" {
		ep = f.Get("target")
	}
	ends, err := h.store.ListEndpoints(r.Context(), app.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ends.Data, func(e hookbridge.Endpoint) bool { return e.ID == ep }) {
		return refuse("Pick the endpoint to replay the messages to.")
	}
	body := map[string]any{"since": time.Unix(0, 0).UTC().Format(time.RFC3339)}
	if after, ok := parseInputTime(f.Get("after")); ok && !after.IsZero() {
		body["since"] = after.Format(time.RFC3339Nano)
	}
	if before, ok := parseInputTime(f.Get("before")); ok && !before.IsZero() {
		body["until"] = before.Format(time.RFC3339Nano)
	}
	if et := f.Get("event_type"); et != "" {
		body["eventTypes"] = []string{et}
	}
	if st := f.Get("status"); st != "" && f.Get("endpoint") != "" {
		n, err := strconv.Atoi(st)
		if err != nil {
			return refuse("Pick a status from the list.")
		}
		body["status"] = n
	}
	err = h.callAPI(r, http.MethodPost, apiPath("app", app.ID, "endpoint", ep, "bulk-replay"), body, nil)
	if formFailed(err, v) {
		return refuse("The replay was not started: " + v.Error)
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/tasks?done=replaying")
	return nil
}

// searchQuery is the message search a replay form carries, as the
// search page's query.
func searchQuery(f url.Values) url.Values {
	q := url.Values{}
	for _, k := range []string{"event_type", "endpoint", "status", "after", "before"} {
		if v := f.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	return q
}
