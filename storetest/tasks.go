package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testTasks(t *testing.T, open Opener) {
	open.run(t, "Lifecycle", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "tasks")
		ep := newEndpoint(t, s, app.ID, nil)

		missing := &hookbridge.Task{Kind: hookbridge.TaskEndpointReplay, AppID: app.ID, EndpointID: "ep_none"}
		wantCode(t, s.CreateTask(ctx, missing), hookbridge.ENOTFOUND)
		bad := &hookbridge.Task{Kind: "message.broadcast", AppID: app.ID, EndpointID: ep.ID}
		wantCode(t, s.CreateTask(ctx, bad), hookbridge.EINVALID)

		a := &hookbridge.Task{Kind: hookbridge.TaskEndpointReplay, AppID: app.ID, EndpointID: ep.ID,
			Selection: hookbridge.TaskSelection{After: at(0), EventTypes: []string{"a"}, Missing: true}}
		ok(t, s.CreateTask(ctx, a))
		if !hookbridge.HasPrefix(a.ID, hookbridge.PrefixTask) || a.Status != hookbridge.TaskRunning || a.CreatedAt.IsZero() {
			t.Fatalf("created %+v: want a qtask_ id, running, a creation time", a)
		}
		if !a.Selection.Before.Equal(a.CreatedAt) {
			t.Errorf("selection ends %v, want at the task's creation %v", a.Selection.Before, a.CreatedAt)
		}
		wantUTC(t, "created task", a.CreatedAt, a.UpdatedAt, a.Selection.Before)
		storedAs(t, "read back", *a)(s.GetTask(ctx, a.ID))
		_, err := s.GetTask(ctx, "qtask_none")
		wantCode(t, err, hookbridge.ENOTFOUND)

		b := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: ep.ID,
			Selection: hookbridge.TaskSelection{Status: ptr(hookbridge.StatusFail)}}
		ok(t, s.CreateTask(ctx, b))
		other := newApp(t, s, "other")
		c := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: other.ID, EndpointID: newEndpoint(t, s, other.ID, nil).ID}
		ok(t, s.CreateTask(ctx, c))

		all := pageAll(t, 2, func(x hookbridge.Task) string { return x.ID }, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Task], error) {
			return s.ListTasks(ctx, hookbridge.TaskFilter{ListOptions: opt})
		}, hookbridge.OrderDescending)
		equal(t, "all tasks, newest first", ids(all, func(x hookbridge.Task) string { return x.ID }), []string{c.ID, b.ID, a.ID})
		list := func(f hookbridge.TaskFilter) []string {
			t.Helper()
			p, err := s.ListTasks(ctx, f)
			ok(t, err)
			return ids(p.Data, func(x hookbridge.Task) string { return x.ID })
		}
		equal(t, "recover tasks", list(hookbridge.TaskFilter{Kind: hookbridge.TaskEndpointRecover}), []string{c.ID, b.ID})
		equal(t, "tasks of app", list(hookbridge.TaskFilter{AppID: app.ID}), []string{b.ID, a.ID})
		equal(t, "tasks of endpoint", list(hookbridge.TaskFilter{AppID: app.ID, EndpointID: ep.ID}), []string{b.ID, a.ID})
		equal(t, "tasks of another endpoint", list(hookbridge.TaskFilter{AppID: other.ID, EndpointID: c.EndpointID}), []string{c.ID})
		equal(t, "tasks of an endpoint of another app", list(hookbridge.TaskFilter{AppID: app.ID, EndpointID: c.EndpointID}), []string{})
		equal(t, "finished tasks", list(hookbridge.TaskFilter{Status: hookbridge.TaskFinished}), []string{})

		// Claims: oldest first, one holder at a time, until the lease ends.
		now := time.Now()
		first, err := s.ClaimTask(ctx, "w1", now, time.Minute)
		ok(t, err)
		if first == nil || first.ID != a.ID {
			t.Fatalf("first claim = %+v, want %s", first, a.ID)
		}
		second, err := s.ClaimTask(ctx, "w2", now, time.Minute)
		ok(t, err)
		if second == nil || second.ID != b.ID {
			t.Fatalf("second claim = %+v, want %s", second, b.ID)
		}
		third, err := s.ClaimTask(ctx, "w2", now, time.Minute)
		ok(t, err)
		if third == nil || third.ID != c.ID {
			t.Fatalf("third claim = %+v, want %s", third, c.ID)
		}
		none, err := s.ClaimTask(ctx, "w3", now.Add(59*time.Second), time.Minute)
		ok(t, err)
		if none != nil {
			t.Fatalf("claim while all are held = %s, want none", none.ID)
		}
		// w1's lease ends; w3 takes the task over and w1 can no longer
		// write to it.
		taken, err := s.ClaimTask(ctx, "w3", now.Add(time.Minute), time.Minute)
		ok(t, err)
		if taken == nil || taken.ID != a.ID {
			t.Fatalf("claim after the lease = %+v, want %s", taken, a.ID)
		}
		stale := *first
		stale.Cursor = "msg_z"
		wantCode(t, s.AdvanceTask(ctx, "w1", &stale, nil, now, now.Add(time.Minute)), hookbridge.ECONFLICT)

		// Released: claimable at once. Finished: never again.
		ok(t, s.ReleaseTask(ctx, "w2", b.ID))
		again, err := s.ClaimTask(ctx, "w4", now, time.Minute)
		ok(t, err)
		if again == nil || again.ID != b.ID {
			t.Fatalf("claim after release = %+v, want %s", again, b.ID)
		}
		again.Status = hookbridge.TaskFinished
		ok(t, s.AdvanceTask(ctx, "w4", again, nil, now, now.Add(time.Minute)))
		done, err := s.ClaimTask(ctx, "w5", now.Add(time.Hour), time.Minute)
		ok(t, err)
		if done == nil || done.ID == b.ID {
			t.Fatalf("claim after finish = %+v, want another than the finished %s", done, b.ID)
		}
		equal(t, "finished tasks", list(hookbridge.TaskFilter{Status: hookbridge.TaskFinished}), []string{b.ID})
	})

	open.run(t, "Cancel", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "tasks")
		ep := newEndpoint(t, s, app.ID, nil)
		m := newMessage(t, s, app.ID, "order.created", at(0))
		task := &hookbridge.Task{Kind: hookbridge.TaskEndpointBulkReplay, AppID: app.ID, EndpointID: ep.ID}
		ok(t, s.CreateTask(ctx, task))
		now := time.Now()
		held, err := s.ClaimTask(ctx, "w1", now, time.Minute)
		ok(t, err)
		if held == nil || held.ID != task.ID {
			t.Fatalf("claim = %+v, want %s", held, task.ID)
		}
		held.Cursor = m.ID
		ok(t, s.AdvanceTask(ctx, "w1", held, []string{m.ID}, now, now.Add(time.Minute)))

		canceled, err := s.CancelTask(ctx, task.ID, now.Add(time.Second))
		ok(t, err)
		equal(t, "canceled", []any{canceled.Status, canceled.Error, canceled.Done, canceled.Cursor},
			[]any{hookbridge.TaskFailed, hookbridge.TaskCanceled, int64(1), m.ID})
		storedAs(t, "read back", *canceled)(s.GetTask(ctx, task.ID))

		// Its holder can write nothing more, and nobody can claim it.
		next := *held
		next.Cursor = "msg_z"
		wantCode(t, s.AdvanceTask(ctx, "w1", &next, []string{m.ID}, now, now.Add(time.Minute)), hookbridge.ECONFLICT)
		got, err := s.GetTask(ctx, task.ID)
		ok(t, err)
		equal(t, "after the holder's next page", []any{got.Done, got.Cursor}, []any{int64(1), m.ID})
		none, err := s.ClaimTask(ctx, "w2", now.Add(time.Hour), time.Minute)
		ok(t, err)
		if none != nil {
			t.Errorf("claimed the canceled task: %+v", none)
		}
		// The delivery its page queued is still due: the message's own and
		// the manual one.
		var manual int
		for _, c := range claimAll(t, s, "d", now.Add(time.Hour)) {
			if c.Delivery.Trigger == hookbridge.TriggerManual {
				manual++
			}
		}
		equal(t, "manual deliveries still due", manual, 1)

		_, err = s.CancelTask(ctx, task.ID, now)
		wantCode(t, err, hookbridge.ECONFLICT)
		_, err = s.CancelTask(ctx, "qtask_none", now)
		wantCode(t, err, hookbridge.ENOTFOUND)

		// A finished task is not canceled.
		done := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: ep.ID}
		ok(t, s.CreateTask(ctx, done))
		h, err := s.ClaimTask(ctx, "w3", now, time.Minute)
		ok(t, err)
		h.Status = hookbridge.TaskFinished
		ok(t, s.AdvanceTask(ctx, "w3", h, nil, now, now.Add(time.Minute)))
		_, err = s.CancelTask(ctx, done.ID, now)
		wantCode(t, err, hookbridge.ECONFLICT)
	})

	open.run(t, "Purge", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "purge")
		ep := newEndpoint(t, s, app.ID, nil)
		var tasks []*hookbridge.Task
		for range 3 {
			task := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: ep.ID,
				Selection: hookbridge.TaskSelection{Status: ptr(hookbridge.StatusFail)}}
			ok(t, s.CreateTask(ctx, task))
			tasks = append(tasks, task)
		}
		// Two end, one finished and one failed; the third keeps running.
		now := time.Now()
		for i, status := range []hookbridge.TaskStatus{hookbridge.TaskFinished, hookbridge.TaskFailed} {
			claimed, err := s.ClaimTask(ctx, "w", now, time.Minute)
			ok(t, err)
			equal(t, "claimed", claimed.ID, tasks[i].ID)
			claimed.Status = status
			ok(t, s.AdvanceTask(ctx, "w", claimed, nil, now, now.Add(time.Minute)))
		}
		n, err := s.PurgeTasksBefore(ctx, now.Add(-time.Hour), 10)
		ok(t, err)
		equal(t, "purged before they ended", n, 0)
		n, err = s.PurgeTasksBefore(ctx, now.Add(time.Hour), 1)
		ok(t, err)
		equal(t, "purged, limit 1", n, 1)
		n, err = s.PurgeTasksBefore(ctx, now.Add(time.Hour), 10)
		ok(t, err)
		equal(t, "purged the rest that ended", n, 1)
		for i, task := range tasks {
			_, err := s.GetTask(ctx, task.ID)
			if i < 2 {
				wantCode(t, err, hookbridge.ENOTFOUND)
			} else {
				ok(t, err) // running: kept however old
			}
		}
	})

	open.run(t, "ReplayMissing", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "replay")
		old := newEndpoint(t, s, app.ID, nil)
		before := newMessage(t, s, app.ID, "a", at(-time.Hour))
		var msgs []*hookbridge.Message
		for i := range 6 {
			typ := "a"
			if i == 2 {
				typ = "b" // not subscribed by the new endpoint
			}
			m := &hookbridge.Message{ID: hookbridge.NewID(hookbridge.PrefixMessage), AppID: app.ID, EventType: typ,
				Payload: fmt.Appendf(nil, `{"amount":%d}`, i*100), CreatedAt: at(time.Duration(i) * time.Second)}
			_, _, err := s.CreateMessage(ctx, m)
			ok(t, err)
			msgs = append(msgs, m)
		}
		// Created after the messages: owed none of them, and its filter
		// leaves out amount 100.
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
			e.EventTypes = []string{"a"}
			e.Filter = `payload.amount != 100`
		})
		// One of them was resent to it already: not missing.
		_, err := s.Resend(ctx, app.ID, msgs[3].ID, ep.ID, at(time.Minute))
		ok(t, err)
		task := &hookbridge.Task{Kind: hookbridge.TaskEndpointReplay, AppID: app.ID, EndpointID: ep.ID,
			Selection: hookbridge.TaskSelection{After: at(-time.Millisecond), Missing: true}}
		ok(t, s.CreateTask(ctx, task))
		claimed, err := s.ClaimTask(ctx, "w", time.Now(), time.Minute)
		ok(t, err)
		equal(t, "claimed", claimed.ID, task.ID)

		want := []string{msgs[0].ID, msgs[4].ID, msgs[5].ID}
		var got []string
		for range 10 {
			page, last, err := s.TaskMessages(ctx, claimed, 2)
			ok(t, err)
			if last == "" {
				break
			}
			ids := ids(page, func(m hookbridge.Message) string { return m.ID })
			got = append(got, ids...)
			claimed.Cursor = last
			ok(t, s.AdvanceTask(ctx, "w", claimed, ids, at(time.Hour), time.Now().Add(time.Minute)))
		}
		equal(t, "replayed", got, want)
		equal(t, "done", claimed.Done, int64(3))
		if slices.Contains(got, before.ID) {
			t.Errorf("a message before since was replayed")
		}
		// The deliveries are manual, due at once, to the new endpoint only.
		var to []string
		for _, c := range claimAll(t, s, "d", at(time.Hour)) {
			if c.Endpoint.ID != ep.ID {
				continue
			}
			if c.Delivery.Trigger != hookbridge.TriggerManual {
				t.Errorf("delivery %s trigger %v, want manual", c.Delivery.ID, c.Delivery.Trigger)
			}
			to = append(to, c.Message.ID)
		}
		slices.Sort(to)
		wantTo := append([]string{msgs[3].ID}, want...)
		slices.Sort(wantTo)
		equal(t, "deliveries to the endpoint", to, wantTo)
		_ = old

		// Run again from the start: nothing is missing any more.
		claimed.Cursor = ""
		page, _, err := s.TaskMessages(ctx, claimed, 10)
		ok(t, err)
		equal(t, "missing after the replay", len(page), 0)

		// The endpoint is deleted: the next page says so.
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		wantCode(t, s.AdvanceTask(ctx, "w", claimed, []string{msgs[0].ID}, at(time.Hour), time.Now().Add(time.Minute)), hookbridge.ENOTFOUND)
	})

	open.run(t, "RecoverFailed", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "recover")
		ep := newEndpoint(t, s, app.ID, nil)
		failed := newMessage(t, s, app.ID, "a", at(0))
		finish(t, s, at(0), giveUp(at(0)))
		delivered := newMessage(t, s, app.ID, "a", at(time.Second))
		finish(t, s, at(time.Second), succeed(at(time.Second)))
		// A cancelled scheduled message is stored failed, but is not
		// recovered: it was stopped on purpose.
		cancelled := newScheduled(t, s, app.ID, at(2*time.Second), at(time.Hour))
		n, err := s.CancelMessage(ctx, app.ID, cancelled.ID, at(3*time.Second))
		ok(t, err)
		equal(t, "cancelled deliveries", n, 1)
		task := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: ep.ID,
			Selection: hookbridge.TaskSelection{Status: ptr(hookbridge.StatusFail)}}
		ok(t, s.CreateTask(ctx, task))
		page, last, err := s.TaskMessages(ctx, task, 10)
		ok(t, err)
		equal(t, "failed messages", ids(page, func(m hookbridge.Message) string { return m.ID }), []string{failed.ID})
		// The page may end at the failed message or at the last one read
		// past it: a store may read a page and keep what the condition
		// selects. Either way nothing is left after it.
		if last != failed.ID && last != delivered.ID && last != cancelled.ID {
			t.Errorf("last read = %s, want %s, %s or %s", last, failed.ID, delivered.ID, cancelled.ID)
		}
		task.Cursor = last
		page, last, err = s.TaskMessages(ctx, task, 10)
		ok(t, err)
		if len(page) != 0 || last != "" {
			t.Errorf("after the last page: %d messages, last %q; want none", len(page), last)
		}
	})
}
