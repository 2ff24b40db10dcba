package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// messageColumns is the column list scanMessage reads. Queries alias
// messages as m.
const messageColumns = `m.id, m.app_id, m.event_id, m.event_type, m.payload, m.channels, m.created_at, m.trace_parent`

// latestDelivery is the condition that makes d the latest delivery of its
// message to its endpoint: the status of a message at an endpoint is that of
// its latest delivery there (see hookbridge.Delivery). Delivery ids sort by
// creation, and deliveries_msg_endpoint answers the max from the index.
const latestDelivery = `d.id = (SELECT max(l.id) FROM deliveries l WHERE l.msg_id = d.msg_id AND l.endpoint_id = d.endpoint_id)`

func scanMessage(row rowScanner) (hookbridge.Message, error) { return scanMessageAnd(row) }

// scanMessageAnd scans messageColumns followed by the columns in extra.
func scanMessageAnd(row rowScanner, extra ...any) (hookbridge.Message, error) {
	var (
		m       hookbridge.Message
		eventID sql.NullString
		payload []byte
		created int64
		trace   sql.NullString
	)
	dest := append([]any{&m.ID, &m.AppID, &eventID, &m.EventType, &payload, jsonScan{&m.Channels}, &created, &trace}, extra...)
	if err := row.Scan(dest...); err != nil {
		return m, err
	}
	m.EventID = eventID.String
	m.TraceParent = trace.String
	m.Payload = payload // database/sql copies []byte destinations, so this is ours
	m.CreatedAt = fromMS(created)
	return m, nil
}

// filter collects the AND-ed conditions of a WHERE clause with their
// arguments, in order.
type filter struct {
	conds []string
	args  []any
}

func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return "1"
	}
	return strings.Join(f.conds, " AND ")
}

// messageFilter adds the conditions shared by the message, endpoint-message
// and attempt lists on the message m and on a time column.
func (f *filter) messageFilter(eventTypes []string, channel string, timeCol string, before, after time.Time) {
	if len(eventTypes) > 0 {
		f.add(`m.event_type IN (SELECT value FROM json_each(?))`, jsonList(eventTypes))
	}
	if channel != "" {
		f.add(`EXISTS (SELECT 1 FROM json_each(m.channels) WHERE value = ?)`, channel)
	}
	if !before.IsZero() {
		f.add(timeCol+` < ?`, ms(before))
	}
	if !after.IsZero() {
		f.add(timeCol+` > ?`, ms(after))
	}
}

// MessageCreate stores msg and fans it out, in one write transaction: one
// pending scheduled delivery, due at msg.CreatedAt, per endpoint of the
// application it is owed to (storekit.Fan). With an EventID the application already
// used, nothing is written and the stored message is returned with created
// == false.
func (s driver) MessageCreate(ctx context.Context, msg *hookbridge.Message) (*hookbridge.Message, bool, error) {
	return s.createMessage(ctx, msg, "")
}

// MessageCreateTo stores msg with one delivery, to the given endpoint only.
func (s driver) MessageCreateTo(ctx context.Context, msg *hookbridge.Message, endpointID string) error {
	_, _, err := s.createMessage(ctx, msg, endpointID)
	return err
}

// MessageCreateBatch stores msgs in one write transaction, each as
// MessageCreate would; one commit (one fsync) covers them all. A message
// whose application does not exist gets that error in its result and the
// others are stored.
func (s driver) MessageCreateBatch(ctx context.Context, msgs []*hookbridge.Message) ([]hookbridge.CreateResult, error) {
	results := make([]hookbridge.CreateResult, len(msgs))
	err := s.writeGrouped(ctx, func(ctx context.Context, tx *writeTx) error {
		fw := s.fanOut(tx)
		fw.buffered = true // rows inserted in chunks, by flush
		defer fw.unbuffer()
		for i, msg := range msgs {
			stored, created, err := fw.create(ctx, msg, "")
			if err != nil && hookbridge.ErrorCode(err) != hookbridge.ENOTFOUND {
				return err
			}
			results[i] = hookbridge.CreateResult{Message: stored, Created: created, Err: err}
		}
		return fw.flush(ctx)
	})
	if isUniqueViolation(err) {
		return nil, hookbridge.Errorf(hookbridge.ECONFLICT, "a message id in the batch already exists")
	}
	if err != nil {
		return nil, fmt.Errorf("create messages: %w", err)
	}
	return results, nil
}

