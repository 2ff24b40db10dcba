package main

import (
	"context"
	"errors"
)

// listener is a store through which other instances' new deliveries are
// announced (postgres.Store.Listen: LISTEN/NOTIFY).
type listener interface {
	Listen(ctx context.Context, wake func()) error
}

// exclusiveRunner is a store that can make a job run on one instance at a
// time (postgres.Store.RunExclusive: an advisory lock).
type exclusiveRunner interface {
	RunExclusive(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
}

// startJobs starts what runs beside the dispatcher for as long as it does
// (ctx is the dispatcher's): on a store shared by several instances, the
// listener that wakes this dispatcher when another instance accepts a
// message; and the retention job, unless retention is off. Both are
// counted in s.wg, so Shutdown waits for them before closing the store.
func (s *server) startJobs(ctx context.Context, wake func()) {
	if l, ok := s.store.(listener); ok {
		s.wg.Go(func() {
			if err := l.Listen(ctx, wake); err != nil && !errors.Is(err, context.Canceled) {
				s.fail(err)
			}
		})
	}
	if s.cfg.Retention > 0 {
		job := &retentionJob{
			store:    s.store,
			age:      s.cfg.Retention,
			interval: s.cfg.RetentionInterval,
			log:      s.logger.With("component", "retention"),
		}
		if x, ok := s.store.(exclusiveRunner); ok {
			job.exclusive = x.RunExclusive
		}
		s.wg.Go(func() { job.run(ctx) })
	}
}
