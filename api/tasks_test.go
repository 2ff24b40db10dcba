package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/replay"
)

// runTasks runs a task worker over the env's store, on its clock, until
// the test ends.
func (e *env) runTasks(t *testing.T) *replay.Worker {
	w := replay.New(replay.Config{Store: e.store, Now: e.clock.Now, Wake: func() { e.wakes.Add(1) }, Poll: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return w
}

// waitTask polls the task until it is no longer running and returns it.
func (e *env) waitTask(t *testing.T, id string) map[string]any {
	t.Helper()
	var task map[string]any
	testkit.WaitFor(t, "task "+id+" to end", func() bool {
		task = e.do("GET", "/api/v1/background-task/"+id, nil).want(http.StatusOK).object()
		return task["status"] != "running"
	})
	return task
}

// progress is a task's data.done and data.total.
func progress(task map[string]any) (done, total float64) {
	data, _ := task["data"].(map[string]any)
	done, _ = data["done"].(float64)
	total, _ = data["total"].(float64)
	return done, total
}

func TestBackgroundTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.created")
	app := str(e.createApp("a", ""), "id")
	old := str(e.createEndpoint(app, obj{}), "id")
	start := e.clock.Now()
	since := start.Add(-time.Minute).Format(time.RFC3339)
	for range 3 {
		e.sendMessage(app, obj{})
	}
	e.sendMessage(app, obj{"eventType": "order.shipped"})
	e.deliver(500) // all four fail at the old endpoint
	e.clock.Advance(time.Second)

	// Recovery: a real task, pollable, running until a worker takes it.
	rec := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+old+"/recover", obj{"since": since}).want(http.StatusAccepted).object()
	id := str(rec, "id")
	if !strings.HasPrefix(id, "qtask_") || rec["status"] != "running" || rec["task"] != "endpoint.recover" ||
		str(rec, "updatedAt") != e.clock.Now().Format("2006-01-02T15:04:05.000Z") || len(rec) != 4 {
		t.Errorf("recover = %v", rec)
	}
	got := e.do("GET", "/api/v1/background-task/"+id, nil).want(http.StatusOK).object()
	if got["status"] != "running" || got["task"] != "endpoint.recover" {
		t.Errorf("task before a worker ran = %v", got)
	}
	e.runTasks(t)
	got = e.waitTask(t, id)
	if done, total := progress(got); got["status"] != "finished" || done != 4 || total != 4 {
		t.Errorf("recovery task = %v, want finished 4 of 4", got)
	}
	if n := len(e.deliver(200)); n != 4 {
		t.Errorf("after the recovery, %d deliveries due, want 4", n)
	}

	// An endpoint made after the messages, subscribed to one type: replay-
	// missing sends it the three it would be owed now.
	late := str(e.createEndpoint(app, obj{"filterTypes": []string{"order.created"}}), "id")
	rm := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+late+"/replay-missing", obj{"since": since}).want(http.StatusAccepted).object()
	if rm["task"] != "endpoint.replay" || rm["status"] != "running" {
		t.Errorf("replay-missing = %v", rm)
	}
	got = e.waitTask(t, str(rm, "id"))
	if done, total := progress(got); got["status"] != "finished" || done != 3 || total != 3 {
		t.Errorf("replay-missing task = %v, want finished 3 of 3", got)
	}
	attempts := e.deliver(200)
	if len(attempts) != 3 {
		t.Fatalf("after replay-missing, %d deliveries due, want 3", len(attempts))
	}
	for _, a := range attempts {
		if a.EndpointID != late {
			t.Errorf("replay-missing delivered to %s, want %s", a.EndpointID, late)
		}
	}
	// Nothing is missing any more: a second one finds nothing.
	again := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+late+"/replay-missing", obj{"since": since}).want(http.StatusAccepted).object()
	if done, _ := progress(e.waitTask(t, str(again, "id"))); done != 0 {
		t.Errorf("second replay-missing queued %v, want 0", done)
	}

	// Bulk replay of a filtered set to the old endpoint: the shipped
	// message, whatever it was already sent.
	br := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+old+"/bulk-replay",
		obj{"since": since, "eventTypes": []string{"order.shipped"}, "status": 0}).want(http.StatusAccepted).object()
	if br["task"] != "endpoint.bulk_replay" {
		t.Errorf("bulk-replay = %v", br)
	}
	if done, total := progress(e.waitTask(t, str(br, "id"))); done != 1 || total != 1 {
		t.Errorf("bulk replay queued %v of %v, want 1 of 1", done, total)
	}

	// The list: newest first, filtered by kind and status, paged.
	list := e.do("GET", "/api/v1/background-task", nil).want(http.StatusOK).object()
	data := list["data"].([]any)
	if len(data) != 4 || data[0].(map[string]any)["id"] != br["id"] || data[3].(map[string]any)["id"] != id {
		t.Errorf("list = %v, want the four tasks newest first", list)
	}
	recovers := e.do("GET", "/api/v1/background-task?task=endpoint.recover", nil).want(http.StatusOK).object()["data"].([]any)
	if len(recovers) != 1 || recovers[0].(map[string]any)["id"] != id {
		t.Errorf("recover tasks = %v", recovers)
	}
	if running := e.do("GET", "/api/v1/background-task?status=running", nil).want(http.StatusOK).object()["data"].([]any); len(running) != 0 {
		t.Errorf("running tasks = %v, want none", running)
	}
	paged := e.do("GET", "/api/v1/background-task?limit=3", nil).want(http.StatusOK).object()
	if paged["done"] != false || len(paged["data"].([]any)) != 3 {
		t.Errorf("page of 3 = %v", paged)
	}
	rest := e.do("GET", "/api/v1/background-task?limit=3&iterator="+str(paged, "iterator"), nil).want(http.StatusOK).object()
	if rest["done"] != true || len(rest["data"].([]any)) != 1 {
		t.Errorf("second page = %v", rest)
	}
	e.do("GET", "/api/v1/background-task?status=paused", nil).want(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/background-task?task=message.broadcast", nil).want(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/background-task/qtask_nope", nil).want(http.StatusNotFound)
	e.do("GET", "/api/v1/background-task/msg_nope", nil).want(http.StatusNotFound)
	e.do("POST", "/api/v1/app/"+app+"/endpoint/ep_nope/replay-missing", obj{"since": since}).want(http.StatusNotFound)
}

