package main

import (
	"context"
	"errors"

	"github.com/hookbridge/hookbridge"
)

// startJobs starts what runs beside the dispatcher for as long as it does
// (ctx is the dispatcher's): on a store shared by several instances, the
// listener that wakes this dispatcher when another instance accepts a
// message; and the retention job, unless retention is off. Both are
// counted in s.wg, so Shutdown waits for them before closing the store.
func (s *server) startJobs(ctx context.Context, wake func()) {
	if l, ok := s.store.(hookbridge.Listener); ok {
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
		if x, ok := s.store.(hookbridge.ExclusiveRunner); ok {
			job.exclusive = x.RunExclusive
		}
		s.wg.Go(func() { job.run(ctx) })
	}
}
