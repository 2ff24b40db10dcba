package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// messageColumns is the column list scanMessage reads. Queries alias
// messages as m.
const messageColumns = `m.id, m.app_id, m.event_id, m.event_type, m.payload, m.channels, m.created_at, m.trace_parent`

// latestDelivery is the condition that makes d the latest delivery of its
// message to its endpoint (the greatest created_at, then id; see
// hookbridge.Store): the status of a message at an endpoint is that of its
// latest delivery there. deliveries_msg_endpoint answers it from the index.
const latestDelivery = `NOT EXISTS (
	SELECT 1 FROM deliveries l
	WHERE l.msg_id = d.msg_id AND l.endpoint_id = d.endpoint_id AND (l.created_at, l.id) > (d.created_at, d.id))`

// scanMessage reads messageColumns followed by the columns in extra.
func scanMessage(row pgx.Row, extra ...any) (hookbridge.Message, error) {
	var m hookbridge.Message
	dest, done := messageDest(&m)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return m, err
	}
	done()
	return m, nil
}

// messageDest returns the scan destinations of messageColumns for m, and
// the function that completes m once they are scanned.
func messageDest(m *hookbridge.Message) (dest []any, done func()) {
	var (
		eventID, trace *string
		payload        []byte
	)
	return []any{&m.ID, &m.AppID, &eventID, &m.EventType, &payload, &m.Channels, &m.CreatedAt, &trace}, func() {
		m.EventID, m.TraceParent = fromNullString(eventID), fromNullString(trace)
		if payload != nil {
			m.Payload = json.RawMessage(payload)
		}
		m.CreatedAt = m.CreatedAt.UTC()
	}
}

// MessageCreate stores msg and fans it out in one transaction: one pending
// scheduled delivery, due at msg.CreatedAt, per endpoint of the application
// it is owed to (storekit.Fan). With an EventID the application already used, nothing is
// written and the stored message is returned with created == false. The
// message is written together with the others that wait at the same time
// (group commit, group.go).
func (s driver) MessageCreate(ctx context.Context, msg *hookbridge.Message) (*hookbridge.Message, bool, error) {
	r, err := s.ingest.submit(ctx, msg)
	if err != nil {
		return nil, false, fmt.Errorf("create message: %w", err)
	}
	if r.Err != nil {
		return nil, false, r.Err
	}
	return r.Message, r.Created, nil
}

// MessageCreateTo stores msg with one delivery, to the given endpoint only.
func (s driver) MessageCreateTo(ctx context.Context, msg *hookbridge.Message, endpointID string) error {
	results, err := s.createMessages(ctx, []*hookbridge.Message{msg}, endpointID)
	if err != nil {
		return fmt.Errorf("create message: %w", err)
	}
	return results[0].Err
}

// MessageCreateBatch stores msgs in one transaction, each as MessageCreate
// would, in a fixed number of statements whatever the batch size. A message
// whose application does not exist gets that error in its result and the
// others are stored; any other error fails the batch.
func (s driver) MessageCreateBatch(ctx context.Context, msgs []*hookbridge.Message) ([]hookbridge.CreateResult, error) {
	results, err := s.createMessages(ctx, msgs, "")
	if err != nil {
		return nil, fmt.Errorf("create messages: %w", err)
	}
	for _, r := range results {
		if r.Err != nil && !hookbridge.IsNotFound(r.Err) {
			return nil, fmt.Errorf("create messages: %w", r.Err)
		}
	}
	return results, nil
}

