package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

var _ hookbridge.SourceStore = (*Store)(nil)

// scanSource reads storekit.SourceColumns (credentials, routing and rollout
// are jsonb) and opens the credentials with keys.
func scanSource(keys *sealed.Keyring, row pgx.Row) (hookbridge.Source, error) {
	var (
		src       hookbridge.Source
		creds     []byte
		tolerance int64
		reconcile int64
	)
	if err := row.Scan(&src.ID, &src.Name, &src.Scheme, &creds, &tolerance, &src.Routing, &src.Rollout,
		&src.StalePolicy, &reconcile, &src.CreatedAt, &src.UpdatedAt); err != nil {
		return src, err
	}
	if err := keys.OpenJSON(creds, src.ID, &src.Credentials); err != nil {
		return src, fmt.Errorf("source %s: credentials: %w", src.ID, err)
	}
	src.Tolerance = time.Duration(tolerance) * time.Millisecond
	src.ReconcileEvery = time.Duration(reconcile) * time.Millisecond
	src.CreatedAt, src.UpdatedAt = src.CreatedAt.UTC(), src.UpdatedAt.UTC()
	return src, nil
}

// SourceInsert inserts src and records its initial rollout as the first
// change, in one transaction.
func (s driver) SourceInsert(ctx context.Context, src *hookbridge.Source, creds []byte, actor string) error {
	const insertSource = `
		INSERT INTO sources (id, name, scheme, credentials, tolerance_ms, routing, rollout, stale_policy, reconcile_every_ms,
			created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSource, src.ID, src.Name, src.Scheme, creds, src.Tolerance.Milliseconds(),
			src.Routing, src.Rollout, src.StalePolicy, src.ReconcileEvery.Milliseconds(), src.CreatedAt, src.UpdatedAt); err != nil {
			return err
		}
		return insertRolloutChange(ctx, tx, src.ID, actor, hookbridge.Rollout{}, src.Rollout, src.CreatedAt)
	})
}

// insertRolloutChange appends one audit record.
func insertRolloutChange(ctx context.Context, tx pgx.Tx, sourceID, actor string, from, to hookbridge.Rollout, at time.Time) error {
	const insertChange = `
		INSERT INTO rollout_changes (id, source_id, actor, from_rollout, to_rollout, at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := tx.Exec(ctx, insertChange, hookbridge.NewIDAt(hookbridge.PrefixRollout, at), sourceID, actor, from, to, at); err != nil {
		return fmt.Errorf("record rollout change: %w", err)
	}
	return nil
}

// SourceGet reads a source by id.
func (s driver) SourceGet(ctx context.Context, id string) (hookbridge.Source, error) {
	const getSource = `SELECT ` + storekit.SourceColumns + ` FROM sources WHERE id = $1`
	return scanSource(s.keys, s.pool.QueryRow(ctx, getSource, id))
}

// SourceUpdate writes the source's configuration, leaving its rollout.
func (s driver) SourceUpdate(ctx context.Context, src *hookbridge.Source, creds []byte, now time.Time) (int64, error) {
	const updateSource = `
		UPDATE sources SET name = $1, scheme = $2, credentials = $3, tolerance_ms = $4, routing = $5, stale_policy = $6,
			reconcile_every_ms = $7, updated_at = $8
		WHERE id = $9`
	return s.exec(ctx, updateSource, src.Name, src.Scheme, creds, src.Tolerance.Milliseconds(), src.Routing, src.StalePolicy,
		src.ReconcileEvery.Milliseconds(), now, src.ID)
}

// SourceSetRollout changes the source's rollout and audits the change in
// one transaction. The source's row is locked first, so that two
// concurrent changes are recorded in the order they were made, each from
// the rollout the other left.
func (s driver) SourceSetRollout(ctx context.Context, id string, r hookbridge.Rollout, actor string, now time.Time) (hookbridge.Source, error) {
	const (
		lockSource    = `SELECT ` + storekit.SourceColumns + ` FROM sources WHERE id = $1 FOR UPDATE`
		updateRollout = `UPDATE sources SET rollout = $1, updated_at = $2 WHERE id = $3`
	)
	return storekit.ReadModifyWrite(ctx, s.inTx, func(tx pgx.Tx) (hookbridge.Source, error) {
		return scanSource(s.keys, tx.QueryRow(ctx, lockSource, id))
	}, storekit.ChangeRollout(r, now), func(tx pgx.Tx, was hookbridge.Source, _ *hookbridge.Source) error {
		if _, err := tx.Exec(ctx, updateRollout, r, now, id); err != nil {
			return err
		}
		return insertRolloutChange(ctx, tx, id, actor, was.Rollout, r, now)
	})
}

// SourceDelete deletes the source; its events, rollout history and
// observations go with it (ON DELETE CASCADE).
func (s driver) SourceDelete(ctx context.Context, id string) (int64, error) {
	return s.exec(ctx, `DELETE FROM sources WHERE id = $1`, id)
}

// SourceList reads a page of sources by id.
func (s driver) SourceList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Source, error) {
	var q query
	tail := q.keyset("id", opt, hookbridge.OrderAscending, limit)
	return collect(ctx, s.pool, `SELECT `+storekit.SourceColumns+` FROM sources WHERE `+q.clause()+tail, q.args,
		func(r pgx.Row) (hookbridge.Source, error) { return scanSource(s.keys, r) })
}

