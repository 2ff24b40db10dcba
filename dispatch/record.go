package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Store writes that fail are tried this many times in all, waiting
// writeBackoff, then 4×writeBackoff, … in between: enough to ride out a busy
// database, short enough not to stall the pipeline for long. If they still
// fail, the leases run out and the deliveries are claimed and sent again.
const (
	writeTries   = 3
	writeBackoff = 50 * time.Millisecond
)

// record is the recorder, the one goroutine that writes what the workers did:
// it collects their outcomes into batches and writes each batch with one
// RecordAttempts (group commit) and one ReleaseDeliveries. It also renews the
// leases of deliveries still queued or in flight. It returns when out is
// closed and everything has been written, with the errors of the writes made
// after stopping is done (the shutdown's writes); earlier ones are logged.
func (d *Dispatcher) record(ctx, stopping context.Context, out <-chan outcome) error {
	var shutdownErrs []error
	b := batch{results: make([]hookbridge.AttemptResult, 0, d.batchSize)}
	renew := time.NewTicker(d.lease / 4)
	defer renew.Stop()
	linger := time.NewTimer(0)
	defer linger.Stop()

	for {
		select {
		case o, ok := <-out:
			if !ok {
				return errors.Join(append(shutdownErrs, d.finish(ctx))...)
			}
			b.add(o)
		case <-renew.C:
			d.renew(ctx)
			continue
		}

		// Gather more outcomes for the same transaction: whatever is
		// already waiting, and, while requests are still in flight, what
		// arrives within the linger. When nothing is in flight nothing more
		// is coming, so the batch is written at once.
		closed := false
		deadline := time.Now().Add(d.flushLinger)
		for b.len() < d.batchSize {
			var (
				o        outcome
				ok, recv bool
			)
			select {
			case o, ok = <-out:
				recv = true
			default:
				if wait := time.Until(deadline); d.inflight.Load() > 0 && wait > 0 {
					linger.Reset(wait)
					select {
					case o, ok = <-out:
						recv = true
					case <-linger.C:
					}
				}
			}
			if !recv {
				break // nothing more came within the linger
			}
			if !ok {
				closed = true
				break
			}
			b.add(o)
		}
		if err := d.flush(ctx, &b); err != nil && stopping.Err() != nil {
			shutdownErrs = append(shutdownErrs, err)
		}
		if closed {
			return errors.Join(append(shutdownErrs, d.finish(ctx))...)
		}
	}
}

// batch is the outcomes gathered for one write.
type batch struct {
	results  []hookbridge.AttemptResult
	releases []string
	reports  []hookbridge.EndpointReport // of the results, for the few that have one
	events   bool                        // some result has an operational event
	retry    time.Time                   // the soonest retry the results schedule; zero if none
}

func (b *batch) add(o outcome) {
	if o.release {
		b.releases = append(b.releases, o.result.DeliveryID)
	} else {
		b.results = append(b.results, o.result)
		if r := o.result; r.Status == hookbridge.StatusSending && (b.retry.IsZero() || r.NextAttempt.Before(b.retry)) {
			b.retry = r.NextAttempt
		}
		if o.report != nil {
			b.reports = append(b.reports, *o.report)
		}
		b.events = b.events || o.result.Event != nil
	}
}

func (b *batch) len() int { return len(b.results) + len(b.releases) }

