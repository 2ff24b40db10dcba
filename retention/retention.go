// Package retention deletes what is older than the retention period, so
// that the database stops growing at traffic × retention: finished
// messages with their deliveries and attempts, the inbound notifications,
// polling observations and payment states of the same age, the raw bodies
// of inbound notifications sooner (raw retention: a processor's body holds
// more about the payer than the canonical event made of it), and the
// responses kept for Idempotency-Key retries once their day is over.
//
// Invariants:
//
//   - A message is deleted only once all its deliveries are final
//     (hookbridge.RetentionStore.PurgeBefore); one still being delivered
//     is kept whole.
//   - Each store call is one short transaction of at most Batch rows, so
//     that ingest and dispatch are never held up behind a purge.
//   - Every time comes from the Job's clock.
package retention

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Defaults of a Job, written down once.
const (
	// DefaultAge is how old a finished message gets before it is deleted.
	DefaultAge = 30 * 24 * time.Hour
	// DefaultInterval is how often a Job runs.
	DefaultInterval = time.Hour
	// DefaultBatch is how many rows one store call deletes at most: each
	// call is one transaction, kept short.
	DefaultBatch = 1000
	// RevocationSlack is how long after a logged-out portal token expired
	// its revocation is kept: an instance whose clock runs behind must not
	// take the token for unexpired while the revocation is gone.
	RevocationSlack = 10 * time.Minute
	// KeepMessages as a Config's Age keeps every message and inbound event
	// for good; the job still deletes what expires whatever the retention
	// (Idempotency-Key answers, revocations of expired portal tokens).
	KeepMessages time.Duration = -1
	// DefaultRawAge is how old an inbound notification gets before its raw
	// body is dropped; the event (its key, state, messages and note) stays
	// as long as Age says.
	DefaultRawAge = 30 * 24 * time.Hour
	// KeepRaw as a Config's RawAge keeps raw bodies as long as their
	// events.
	KeepRaw time.Duration = -1
)

// Config is what New needs. Zero values mean the documented default.
type Config struct {
	Store    hookbridge.RetentionStore
	Age      time.Duration // 0: DefaultAge; KeepMessages: none is deleted
	RawAge   time.Duration // 0: DefaultRawAge; KeepRaw: bodies go with their events
	Interval time.Duration // 0: DefaultInterval
	Batch    int           // 0: DefaultBatch
	// Exclusive runs fn unless another instance runs the same job, and
	// says whether it ran (postgres.Store.RunExclusive). Nil runs fn
	// directly: a store only one process uses, such as SQLite.
	Exclusive func(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: slog.Default()
}

// Job deletes the messages older than its age whose deliveries are all
// final, with their deliveries and attempts (Store.PurgeBefore), the
// inbound events of that age, the raw bodies of inbound events older than
// its raw age (Store.PurgeInboundBodiesBefore), the background tasks that
// ended before its age (Store.PurgeTasksBefore), and what expires whatever
// the age (Idempotency-Key answers, revocations of expired portal tokens):
// once at start, then every interval. With several instances on one database
// (Exclusive set) only one of them purges at a time; the others skip that
// round.
type Job struct {
	store     hookbridge.RetentionStore
	age       time.Duration
	rawAge    time.Duration
	interval  time.Duration
	batch     int
	exclusive func(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
	now       func() time.Time
	log       *slog.Logger
}

// New returns a job with cfg's settings, the defaults filled in.
func New(cfg Config) *Job {
	j := &Job{
		store:     cfg.Store,
		age:       cmp.Or(cfg.Age, DefaultAge),
		rawAge:    cmp.Or(cfg.RawAge, DefaultRawAge),
		interval:  cmp.Or(cfg.Interval, DefaultInterval),
		batch:     cmp.Or(cfg.Batch, DefaultBatch),
		exclusive: cfg.Exclusive,
		now:       cfg.Now,
		log:       cmp.Or(cfg.Logger, slog.Default()),
	}
	if j.now == nil {
		j.now = time.Now
	}
	return j
}

// Run purges until ctx is done.
func (j *Job) Run(ctx context.Context) {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		j.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce purges everything that is due for deletion now, unless another
// instance is doing so, and returns how many messages it deleted and
// whether it ran. Errors are logged: the next round tries again.
func (j *Job) RunOnce(ctx context.Context) (deleted int, ran bool) {
	now := j.now()
	before := now.Add(-j.age)
	purge := func(ctx context.Context) error {
		var err error
		deleted, err = j.purge(ctx, now, before)
		return err
	}
	var err error
	if j.exclusive != nil {
		ran, err = j.exclusive(ctx, "retention", purge)
	} else {
		ran, err = true, purge(ctx)
	}
	switch {
	case err != nil && ctx.Err() == nil:
		j.log.Error("retention: purge failed; trying again next round", "deleted", deleted, "err", err)
	case !ran:
		j.log.Debug("retention: another instance is purging")
	case deleted > 0:
		j.log.Info("retention: purged old messages", "deleted", deleted, "before", before)
	}
	return deleted, ran
}

// purge deletes, as of now, the messages created before before and what
// ages out with them, and returns how many messages it deleted.
func (j *Job) purge(ctx context.Context, now, before time.Time) (int, error) {
	// Idempotency keys are answered for a day whatever the retention; a
	// retention shorter than that ends them sooner.
	keysBefore := now.Add(-hookbridge.IdempotencyTTL)
	var n int
	var err error
	if j.age != KeepMessages {
		if n, err = j.purgeAll(ctx, before, j.store.PurgeBefore); err != nil {
			return n, err
		}
		// Inbound notifications and polling observations age out with
		// the messages they became.
		if _, err = j.purgeAll(ctx, before, j.store.PurgeInboundBefore); err != nil {
			return n, err
		}
		// Background tasks that ended are a record of what was done
		// to messages of that age.
		if _, err = j.purgeAll(ctx, before, j.store.PurgeTasksBefore); err != nil {
			return n, err
		}
		if before.After(keysBefore) {
			keysBefore = before
		}
	}
	if j.rawAge != KeepRaw {
		// Raw bodies go sooner than their events, whatever the
		// message retention.
		if _, err = j.purgeAll(ctx, now.Add(-j.rawAge), j.store.PurgeInboundBodiesBefore); err != nil {
			return n, err
		}
	}
	if _, err = j.purgeAll(ctx, keysBefore, j.store.PurgeIdempotentBefore); err != nil {
		return n, err
	}
	// A logged-out portal token's revocation is needed until the token
	// expires by itself, whatever the retention.
	_, err = j.purgeAll(ctx, now.Add(-RevocationSlack), j.store.PurgePortalRevocationsBefore)
	return n, err
}

// purgeAll calls purge until a batch comes back short, so that each
// transaction stays small however much is due, and returns the total it
// deleted.
func (j *Job) purgeAll(ctx context.Context, before time.Time, purge func(context.Context, time.Time, int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := purge(ctx, before, j.batch)
		total += n
		if err != nil || n < j.batch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