// insertMessages writes messages and their deliveries in one statement: the
// messages, then the deliveries of those actually inserted (a message whose
// event id was taken meanwhile is skipped with its deliveries) to the
// endpoints that still exist (one deleted since it was read is skipped, as
// its deliveries would have been deleted with it). The deliveries handed
// over ($14) are written leased to $15 until $16. It returns a row per
// inserted message, its id with the number of deliveries written, and a
// row per handed delivery inserted, its id with its created_at. %s is the
// conflict clause: ON CONFLICT … DO NOTHING for ordinary messages, nothing
// for CreateMessageTo.
//
// The statement keeps the references a foreign key would (migration 0021),
// once for the batch rather than once per row: apps locks the messages'
// applications ($19, each once) FOR KEY SHARE, and the statement fails with
// foreign_key_violation unless it found all $20 of them; eps locks the
// endpoints ($21) the same way, and a delivery is written only to an
// endpoint it locked. A deletion of any of them waits for this statement's
// transaction and then deletes what it wrote.
const insertMessages = `
	WITH apps AS (
		SELECT hookbridge_referenced(count(*), $20, 'application') AS ok
		FROM (SELECT id FROM applications WHERE id = ANY($19::text[]) FOR KEY SHARE) a),
	eps AS (
		SELECT id FROM endpoints WHERE id = ANY($21::text[]) FOR KEY SHARE),
	ins AS (
		INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, trace_parent, deliver_at)
		SELECT id, app_id, event_id, event_type, payload, channels::jsonb, created_at, trace_parent, deliver_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::timestamptz[], $17::text[],
				$18::timestamptz[])
			AS m (id, app_id, event_id, event_type, payload, channels, created_at, trace_parent, deliver_at)
		WHERE (SELECT ok FROM apps)
		%s
		RETURNING id),
	dl AS (
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at,
			lease_owner, lease_until)
		SELECT d.id, d.app_id, d.msg_id, d.endpoint_id, 1, 0, 0, d.next_attempt_at,
			date_trunc('milliseconds', clock_timestamp()), $13,
			CASE WHEN d.handed THEN $15::text END, CASE WHEN d.handed THEN $16::timestamptz END
		FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $14::boolean[])
			AS d (id, app_id, msg_id, endpoint_id, next_attempt_at, handed)
		JOIN ins ON ins.id = d.msg_id
		JOIN eps e ON e.id = d.endpoint_id
		RETURNING id, created_at, lease_owner IS NOT NULL AS handed)
	SELECT id, (SELECT count(*) FROM dl), NULL::timestamptz FROM ins
	UNION ALL
	SELECT id, NULL, created_at FROM dl WHERE handed`

// onEventIDConflict skips a message whose (app_id, event_id) is taken,
// by an earlier message or by a concurrent transaction that committed
// first: the stored one is returned instead.
const onEventIDConflict = `ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING`

// ingestTries is how often createMessages reads and writes a batch in all
// when an application or endpoint it read is deleted before it writes.
const ingestTries = 3

// createMessages is CreateMessages, or, with only set, CreateMessageTo for
// one message. It takes two round trips, with no transaction around them:
// one batch reading the applications and their endpoints, then one
// statement, atomic on its own, writing the messages and their deliveries
// (and a third, a lookup, only when event ids repeated). Endpoints created
// or changed between the two are not seen, as if the message had come
// first; one deleted in between is skipped. Only an application deleted
// before the write statement locks it makes that statement fail with
// foreign_key_violation (insertMessages), writing nothing; the batch is
// then read and written again, and the last try does both in one
// transaction that holds key-share locks on what it read, so that
// deletions wait for it and it cannot lose the race again.
//
// An error it returns from the database means that nothing was written,
// which the group commit relies on (group.go): the lookup, which runs
// after the write, fails only the results of the messages it was for.
//
// With a handoff set (handoff.go), each try settles what it reserved as
// soon as it is known to have committed or not, before any next try
// reserves again; the NOTIFY, and the handoff's Wake, follow only when
// some new delivery was not handed over.
func (s *Store) createMessages(ctx context.Context, msgs []*hookbridge.Message, only string) ([]hookbridge.CreateResult, error) {
	now := storekit.TruncMS(s.now())
	appIDs := make([]string, 0, 1)
	for _, msg := range msgs {
		if !slices.Contains(appIDs, msg.AppID) {
			appIDs = append(appIDs, msg.AppID)
		}
	}

	for try := 1; ; try++ {
		var (
			results   []hookbridge.CreateResult
			written   int64
			committed bool
			err       error
			ho        = s.newHandover(now)
		)
		if try < ingestTries {
			results, written, err = s.tryCreateMessages(ctx, s.pool, msgs, only, appIDs, now, false, ho)
			committed = ho.written
		} else {
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				var err error
				results, written, err = s.tryCreateMessages(ctx, tx, msgs, only, appIDs, now, true, ho)
				return err
			})
			committed = err == nil
		}
		taken := ho.settle(committed)
		if errors.Is(err, errIngestRace) && try < ingestTries {
			continue
		}
		if pgCode(err) == codeUniqueViolation {
			// A message id can collide here, and for CreateMessageTo,
			// which does not look event ids up, an event id; otherwise
			// event ids are arbitrated by ON CONFLICT.
			return nil, hookbridge.Errorf(hookbridge.ECONFLICT, "a message with this id (or event id) already exists")
		}
		if err != nil {
			return nil, markErr(err)
		}
		if written > int64(taken) {
			// Every instance may take what this one did not: the
			// NOTIFY wakes them all (this one included), unless they
			// hold every endpoint it names at its bounds.
			s.notifyDue(ho.unhanded...)
			if ho.notOffered {
				ho.h.Wake()
			}
			if ho.refused {
				ho.h.Refused()
			}
		}
		return results, nil
	}
}

