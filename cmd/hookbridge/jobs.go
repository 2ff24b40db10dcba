package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/retention"
)

// Retention defaults of `hookbridge serve`: the retention job's.
const (
	defaultRetention         = retention.DefaultAge
	defaultRawRetention      = retention.DefaultRawAge
	defaultRetentionInterval = retention.DefaultInterval
)

// startJobs starts what runs beside the dispatcher for as long as it does
// (ctx is the dispatcher's): on a store shared by several instances, the
// listener that wakes this dispatcher when another instance accepts a
// message; and the retention job (with retention off it still deletes
// expired Idempotency-Key answers and token revocations, and drops raw
// bodies past --raw-retention); the worker that runs background tasks
// (bulk replays and recoveries; it gives its tasks' leases back as it
// stops); and, when the keys come from a key file, the watcher that
// follows it; and the periodic backfill of the sources with a
// reconcileEvery (one instance at a time on a shared store). All are
// counted in s.wg, so Shutdown waits
// for them before closing the store.
func (s *server) startJobs(ctx context.Context, wake func(endpointIDs []string)) {
	if l, ok := s.store.(hookbridge.Listener); ok {
		s.wg.Go(func() {
			if err := l.Listen(ctx, wake); err != nil && !errors.Is(err, context.Canceled) {
				s.fail(err)
			}
		})
	}
	cfg := retention.Config{
		Store:    s.store,
		Age:      s.cfg.Retention,
		RawAge:   s.cfg.RawRetention,
		Interval: s.cfg.RetentionInterval,
		Logger:   s.logger.With("component", "retention"),
	}
	if cfg.Age == 0 {
		// Messages are kept, but what expires by itself is still deleted.
		cfg.Age = retention.KeepMessages
	}
	if cfg.RawAge == 0 {
		cfg.RawAge = retention.KeepRaw
	}
	if x, ok := s.store.(hookbridge.ExclusiveRunner); ok {
		cfg.Exclusive = x.RunExclusive
	}
	job := retention.New(cfg)
	s.wg.Go(func() { job.Run(ctx) })
	s.wg.Go(func() { s.replay.Run(ctx) })
	rec := &reconciler{run: s.api.Reconcile, every: cmp.Or(s.cfg.reconcileCheck, reconcileCheck),
		logger: s.logger.With("component", "backfill")}
	if x, ok := s.store.(hookbridge.ExclusiveRunner); ok {
		rec.exclusive = x.RunExclusive
	}
	s.wg.Go(func() { rec.loop(ctx) })
	if s.keySrc.file != "" {
		w := &keyWatcher{path: s.keySrc.file, keys: s.keys, store: s.store, held: s.keySrc.list,
			every: cmp.Or(s.cfg.keyFileCheck, keyFileCheck), logger: s.logger.With("component", "keys")}
		s.wg.Go(func() { w.run(ctx) })
	}
}

// reconcileCheck is how often serve looks for sources due a periodic
// backfill; each source's own reconcileEvery says when it is due.
const reconcileCheck = 30 * time.Second

// reconciler runs the periodic backfill (api.Server.Reconcile) every
// every, under exclusive when the store is shared, so that one instance
// fetches a source's events at a time. A pass that fails is logged and the
// next one tries again: each source's high-water mark moves only when its
// run completed.
type reconciler struct {
	run       func(context.Context) error
	exclusive func(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
	every     time.Duration
	logger    *slog.Logger
}

func (r *reconciler) loop(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		var err error
		if r.exclusive != nil {
			_, err = r.exclusive(ctx, "backfill", r.run)
		} else {
			err = r.run(ctx)
		}
		if err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "periodic backfill pass failed; retrying on the next", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