// createMessage is CreateMessage, or with only set CreateMessageTo. It
// shares its transaction with other writes waiting at the same time (group
// commit), and returns once that transaction has committed.
func (s *Store) createMessage(ctx context.Context, msg *hookbridge.Message, only string) (*hookbridge.Message, bool, error) {
	var (
		stored  *hookbridge.Message
		created bool
	)
	// It may keep its rows behind the log (kept.go): it reads no row that
	// could be kept (an event id is looked up among messages, and a message
	// with one is never kept).
	err := s.writeGroupedAs(ctx, rowsMayKeep, nil, func(ctx context.Context, tx *writeTx) error {
		var err error
		stored, created, err = s.fanOut(tx).create(ctx, msg, only)
		return err
	})
	if isUniqueViolation(err) || errors.Is(err, errMessageIDTaken) {
		// Only the message id can collide here: the event id was checked
		// in the same transaction.
		return nil, false, hookbridge.Errorf(hookbridge.ECONFLICT, "a message with id %q already exists", msg.ID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create message: %w", err)
	}
	return stored, created, nil
}

// Statements of the fan-out, prepared on the writer connection (see
// statements.go).
const (
	// messageByEventID uses messages_app_event_id.
	messageByEventID = `SELECT ` + messageColumns + ` FROM messages m WHERE m.app_id = ? AND m.event_id = ?`
	insertMessage    = `
		INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, trace_parent, deliver_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// insertDelivery writes a new delivery, leased (?10, ?11) when it is
	// handed over (see hookbridge.Handoff), else with NULLs there.
	insertDelivery = `
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at,
			lease_owner, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`
	// fanOutApplication reads whether the application exists and its rate
	// limit, which holds back every endpoint of it.
	fanOutApplication = `SELECT rate_limit IS NOT NULL FROM applications WHERE id = ?`
	// selectSubscriptions reads the application's endpoints whole, by
	// endpoints_app_id: what storekit.Fan needs (their filters included),
	// and what a claim handed over carries.
	selectSubscriptions = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ? ORDER BY e.id`
)

// insertMessages and insertDeliveries are insertMessage and insertDelivery
// for insertChunk rows at once (fanOut.buffered).
var (
	insertMessages   = insertMessage + strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?, ?)`, insertChunk-1)
	insertDeliveries = insertDelivery + strings.Repeat(`, (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`, insertChunk-1)
)

// fanOut writes messages and their deliveries inside one write transaction,
// using what the writer remembers of each application (that it exists, its
// rate limit, its endpoints; see writer.subs), so that an application is
// read once, not once per message.
type fanOut struct {
	tx   *writeTx
	kit  *storekit.Store // decides which endpoints a message is owed to
	now  func() time.Time
	subs map[string]subscriptions // by app id; a missing app is not cached (the writer's, see writer.subs)

	// buffered makes create keep the rows it writes, for flush to insert
	// insertChunk at a time; msgRows and delRows hold their arguments. A
	// batch write (MessageCreateBatch) sets it, and flushes before it
	// returns and before anything reads messages back (an event id's
	// lookup). Other writes insert row by row.
	buffered         bool
	msgRows, delRows []any

	// planned holds the arguments of an unbuffered message's delivery
	// rows (deliveryArgs each) while create decides where they go: into
	// deliveries, or behind the log.
	planned []any
}

// insertChunk is how many rows a buffered fan-out inserts per statement.
// A statement's own cost (binding aside: cursors opened and closed, the
// VDBE's setup, database/sql's locking and argument checks) was a third
// of a row insert's; 16 rows share it, and 50 measured no better
// (docs/benchmarks.md, (s)).
const insertChunk = 16

const (
	messageArgs  = 9  // per row of insertMessage
	deliveryArgs = 11 // per row of insertDelivery
)

// unbuffer ends buffering, dropping the rows a failed write left behind:
// the fan-out is shared by the group's writes, and the next one must not
// insert them.
func (f *fanOut) unbuffer() {
	f.buffered = false
	f.dropRows()
}

// dropRows empties the kept rows, letting their payloads go.
func (f *fanOut) dropRows() {
	clear(f.msgRows)
	clear(f.delRows)
	f.msgRows, f.delRows = f.msgRows[:0], f.delRows[:0]
}

// flush inserts the rows create kept: whole chunks with insertMessages and
// insertDeliveries, the rest one at a time. A message's row goes in before
// its deliveries' (their foreign key).
func (f *fanOut) flush(ctx context.Context) error {
	if err := f.insertRows(ctx, f.msgRows, messageArgs, stmtInsertMessages, stmtInsertMessage); err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	if err := f.insertRows(ctx, f.delRows, deliveryArgs, stmtInsertDeliveries, stmtInsertDelivery); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	f.dropRows()
	return nil
}

// insertRows inserts the rows whose arguments, perRow each, args holds in
// order: insertChunk at a time with the statement chunk, the rest one at a
// time with one.
func (f *fanOut) insertRows(ctx context.Context, args []any, perRow int, chunk, one stmtID) error {
	for len(args) >= insertChunk*perRow {
		if _, err := f.tx.Stmt(ctx, chunk).ExecContext(ctx, args[:insertChunk*perRow]...); err != nil {
			return err
		}
		args = args[insertChunk*perRow:]
	}
	for ; len(args) > 0; args = args[perRow:] {
		if _, err := f.tx.Stmt(ctx, one).ExecContext(ctx, args[:perRow]...); err != nil {
			return err
		}
	}
	return nil
}

// subscriptions is what the fan-out read about an application.
type subscriptions struct {
	endpoints   []hookbridge.Endpoint
	rateLimited bool // the application's rate limit holds back all of them
}

// fanOut returns the fan-out state of tx, shared by the writes of its group.
func (s *Store) fanOut(tx *writeTx) *fanOut {
	if tx.fan == nil {
		tx.fan = &fanOut{tx: tx, kit: s.Store, now: s.now, subs: tx.subs}
	}
	return tx.fan
}

// create stores msg and its deliveries: to every endpoint it is owed to
// (storekit.Fan: the endpoint Accepts it and its filter matches), or with
// only set to that endpoint alone (then the event id is not looked
// up). A repeated event id returns the stored message and created == false.
func (f *fanOut) create(ctx context.Context, msg *hookbridge.Message, only string) (*hookbridge.Message, bool, error) {
	now := storekit.TruncMS(f.now())

	subs, err := f.subscriptions(ctx, msg.AppID)
	if err != nil {
		return nil, false, err
	}
	endpoints := subs.endpoints
	if msg.EventID != "" && only == "" {
		if err := f.flush(ctx); err != nil { // the batch's earlier messages may hold the event id
			return nil, false, err
		}
		m, err := scanMessage(f.tx.Stmt(ctx, stmtMessageByEventID).QueryRowContext(ctx, msg.AppID, msg.EventID))
		if err == nil {
			return &m, false, nil
		}
		if !storekit.IsNoRows(err) {
			return nil, false, fmt.Errorf("look up event id: %w", err)
		}
	}
	if only != "" && !slices.ContainsFunc(endpoints, func(e hookbridge.Endpoint) bool { return e.ID == only }) {
		return nil, false, hookbridge.NotFound("endpoint")
	}
	if err := f.noteMessage(ctx, msg.ID); err != nil {
		return nil, false, err
	}
	msgRow := []any{msg.ID, msg.AppID, nullString(msg.EventID), msg.EventType,
		[]byte(msg.Payload), jsonValue{msg.Channels}, ms(msg.CreatedAt), nullString(msg.TraceParent), nullDeliverAt(msg)}
	// Kept behind the log (kept.go) if the group may keep rows, the
	// message has no event id (a later one's lookup must find it), and
	// every delivery is handed over.
	keep := f.tx.keep && !f.buffered && msg.EventID == ""
	clear(f.planned)
	f.planned = f.planned[:0]
	var (
		handoff    = f.tx.handoff
		owner      string
		leaseUntil time.Time
		due        = !storekit.DueAt(msg).After(now)
		fan        = f.kit.Fan(msg, only)
	)
	for i := range endpoints {
		e := &endpoints[i]
		if !fan.Owed(e) {
			continue
		}
		d := storekit.ScheduledDelivery(msg, e.ID, now)
		// Handed over only if nothing would hold it back in a claim
		// (gatedEndpoints) and the dispatcher has room for it.
		offer := handoff != nil && storekit.MayHandOver(e, due, subs.rateLimited)
		handed := offer && handoff.Reserve(e.ID)
		var leaseOwner sql.NullString
		var leaseEnd sql.NullInt64
		switch {
		case handed:
			if owner == "" {
				owner, leaseUntil = handoff.Lease(now)
				leaseUntil = storekit.TruncMS(leaseUntil)
			}
			leaseOwner = sql.NullString{String: owner, Valid: true}
			leaseEnd = sql.NullInt64{Int64: ms(leaseUntil), Valid: true}
			// Recorded at once: if anything below fails, the writer
			// cancels what its write reserved.
			f.tx.handed = append(f.tx.handed, hookbridge.Claim{Delivery: d, Message: *msg, Endpoint: *e, LeaseUntil: leaseUntil})
		case offer:
			f.tx.refused = true
		case handoff != nil:
			f.tx.missed = true
		}
		keep = keep && handed
		row := []any{d.ID, d.AppID, d.MsgID, d.EndpointID, d.Status, d.Trigger, ms(d.NextAttempt), ms(now), ms(now), leaseOwner, leaseEnd}
		if f.buffered {
			f.delRows = append(f.delRows, row...)
		} else {
			f.planned = append(f.planned, row...)
		}
	}
	if keep && len(f.planned) > 0 {
		if err := f.logMessage(ctx, msgRow, f.planned); err != nil {
			return nil, false, err
		}
		return msg, true, nil
	}
	if f.buffered {
		// flush inserts every message of the batch before its deliveries.
		f.msgRows = append(f.msgRows, msgRow...)
		return msg, true, nil
	}
	if _, err := f.tx.Stmt(ctx, stmtInsertMessage).ExecContext(ctx, msgRow...); err != nil {
		return nil, false, fmt.Errorf("insert message: %w", err)
	}
	if err := f.insertRows(ctx, f.planned, deliveryArgs, stmtInsertDeliveries, stmtInsertDelivery); err != nil {
		return nil, false, fmt.Errorf("insert delivery: %w", err)
	}
	return msg, true, nil
}

// subscriptions returns the application's endpoints (storekit.Fan decides
// which get a message: the matching rule is written once, above the driver)
// and whether its rate limit holds them back, or ENOTFOUND if the
// application does not exist.
func (f *fanOut) subscriptions(ctx context.Context, appID string) (subscriptions, error) {
	if subs, ok := f.subs[appID]; ok {
		return subs, nil
	}
	var subs subscriptions
	err := f.tx.Stmt(ctx, stmtFanOutApplication).QueryRowContext(ctx, appID).Scan(&subs.rateLimited)
	if err != nil {
		return subs, storekit.Err(err, "application", nil, "look up application")
	}
	rows, err := f.tx.Stmt(ctx, stmtSubscriptions).QueryContext(ctx, appID)
	if subs.endpoints, err = scanRows(rows, err, scanEndpoint(f.tx.keys)); err != nil {
		return subs, fmt.Errorf("read subscriptions: %w", err)
	}
	if len(f.subs) >= storekit.MaxCachedApps {
		clear(f.subs)
	}
	f.subs[appID] = subs
	return subs, nil
}

// MessageGet reads the application's message with id (byID) or event id
// key; each query uses a unique index: the primary key, or
// messages_app_event_id.
func (s driver) MessageGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Message, error) {
	getMessage := `SELECT ` + messageColumns + ` FROM messages m WHERE m.app_id = ? AND m.event_id = ?`
	if byID {
		getMessage = `SELECT ` + messageColumns + ` FROM messages m WHERE m.app_id = ? AND m.id = ?`
	}
	var m hookbridge.Message
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		m, err = scanMessage(tx.QueryRowContext(ctx, getMessage, appID, key))
		return err
	})
	return m, err
}

// MessageList reads a page of the application's messages by id.
func (s driver) MessageList(ctx context.Context, appID string, f hookbridge.MessageFilter, limit int) ([]hookbridge.Message, error) {
	var w filter
	w.add(`m.app_id = ?`, appID)
	w.messageFilter(f.EventTypes, f.Channel, "m.created_at", f.Before, f.After)
	cond, args, orderBy := keyset("m.id", f.ListOptions, hookbridge.OrderDescending)
	w.add(cond, args...)
	// listMessages walks messages_app_id and filters on the way.
	listMessages := `SELECT ` + messageColumns + ` FROM messages m WHERE ` + w.where() + orderBy + ` LIMIT ?`
	var msgs []hookbridge.Message
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		msgs, err = collect(ctx, tx, listMessages, append(w.args, limit+1), scanMessage)
		return err
	})
	return msgs, err
}

// nullDeliverAt is the deliver_at of a new message: NULL unless it is
// scheduled.
func nullDeliverAt(msg *hookbridge.Message) sql.NullInt64 {
	at, ok := storekit.Scheduled(msg)
	return sql.NullInt64{Int64: ms(at), Valid: ok}
}

// deliveryStatus is the status of the delivery d as the store gives it:
// a cancelled one is stored as failed (final) with its canceled_at, and
// given as hookbridge.StatusCanceled.
const deliveryStatus = `CASE WHEN d.canceled_at IS NULL THEN d.status ELSE 4 END`

// scheduledDelivery is the condition on d of a delivery still waiting for
// its message's deliverAt: pending, untried, by the schedule.
const scheduledDelivery = `d.status = 1 AND d.trigger = 0 AND d.attempts = 0`

// MessageScheduledList reads a page of the application's scheduled
// messages not gone out, by id, with their deliverAt.
func (s driver) MessageScheduledList(ctx context.Context, appID string, now time.Time, opt hookbridge.ListOptions, limit int) ([]hookbridge.Message, error) {
	cond, args, orderBy := keyset("m.id", opt, hookbridge.OrderDescending)
	// listScheduled walks messages_app_scheduled, and each message's
	// deliveries by deliveries_msg_endpoint.
	listScheduled := `SELECT ` + messageColumns + `, m.deliver_at FROM messages m
		WHERE m.app_id = ? AND m.deliver_at IS NOT NULL AND m.deliver_at > ?
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND ` + scheduledDelivery + `)
		AND ` + cond + orderBy + ` LIMIT ?`
	args = append([]any{appID, ms(now)}, args...)
	var msgs []hookbridge.Message
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) (err error) {
		msgs, err = collect(ctx, tx, listScheduled, append(args, limit+1), func(r rowScanner) (hookbridge.Message, error) {
			var at int64
			m, err := scanMessageAnd(r, &at)
			m.DeliverAt = fromMS(at)
			return m, err
		})
		return err
	})
	return msgs, err
}

// MessageCancel cancels the scheduled message's deliveries that wait for
// its deliverAt and are not leased at now.
func (s driver) MessageCancel(ctx context.Context, appID, msgID string, now time.Time) (scheduled bool, canceled int64, err error) {
	const cancelScheduled = `
		UPDATE deliveries AS d
		SET status = 2, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?3, canceled_at = ?3
		WHERE d.msg_id = ?1 AND d.app_id = ?2 AND ` + scheduledDelivery + `
		AND (d.lease_until IS NULL OR d.lease_until <= ?3)`
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT deliver_at IS NOT NULL FROM messages WHERE app_id = ? AND id = ?`, appID, msgID).Scan(&scheduled)
		if err != nil || !scheduled {
			return err
		}
		res, err := tx.ExecContext(ctx, cancelScheduled, msgID, appID, ms(now))
		if err != nil {
			return err
		}
		canceled, err = res.RowsAffected()
		return err
	})
	return scheduled, canceled, err
}

