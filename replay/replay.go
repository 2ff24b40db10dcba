// Package replay runs background tasks (hookbridge.Task): bulk replays
// and recoveries of messages to one endpoint, queued as manual deliveries
// page by page, at no more than the endpoint's throttle.
//
// Invariants:
//
//   - A task is worked on by the Worker that holds its lease
//     (hookbridge.TaskStore.ClaimTask); each page is one transaction that
//     renews the lease and fails, writing nothing, if another worker took
//     the task over. So several instances on one database never run a
//     task twice, and a task outlives the process that started it.
//   - Each page adds one delivery per message and moves the task's cursor
//     past the messages in the same transaction: a task taken over after a
//     restart or a crash goes on from its cursor and queues no message
//     twice.
//   - With a throttle (the endpoint's throttleRate, else its
//     application's) of r messages a second, a page holds at most r
//     messages and the next one starts a second after it committed (after
//     its UpdatedAt, when another worker takes the task over): no span of
//     one second sees more than r deliveries queued by a task.
//     The dispatcher still applies the throttle when it sends.
//   - The deliveries are made due at once and the dispatcher is told
//     (Config.Wake); they then go through the one delivery path, attempt
//     log and retry schedule of every other delivery.
package replay

import (
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Defaults of a Worker, written down once.
const (
	// DefaultLease is how long a worker holds a task between two pages;
	// a worker that dies leaves it to another instance after this long.
	DefaultLease = 30 * time.Second
	// DefaultPoll is how often a worker looks for tasks nobody holds
	// when not kicked: tasks created through another instance, or left by
	// one that died.
	DefaultPoll = 5 * time.Second
	// DefaultPage is the most messages one page queues without a
	// throttle.
	DefaultPage = 100
	// DefaultConcurrency is how many tasks a worker runs at once.
	DefaultConcurrency = 4
	// countPage is how many messages one read counts when a task starts.
	countPage = 1000
	// retryAfter is how long a task waits after a page failed for a
	// reason that may pass (the database unavailable).
	retryAfter = time.Second
)

// Store is what a Worker uses of the store.
type Store interface {
	hookbridge.TaskStore
	GetApplication(ctx context.Context, idOrUID string) (*hookbridge.Application, error)
	GetEndpoint(ctx context.Context, appID, idOrUID string) (*hookbridge.Endpoint, error)
}

// Config is what New needs. Zero values mean the documented default.
type Config struct {
	Store       Store
	Lease       time.Duration // 0: DefaultLease
	Poll        time.Duration // 0: DefaultPoll
	Page        int           // 0: DefaultPage
	Concurrency int           // 0: DefaultConcurrency
	// Wake tells the dispatcher that deliveries are due; nil: nothing.
	Wake   func()
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: slog.Default()
}

// Worker claims running tasks and works through them until its Run's
// context ends.
type Worker struct {
	store  Store
	owner  string
	lease  time.Duration
	poll   time.Duration
	page   int
	slots  int
	wake   func()
	now    func() time.Time
	logger *slog.Logger
	kick   chan struct{}
}

// New returns a Worker; Run starts it.
func New(cfg Config) *Worker {
	w := &Worker{
		store:  cfg.Store,
		owner:  "replay-" + rand.Text(),
		lease:  cmp.Or(cfg.Lease, DefaultLease),
		poll:   cmp.Or(cfg.Poll, DefaultPoll),
		page:   cmp.Or(cfg.Page, DefaultPage),
		slots:  cmp.Or(cfg.Concurrency, DefaultConcurrency),
		wake:   cfg.Wake,
		now:    cfg.Now,
		logger: cmp.Or(cfg.Logger, slog.Default()),
		kick:   make(chan struct{}, 1),
	}
	if w.wake == nil {
		w.wake = func() {}
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Kick says a task was created: the worker looks for it now rather than
// at its next poll. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run claims and works through tasks until ctx ends, then waits for the
// tasks it runs to stop and gives back their leases, so that another
// instance (or this one, started again) goes on with them at once.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	finished := make(chan struct{}, w.slots)
	running := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		for running < w.slots {
			t, err := w.store.ClaimTask(ctx, w.owner, w.now(), w.lease)
			if err != nil {
				if ctx.Err() == nil {
					w.logger.Warn("claim background task", "err", err)
				}
				break
			}
			if t == nil {
				break
			}
			running++
			wg.Go(func() {
				w.run(ctx, t)
				finished <- struct{}{}
			})
		}
		timer.Reset(w.poll)
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-finished:
			running--
		case <-timer.C:
		}
	}
}

