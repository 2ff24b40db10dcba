package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

var _ hookbridge.SourceStore = (*Store)(nil)

// scanSource returns the scanner of storekit.SourceColumns that opens the
// credentials with keys.
func scanSource(keys *sealed.Keyring) func(row rowScanner) (hookbridge.Source, error) {
	return func(row rowScanner) (hookbridge.Source, error) { return scanSourceWith(keys, row) }
}

func scanSourceWith(keys *sealed.Keyring, row rowScanner) (hookbridge.Source, error) {
	var (
		src              hookbridge.Source
		creds, routing   jsonObject
		rollout          jsonObject
		tolerance        int64
		reconcile        int64
		created, updated int64
	)
	if err := row.Scan(&src.ID, &src.Name, &src.Scheme, &creds, &tolerance, &routing, &rollout, &src.StalePolicy, &reconcile,
		&created, &updated); err != nil {
		return src, err
	}
	if err := keys.OpenJSON(creds, src.ID, &src.Credentials); err != nil {
		return src, fmt.Errorf("source %s: credentials: %w", src.ID, err)
	}
	if err := errors.Join(routing.decode(&src.Routing), rollout.decode(&src.Rollout)); err != nil {
		return src, fmt.Errorf("source %s: %w", src.ID, err)
	}
	src.Tolerance = time.Duration(tolerance) * time.Millisecond
	src.ReconcileEvery = time.Duration(reconcile) * time.Millisecond
	src.CreatedAt, src.UpdatedAt = fromMS(created), fromMS(updated)
	return src, nil
}

// jsonObject reads a JSON column holding a struct (credentials, routing, a
// rollout); jsonScan is for the slices and maps that read back as nil.
type jsonObject []byte

func (j *jsonObject) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*j = []byte(v)
	case []byte:
		*j = append((*j)[:0], v...)
	default:
		return fmt.Errorf("decode JSON column: unexpected %T", src)
	}
	return nil
}

func (j jsonObject) decode(dst any) error {
	if err := json.Unmarshal(j, dst); err != nil {
		return fmt.Errorf("decode JSON column: %w", err)
	}
	return nil
}

// SourceInsert inserts src and records its initial rollout as the first
// change.
func (s driver) SourceInsert(ctx context.Context, src *hookbridge.Source, creds []byte, actor string) error {
	const insertSource = `
		INSERT INTO sources (id, name, scheme, credentials, tolerance_ms, routing, rollout, stale_policy, reconcile_every_ms,
			created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertSource, src.ID, src.Name, src.Scheme, string(creds),
			src.Tolerance.Milliseconds(), jsonValue{src.Routing}, jsonValue{src.Rollout}, src.StalePolicy, src.ReconcileEvery.Milliseconds(),
			ms(src.CreatedAt), ms(src.UpdatedAt)); err != nil {
			return err
		}
		return insertRolloutChange(ctx, tx, src.ID, actor, hookbridge.Rollout{}, src.Rollout, src.CreatedAt)
	})
}

// insertRolloutChange appends one audit record.
func insertRolloutChange(ctx context.Context, tx *sql.Tx, sourceID, actor string, from, to hookbridge.Rollout, at time.Time) error {
	const insertChange = `
		INSERT INTO rollout_changes (id, source_id, actor, from_rollout, to_rollout, at)
		VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, insertChange, hookbridge.NewIDAt(hookbridge.PrefixRollout, at), sourceID, actor,
		jsonValue{from}, jsonValue{to}, ms(at)); err != nil {
		return fmt.Errorf("record rollout change: %w", err)
	}
	return nil
}

// SourceGet reads a source by id.
func (s driver) SourceGet(ctx context.Context, id string) (hookbridge.Source, error) {
	const getSource = `SELECT ` + storekit.SourceColumns + ` FROM sources WHERE id = ?`
	return scanSourceWith(s.keys, s.r.QueryRowContext(ctx, getSource, id))
}