// MessageExpunge deletes the payload of a message, keeping the row.
func (s driver) MessageExpunge(ctx context.Context, appID, msgID string) (int64, error) {
	return s.exec(ctx, `UPDATE messages SET payload = NULL WHERE app_id = ? AND id = ?`, appID, msgID)
}

// MessageEndpointList reads a page of the endpoints the message was owed
// to, with the state of its latest delivery there, by endpoint id.
func (s driver) MessageEndpointList(ctx context.Context, appID, msgID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.MessageEndpoint, error) {
	cond, args, orderBy := keyset("d.endpoint_id", opt, hookbridge.OrderAscending)
	// listMessageEndpoints walks deliveries_msg_endpoint for the message.
	listMessageEndpoints := `
		SELECT ` + endpointColumns + `, ` + deliveryStatus + `, d.next_attempt_at
		FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.msg_id = ? AND d.app_id = ? AND ` + latestDelivery + ` AND ` + cond + orderBy + ` LIMIT ?`
	args = append([]any{msgID, appID}, args...)
	var rows []hookbridge.MessageEndpoint
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) error {
		if err := messageExists(ctx, tx, appID, msgID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, listMessageEndpoints, append(args, limit+1), func(r rowScanner) (hookbridge.MessageEndpoint, error) {
			var (
				me   hookbridge.MessageEndpoint
				next sql.NullInt64
			)
			e, err := scanEndpoint(s.keys)(scanWith{r, []any{&me.Status, &next}})
			me.Endpoint, me.NextAttempt = e, fromNullMS(next)
			return me, err
		})
		return err
	})
	return rows, err
}