// TestBackgroundTaskEndpointDeleted: a task whose endpoint is deleted
// before it ran fails and says why.
func TestBackgroundTaskEndpointDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	ep := str(e.createEndpoint(app, obj{}), "id")
	e.sendMessage(app, obj{})
	e.deliver(500)
	rec := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+ep+"/recover",
		obj{"since": e.clock.Now().Add(-time.Minute).Format(time.RFC3339)}).want(http.StatusAccepted).object()
	e.do("DELETE", "/api/v1/app/"+app+"/endpoint/"+ep, nil).want(http.StatusNoContent)
	e.runTasks(t)
	got := e.waitTask(t, str(rec, "id"))
	if data := got["data"].(map[string]any); got["status"] != "failed" || !strings.Contains(str(data, "error"), "no longer exists") {
		t.Errorf("task of a deleted endpoint = %v, want failed, saying why", got)
	}
}

// TestBackgroundTaskCancel: a running task is stopped by its cancel
// route: failed, "canceled", and no worker runs it after.
func TestBackgroundTaskCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.created")
	app := str(e.createApp("a", ""), "id")
	ep := str(e.createEndpoint(app, obj{}), "id")
	since := e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	for range 3 {
		e.sendMessage(app, obj{})
	}
	e.deliver(500)
	e.clock.Advance(time.Second)

	rec := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+ep+"/recover", obj{"since": since}).want(http.StatusAccepted).object()
	id := str(rec, "id")
	got := e.do("POST", "/api/v1/background-task/"+id+"/cancel", nil).want(http.StatusOK).object()
	data, _ := got["data"].(map[string]any)
	if got["id"] != id || got["status"] != "failed" || got["task"] != "endpoint.recover" || data["error"] != "canceled" {
		t.Errorf("cancel = %v, want the task failed, data.error canceled", got)
	}
	if read := e.do("GET", "/api/v1/background-task/"+id, nil).want(http.StatusOK).object(); read["status"] != "failed" {
		t.Errorf("read after cancel = %v", read)
	}
	e.do("POST", "/api/v1/background-task/"+id+"/cancel", nil).want(http.StatusConflict)
	e.do("POST", "/api/v1/background-task/qtask_nope/cancel", nil).want(http.StatusNotFound)
	e.do("POST", "/api/v1/background-task/msg_nope/cancel", nil).want(http.StatusNotFound)

	// A worker started now runs the next task, not the canceled one.
	next := e.do("POST", "/api/v1/app/"+app+"/endpoint/"+ep+"/recover", obj{"since": since}).want(http.StatusAccepted).object()
	e.runTasks(t)
	if done, _ := progress(e.waitTask(t, str(next, "id"))); done != 3 {
		t.Errorf("the task after the canceled one queued %v, want 3", done)
	}
	if n := len(e.deliver(200)); n != 3 {
		t.Errorf("%d deliveries due, want the 3 of the task not canceled", n)
	}
	if read := e.do("GET", "/api/v1/background-task/"+id, nil).want(http.StatusOK).object(); read["status"] != "failed" {
		t.Errorf("canceled task after a worker ran = %v", read)
	}
}