// SourceUpdate writes the source's configuration, leaving its rollout.
func (s driver) SourceUpdate(ctx context.Context, src *hookbridge.Source, creds []byte, now time.Time) (int64, error) {
	const updateSource = `
		UPDATE sources SET name = ?, scheme = ?, credentials = ?, tolerance_ms = ?, routing = ?, stale_policy = ?,
			reconcile_every_ms = ?, updated_at = ?
		WHERE id = ?`
	return s.exec(ctx, updateSource, src.Name, src.Scheme, string(creds),
		src.Tolerance.Milliseconds(), jsonValue{src.Routing}, src.StalePolicy, src.ReconcileEvery.Milliseconds(), ms(now), src.ID)
}

// SourceSetRollout changes the source's rollout and audits the change, in
// one write transaction.
func (s driver) SourceSetRollout(ctx context.Context, id string, r hookbridge.Rollout, actor string, now time.Time) (hookbridge.Source, error) {
	const (
		getSource     = `SELECT ` + storekit.SourceColumns + ` FROM sources WHERE id = ?`
		updateRollout = `UPDATE sources SET rollout = ?, updated_at = ? WHERE id = ?`
	)
	return storekit.ReadModifyWrite(ctx, s.write, func(tx *sql.Tx) (hookbridge.Source, error) {
		return scanSourceWith(s.keys, tx.QueryRowContext(ctx, getSource, id))
	}, storekit.ChangeRollout(r, now), func(tx *sql.Tx, was hookbridge.Source, _ *hookbridge.Source) error {
		if _, err := tx.ExecContext(ctx, updateRollout, jsonValue{r}, ms(now), id); err != nil {
			return err
		}
		return insertRolloutChange(ctx, tx, id, actor, was.Rollout, r, now)
	})
}

// SourceDelete deletes the source; its events, rollout history and
// observations go with it (ON DELETE CASCADE).
func (s driver) SourceDelete(ctx context.Context, id string) (int64, error) {
	return s.exec(ctx, `DELETE FROM sources WHERE id = ?`, id)
}

// SourceList reads a page of sources by id.
func (s driver) SourceList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Source, error) {
	cond, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	query := `SELECT ` + storekit.SourceColumns + ` FROM sources WHERE ` + cond + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, query, append(args, limit+1), scanSource(s.keys))
}

// RolloutChangeList reads a page of a source's rollout changes by id.
func (s driver) RolloutChangeList(ctx context.Context, sourceID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.RolloutChange, error) {
	cond, args, orderBy := keyset("id", opt, hookbridge.OrderDescending)
	query := `SELECT id, source_id, actor, from_rollout, to_rollout, at FROM rollout_changes
		WHERE source_id = ? AND ` + cond + orderBy + ` LIMIT ?`
	var rows []hookbridge.RolloutChange
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, query, append(append([]any{sourceID}, args...), limit+1), func(r rowScanner) (hookbridge.RolloutChange, error) {
			var (
				c        hookbridge.RolloutChange
				from, to jsonObject
				at       int64
			)
			if err := r.Scan(&c.ID, &c.SourceID, &c.Actor, &from, &to, &at); err != nil {
				return c, err
			}
			c.At = fromMS(at)
			return c, errors.Join(from.decode(&c.From), to.decode(&c.To))
		})
		return err
	})
	return rows, err
}

// scanInbound reads storekit.InboundColumns.
func scanInbound(row rowScanner) (hookbridge.InboundEvent, error) {
	var (
		ev                          hookbridge.InboundEvent
		appID                       sql.NullString
		occurred, released, dropped sql.NullInt64
		received                    int64
	)
	if err := row.Scan(&ev.ID, &ev.SourceID, &ev.EventID, &ev.Type, &ev.Merchant, jsonScan{&ev.Headers}, &ev.Body,
		&ev.Note, &ev.Forward, &appID, jsonScan{&ev.MessageIDs}, &occurred, &received,
		jsonScan{&ev.Canonical}, jsonScan{&ev.Payments}, &ev.Stale, &ev.Held, &released, &ev.ReleasedBy, &dropped, &ev.Via); err != nil {
		return ev, err
	}
	ev.AppID = appID.String
	ev.OccurredAt, ev.ReceivedAt = fromNullMS(occurred), fromMS(received)
	ev.ReleasedAt, ev.BodyDroppedAt = fromNullMS(released), fromNullMS(dropped)
	return ev, nil
}