// scanWith appends destinations to every Scan, so that an entity's scan
// function can read a row that carries a few more columns after it.
type scanWith struct {
	r     rowScanner
	extra []any
}

func (s scanWith) Scan(dest ...any) error { return s.r.Scan(append(dest, s.extra...)...) }

// EndpointMessageList reads a page of the messages owed to the endpoint,
// with the state of their latest delivery there, by message id.
func (s driver) EndpointMessageList(ctx context.Context, appID, endpointID string, f hookbridge.EndpointMessageFilter, limit int) ([]hookbridge.EndpointMessage, error) {
	var w filter
	w.add(`d.endpoint_id = ? AND d.app_id = ?`, endpointID, appID)
	w.add(latestDelivery)
	if f.Status != nil {
		w.add(`d.status = ?`, int(*f.Status)) // a cancelled one is stored failed
	}
	w.messageFilter(f.EventTypes, f.Channel, "m.created_at", f.Before, f.After)
	cond, args, orderBy := keyset("d.msg_id", f.ListOptions, hookbridge.OrderDescending)
	w.add(cond, args...)
	// listEndpointMessages walks deliveries_endpoint_msg in message order.
	listEndpointMessages := `
		SELECT ` + messageColumns + `, ` + deliveryStatus + `, d.next_attempt_at
		FROM deliveries d JOIN messages m ON m.id = d.msg_id
		WHERE ` + w.where() + orderBy + ` LIMIT ?`
	var rows []hookbridge.EndpointMessage
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) error {
		if err := endpointExists(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, listEndpointMessages, append(w.args, limit+1), func(r rowScanner) (hookbridge.EndpointMessage, error) {
			var (
				em   hookbridge.EndpointMessage
				next sql.NullInt64
			)
			m, err := scanMessageAnd(r, &em.Status, &next)
			em.Message, em.NextAttempt = m, fromNullMS(next)
			return em, err
		})
		return err
	})
	return rows, err
}

