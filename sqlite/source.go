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

// sourceColumns is the column list scanSource reads.
const sourceColumns = `id, name, scheme, credentials, tolerance_ms, routing, rollout, created_at, updated_at`

// scanSource returns the scanner of sourceColumns that opens the
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
		created, updated int64
	)
	if err := row.Scan(&src.ID, &src.Name, &src.Scheme, &creds, &tolerance, &routing, &rollout, &created, &updated); err != nil {
		return src, err
	}
	if err := keys.OpenJSON(creds, src.ID, &src.Credentials); err != nil {
		return src, fmt.Errorf("source %s: credentials: %w", src.ID, err)
	}
	if err := errors.Join(routing.decode(&src.Routing), rollout.decode(&src.Rollout)); err != nil {
		return src, fmt.Errorf("source %s: %w", src.ID, err)
	}
	src.Tolerance = time.Duration(tolerance) * time.Millisecond
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
		INSERT INTO sources (id, name, scheme, credentials, tolerance_ms, routing, rollout, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertSource, src.ID, src.Name, src.Scheme, string(creds),
			src.Tolerance.Milliseconds(), jsonValue{src.Routing}, jsonValue{src.Rollout}, ms(src.CreatedAt), ms(src.UpdatedAt)); err != nil {
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
	const getSource = `SELECT ` + sourceColumns + ` FROM sources WHERE id = ?`
	return scanSourceWith(s.keys, s.r.QueryRowContext(ctx, getSource, id))
}

// SourceUpdate writes the source's configuration, leaving its rollout.
func (s driver) SourceUpdate(ctx context.Context, src *hookbridge.Source, creds []byte, now time.Time) (int64, error) {
	const updateSource = `
		UPDATE sources SET name = ?, scheme = ?, credentials = ?, tolerance_ms = ?, routing = ?, updated_at = ?
		WHERE id = ?`
	return s.exec(ctx, updateSource, src.Name, src.Scheme, string(creds),
		src.Tolerance.Milliseconds(), jsonValue{src.Routing}, ms(now), src.ID)
}

// SourceSetRollout changes the source's rollout and audits the change, in
// one write transaction.
func (s driver) SourceSetRollout(ctx context.Context, id string, r hookbridge.Rollout, actor string, now time.Time) (hookbridge.Source, error) {
	const (
		getSource     = `SELECT ` + sourceColumns + ` FROM sources WHERE id = ?`
		updateRollout = `UPDATE sources SET rollout = ?, updated_at = ? WHERE id = ?`
	)
	var src hookbridge.Source
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if src, err = scanSourceWith(s.keys, tx.QueryRowContext(ctx, getSource, id)); err != nil {
			return err
		}
		return storekit.ChangeRollout(&src, r, now, func(from hookbridge.Rollout) error {
			if _, err := tx.ExecContext(ctx, updateRollout, jsonValue{r}, ms(now), id); err != nil {
				return err
			}
			return insertRolloutChange(ctx, tx, id, actor, from, r, now)
		})
	})
	return src, err
}

// SourceDelete deletes the source; its events, rollout history and
// observations go with it (ON DELETE CASCADE).
func (s driver) SourceDelete(ctx context.Context, id string) (int64, error) {
	return s.exec(ctx, `DELETE FROM sources WHERE id = ?`, id)
}