// RolloutChangeList reads a page of a source's rollout changes by id.
func (s driver) RolloutChangeList(ctx context.Context, sourceID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.RolloutChange, error) {
	var q query
	q.where(`source_id = ` + q.arg(sourceID))
	tail := q.keyset("id", opt, hookbridge.OrderDescending, limit)
	var out []hookbridge.RolloutChange
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, source_id, actor, from_rollout, to_rollout, at FROM rollout_changes WHERE `+q.clause()+tail, q.args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookbridge.RolloutChange, error) {
			var c hookbridge.RolloutChange
			err := r.Scan(&c.ID, &c.SourceID, &c.Actor, &c.From, &c.To, &c.At)
			c.At = c.At.UTC()
			return c, err
		})
		return err
	})
	return out, err
}

// scanInbound reads storekit.InboundColumns.
func scanInbound(row pgx.Row) (hookbridge.InboundEvent, error) {
	var (
		ev                          hookbridge.InboundEvent
		appID                       *string
		occurred, released, dropped *time.Time
	)
	if err := row.Scan(&ev.ID, &ev.SourceID, &ev.EventID, &ev.Type, &ev.Merchant, &ev.Headers, &ev.Body, &ev.Note,
		&ev.Forward, &appID, &ev.MessageIDs, &occurred, &ev.ReceivedAt,
		&ev.Canonical, &ev.Payments, &ev.Stale, &ev.Held, &released, &ev.ReleasedBy, &dropped, &ev.Via); err != nil {
		return ev, err
	}
	ev.AppID = fromNullString(appID)
	ev.OccurredAt, ev.ReceivedAt = fromNullTime(occurred), ev.ReceivedAt.UTC()
	ev.ReleasedAt, ev.BodyDroppedAt = fromNullTime(released), fromNullTime(dropped)
	if len(ev.Headers) == 0 {
		ev.Headers = nil
	}
	if len(ev.MessageIDs) == 0 {
		ev.MessageIDs = nil
	}
	if len(ev.Canonical) == 0 {
		ev.Canonical = nil
	}
	if len(ev.Payments) == 0 {
		ev.Payments = nil
	}
	for i := range ev.Payments {
		ev.Payments[i].OccurredAt = ev.Payments[i].OccurredAt.UTC()
	}
	return ev, nil
}

// jsonArray is the stored form of a list kept as jsonb: never NULL, '[]'
// when empty.
func jsonArray[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// InboundEventInsert stores ev unless its source already has its EventID.
// INSERT … ON CONFLICT DO NOTHING on the unique (source_id, event_id)
// decides; a concurrent insert of the same key waits for the first to
// commit and then finds it. An event that concerns payments is inserted
// in a transaction that then settles them: each payment's row is locked
// (SELECT … FOR UPDATE) from its read to the commit, so that events of one
// payment stored at once by several instances advance it one after the
// other.
func (s driver) InboundEventInsert(ctx context.Context, ev *hookbridge.InboundEvent, body []byte,
	settle func(hookbridge.StalePolicy, storekit.PaymentTx) error) (hookbridge.InboundEvent, bool, error) {
	const (
		insertEvent = `
			INSERT INTO inbound_events (id, source_id, event_id, type, merchant, headers, body, note, forward, app_id, message_ids,
				occurred_at, received_at, canonical, payments, via)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (source_id, event_id) DO NOTHING`
		getPolicy = `SELECT stale_policy FROM sources WHERE id = $1`
		settled   = `UPDATE inbound_events SET payments = $1, stale = $2, held = $3, forward = $4, note = $5 WHERE id = $6`
		getEvent  = `SELECT ` + storekit.InboundColumns + ` FROM inbound_events WHERE source_id = $1 AND event_id = $2`
	)
	args := []any{ev.ID, ev.SourceID, ev.EventID, ev.Type, ev.Merchant, jsonMap(ev.Headers), body,
		ev.Note, ev.Forward, nullString(ev.AppID), jsonList(ev.MessageIDs), timeOrNull(ev.OccurredAt), ev.ReceivedAt,
		jsonArray(ev.Canonical), jsonArray(ev.Payments), ev.Via}
	var n int64
	var err error
	if settle == nil {
		n, err = s.exec(ctx, insertEvent, args...)
	} else {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			n = 0
			tag, err := tx.Exec(ctx, insertEvent, args...)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			n = 1
			var policy hookbridge.StalePolicy
			if err := tx.QueryRow(ctx, getPolicy, ev.SourceID).Scan(&policy); err != nil {
				return err
			}
			if err := settle(policy, paymentTx{ctx, tx}); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, settled, jsonArray(ev.Payments), ev.Stale, ev.Held, ev.Forward, ev.Note, ev.ID)
			return err
		})
	}
	if err != nil || n == 1 {
		return hookbridge.InboundEvent{}, n == 1, err
	}
	stored, err := scanInbound(s.pool.QueryRow(ctx, getEvent, ev.SourceID, ev.EventID))
	if err != nil {
		return stored, false, fmt.Errorf("read the stored one: %w", err)
	}
	return stored, false, nil
}

// paymentTx reads and writes payment states in a transaction, each row
// locked from its read to the commit.
type paymentTx struct {
	ctx context.Context
	tx  pgx.Tx
}

// LockPayment makes sure the payment has a row (a concurrent first event
// of it waits here for the other's commit) and reads it locked.
func (p paymentTx) LockPayment(sourceID, paymentID string) (hookbridge.PaymentState, error) {
	const (
		ensure = `
			INSERT INTO payment_states (source_id, payment_id, sequence, updated_at) VALUES ($1, $2, 0, now())
			ON CONFLICT (source_id, payment_id) DO NOTHING`
		lock = `SELECT ` + storekit.PaymentColumns + ` FROM payment_states WHERE source_id = $1 AND payment_id = $2 FOR UPDATE`
	)
	if _, err := p.tx.Exec(p.ctx, ensure, sourceID, paymentID); err != nil {
		return hookbridge.PaymentState{}, err
	}
	return scanPayment(p.tx.QueryRow(p.ctx, lock, sourceID, paymentID))
}

func (p paymentTx) SavePayment(st hookbridge.PaymentState) error {
	const savePayment = `
		UPDATE payment_states SET status = $3, sequence = $4, amounts = $5, updated_at = $6
		WHERE source_id = $1 AND payment_id = $2`
	_, err := p.tx.Exec(p.ctx, savePayment, st.SourceID, st.PaymentID, st.Status, st.Sequence, st, st.UpdatedAt)
	return err
}

// scanPayment reads storekit.PaymentColumns.
func scanPayment(row pgx.Row) (hookbridge.PaymentState, error) {
	var (
		st      hookbridge.PaymentState
		amounts []byte
	)
	if err := row.Scan(&st.SourceID, &st.PaymentID, &st.Status, &st.Sequence, &amounts, &st.UpdatedAt); err != nil {
		return st, err
	}
	if err := json.Unmarshal(amounts, &st); err != nil {
		return st, fmt.Errorf("payment %s: %w", st.PaymentID, err)
	}
	st.UpdatedAt, st.At = st.UpdatedAt.UTC(), st.At.UTC()
	return st, nil
}

// PaymentStateGet reads the state of the source's payment.
func (s driver) PaymentStateGet(ctx context.Context, sourceID, paymentID string) (hookbridge.PaymentState, error) {
	return scanPayment(s.pool.QueryRow(ctx, `SELECT `+storekit.PaymentColumns+` FROM payment_states WHERE source_id = $1 AND payment_id = $2`,
		sourceID, paymentID))
}

// InboundEventGet reads the source's event with id.
func (s driver) InboundEventGet(ctx context.Context, sourceID, id string) (hookbridge.InboundEvent, error) {
	return scanInbound(s.pool.QueryRow(ctx, `SELECT `+storekit.InboundColumns+` FROM inbound_events WHERE source_id = $1 AND id = $2`, sourceID, id))
}

// InboundEventRelease reads the event locked and applies release to it, in
// one transaction: of two releases at once, the second finds the first's
// outcome.
func (s driver) InboundEventRelease(ctx context.Context, sourceID, id string, release func(*hookbridge.InboundEvent) (bool, error)) (hookbridge.InboundEvent, error) {
	const (
		lockEvent  = `SELECT ` + storekit.InboundColumns + ` FROM inbound_events WHERE source_id = $1 AND id = $2 FOR UPDATE`
		setRelease = `UPDATE inbound_events SET held = $1, forward = $2, released_at = $3, released_by = $4 WHERE id = $5`
	)
	return storekit.ReadModifyWrite(ctx, s.inTx, func(tx pgx.Tx) (hookbridge.InboundEvent, error) {
		return scanInbound(tx.QueryRow(ctx, lockEvent, sourceID, id))
	}, release, func(tx pgx.Tx, _ hookbridge.InboundEvent, ev *hookbridge.InboundEvent) error {
		_, err := tx.Exec(ctx, setRelease, ev.Held, ev.Forward, timeOrNull(ev.ReleasedAt), ev.ReleasedBy, ev.ID)
		return err
	})
}

// InboundEventSetMessages records the messages an event was forwarded as.
func (s driver) InboundEventSetMessages(ctx context.Context, sourceID, id string, msgIDs []string) (int64, error) {
	return s.exec(ctx, `UPDATE inbound_events SET message_ids = $1 WHERE source_id = $2 AND id = $3`,
		jsonList(msgIDs), sourceID, id)
}

// InboundEventList reads a page of a source's events by id; the held ones
// through their partial index.
func (s driver) InboundEventList(ctx context.Context, sourceID string, f hookbridge.InboundFilter, limit int) ([]hookbridge.InboundEvent, error) {
	var q query
	q.where(`source_id = ` + q.arg(sourceID))
	if f.Held {
		q.where(`held`)
	}
	tail := q.keyset("id", f.ListOptions, hookbridge.OrderDescending, limit)
	var out []hookbridge.InboundEvent
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+storekit.InboundColumns+` FROM inbound_events WHERE `+q.clause()+tail, q.args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookbridge.InboundEvent, error) { return scanInbound(r) })
		return err
	})
	return out, err
}

// InboundBodyPurge drops the bodies of up to limit events received before
// before, oldest first, through the partial index of kept bodies. SKIP
// LOCKED leaves an event being released for a later run.
func (s driver) InboundBodyPurge(ctx context.Context, before time.Time, limit int, now time.Time) (int, error) {
	const dropBodies = `
		WITH old AS (
			SELECT id FROM inbound_events WHERE body_dropped_at IS NULL AND received_at < $1
			ORDER BY received_at LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE inbound_events e SET body = ''::bytea, body_dropped_at = $3 FROM old WHERE e.id = old.id`
	n, err := s.exec(ctx, dropBodies, storekit.TruncMS(before), limit, now)
	return int(n), err
}

// ObservationInsert stores what polling saw in one statement, keeping the
// first report of each event.
func (s driver) ObservationInsert(ctx context.Context, sourceID string, obs []hookbridge.Observation) (int, error) {
	const insertObservations = `
		INSERT INTO observations (source_id, event_id, occurred_at, seen_at)
		SELECT $1, o.event_id, o.occurred_at, o.seen_at
		FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS o (event_id, occurred_at, seen_at)
		ON CONFLICT (source_id, event_id) DO NOTHING`
	eventIDs := make([]string, len(obs))
	occurred := make([]*time.Time, len(obs))
	seen := make([]time.Time, len(obs))
	for i, o := range obs {
		eventIDs[i], occurred[i], seen[i] = o.EventID, timeOrNull(o.OccurredAt), storekit.TruncMS(o.SeenAt)
	}
	var added int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, insertObservations, sourceID, eventIDs, occurred, seen)
		added = tag.RowsAffected()
		return err
	})
	return int(added), err
}

// ObservationCompare classifies the events either side saw in [since,
// until) by what each side saw of them at any time, and returns the
// webhook's lead for those both saw.
func (s driver) ObservationCompare(ctx context.Context, sourceID string, since, until time.Time) (hookbridge.Comparison, error) {
	// window is every event id either side saw in the window, each with
	// when the webhook first brought it (NULL if never) and when polling
	// saw it (NULL if never).
	const window = `
		WITH ids AS (
			SELECT event_id FROM inbound_events WHERE source_id = $1 AND received_at >= $2 AND received_at < $3
			UNION
			SELECT event_id FROM observations WHERE source_id = $1 AND seen_at >= $2 AND seen_at < $3),
		seen AS (
			SELECT ids.event_id,
				(SELECT min(w.received_at) FROM inbound_events w
					WHERE w.source_id = $1 AND w.event_id = ids.event_id AND w.via = 'webhook') AS webhook_at,
				(SELECT p.seen_at FROM observations p WHERE p.source_id = $1 AND p.event_id = ids.event_id) AS polling_at,
				EXISTS (SELECT 1 FROM inbound_events b
					WHERE b.source_id = $1 AND b.event_id = ids.event_id AND b.via = 'backfill') AS backfilled
			FROM ids)`
	const (
		counts = window + `
			SELECT count(webhook_at), count(polling_at),
				count(*) FILTER (WHERE webhook_at IS NOT NULL AND polling_at IS NOT NULL),
				count(*) FILTER (WHERE webhook_at IS NOT NULL AND polling_at IS NULL),
				count(*) FILTER (WHERE webhook_at IS NULL AND polling_at IS NOT NULL),
				count(*) FILTER (WHERE backfilled AND webhook_at IS NULL)
			FROM seen`
		leads = window + `
			SELECT (extract(epoch FROM polling_at - webhook_at) * 1000)::bigint AS lead FROM seen
			WHERE webhook_at IS NOT NULL AND polling_at IS NOT NULL ORDER BY lead`
	)
	var c hookbridge.Comparison
	args := []any{sourceID, storekit.TruncMS(since), storekit.TruncMS(until)}
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, counts, args...).Scan(&c.Webhook, &c.Polling, &c.Both, &c.WebhookOnly, &c.PollingOnly,
			&c.Backfilled); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, leads, args...)
		if err != nil {
			return err
		}
		c.Leads, err = pgx.CollectRows(rows, storekit.ScanMillis[pgx.CollectableRow])
		return err
	})
	return c, err
}

// BackfillStateGet reads the source's backfill state; the zero state when
// it never ran, no rows when the source does not exist.
func (s driver) BackfillStateGet(ctx context.Context, sourceID string) (hookbridge.BackfillState, error) {
	const getState = `SELECT ` + storekit.BackfillStateColumns + `
		FROM sources s LEFT JOIN source_backfill b ON b.source_id = s.id WHERE s.id = $1`
	return storekit.ScanBackfillState(s.pool.QueryRow(ctx, getState, sourceID), fromNullTime)
}

// BackfillRunAdd adds a run to the source's backfill state.
func (s driver) BackfillRunAdd(ctx context.Context, st *hookbridge.BackfillState) error {
	const putState = `
		INSERT INTO source_backfill (source_id, high_water, last_run_at, last_success_at, last_error, runs, failures,
			fetched, backfilled, duplicates, requests)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (source_id) DO UPDATE SET
			high_water = greatest(source_backfill.high_water, excluded.high_water),
			last_run_at = excluded.last_run_at, last_success_at = coalesce(excluded.last_success_at, source_backfill.last_success_at),
			last_error = excluded.last_error, runs = source_backfill.runs + excluded.runs,
			failures = source_backfill.failures + excluded.failures, fetched = source_backfill.fetched + excluded.fetched,
			backfilled = source_backfill.backfilled + excluded.backfilled,
			duplicates = source_backfill.duplicates + excluded.duplicates, requests = source_backfill.requests + excluded.requests`
	_, err := s.exec(ctx, putState, st.SourceID, timeOrNull(st.HighWater), timeOrNull(st.LastRunAt), timeOrNull(st.LastSuccessAt),
		st.LastError, st.Runs, st.Failures, st.Fetched, st.Backfilled, st.Duplicates, st.Requests)
	return err
}