// EndpointStatusCounts counts the messages owed to the endpoint, created
// in [since, until) (a zero bound is no bound), by the status of their
// latest delivery.
func (s driver) EndpointStatusCounts(ctx context.Context, appID, endpointID string, since, until time.Time) ([]storekit.StatusCount, error) {
	var w filter
	w.add(`d.endpoint_id = ? AND d.app_id = ?`, endpointID, appID)
	w.add(latestDelivery)
	storekit.Bounds(since, until, func(op string, t time.Time) {
		w.add(`m.created_at `+op+` ?`, ms(t))
	})
	// endpointStats walks deliveries_endpoint_msg for the endpoint.
	endpointStats := `
		SELECT ` + deliveryStatus + `, count(*)
		FROM deliveries d JOIN messages m ON m.id = d.msg_id
		WHERE ` + w.where() + `
		GROUP BY 1`
	var counts []storekit.StatusCount
	err := s.readSettled(ctx, appID, func(tx *sql.Tx) error {
		if err := endpointExists(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		var err error
		counts, err = collect(ctx, tx, endpointStats, w.args, func(r rowScanner) (storekit.StatusCount, error) {
			var c storekit.StatusCount
			return c, r.Scan(&c.Status, &c.N)
		})
		return err
	})
	return counts, err
}
