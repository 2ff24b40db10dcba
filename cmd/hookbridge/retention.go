package main

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Retention defaults of `hookbridge serve`.
const (
	defaultRetention         = 30 * 24 * time.Hour
	defaultRetentionInterval = time.Hour
	// retentionBatch is how many messages one PurgeBefore call deletes at
	// most: each call is one transaction, kept short so that ingest and
	// dispatch are never held up behind a purge.
	retentionBatch = 1000
	// revocationSlack is how long after a logged-out portal token expired
	// its revocation is kept: an instance whose clock runs behind must not
	// take it for unexpired while the revocation is gone.
	revocationSlack = 10 * time.Minute
)

// retentionJob deletes the messages older than age whose deliveries are all
// final, with their deliveries and attempts (Store.PurgeBefore), and what
// else is no longer needed (inbound events as old, expired idempotency
// keys, the revocations of expired portal tokens): once at start, then
// every interval. With several instances on one database
// (exclusive set) only one of them purges at a time; the others skip that
// round.
type retentionJob struct {
	store    hookbridge.RetentionStore
	age      time.Duration
	interval time.Duration // 0: defaultRetentionInterval
	batch    int           // 0: retentionBatch
	// exclusive runs fn unless another instance runs the same job, and
	// says whether it ran. Nil runs fn directly (a store only one process
	// uses, such as SQLite).
	exclusive func(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
	now       func() time.Time // nil: time.Now
	log       *slog.Logger
}

// run purges until ctx is done.
func (j *retentionJob) run(ctx context.Context) {
	t := time.NewTicker(cmp.Or(j.interval, defaultRetentionInterval))
	defer t.Stop()
	for {
		j.runOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runOnce purges everything that is due for deletion now, unless another
// instance is doing so, and returns how many messages it deleted. Errors
// are logged: the next round tries again.
func (j *retentionJob) runOnce(ctx context.Context) (deleted int, ran bool) {
	now := time.Now
	if j.now != nil {
		now = j.now
	}
	at := now()
	before := at.Add(-j.age)
	purge := func(ctx context.Context) error {
		var err error
		deleted, err = j.purge(ctx, at, before)
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

// purge calls PurgeBefore until a batch comes back short, so that each
// transaction stays small however much is due, and then the other purges
// of what is no longer needed at now.
func (j *retentionJob) purge(ctx context.Context, now, before time.Time) (int, error) {
	n, err := j.purgeAll(ctx, before, j.store.PurgeBefore)
	if err != nil {
		return n, err
	}
	// Inbound notifications and polling observations age out with the
	// messages they became.
	if _, err = j.purgeAll(ctx, before, j.store.PurgeInboundBefore); err != nil {
		return n, err
	}
	// Idempotency keys are answered for a day whatever the retention; a
	// retention shorter than that ends them sooner.
	keysBefore := now.Add(-hookbridge.IdempotencyTTL)
	if before.After(keysBefore) {
		keysBefore = before
	}
	if _, err = j.purgeAll(ctx, keysBefore, j.store.PurgeIdempotentBefore); err != nil {
		return n, err
	}
	// A logged-out portal token's revocation is needed until the token
	// expires by itself, whatever the retention.
	_, err = j.purgeAll(ctx, now.Add(-revocationSlack), j.store.PurgePortalRevocationsBefore)
	return n, err
}

// purgeAll calls purge until a batch comes back short and returns the
// total it deleted.
func (j *retentionJob) purgeAll(ctx context.Context, before time.Time, purge func(context.Context, time.Time, int) (int, error)) (int, error) {
	batch := cmp.Or(j.batch, retentionBatch)
	total := 0
	for {
		n, err := purge(ctx, before, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
