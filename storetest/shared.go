package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
)

// testCapabilities checks, on one store, the optional capabilities it
// implements (hookbridge.Listener, hookbridge.ExclusiveRunner); a store
// that one process owns has neither, and the subtests are skipped.
func testCapabilities(t *testing.T, open Opener) {
	open.run(t, "Listener", func(t *testing.T, s hookbridge.Store) {
		testListen(t, s, capability[hookbridge.Listener](t, s))
	})
	open.run(t, "ExclusiveRunner", func(t *testing.T, s hookbridge.Store) {
		x := capability[hookbridge.ExclusiveRunner](t, s)
		testRunExclusive(t, x, x)
	})
}

// capability returns s as a C, or skips the test if s is not one.
func capability[C any](t *testing.T, s hookbridge.Store) C {
	t.Helper()
	c, ok := s.(C)
	if !ok {
		t.Skipf("the store is not a %s", reflect.TypeFor[C]())
	}
	return c
}

// RunInstances tests the capabilities a store shared by several instances
// offers across them: open returns two stores on one database, as two
// instances open it, each a hookbridge.Listener and a
// hookbridge.ExclusiveRunner.
func RunInstances(t *testing.T, open func(t *testing.T) (a, b hookbridge.Store)) {
	t.Run("Listener", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		testListen(t, a, b.(hookbridge.Listener))
	})
	t.Run("ExclusiveRunner", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		testRunExclusive(t, a.(hookbridge.ExclusiveRunner), b.(hookbridge.ExclusiveRunner))
	})
	t.Run("TaskClaims", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		testTaskClaims(t, a, b)
	})
	t.Run("ApplicationsChanged", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		testApplicationsChanged(t, a, b)
	})
}

// testApplicationsChanged: b answers for applications as a changed them,
// at once while b is not listening, and once a's change has been notified
// while it is (when a store may serve applications from memory); its own
// change at once either way.
func testApplicationsChanged(t *testing.T, a, b hookbridge.Store) {
	ctx := t.Context()
	app := newApp(t, a, "before")
	app.UID = "changed-" + app.ID
	ok(t, a.UpdateApplication(ctx, app))
	get := func(key string) (*hookbridge.Application, error) { return b.GetApplication(ctx, key) }
	rename := func(s hookbridge.Store, name string) {
		t.Helper()
		app.Name = name
		ok(t, s.UpdateApplication(ctx, app))
	}
	named := func(name string) func() bool {
		return func() bool {
			byID, err1 := get(app.ID)
			byUID, err2 := get(app.UID)
			return err1 == nil && err2 == nil && byID.Name == name && byUID.Name == name
		}
	}

	// Not listening: nothing is served from memory.
	if !named("before")() {
		t.Fatal("b does not read the application a created")
	}
	rename(a, "unheard")
	if !named("unheard")() {
		t.Fatal("not listening, b answered for the application as it was before a changed it")
	}

	ctx, cancel := context.WithCancel(ctx)
	wakes := make(chan []string, 16)
	done := make(chan error, 1)
	go func() { done <- b.(hookbridge.Listener).Listen(ctx, func(ids []string) { wakes <- ids }) }()
	defer func() {
		cancel()
		ok(t, <-done)
	}()
	waitWake(t, wakes, "listening")

	for i := range 3 {
		// b reads the application (and may keep it), then a changes it.
		if !named(app.Name)() {
			t.Fatalf("round %d: b does not read the application as %q", i, app.Name)
		}
		name := fmt.Sprintf("heard %d", i)
		rename(a, name)
		testkit.WaitFor(t, "b answering with a's change to "+name, named(name))
	}
	rename(b, "own")
	if !named("own")() {
		t.Fatal("b answered for the application as it was before its own change")
	}

	ok(t, a.DeleteApplication(ctx, app.ID))
	testkit.WaitFor(t, "b answering that the application a deleted is gone", func() bool {
		_, err1 := get(app.ID)
		_, err2 := get(app.UID)
		return hookbridge.IsNotFound(err1) && hookbridge.IsNotFound(err2)
	})
}

