package replay_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/replay"
	"github.com/hookbridge/hookbridge/sqlite"
)

// TestWorkersShareTasks: two workers on one store run three replay tasks
// to completion between them, each task by one worker, and every message
// is queued once to each task's endpoint; the dispatcher is woken.
func TestWorkersShareTasks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	app := &hookbridge.Application{Name: "a"}
	if err := store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	const messages = 100 // three pages of 40
	start := time.Now().Add(-time.Minute)
	msgs := make([]*hookbridge.Message, messages)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{ID: hookbridge.NewID(hookbridge.PrefixMessage), AppID: app.ID, EventType: "order.created",
			Payload: json.RawMessage(`{}`), CreatedAt: start.Add(time.Duration(i) * time.Millisecond)}
	}
	if _, err := store.CreateMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var tasks []string
	for range 3 {
		ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/hook",
			Secrets: []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
		if err := store.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		task := &hookbridge.Task{Kind: hookbridge.TaskEndpointReplay, AppID: app.ID, EndpointID: ep.ID,
			Selection: hookbridge.TaskSelection{After: start.Add(-time.Second), Missing: true}}
		if err := store.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task.ID)
	}

	var wakes sync.WaitGroup
	wakes.Add(1)
	var once sync.Once
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		w := replay.New(replay.Config{Store: store, Concurrency: 1, Page: 40, Poll: 20 * time.Millisecond,
			Wake: func() { once.Do(wakes.Done) }})
		wg.Go(func() { w.Run(runCtx) })
	}
	defer func() { cancel(); wg.Wait() }()
	for _, id := range tasks {
		testkit.WaitFor(t, "task "+id+" to finish", func() bool {
			task, err := store.GetTask(ctx, id)
			return err == nil && task.Status != hookbridge.TaskRunning
		})
		task, _ := store.GetTask(ctx, id)
		if task.Status != hookbridge.TaskFinished || task.Done != messages || task.Total != messages {
			t.Errorf("task %s: %s, %d of %d; want finished, %d of %d", id, task.Status, task.Done, task.Total, messages, messages)
		}
	}
	wakes.Wait()
	claims, err := store.ClaimDeliveries(ctx, "test", time.Now(), time.Minute, hookbridge.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]string]int{}
	total := len(claims)
	for len(claims) > 0 {
		for _, c := range claims {
			seen[[2]string{c.Endpoint.ID, c.Message.ID}]++
		}
		if claims, err = store.ClaimDeliveries(ctx, "test", time.Now(), time.Minute, hookbridge.MaxListLimit); err != nil {
			t.Fatal(err)
		}
		total += len(claims)
	}
	if total != 3*messages || len(seen) != 3*messages {
		t.Errorf("%d deliveries to %d (endpoint, message) pairs, want %d of each: none twice", total, len(seen), 3*messages)
	}
}