// TestBackgroundTaskScope: an application's key (its portal token, an
// application-scoped API key) follows and cancels its application's tasks,
// which it may start, and no other's: another application's task is 404,
// the list holds its own only; a read-only token may read, not cancel.
func TestBackgroundTaskScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.created")
	a, b := str(e.createApp("A", "a"), "id"), str(e.createApp("B", "b"), "id")
	epA, epB := str(e.createEndpoint(a, obj{}), "id"), str(e.createEndpoint(b, obj{}), "id")
	since := e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	portal := e.portalToken(a, obj{})
	readOnly := e.portalToken(a, obj{"readOnly": true})
	appKey := str(e.createKey("a's", "app:"+a), "key")

	mine := str(e.withKey(portal, "POST", "/api/v1/app/"+a+"/endpoint/"+epA+"/recover", obj{"since": since}).want(http.StatusAccepted).object(), "id")
	theirs := str(e.do("POST", "/api/v1/app/"+b+"/endpoint/"+epB+"/recover", obj{"since": since}).want(http.StatusAccepted).object(), "id")

	for _, key := range []string{portal, readOnly, appKey} {
		if got := e.withKey(key, "GET", "/api/v1/background-task/"+mine, nil).want(http.StatusOK).object(); got["id"] != mine {
			t.Errorf("its own task = %v", got)
		}
		e.withKey(key, "GET", "/api/v1/background-task/"+theirs, nil).want(http.StatusNotFound)
		cancel := http.StatusNotFound
		if key == readOnly {
			cancel = http.StatusForbidden // may not cancel at all
		}
		e.withKey(key, "POST", "/api/v1/background-task/"+theirs+"/cancel", nil).want(cancel)
		list := e.withKey(key, "GET", "/api/v1/background-task", nil).want(http.StatusOK).object()["data"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != mine {
			t.Errorf("the list with the application's key = %v, want its one task", list)
		}
	}
	if all := e.do("GET", "/api/v1/background-task", nil).want(http.StatusOK).object()["data"].([]any); len(all) != 2 {
		t.Errorf("the admin's list = %v, want both tasks", all)
	}
	e.withKey(readOnly, "POST", "/api/v1/background-task/"+mine+"/cancel", nil).want(http.StatusForbidden)
	if got := e.withKey(appKey, "POST", "/api/v1/background-task/"+mine+"/cancel", nil).want(http.StatusOK).object(); got["status"] != "failed" {
		t.Errorf("canceled with the application's key = %v", got)
	}
	if got := e.do("GET", "/api/v1/background-task/"+theirs, nil).want(http.StatusOK).object(); got["status"] != "running" {
		t.Errorf("the other application's task = %v, want it untouched", got)
	}
}