// SourceList reads a page of sources by id.
func (s driver) SourceList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Source, error) {
	cond, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	query := `SELECT ` + sourceColumns + ` FROM sources WHERE ` + cond + orderBy + ` LIMIT ?`
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

// inboundColumns is the column list scanInbound reads.
const inboundColumns = `id, source_id, event_id, type, merchant, headers, body, note, forward, app_id, message_ids, occurred_at, received_at`

func scanInbound(row rowScanner) (hookbridge.InboundEvent, error) {
	var (
		ev       hookbridge.InboundEvent
		appID    sql.NullString
		occurred sql.NullInt64
		received int64
	)
	if err := row.Scan(&ev.ID, &ev.SourceID, &ev.EventID, &ev.Type, &ev.Merchant, jsonScan{&ev.Headers}, &ev.Body,
		&ev.Note, &ev.Forward, &appID, jsonScan{&ev.MessageIDs}, &occurred, &received); err != nil {
		return ev, err
	}
	ev.AppID = appID.String
	ev.OccurredAt, ev.ReceivedAt = fromNullMS(occurred), fromMS(received)
	return ev, nil
}

// InboundEventInsert stores ev unless its source already has its EventID.
// The unique index (source_id, event_id) decides, inside the one write
// transaction, so a concurrent repeat finds the first.
func (s driver) InboundEventInsert(ctx context.Context, ev *hookbridge.InboundEvent) (hookbridge.InboundEvent, bool, error) {
	const (
		insertEvent = `
			INSERT INTO inbound_events (id, source_id, event_id, type, merchant, headers, body, note, forward, app_id, message_ids, occurred_at, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source_id, event_id) DO NOTHING`
		getEvent = `SELECT ` + inboundColumns + ` FROM inbound_events WHERE source_id = ? AND event_id = ?`
	)
	var (
		stored  hookbridge.InboundEvent
		created bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := sourceExists(ctx, tx, ev.SourceID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, insertEvent, ev.ID, ev.SourceID, ev.EventID, ev.Type, ev.Merchant, jsonValue{ev.Headers},
			ev.Body, ev.Note, ev.Forward, nullString(ev.AppID), jsonValue{ev.MessageIDs}, msOrNull(ev.OccurredAt), ms(ev.ReceivedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			created = true
			return nil
		}
		stored, err = scanInbound(tx.QueryRowContext(ctx, getEvent, ev.SourceID, ev.EventID))
		return err
	})
	return stored, created, err
}

// InboundEventSetMessages records the messages an event was forwarded as.
func (s driver) InboundEventSetMessages(ctx context.Context, sourceID, id string, msgIDs []string) (int64, error) {
	const setMessages = `UPDATE inbound_events SET message_ids = ? WHERE source_id = ? AND id = ?`
	return s.exec(ctx, setMessages, jsonValue{msgIDs}, sourceID, id)
}

// InboundEventList reads a page of a source's events by id.
func (s driver) InboundEventList(ctx context.Context, sourceID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.InboundEvent, error) {
	cond, args, orderBy := keyset("id", opt, hookbridge.OrderDescending)
	query := `SELECT ` + inboundColumns + ` FROM inbound_events WHERE source_id = ? AND ` + cond + orderBy + ` LIMIT ?`
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
				(SELECT min(w.received_at) FROM inbound_events w WHERE w.source_id = ?1 AND w.event_id = ids.event_id) AS webhook_at,
				(SELECT p.seen_at FROM observations p WHERE p.source_id = ?1 AND p.event_id = ids.event_id) AS polling_at
			FROM ids)`
	const (
		counts = window + `
			SELECT count(webhook_at), count(polling_at),
				coalesce(sum(webhook_at IS NOT NULL AND polling_at IS NOT NULL), 0),
				coalesce(sum(webhook_at IS NOT NULL AND polling_at IS NULL), 0),
				coalesce(sum(webhook_at IS NULL AND polling_at IS NOT NULL), 0)
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
		if err := tx.QueryRowContext(ctx, counts, args...).Scan(&c.Webhook, &c.Polling, &c.Both, &c.WebhookOnly, &c.PollingOnly); err != nil {
			return err
		}
		var err error
		c.Leads, err = collect(ctx, tx, leads, args, func(r rowScanner) (time.Duration, error) {
			var msLead int64
			err := r.Scan(&msLead)
			return time.Duration(msLead) * time.Millisecond, err
		})
		return err
	})
	return c, err
}