// InboundEventInsert stores ev unless its source already has its EventID.
// The unique index (source_id, event_id) decides, inside the one write
// transaction, so a concurrent repeat finds the first; the payments the
// event concerns are settled in that transaction, which the one writer
// runs alone.
func (s driver) InboundEventInsert(ctx context.Context, ev *hookbridge.InboundEvent, body []byte,
	settle func(hookbridge.StalePolicy, storekit.PaymentTx) error) (hookbridge.InboundEvent, bool, error) {
	const (
		getPolicy   = `SELECT stale_policy FROM sources WHERE id = ?`
		insertEvent = `
			INSERT INTO inbound_events (id, source_id, event_id, type, merchant, headers, body, note, forward, app_id, message_ids,
				occurred_at, received_at, canonical, payments, via)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source_id, event_id) DO NOTHING`
		settled  = `UPDATE inbound_events SET payments = ?, stale = ?, held = ?, forward = ?, note = ? WHERE id = ?`
		getEvent = `SELECT ` + storekit.InboundColumns + ` FROM inbound_events WHERE source_id = ? AND event_id = ?`
	)
	var (
		stored  hookbridge.InboundEvent
		created bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		created = false
		var policy hookbridge.StalePolicy
		if err := tx.QueryRowContext(ctx, getPolicy, ev.SourceID).Scan(&policy); err != nil {
			return storekit.Err(err, "source", nil, "read source")
		}
		res, err := tx.ExecContext(ctx, insertEvent, ev.ID, ev.SourceID, ev.EventID, ev.Type, ev.Merchant, jsonValue{ev.Headers},
			body, ev.Note, ev.Forward, nullString(ev.AppID), jsonValue{ev.MessageIDs}, msOrNull(ev.OccurredAt), ms(ev.ReceivedAt),
			jsonValue{ev.Canonical}, jsonValue{ev.Payments}, ev.Via)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			stored, err = scanInbound(tx.QueryRowContext(ctx, getEvent, ev.SourceID, ev.EventID))
			return err
		}
		created = true
		if settle == nil {
			return nil
		}
		if err := settle(policy, paymentTx{ctx, tx}); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, settled, jsonValue{ev.Payments}, ev.Stale, ev.Held, ev.Forward, ev.Note, ev.ID)
		return err
	})
	return stored, created, err
}

// paymentTx reads and writes payment states in a write transaction: the
// one writer is the lock.
type paymentTx struct {
	ctx context.Context
	tx  *sql.Tx
}

func (p paymentTx) LockPayment(sourceID, paymentID string) (hookbridge.PaymentState, error) {
	st, err := scanPayment(p.tx.QueryRowContext(p.ctx, `SELECT `+storekit.PaymentColumns+` FROM payment_states WHERE source_id = ? AND payment_id = ?`,
		sourceID, paymentID))
	if storekit.IsNoRows(err) {
		return hookbridge.PaymentState{}, nil
	}
	return st, err
}

func (p paymentTx) SavePayment(st hookbridge.PaymentState) error {
	const savePayment = `
		INSERT INTO payment_states (source_id, payment_id, status, sequence, amounts, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (source_id, payment_id) DO UPDATE SET
			status = excluded.status, sequence = excluded.sequence, amounts = excluded.amounts, updated_at = excluded.updated_at`
	_, err := p.tx.ExecContext(p.ctx, savePayment, st.SourceID, st.PaymentID, st.Status, st.Sequence, jsonValue{st}, ms(st.UpdatedAt))
	return err
}

// scanPayment reads storekit.PaymentColumns.
func scanPayment(row rowScanner) (hookbridge.PaymentState, error) {
	var (
		st      hookbridge.PaymentState
		amounts jsonObject
		updated int64
	)
	if err := row.Scan(&st.SourceID, &st.PaymentID, &st.Status, &st.Sequence, &amounts, &updated); err != nil {
		return st, err
	}
	if err := amounts.decode(&st); err != nil {
		return st, fmt.Errorf("payment %s: %w", st.PaymentID, err)
	}
	st.UpdatedAt = fromMS(updated)
	return st, nil
}