// errIngestRace reports that an application or endpoint createMessages
// read was deleted before it wrote; nothing was written.
var errIngestRace = errors.New("an application or endpoint was deleted during ingest")

// tryCreateMessages reads and writes a batch once; see createMessages. It
// returns the results and how many deliveries it wrote, and reserves with
// ho the deliveries it hands over, recording there which it wrote.
// With lock (inside a transaction, q being it) the rows read are locked
// FOR KEY SHARE until the transaction ends.
func (s *Store) tryCreateMessages(ctx context.Context, q ingestQuerier, msgs []*hookbridge.Message, only string, appIDs []string, now time.Time, lock bool, ho *handover) ([]hookbridge.CreateResult, int64, error) {
	results := make([]hookbridge.CreateResult, len(msgs))
	var written int64 // deliveries written
	apps, endpoints, err := s.readSubscriptions(ctx, q, appIDs, lock)
	if err != nil {
		return nil, 0, err
	}

	// Decide each message's fate: missing application, repeat of an
	// earlier message of the batch, or to insert.
	var (
		ins       messageRows
		dls       deliveryRows
		firstOf   = map[[2]string]int{}          // (app, event id) → index of its first message
		repeatOf  = map[int]int{}                // index → index of the first message with its event id
		candidate []int                          // indexes of messages sent to the database
		owed      = make([]bool, len(endpoints)) // endpoints[j] gets a delivery
		unhanded  = make([]bool, len(endpoints)) // endpoints[j] gets one not handed over
	)
	for i, msg := range msgs {
		appLimited, ok := apps[msg.AppID]
		if !ok {
			results[i].Err = hookbridge.NotFound("application")
			continue
		}
		if only != "" {
			if !slices.ContainsFunc(endpoints, func(e hookbridge.Endpoint) bool { return e.AppID == msg.AppID && e.ID == only }) {
				results[i].Err = hookbridge.NotFound("endpoint")
				continue
			}
		} else if msg.EventID != "" {
			key := [2]string{msg.AppID, msg.EventID}
			if first, ok := firstOf[key]; ok {
				repeatOf[i] = first
				continue
			}
			firstOf[key] = i
		}
		candidate = append(candidate, i)
		if err := ins.add(msg); err != nil {
			return nil, 0, err
		}
		due := !storekit.DueAt(msg).After(now)
		fan := s.Fan(msg, only)
		for j := range endpoints {
			e := &endpoints[j]
			if e.AppID != msg.AppID {
				continue
			}
			if !fan.Owed(e) {
				continue
			}
			// created_at will be PostgreSQL's clock (insertMessages).
			d := storekit.ScheduledDelivery(msg, e.ID, now)
			handed := ho.reserve(d, msg, e, due, appLimited)
			dls.add(d, handed)
			owed[j] = true
			unhanded[j] = unhanded[j] || !handed
		}
	}
	if len(candidate) == 0 {
		return results, 0, nil
	}

	conflict := onEventIDConflict
	if only != "" {
		conflict = "" // CreateMessageTo does not look event ids up
	}
	leaseOwner, leaseUntil := ho.lease()
	parentApps := distinct(ins.appIDs)
	var parentEndpoints []string
	for j := range endpoints {
		if owed[j] {
			parentEndpoints = append(parentEndpoints, endpoints[j].ID)
		}
		if unhanded[j] {
			ho.unhanded = append(ho.unhanded, endpoints[j].ID)
		}
	}
	rows, err := q.Query(ctx, fmt.Sprintf(insertMessages, conflict),
		ins.ids, ins.appIDs, ins.eventIDs, ins.eventTypes, ins.payloads, ins.channels, ins.createdAt,
		dls.ids, dls.appIDs, dls.msgIDs, dls.endpointIDs, dls.due, now, dls.handed, leaseOwner, leaseUntil, ins.traceParents, ins.deliverAt,
		parentApps, len(parentApps), parentEndpoints)
	if err != nil {
		return nil, 0, err
	}
	inserted := map[string]bool{}
	for rows.Next() {
		var (
			id        string
			n         *int64
			createdAt *time.Time
		)
		if err := rows.Scan(&id, &n, &createdAt); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if createdAt != nil {
			ho.wrote(id, *createdAt) // a handed delivery
			continue
		}
		inserted[id], written = true, *n
	}
	if err := rows.Err(); err != nil {
		if pgCode(err) == codeForeignKeyViolation {
			return nil, 0, fmt.Errorf("%w: %w", errIngestRace, err)
		}
		return nil, 0, err
	}
	ho.written = true
	s.plans.add(int(written))

	// Messages not inserted had an event id already taken: return the
	// stored message instead.
	var takenApps, takenEventIDs []string
	for _, i := range candidate {
		if inserted[msgs[i].ID] {
			results[i] = hookbridge.CreateResult{Message: msgs[i], Created: true}
		} else {
			takenApps = append(takenApps, msgs[i].AppID)
			takenEventIDs = append(takenEventIDs, msgs[i].EventID)
		}
	}
	// The batch's other messages are stored already (outside a
	// transaction) or will be: a failure from here on is theirs alone, and
	// the batch cannot be tried again whole.
	if len(takenApps) > 0 {
		stored, err := storedByEventID(ctx, q, takenApps, takenEventIDs)
		for _, i := range candidate {
			if inserted[msgs[i].ID] {
				continue
			}
			m, ok := stored[[2]string{msgs[i].AppID, msgs[i].EventID}]
			switch {
			case err != nil:
				results[i].Err = err
			case !ok || msgs[i].EventID == "":
				// Deleted since (its application, say).
				results[i].Err = fmt.Errorf("message %s was not inserted and no message has its event id", msgs[i].ID)
			default:
				results[i] = hookbridge.CreateResult{Message: m, Created: false}
			}
		}
	}
	for i, first := range repeatOf {
		results[i] = hookbridge.CreateResult{Message: results[first].Message, Created: false, Err: results[first].Err}
	}
	return results, written, nil
}