// testListen: l wakes once listening, and when a message accepted through
// w makes a delivery due, and when a resend through w does, naming the
// delivery's endpoint or none; it returns nil once its context ends.
func testListen(t *testing.T, w hookbridge.Store, l hookbridge.Listener) {
	app := groupApp(t, w)
	page, err := w.ListEndpoints(t.Context(), app.ID, hookbridge.ListOptions{})
	ok(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	wakes := make(chan []string, 16)
	done := make(chan error, 1)
	go func() { done <- l.Listen(ctx, func(ids []string) { wakes <- ids }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen returned %v once its context ended, want nil", err)
		}
	}()
	waitWake(t, wakes, "listening")

	ep := page.Data[0].ID
	m := groupMessage(app.ID)
	_, _, err = w.CreateMessage(t.Context(), m)
	ok(t, err)
	if ids := waitWake(t, wakes, "CreateMessage"); len(ids) > 0 && !slices.Contains(ids, ep) {
		t.Errorf("the wake-up for a message names endpoints %q, not its delivery's %s", ids, ep)
	}
	_, err = w.Resend(t.Context(), app.ID, m.ID, ep, time.Now())
	ok(t, err)
	if ids := waitWake(t, wakes, "Resend"); len(ids) > 0 && !slices.Contains(ids, ep) {
		t.Errorf("the wake-up for a resend names endpoints %q, not its delivery's %s", ids, ep)
	}
}

// waitWake waits for a wake-up and returns the endpoints it names, or
// fails after 10s.
func waitWake(t *testing.T, wakes <-chan []string, what string) []string {
	t.Helper()
	select {
	case ids := <-wakes:
		return ids
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up after %s", what)
		return nil
	}
}

// testRunExclusive: while a runs a job, b does not run one of the same
// name, but runs one of another name; once a is done, b runs it, and
// RunExclusive returns the job's error.
func testRunExclusive(t *testing.T, a, b hookbridge.ExclusiveRunner) {
	ctx := t.Context()
	ran, err := a.RunExclusive(ctx, "retention", func(ctx context.Context) error {
		ranB, err := b.RunExclusive(ctx, "retention", func(context.Context) error { return nil })
		if err != nil || ranB {
			t.Errorf("the same job ran alongside: ran=%v err=%v", ranB, err)
		}
		ranOther, err := b.RunExclusive(ctx, "other", func(context.Context) error { return nil })
		if err != nil || !ranOther {
			t.Errorf("another job was excluded: ran=%v err=%v", ranOther, err)
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("first run: ran=%v err=%v", ran, err)
	}
	failed := errors.New("job failed")
	ran, err = b.RunExclusive(ctx, "retention", func(context.Context) error { return failed })
	if !ran || !errors.Is(err, failed) {
		t.Fatalf("after the first ended: ran=%v err=%v, want the job run and its error", ran, err)
	}
}

// testTaskClaims: two instances claiming at once never hold one task
// together.
func testTaskClaims(t *testing.T, a, b hookbridge.Store) {
	ctx := t.Context()
	app := newApp(t, a, "claims")
	ep := newEndpoint(t, a, app.ID, nil)
	const n = 10
	for range n {
		ok(t, a.CreateTask(ctx, &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: ep.ID}))
	}
	var (
		mu   sync.Mutex
		held = map[string]string{}
		wg   sync.WaitGroup
	)
	now := time.Now()
	for i, s := range []hookbridge.Store{a, b, a, b} {
		owner := fmt.Sprintf("w%d", i)
		wg.Go(func() {
			for {
				task, err := s.ClaimTask(ctx, owner, now, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if task == nil {
					return
				}
				mu.Lock()
				if prev, ok := held[task.ID]; ok {
					t.Errorf("task %s claimed by %s and %s", task.ID, prev, owner)
				}
				held[task.ID] = owner
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "tasks claimed", len(held), n)
}

// movesUpdatedAt runs update, a conditional update of a row read after an
// update at last, twice, and checks that each moves the row's UpdatedAt
// (as updatedAt reads it back) forward, even within one millisecond.
func movesUpdatedAt(t *testing.T, last time.Time, updatedAt func() time.Time, update func() error) {
	t.Helper()
	for range 2 {
		ok(t, update())
		if now := updatedAt(); !now.After(last) {
			t.Errorf("UpdatedAt %v after an update at %v: did not move", now, last)
		}
		last = updatedAt()
	}
}