// PaymentStateGet reads the state of the source's payment.
func (s driver) PaymentStateGet(ctx context.Context, sourceID, paymentID string) (hookbridge.PaymentState, error) {
	return scanPayment(s.r.QueryRowContext(ctx, `SELECT `+storekit.PaymentColumns+` FROM payment_states WHERE source_id = ? AND payment_id = ?`,
		sourceID, paymentID))
}

// InboundEventGet reads the source's event with id.
func (s driver) InboundEventGet(ctx context.Context, sourceID, id string) (hookbridge.InboundEvent, error) {
	return scanInbound(s.r.QueryRowContext(ctx, `SELECT `+storekit.InboundColumns+` FROM inbound_events WHERE source_id = ? AND id = ?`, sourceID, id))
}

// InboundEventRelease reads the event and applies release to it in one
// write transaction.
func (s driver) InboundEventRelease(ctx context.Context, sourceID, id string, release func(*hookbridge.InboundEvent) (bool, error)) (hookbridge.InboundEvent, error) {
	const (
		getEvent   = `SELECT ` + storekit.InboundColumns + ` FROM inbound_events WHERE source_id = ? AND id = ?`
		setRelease = `UPDATE inbound_events SET held = ?, forward = ?, released_at = ?, released_by = ? WHERE id = ?`
	)
	return storekit.ReadModifyWrite(ctx, s.write, func(tx *sql.Tx) (hookbridge.InboundEvent, error) {
		return scanInbound(tx.QueryRowContext(ctx, getEvent, sourceID, id))
	}, release, func(tx *sql.Tx, _ hookbridge.InboundEvent, ev *hookbridge.InboundEvent) error {
		_, err := tx.ExecContext(ctx, setRelease, ev.Held, ev.Forward, msOrNull(ev.ReleasedAt), ev.ReleasedBy, ev.ID)
		return err
	})
}

// InboundEventSetMessages records the messages an event was forwarded as.
func (s driver) InboundEventSetMessages(ctx context.Context, sourceID, id string, msgIDs []string) (int64, error) {
	const setMessages = `UPDATE inbound_events SET message_ids = ? WHERE source_id = ? AND id = ?`
	return s.exec(ctx, setMessages, jsonValue{msgIDs}, sourceID, id)
}

// InboundEventList reads a page of a source's events by id; the held ones
// through their partial index.
func (s driver) InboundEventList(ctx context.Context, sourceID string, f hookbridge.InboundFilter, limit int) ([]hookbridge.InboundEvent, error) {
	cond, args, orderBy := keyset("id", f.ListOptions, hookbridge.OrderDescending)
	if f.Held {
		cond += " AND held"
	}
	query := `SELECT ` + storekit.InboundColumns + ` FROM inbound_events WHERE source_id = ? AND ` + cond + orderBy + ` LIMIT ?`
	var rows []hookbridge.InboundEvent
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, query, append(append([]any{sourceID}, args...), limit+1), scanInbound)
		return err
	})
	return rows, err
}

// InboundBodyPurge drops the bodies of up to limit events received before
// before, oldest first, through the partial index of kept bodies.
func (s driver) InboundBodyPurge(ctx context.Context, before time.Time, limit int, now time.Time) (int, error) {
	const dropBodies = `
		UPDATE inbound_events SET body = x'', body_dropped_at = ?
		WHERE id IN (
			SELECT id FROM inbound_events WHERE body_dropped_at IS NULL AND received_at < ?
			ORDER BY received_at LIMIT ?)`
	n, err := s.exec(ctx, dropBodies, ms(now), ms(before), limit)
	return int(n), err
}