// run works through the task t, held by w, until it is finished or failed,
// another worker takes it over, or ctx ends.
func (w *Worker) run(ctx context.Context, t *hookbridge.Task) {
	log := w.logger.With("task", t.ID, "endpoint", t.EndpointID)
	defer func() {
		// Give the lease back, unless the task is over (no lease left).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.store.ReleaseTask(rctx, w.owner, t.ID); err != nil {
			log.Warn("release background task", "err", err)
		}
	}()
	counted := t.Cursor != "" || t.Done > 0 || t.Total > 0
	// When the next page may start (throttle, retry). A task taken over
	// waits a second from its last page, wherever that ran: its
	// UpdatedAt is no earlier than the deliveries the page queued.
	var next time.Time
	if t.Cursor != "" {
		next = t.UpdatedAt.Add(time.Second)
	}
	for {
		if err := w.waitUntil(ctx, next); err != nil {
			return
		}
		var (
			done      bool
			throttled bool
			err       error
		)
		if !counted {
			err = w.count(ctx, t)
			counted = err == nil
		} else {
			done, throttled, err = w.step(ctx, t)
		}
		switch {
		case err != nil:
			if w.stopped(ctx, log, t, err) {
				return
			}
			next = w.now().Add(retryAfter)
		case done:
			log.Info("background task finished", "kind", t.Kind, "done", t.Done)
			return
		case throttled:
			next = w.now().Add(time.Second)
		default:
			next = time.Time{}
		}
	}
}

// step queues one page of t: done says the task is finished, throttled
// that the page was limited by a throttle, so the next one waits a second.
func (w *Worker) step(ctx context.Context, t *hookbridge.Task) (done, throttled bool, err error) {
	rate, err := w.throttle(ctx, t)
	if err != nil {
		return false, false, err
	}
	limit := w.page
	if rate > 0 {
		limit, throttled = min(limit, rate), true
	}
	msgs, last, err := w.store.TaskMessages(ctx, t, limit)
	if err != nil {
		return false, false, err
	}
	cursor := t.Cursor
	if last == "" {
		t.Status = hookbridge.TaskFinished
		t.Total = max(t.Total, t.Done)
	} else {
		t.Cursor = last
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	now := w.now()
	if err := w.store.AdvanceTask(ctx, w.owner, t, ids, now, now.Add(w.lease)); err != nil {
		t.Cursor, t.Status = cursor, hookbridge.TaskRunning
		return false, false, err
	}
	if len(ids) > 0 {
		w.wake()
	}
	return t.Status == hookbridge.TaskFinished, throttled && len(ids) > 0, nil
}

// count sets t's Total: the messages it selects, counted before its first
// page, with the lease renewed as it goes.
func (w *Worker) count(ctx context.Context, t *hookbridge.Task) error {
	walk, total := *t, int64(0)
	for pages := 1; ; pages++ {
		msgs, last, err := w.store.TaskMessages(ctx, &walk, countPage)
		if err != nil {
			return err
		}
		total += int64(len(msgs))
		if last == "" {
			break
		}
		walk.Cursor = last
		if pages%10 == 0 {
			// Renew the lease, the task left as it was: a count cut
			// short starts again.
			renew, now := *t, w.now()
			if err := w.store.AdvanceTask(ctx, w.owner, &renew, nil, now, now.Add(w.lease)); err != nil {
				return err
			}
		}
	}
	t.Total = total
	now := w.now()
	return w.store.AdvanceTask(ctx, w.owner, t, nil, now, now.Add(w.lease))
}

// throttle is the endpoint's throttle rate, else its application's; 0 for
// none. ENOTFOUND when the endpoint is gone.
func (w *Worker) throttle(ctx context.Context, t *hookbridge.Task) (int, error) {
	ep, err := w.store.GetEndpoint(ctx, t.AppID, t.EndpointID)
	if err != nil {
		return 0, err
	}
	if ep.RateLimit != nil {
		return *ep.RateLimit, nil
	}
	app, err := w.store.GetApplication(ctx, t.AppID)
	if err != nil || app.RateLimit == nil {
		return 0, err
	}
	return *app.RateLimit, nil
}

// stopped handles a page's error and says whether the task stops here:
// it does when ctx ended, when another worker holds it, and when it
// cannot go on (its endpoint is gone: then it is marked failed). Any other
// error may pass (the database unavailable): the page is tried again.
func (w *Worker) stopped(ctx context.Context, log *slog.Logger, t *hookbridge.Task, err error) bool {
	switch {
	case ctx.Err() != nil:
		return true
	case hookbridge.ErrorCode(err) == hookbridge.ECONFLICT:
		log.Info("background task no longer held here: canceled, or taken over by another instance")
		return true
	case hookbridge.ErrorCode(err) == hookbridge.ENOTFOUND:
		t.Status, t.Error = hookbridge.TaskFailed, "the endpoint no longer exists"
		now := w.now()
		if err := w.store.AdvanceTask(ctx, w.owner, t, nil, now, now); err != nil {
			log.Warn("mark background task failed", "err", err)
		}
		log.Warn("background task failed", "err", t.Error)
		return true
	}
	log.Warn("background task page failed; trying again", "err", err)
	return false
}

// waitUntil returns at until (at once if it has passed), or with ctx's
// error when ctx ends first.
func (w *Worker) waitUntil(ctx context.Context, until time.Time) error {
	d := until.Sub(w.now())
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