// ingestQuerier is what ingest needs of a pool or a transaction.
type ingestQuerier interface {
	querier
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

// readSubscriptions reads, in one round trip, which of the applications
// exist, each with whether its rate limit holds back all its endpoints
// (apps: id → rate-limited), and their endpoints whole: what
// storekit.Fan needs, their filters included (the matching rule is written
// once, above the driver), and
// what a claim handed over carries. With lock, it locks the rows it reads
// FOR KEY SHARE (deletions then wait for the transaction).
//
// A group's messages are nearly always one application's, and for one
// the queries compare with = rather than = ANY. PostgreSQL plans a
// prepared statement for its arguments on its first five runs, then keeps
// a generic plan only if that costs no more than those did; it costs
// = ANY($1) for an array of unknown length at ten elements, against the
// one it was given, so it planned these two queries again on every run:
// 4 µs per message one per request, 16 µs with three instances, four times
// what running them cost (docs/benchmarks.md, (ac)). For = $1 the generic
// plan costs the same, and is kept.
func (s *Store) readSubscriptions(ctx context.Context, q ingestQuerier, appIDs []string, lock bool) (apps map[string]bool, endpoints []hookbridge.Endpoint, err error) {
	const (
		existingApps  = `SELECT id, rate_limit IS NOT NULL FROM applications WHERE id = ANY($1)`
		subscriptions = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = ANY($1) ORDER BY e.id`
		existingApp   = `SELECT id, rate_limit IS NOT NULL FROM applications WHERE id = $1`
		subscribed    = `SELECT ` + endpointColumns + ` FROM endpoints e WHERE e.app_id = $1 ORDER BY e.id`
		forKeyShare   = ` FOR KEY SHARE`
	)
	appsQuery, subsQuery, arg := existingApps, subscriptions, any(appIDs)
	if len(appIDs) == 1 {
		appsQuery, subsQuery, arg = existingApp, subscribed, appIDs[0]
	}
	if lock {
		appsQuery, subsQuery = appsQuery+forKeyShare, subsQuery+forKeyShare
	}
	var b pgx.Batch
	b.Queue(appsQuery, arg)
	b.Queue(subsQuery, arg)
	br := q.SendBatch(ctx, &b)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("read applications: %w", err)
	}
	apps = map[string]bool{}
	var (
		id      string
		limited bool
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &limited}, func() error {
		apps[id] = limited
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("read applications: %w", err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("read subscriptions: %w", err)
	}
	endpoints, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookbridge.Endpoint, error) { return scanEndpoint(s.keys, r) })
	if err != nil {
		return nil, nil, fmt.Errorf("read subscriptions: %w", err)
	}
	return apps, endpoints, br.Close()
}

// storedByEventID reads the messages with the given (application, event id)
// pairs, keyed by the pair.
func storedByEventID(ctx context.Context, q querier, appIDs, eventIDs []string) (map[[2]string]*hookbridge.Message, error) {
	// messagesByEventID uses messages_app_event_id for each pair.
	const messagesByEventID = `
		SELECT ` + messageColumns + `
		FROM messages m JOIN unnest($1::text[], $2::text[]) AS k (app_id, event_id)
			ON m.app_id = k.app_id AND m.event_id = k.event_id`
	stored, err := collect(ctx, q, messagesByEventID, []any{appIDs, eventIDs}, func(r pgx.Row) (hookbridge.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("look up event ids: %w", err)
	}
	out := make(map[[2]string]*hookbridge.Message, len(stored))
	for i := range stored {
		out[[2]string{stored[i].AppID, stored[i].EventID}] = &stored[i]
	}
	return out, nil
}

// messageRows are messages as the columns of an unnest: one array per
// column.
type messageRows struct {
	ids, appIDs, eventTypes, channels []string
	eventIDs, traceParents            []*string
	deliverAt                         []*time.Time
	payloads                          [][]byte
	createdAt                         []time.Time
}

func (r *messageRows) add(m *hookbridge.Message) error {
	channels, err := json.Marshal(jsonList(m.Channels))
	if err != nil {
		return fmt.Errorf("encode channels: %w", err)
	}
	r.ids = append(r.ids, m.ID)
	r.appIDs = append(r.appIDs, m.AppID)
	r.eventIDs = append(r.eventIDs, nullString(m.EventID))
	r.traceParents = append(r.traceParents, nullString(m.TraceParent))
	var deliverAt *time.Time // NULL unless scheduled
	if at, ok := storekit.Scheduled(m); ok {
		deliverAt = &at
	}
	r.deliverAt = append(r.deliverAt, deliverAt)
	r.eventTypes = append(r.eventTypes, m.EventType)
	r.payloads = append(r.payloads, []byte(m.Payload))
	r.channels = append(r.channels, string(channels))
	r.createdAt = append(r.createdAt, m.CreatedAt)
	return nil
}

// deliveryRows are new deliveries as the columns of an unnest.
// distinct returns ids without repeats, in their first order: for the
// few applications of a group (a search of what it kept so far per id).
func distinct(ids []string) []string {
	out := make([]string, 0, 1)
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

type deliveryRows struct {
	ids, appIDs, msgIDs, endpointIDs []string
	due                              []time.Time
	handed                           []bool // written leased to the handoff's owner
}

func (r *deliveryRows) add(d hookbridge.Delivery, handed bool) {
	r.ids = append(r.ids, d.ID)
	r.appIDs = append(r.appIDs, d.AppID)
	r.msgIDs = append(r.msgIDs, d.MsgID)
	r.endpointIDs = append(r.endpointIDs, d.EndpointID)
	r.due = append(r.due, d.NextAttempt)
	r.handed = append(r.handed, handed)
}

// MessageGet reads the application's message with id (byID) or event id
// key; each query uses a unique index: the primary key, or
// messages_app_event_id.
func (s driver) MessageGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Message, error) {
	getMessage := `SELECT ` + messageColumns + ` FROM messages m WHERE m.app_id = $1 AND m.event_id = $2`
	if byID {
		getMessage = `SELECT ` + messageColumns + ` FROM messages m WHERE m.app_id = $1 AND m.id = $2`
	}
	return scanMessage(s.pool.QueryRow(ctx, getMessage, appID, key))
}

// MessageList reads a page of the application's messages by id.
func (s driver) MessageList(ctx context.Context, appID string, f hookbridge.MessageFilter, limit int) ([]hookbridge.Message, error) {
	var q query
	q.where(`m.app_id = ` + q.arg(appID))
	q.messageFilter(f.EventTypes, f.Channel, "m.created_at", f.Before, f.After)
	tail := q.keyset("m.id", f.ListOptions, hookbridge.OrderDescending, limit)
	// listMessages walks messages_app_id and filters on the way.
	listMessages := `SELECT ` + messageColumns + ` FROM messages m WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listMessages, q.args, func(r pgx.Row) (hookbridge.Message, error) { return scanMessage(r) })
}

// MessageExpunge deletes the payload of a message, keeping the row.
func (s driver) MessageExpunge(ctx context.Context, appID, msgID string) (int64, error) {
	return s.exec(ctx, `UPDATE messages SET payload = NULL WHERE app_id = $1 AND id = $2`, appID, msgID)
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
	var q query
	q.where(`m.app_id = ` + q.arg(appID))
	q.where(`m.deliver_at IS NOT NULL AND m.deliver_at > ` + q.arg(now))
	q.where(`EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND ` + scheduledDelivery + `)`)
	tail := q.keyset("m.id", opt, hookbridge.OrderDescending, limit)
	// listScheduled walks messages_app_scheduled, and each message's
	// deliveries by deliveries_msg_endpoint.
	listScheduled := `SELECT ` + messageColumns + `, m.deliver_at FROM messages m WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, listScheduled, q.args, func(r pgx.Row) (hookbridge.Message, error) {
		var at time.Time
		m, err := scanMessage(r, &at)
		m.DeliverAt = at.UTC()
		return m, err
	})
}

// MessageCancel cancels the scheduled message's deliveries that wait for
// its deliverAt and are not leased at now, in one statement.
func (s driver) MessageCancel(ctx context.Context, appID, msgID string, now time.Time) (scheduled bool, canceled int64, err error) {
	const cancelScheduled = `
		WITH m AS (SELECT id, deliver_at IS NOT NULL AS scheduled FROM messages WHERE app_id = $1 AND id = $2),
		c AS (
			UPDATE deliveries d
			SET status = 2, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $3, canceled_at = $3
			FROM m
			WHERE m.scheduled AND d.msg_id = m.id AND d.app_id = $1 AND ` + scheduledDelivery + `
			AND (d.lease_until IS NULL OR d.lease_until <= $3)
			RETURNING 1)
		SELECT m.scheduled, (SELECT count(*) FROM c) FROM m`
	err = s.pool.QueryRow(ctx, cancelScheduled, appID, msgID, now).Scan(&scheduled, &canceled)
	return scheduled, canceled, err
}

// readTx runs fn in a read-only REPEATABLE READ transaction, so that its
// queries (an existence check, then the list) see one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// MessageEndpointList reads a page of the endpoints the message was owed
// to, with the state of its latest delivery there, by endpoint id.
func (s driver) MessageEndpointList(ctx context.Context, appID, msgID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.MessageEndpoint, error) {
	var q query
	q.where(`d.msg_id = ` + q.arg(msgID) + ` AND d.app_id = ` + q.arg(appID))
	q.where(latestDelivery)
	tail := q.keyset("d.endpoint_id", opt, hookbridge.OrderAscending, limit)
	// listMessageEndpoints walks deliveries_msg_endpoint for the message.
	listMessageEndpoints := `
		SELECT ` + endpointColumns + `, ` + deliveryStatus + `, d.next_attempt_at
		FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
		WHERE ` + q.clause() + tail
	var rows []hookbridge.MessageEndpoint
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := messageExists(ctx, tx, appID, msgID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, listMessageEndpoints, q.args, func(r pgx.Row) (hookbridge.MessageEndpoint, error) {
			var (
				me     hookbridge.MessageEndpoint
				status int16
				next   *time.Time
			)
			e, err := scanEndpoint(s.keys, r, &status, &next)
			me.Endpoint, me.Status, me.NextAttempt = e, hookbridge.MessageStatus(status), fromNullTime(next)
			return me, err
		})
		return err
	})
	return rows, err
}

// EndpointMessageList reads a page of the messages owed to the endpoint,
// with the state of their latest delivery there, by message id.
func (s driver) EndpointMessageList(ctx context.Context, appID, endpointID string, f hookbridge.EndpointMessageFilter, limit int) ([]hookbridge.EndpointMessage, error) {
	var q query
	q.where(`d.endpoint_id = ` + q.arg(endpointID) + ` AND d.app_id = ` + q.arg(appID))
	q.where(latestDelivery)
	if f.Status != nil {
		q.where(`d.status = ` + q.arg(int16(*f.Status))) // a cancelled one is stored failed
	}
	q.messageFilter(f.EventTypes, f.Channel, "m.created_at", f.Before, f.After)
	tail := q.keyset("d.msg_id", f.ListOptions, hookbridge.OrderDescending, limit)
	// listEndpointMessages walks deliveries_endpoint_msg in message order.
	listEndpointMessages := `
		SELECT ` + messageColumns + `, ` + deliveryStatus + `, d.next_attempt_at
		FROM deliveries d JOIN messages m ON m.id = d.msg_id
		WHERE ` + q.clause() + tail
	var rows []hookbridge.EndpointMessage
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := endpointExists(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		var err error
		rows, err = collect(ctx, tx, listEndpointMessages, q.args, func(r pgx.Row) (hookbridge.EndpointMessage, error) {
			var (
				em     hookbridge.EndpointMessage
				status int16
				next   *time.Time
			)
			m, err := scanMessage(r, &status, &next)
			em.Message, em.Status, em.NextAttempt = m, hookbridge.MessageStatus(status), fromNullTime(next)
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
	var q query
	q.where(`d.endpoint_id = ` + q.arg(endpointID) + ` AND d.app_id = ` + q.arg(appID))
	q.where(latestDelivery)
	storekit.Bounds(since, until, func(op string, t time.Time) {
		q.where(`m.created_at ` + op + ` ` + q.arg(storekit.TruncMS(t)))
	})
	// endpointStats walks deliveries_endpoint_msg for the endpoint.
	endpointStats := `
		SELECT ` + deliveryStatus + `, count(*)
		FROM deliveries d JOIN messages m ON m.id = d.msg_id
		WHERE ` + q.clause() + `
		GROUP BY 1`
	var counts []storekit.StatusCount
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := endpointExists(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		var err error
		counts, err = collect(ctx, tx, endpointStats, q.args, func(r pgx.Row) (storekit.StatusCount, error) {
			var status int16
			c := storekit.StatusCount{}
			err := r.Scan(&status, &c.N)
			c.Status = hookbridge.MessageStatus(status)
			return c, err
		})
		return err
	})
	return counts, err
}