// flush writes the batch and empties it. Results the store rejects belong to
// deliveries whose lease was lost (taken over, or deleted meanwhile): the
// current owner's work stands, so they are logged and dropped.
func (d *Dispatcher) flush(ctx context.Context, b *batch) error {
	var errs []error
	if len(b.results) > 0 {
		// The leases end with the write, so they are dropped from the
		// table before it: once the write commits, the delivery may be
		// claimed again at once (a retry due now), and a removal after
		// the commit could take the new claim's lease with it. If the
		// write fails they are not renewed, and end in the store.
		ids := make([]string, len(b.results))
		for i := range b.results {
			ids[i] = b.results[i].DeliveryID
		}
		d.leases.remove(ids)
		var rejected []string
		err := d.retryWrite(ctx, func(ctx context.Context) (err error) {
			rejected, err = d.store.RecordAttempts(ctx, d.owner, b.results)
			return err
		})
		if err != nil {
			d.log.Error("dispatch: record attempts; their deliveries will be sent again when the leases end",
				"count", len(b.results), "err", err)
			errs = append(errs, fmt.Errorf("record %d attempts: %w", len(b.results), err))
		}
		if len(rejected) > 0 {
			d.log.Info("dispatch: results rejected, lease lost", "count", len(rejected), "deliveries", rejected)
		}
		if err == nil && b.events {
			d.eventsRecorded()
		}
		if err == nil && !b.retry.IsZero() && b.retry.Sub(d.now()) < d.pollInterval {
			// The claimer may be asleep for the poll interval, planned
			// before this retry existed: it looks again, and sleeps
			// until the retry is due instead.
			d.Wake()
		}
		if len(b.reports) > 0 && err == nil {
			d.reportHealth(ctx, b.reports)
		}
	}
	if len(b.releases) > 0 {
		if err := d.release(ctx, b.releases); err != nil {
			errs = append(errs, err)
		}
	}
	clear(b.results) // drop the Attempt pointers for the collector
	b.results = b.results[:0]
	b.reports = b.reports[:0]
	b.events = false
	b.retry = time.Time{}
	b.releases = nil
	return errors.Join(errs...)
}

// release ends the leases on ids without recording anything. As in flush,
// the table forgets them before the store does.
func (d *Dispatcher) release(ctx context.Context, ids []string) error {
	d.leases.remove(ids)
	err := d.retryWrite(ctx, func(ctx context.Context) error {
		return d.store.ReleaseDeliveries(ctx, d.owner, ids)
	})
	if err != nil {
		d.log.Error("dispatch: release deliveries; they are claimable again when the leases end",
			"count", len(ids), "err", err)
		return fmt.Errorf("release %d deliveries: %w", len(ids), err)
	}
	return nil
}

// renew extends the leases that would otherwise end within half a lease, so
// that a delivery waiting behind slow receivers is not taken over while this
// dispatcher still means to send it. The ticker runs every quarter lease, so
// each lease is renewed at least a quarter lease before it ends.
func (d *Dispatcher) renew(ctx context.Context) {
	now := d.now()
	ids := d.leases.expiring(now.Add(d.lease / 2))
	if len(ids) == 0 {
		return
	}
	until := now.Add(d.lease)
	err := d.retryWrite(ctx, func(ctx context.Context) error {
		return d.store.RenewLeases(ctx, d.owner, ids, until)
	})
	if err != nil {
		d.log.Error("dispatch: renew leases", "count", len(ids), "err", err)
		return
	}
	d.leases.extend(ids, until)
}

// finish releases whatever is still held after the last outcome was written.
// Every claim normally comes back as an outcome, so this is a safety net that
// keeps the promise that Run leaves no lease behind.
func (d *Dispatcher) finish(ctx context.Context) error {
	ids := d.leases.all()
	if len(ids) == 0 {
		return nil
	}
	d.log.Warn("dispatch: releasing deliveries left without an outcome", "count", len(ids))
	return d.release(ctx, ids)
}

// retryWrite runs a store write, trying again after a short backoff if it
// fails. Each try gets a lease's time at most: a write slower than that has
// lost its leases anyway.
func (d *Dispatcher) retryWrite(ctx context.Context, write func(context.Context) error) error {
	var err error
	backoff := writeBackoff
	for try := range writeTries {
		if try > 0 {
			time.Sleep(backoff)
			backoff *= 4
		}
		wctx, cancel := context.WithTimeout(ctx, d.lease)
		err = write(wctx)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}