// ObservationInsert stores what polling saw, keeping the first report of
// each event.
func (s driver) ObservationInsert(ctx context.Context, sourceID string, obs []hookbridge.Observation) (int, error) {
	const insertObservation = `
		INSERT INTO observations (source_id, event_id, occurred_at, seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (source_id, event_id) DO NOTHING`
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, insertObservation)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range obs {
			res, err := stmt.ExecContext(ctx, sourceID, o.EventID, msOrNull(storekit.TruncMS(o.OccurredAt)), ms(o.SeenAt))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

// ObservationCompare classifies the events either side saw in [since,
// until) by what each side saw of them at any time, and returns the
// webhook's lead for those both saw.
func (s driver) ObservationCompare(ctx context.Context, sourceID string, since, until time.Time) (hookbridge.Comparison, error) {
	// window is every event id either side saw in the window, each with
	// when the webhook first brought it (NULL if never) and when polling
	// saw it (NULL if never). A batch stores one row per event, so the
	// webhook side takes the earliest arrival per id.
	const window = `
		WITH ids AS (
			SELECT event_id FROM inbound_events WHERE source_id = ?1 AND received_at >= ?2 AND received_at < ?3
			UNION
			SELECT event_id FROM observations WHERE source_id = ?1 AND seen_at >= ?2 AND seen_at < ?3),
		seen AS (
			SELECT ids.event_id,
				(SELECT min(w.received_at) FROM inbound_events w
					WHERE w.source_id = ?1 AND w.event_id = ids.event_id AND w.via = 'webhook') AS webhook_at,
				(SELECT p.seen_at FROM observations p WHERE p.source_id = ?1 AND p.event_id = ids.event_id) AS polling_at,
				EXISTS (SELECT 1 FROM inbound_events b
					WHERE b.source_id = ?1 AND b.event_id = ids.event_id AND b.via = 'backfill') AS backfilled
			FROM ids)`
	const (
		counts = window + `
			SELECT count(webhook_at), count(polling_at),
				coalesce(sum(webhook_at IS NOT NULL AND polling_at IS NOT NULL), 0),
				coalesce(sum(webhook_at IS NOT NULL AND polling_at IS NULL), 0),
				coalesce(sum(webhook_at IS NULL AND polling_at IS NOT NULL), 0),
				coalesce(sum(backfilled AND webhook_at IS NULL), 0)
			FROM seen`
		leads = window + `
			SELECT polling_at - webhook_at AS lead FROM seen
			WHERE webhook_at IS NOT NULL AND polling_at IS NOT NULL ORDER BY lead`
	)
	var c hookbridge.Comparison
	args := []any{sourceID, ms(since), ms(until)}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := sourceExists(ctx, tx, sourceID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, counts, args...).Scan(&c.Webhook, &c.Polling, &c.Both, &c.WebhookOnly, &c.PollingOnly,
			&c.Backfilled); err != nil {
			return err
		}
		var err error
		c.Leads, err = collect(ctx, tx, leads, args, storekit.ScanMillis[rowScanner])
		return err
	})
	return c, err
}

// BackfillStateGet reads the source's backfill state; the zero state when
// it never ran, ENOTFOUND (no rows) when the source does not exist.
func (s driver) BackfillStateGet(ctx context.Context, sourceID string) (hookbridge.BackfillState, error) {
	const getState = `SELECT ` + storekit.BackfillStateColumns + `
		FROM sources s LEFT JOIN source_backfill b ON b.source_id = s.id WHERE s.id = ?`
	return storekit.ScanBackfillState(s.r.QueryRowContext(ctx, getState, sourceID), fromNullMS)
}

// BackfillRunAdd adds a run to the source's backfill state.
func (s driver) BackfillRunAdd(ctx context.Context, st *hookbridge.BackfillState) error {
	const putState = `
		INSERT INTO source_backfill (source_id, high_water, last_run_at, last_success_at, last_error, runs, failures,
			fetched, backfilled, duplicates, requests)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source_id) DO UPDATE SET
			high_water = max(coalesce(high_water, excluded.high_water), coalesce(excluded.high_water, high_water)),
			last_run_at = excluded.last_run_at, last_success_at = coalesce(excluded.last_success_at, last_success_at),
			last_error = excluded.last_error, runs = runs + excluded.runs, failures = failures + excluded.failures,
			fetched = fetched + excluded.fetched, backfilled = backfilled + excluded.backfilled,
			duplicates = duplicates + excluded.duplicates, requests = requests + excluded.requests`
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := sourceExists(ctx, tx, st.SourceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, putState, st.SourceID, msOrNull(st.HighWater), msOrNull(st.LastRunAt), msOrNull(st.LastSuccessAt),
			st.LastError, st.Runs, st.Failures, st.Fetched, st.Backfilled, st.Duplicates, st.Requests)
		return err
	})
}
