package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// deliveryColumns is the column list scanDelivery reads. Queries alias
// deliveries as d.
const deliveryColumns = `d.id, d.app_id, d.msg_id, d.endpoint_id, d.status, d.trigger, d.attempts,
	d.next_attempt_at, d.created_at, d.updated_at`

// deliveryDest returns the scan destinations of deliveryColumns for d, and
// a function that converts what was scanned into d's fields.
func deliveryDest(d *hookbridge.Delivery) ([]any, func()) {
	var (
		status, trigger int16
		attempts        int32
		next            *time.Time
	)
	dest := []any{&d.ID, &d.AppID, &d.MsgID, &d.EndpointID, &status, &trigger, &attempts, &next, &d.CreatedAt, &d.UpdatedAt}
	return dest, func() {
		d.Status, d.Trigger, d.Attempts = hookbridge.MessageStatus(status), hookbridge.TriggerType(trigger), int(attempts)
		d.NextAttempt = fromNullTime(next)
		d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	}
}

// claimDeliveries leases the earliest due deliveries that nobody holds a
// live lease on, and returns each with its message and endpoint: $1 owner,
// $2 lease end, $3 now, $4 limit, $5 endpoints to skip, $6 the start of
// now's second in unix ms (the rate limits' window).
//
// fpick, the plain part, walks deliveries_due in order (next_attempt_at <=
// $3 implies the index's predicate) and stops after limit rows that pass
// the lease check and are not locked by another claimer at this moment:
// SKIP LOCKED makes concurrent claimers take different rows instead of
// queueing behind each other. Under READ COMMITTED a row whose lock is
// released meanwhile is re-checked against the WHERE clause on its newest
// version, so a lease just taken by another instance is seen.
//
// Gated endpoints (endpoint_health.go) are left out of fpick. g locks the
// ones not paused nor skipped, SKIP LOCKED: an endpoint that another
// instance is claiming for right now is left to it, and a locked row is read
// in its newest version, so the budget one instance spent is seen by the
// next. gpick takes each one's share (the head only, for FIFO; what is left
// of the second's budget, for a rate limit) and touch spends the budgets
// and ends the pauses that are over, under the same locks. Gated shares
// come first, then the plain ones, limit in all (the plain ones beyond the
// limit stay locked until the statement ends, and unleased). One statement, one round
// trip, no transaction around it.
//
// gh finds each gated endpoint's first non-final delivery in message
// order, walking deliveries_endpoint_msg from its pending_from (every
// delivery before it is final; see the migration), and gpick walks on from
// there. Their tests of next_attempt_at are written "(…) IS TRUE" so that
// the planner cannot trade these walks for deliveries_due (every endpoint's
// non-final deliveries) and a sort, which looks cheaper only while few are
// due. touch
// moves pending_from up to the head, staying $7 (an id bound pendingLag
// behind now) behind; with nothing pending before the bound, it moves up to
// it only once the mark is older than $8 (two lags), so that an idle
// endpoint is written once a lag, not on every claim.
var (
	claimDeliveries = replan(claimGatedPart + claimPlain + claimRest)
	claimSkipping   = replan(claimGatedPart + claimPlainBounded + claimRest)
)

// The parts of claimDeliveries and claimSkipping: the gated endpoints'
// shares, the plain part (fpick), and the claim itself.
const (
	claimGatedPart = `
	WITH gated AS (` + gatedEndpoints + `),
	g AS (
		SELECT e.id, e.fifo, coalesce(e.rate_limit, a.rate_limit) AS rate, e.paused_until,
			CASE WHEN e.rl_window = $6 THEN e.rl_used ELSE 0 END AS used, coalesce(e.pending_from, '') AS pending_from
		FROM endpoints e JOIN applications a ON a.id = e.app_id
		WHERE e.id IN (SELECT id FROM gated) AND e.id <> ALL ($5::text[])
			AND (e.paused_until IS NULL OR e.paused_until <= $3)
		FOR UPDATE OF e SKIP LOCKED),
	gh AS (
		SELECT g.*, h.id AS head_id, h.msg_id AS head_msg FROM g LEFT JOIN LATERAL (
			SELECT h.id, h.msg_id FROM deliveries h
			WHERE h.endpoint_id = g.id AND h.msg_id >= g.pending_from AND (h.next_attempt_at IS NOT NULL) IS TRUE
			ORDER BY h.msg_id
			LIMIT 1) AS h ON true),
	gpick AS (
		SELECT p.id, gh.id AS endpoint_id FROM gh CROSS JOIN LATERAL (
			SELECT d.id FROM deliveries d
			WHERE d.endpoint_id = gh.id AND d.msg_id >= gh.head_msg
				AND (d.next_attempt_at <= $3) IS TRUE AND (d.lease_until IS NULL OR d.lease_until <= $3)
				AND (NOT gh.fifo OR d.id = gh.head_id)
			ORDER BY d.msg_id
			LIMIT greatest(least(CASE WHEN gh.fifo THEN 1 ELSE $4 END, coalesce(gh.rate - gh.used, $4)), 0)
			FOR UPDATE SKIP LOCKED) AS p),
`
	claimPlain = `	fpick AS (
		SELECT id FROM deliveries
		WHERE next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
			AND endpoint_id <> ALL ($5::text[]) AND endpoint_id NOT IN (SELECT id FROM gated)
		ORDER BY next_attempt_at
		LIMIT $4
		FOR UPDATE SKIP LOCKED),
`
	claimRest = `	due AS (
		(SELECT id, endpoint_id FROM gpick LIMIT $4)
		UNION ALL
		(SELECT id, NULL::text FROM fpick LIMIT greatest($4 - (SELECT count(*) FROM gpick), 0))),
	touch AS (
		UPDATE endpoints e SET
			paused_until = CASE WHEN e.paused_until <= $3 THEN NULL ELSE e.paused_until END,
			rl_window = CASE WHEN c.n > 0 AND gh.rate IS NOT NULL THEN $6 ELSE e.rl_window END,
			rl_used = CASE WHEN c.n > 0 AND gh.rate IS NOT NULL THEN gh.used + c.n ELSE e.rl_used END,
			pending_from = nullif(nx.pending_from, '')
		FROM gh
			LEFT JOIN (
				SELECT endpoint_id, count(*) AS n FROM due WHERE endpoint_id IS NOT NULL GROUP BY endpoint_id) AS c
				ON c.endpoint_id = gh.id
			CROSS JOIN LATERAL (
				SELECT CASE
					WHEN gh.head_msg <= $7 THEN greatest(gh.pending_from, gh.head_msg)
					WHEN gh.pending_from < $8 THEN $7
					ELSE gh.pending_from END AS pending_from) AS nx
		WHERE e.id = gh.id AND (e.paused_until <= $3 OR c.n > 0 OR nx.pending_from <> gh.pending_from))
	UPDATE deliveries d SET lease_owner = $1, lease_until = $2
	FROM due, messages m, endpoints e
	WHERE d.id = due.id AND m.id = d.msg_id AND e.id = d.endpoint_id
	RETURNING ` + endpointColumns + `, ` + deliveryColumns + `, ` + messageColumns
)

// claimPlainBounded is fpick for a claim that skips endpoints ($9:
// storekit.ClaimWalk). fpick walks deliveries_due past what it may not take:
// deliveries leased (in flight, or waiting at a dispatcher) and those of
// the skipped endpoints. The first are bounded by the dispatchers'
// pipelines; the second are not: a busy endpoint is skipped while its
// backlog grows, and every claim read all of it to find nothing
// (docs/benchmarks.md, (v)). Here fhead is the first $9 entries of the
// due order, and fwalk locks the first $4 of them that fpick would take
// (each found by its key, and checked again once locked). When that is short,
// fheads finds, for the $4 endpoints neither skipped nor gated that are
// due earliest, each one's earliest due delivery (a search of
// deliveries_ready per endpoint), fshare divides what is left of $4 among
// them, and fmore takes each one's share, earliest first, past what fwalk
// locked (a row this statement locked is not skipped by SKIP LOCKED). Its
// cost is the number of endpoints, however many deliveries the skipped
// ones hold; an endpoint with many due deliveries past the head of the
// due order gets a share, not all of a claim. Both per-endpoint searches
// bound the pair (endpoint_id, next_attempt_at), a range of
// deliveries_ready, rather than testing endpoint_id = …: the planner
// estimates an endpoint's share of the due deliveries as even, and with
// few endpoints would walk deliveries_due for one, past the skipped
// endpoints' backlog, which is what this is for avoiding. A row
// comparison is a range only that index serves, and leaves the order by
// endpoint_id to it.
const claimPlainBounded = `
	fhead AS MATERIALIZED (
		SELECT id, next_attempt_at, endpoint_id, lease_until FROM deliveries
		WHERE next_attempt_at <= $3
		ORDER BY next_attempt_at
		LIMIT $9),
	fwalk AS (
		SELECT p.id, p.next_attempt_at FROM (
			SELECT id FROM fhead
			WHERE (lease_until IS NULL OR lease_until <= $3)
				AND endpoint_id <> ALL ($5::text[]) AND endpoint_id NOT IN (SELECT id FROM gated)
			ORDER BY next_attempt_at
			LIMIT $4) AS h
		CROSS JOIN LATERAL (
			SELECT d.id, d.next_attempt_at FROM deliveries d
			WHERE d.id = h.id AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until <= $3)
			FOR UPDATE SKIP LOCKED) AS p),
	fheads AS (
		SELECT e.id, h.at FROM endpoints e CROSS JOIN LATERAL (
			SELECT x.next_attempt_at AS at FROM deliveries x
			WHERE (x.endpoint_id, x.next_attempt_at) >= (e.id, '-infinity'::timestamptz)
				AND (x.endpoint_id, x.next_attempt_at) <= (e.id, $3) AND x.next_attempt_at IS NOT NULL
				AND (x.lease_until IS NULL OR x.lease_until <= $3)
			ORDER BY x.endpoint_id, x.next_attempt_at
			LIMIT 1) AS h
		WHERE (SELECT count(*) FROM fwalk) < $4
			AND e.id <> ALL ($5::text[]) AND e.id NOT IN (SELECT id FROM gated)
		ORDER BY h.at
		LIMIT $4),
	fshare AS (
		SELECT ($4 - (SELECT count(*) FROM fwalk) + count(*) - 1) / greatest(count(*), 1) AS n FROM fheads),
	fmore AS (
		SELECT p.id, p.next_attempt_at FROM fheads CROSS JOIN LATERAL (
			SELECT x.id, x.next_attempt_at FROM deliveries x
			WHERE (x.endpoint_id, x.next_attempt_at) >= (fheads.id, '-infinity'::timestamptz)
				AND (x.endpoint_id, x.next_attempt_at) <= (fheads.id, $3) AND x.next_attempt_at IS NOT NULL
				AND (x.lease_until IS NULL OR x.lease_until <= $3)
				AND x.id NOT IN (SELECT id FROM fwalk)
			ORDER BY x.endpoint_id, x.next_attempt_at
			LIMIT (SELECT n FROM fshare)
			FOR UPDATE SKIP LOCKED) AS p),
	fpick AS (
		(SELECT id FROM fwalk)
		UNION ALL
		(SELECT id FROM fmore ORDER BY next_attempt_at LIMIT greatest($4 - (SELECT count(*) FROM fwalk), 0))),
`

// DeliveryClaim leases up to limit due deliveries to owner until until, in
// one statement (claimDeliveries, or claimSkipping when skip names
// endpoints), and returns them with their message and
// endpoint. Gated endpoints (paused, rate-limited, FIFO) are served first,
// each within its budget, then the earliest due of the rest, leaving the
// endpoints in skip alone.
func (s driver) DeliveryClaim(ctx context.Context, owner string, now, until time.Time, limit int, skip []string) ([]hookbridge.Claim, error) {
	if skip == nil {
		skip = []string{} // an empty array, not NULL: <> ALL (NULL) is never true
	}
	nowMS := now.UnixMilli()
	// Message ids are made with the clock of whoever accepted the message;
	// the earlier of the claim's time and the store's own keeps the
	// bounds behind both.
	idClock := now
	if clock := s.now(); clock.Before(idClock) {
		idClock = clock
	}
	bound := hookbridge.FirstIDAt(hookbridge.PrefixMessage, idClock.Add(-pendingLag))
	stale := hookbridge.FirstIDAt(hookbridge.PrefixMessage, idClock.Add(-2*pendingLag))
	args := []any{owner, until, storekit.TruncMS(now), limit, skip, nowMS - nowMS%1000, bound, stale}
	claim := claimDeliveries
	if len(skip) > 0 {
		claim = claimSkipping
		args = append(args, storekit.ClaimWalk)
	}
	rows, err := s.pool.Query(ctx, claim.at(&s.plans), args...)
	if err != nil {
		return nil, err
	}
	claims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookbridge.Claim, error) {
		c := hookbridge.Claim{LeaseUntil: until}
		dDest, dDone := deliveryDest(&c.Delivery)
		mDest, mDone := messageDest(&c.Message)
		e, err := scanEndpoint(s.keys, r, append(dDest, mDest...)...)
		if err != nil {
			return c, err
		}
		dDone()
		mDone()
		c.Endpoint = e
		return c, nil
	})
	s.plans.add(len(claims))
	return claims, err
}

// recordAttempts writes a batch of results in one statement: r is the
// results ($2…$5) with their attempts ($7…$13: an empty id when a result
// has none), done the deliveries still leased to owner ($1) moved to their
// new state with the lease ended. A delivery's first attempt is kept in
// its own row, set by the same UPDATE (SET reads the row as it was:
// attempts = 0 is before this one); a later attempt is inserted into
// attempts, taking application, message, endpoint and trigger from the
// delivery. The statement returns done: a result whose delivery is
// missing from it was rejected, and wrote nothing.
var recordAttempts = replan(`
	WITH r AS (
		SELECT * FROM unnest($2::text[], $3::smallint[], $4::integer[], $5::timestamptz[],
			$7::text[], $8::text[], $9::smallint[], $10::integer[], $11::text[], $12::bigint[], $13::timestamptz[])
			AS r (id, status, tries, next_attempt_at, a_id, a_url, a_status, a_code, a_response, a_duration, a_created)),
	done AS (
		UPDATE deliveries d
		SET status = r.status, attempts = d.attempts + r.tries, next_attempt_at = r.next_attempt_at,
			lease_owner = NULL, lease_until = NULL, updated_at = $6,
			first_attempt_id = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_id ELSE d.first_attempt_id END,
			first_attempt_url = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_url ELSE d.first_attempt_url END,
			first_attempt_status = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_status ELSE d.first_attempt_status END,
			first_attempt_status_code = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_code ELSE d.first_attempt_status_code END,
			first_attempt_response = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_response ELSE d.first_attempt_response END,
			first_attempt_duration_ms = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_duration ELSE d.first_attempt_duration_ms END,
			first_attempt_at = CASE WHEN d.attempts = 0 AND r.tries = 1 THEN r.a_created ELSE d.first_attempt_at END
		FROM r
		WHERE d.id = r.id AND d.lease_owner = $1
		RETURNING d.id, d.app_id, d.msg_id, d.endpoint_id, d.trigger, d.attempts),
	ins AS (
		INSERT INTO attempts (id, delivery_id, app_id, msg_id, endpoint_id, url, status, trigger,
			status_code, response, duration_ms, created_at)
		SELECT r.a_id, r.id, done.app_id, done.msg_id, done.endpoint_id, r.a_url, r.a_status, done.trigger,
			r.a_code, r.a_response, r.a_duration, r.a_created
		FROM r JOIN done ON done.id = r.id
		WHERE r.tries = 1 AND done.attempts > 1),
	ev AS (
		INSERT INTO operational_events (id, data)
		SELECT e.id, e.data FROM unnest($14::text[], $15::text[], $16::jsonb[]) AS e (delivery_id, id, data)
		JOIN done ON done.id = e.delivery_id)
	SELECT id, app_id, msg_id, endpoint_id, trigger FROM done`)

// DeliveryRecord stores the results of claimed deliveries in one statement
// (atomic on its own). A result whose delivery is no longer leased to owner
// (or that repeats a delivery of the same batch) is dropped and its id
// returned in rejected. Otherwise its Attempt (if
// any) and its Event (if any) are stored, with its delivery, application,
// message, endpoint and trigger taken from the delivery: a delivery's
// first attempt in the delivery's row, a later one in attempts.
func (s driver) DeliveryRecord(ctx context.Context, owner string, results []hookbridge.AttemptResult, now time.Time) ([]string, error) {
	// A delivery named twice is finished by its first result only, as it
	// would be one at a time: the first ends the lease the second needs.
	// So only first results go to the statement, and repeats are rejected.
	firstNamed := make([]bool, len(results))
	named := make(map[string]bool, len(results))
	n := 0
	for i, r := range results {
		if !named[r.DeliveryID] {
			named[r.DeliveryID], firstNamed[i] = true, true
			n++
		}
	}
	var (
		ids                    = make([]string, 0, n)
		statuses               = make([]int16, 0, n)
		tries                  = make([]int32, n)
		nexts                  = make([]*time.Time, n)
		aIDs, aURLs, aResponse = make([]string, n), make([]string, n), make([]string, n)
		aStatus                = make([]int16, n)
		aCodes                 = make([]int32, n)
		aDurations             = make([]int64, n)
		aCreated               = make([]time.Time, n)
		eDeliveries, eIDs      []string
		eData                  [][]byte
	)
	for j, r := range results {
		if !firstNamed[j] {
			continue
		}
		i := len(ids)
		ids, statuses = append(ids, r.DeliveryID), append(statuses, int16(r.Status))
		if r.Status == hookbridge.StatusSending {
			nexts[i] = timeOrNull(r.NextAttempt)
		}
		a := r.Attempt
		if a == nil {
			aCreated[i] = now // unused: tries 0 stores no attempt
			continue
		}
		tries[i] = 1
		aIDs[i], aURLs[i], aResponse[i] = a.ID, a.URL, textValue(a.Response)
		aStatus[i], aCodes[i], aDurations[i], aCreated[i] = int16(a.Status), int32(a.StatusCode), a.DurationMS, a.CreatedAt
		if ev := r.Event; ev != nil {
			data, err := storekit.EncodeEvent(ev, now)
			if err != nil {
				return nil, err
			}
			eDeliveries, eIDs, eData = append(eDeliveries, r.DeliveryID), append(eIDs, ev.ID), append(eData, data)
		}
	}

	type finished struct {
		appID, msgID, endpointID string
		trigger                  hookbridge.TriggerType
	}
	done := make(map[string]finished, len(results))
	rows, err := s.pool.Query(ctx, recordAttempts.at(&s.plans), owner, ids, statuses, tries, nexts, now,
		aIDs, aURLs, aStatus, aCodes, aResponse, aDurations, aCreated, eDeliveries, eIDs, eData)
	if err != nil {
		return nil, err
	}
	s.plans.add(len(ids))
	var (
		id      string
		f       finished
		trigger int16
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &f.appID, &f.msgID, &f.endpointID, &trigger}, func() error {
		f.trigger = hookbridge.TriggerType(trigger)
		done[id] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	var rejected []string
	for i, r := range results {
		f, ok := done[r.DeliveryID]
		if !ok || !firstNamed[i] {
			rejected = append(rejected, r.DeliveryID)
			continue
		}
		if a := r.Attempt; a != nil {
			a.DeliveryID, a.AppID, a.MsgID, a.EndpointID, a.Trigger = r.DeliveryID, f.appID, f.msgID, f.endpointID, f.trigger
		}
	}
	return rejected, nil
}

// textValue makes s storable as PostgreSQL text, which refuses NUL bytes
// and invalid UTF-8: a receiver's response body can hold either, and one
// such excerpt must not fail a whole batch of results.
func textValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// renewLeases touches no indexed column: a HOT update (see the table's
// fillfactor).
var renewLeases = replan(`UPDATE deliveries SET lease_until = $1 WHERE id = ANY($2) AND lease_owner = $3`)

// DeliveryRenew extends owner's leases on the given deliveries to until.
// Deliveries owner no longer holds are left alone.
func (s driver) DeliveryRenew(ctx context.Context, owner string, deliveryIDs []string, until time.Time) error {
	_, err := s.pool.Exec(ctx, renewLeases.at(&s.plans), until, deliveryIDs, owner)
	return err
}

var releaseDeliveries = replan(`
	UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
	WHERE id = ANY($1) AND lease_owner = $2`)

// DeliveryRelease ends owner's leases on the given deliveries, leaving
// their state as it is, so they can be claimed again at once.
func (s driver) DeliveryRelease(ctx context.Context, owner string, deliveryIDs []string) error {
	_, err := s.pool.Exec(ctx, releaseDeliveries.at(&s.plans), deliveryIDs, owner)
	return err
}

// nextDue is when the earliest non-final delivery can next be claimed:
// max(next_attempt_at, lease_until) minimised over deliveries_due. head is
// the earliest due time among deliveries whose lease does not hold them
// back (one index probe, stopping at the first such row). Every row due
// before head is leased beyond its due time, so it is claimable at its
// lease end; those rows are a prefix of the index (at most the deliveries
// in flight), walked in order. The LIMIT bounds that walk in case far more
// are in flight (at worst the answer is then late, which the dispatcher's
// poll interval caps), and it makes the planner walk the index in order
// rather than scan it in parallel for a bound it cannot know in advance.
// greatest and least skip NULLs.
var nextDue = replan(`
	WITH head AS (
		SELECT min(next_attempt_at) AS at FROM deliveries
		WHERE next_attempt_at IS NOT NULL AND (lease_until IS NULL OR lease_until <= next_attempt_at))
	SELECT least(
		(SELECT at FROM head),
		(SELECT min(greatest(next_attempt_at, lease_until)) FROM (
			SELECT next_attempt_at, lease_until FROM deliveries
			WHERE next_attempt_at < coalesce((SELECT at FROM head), 'infinity')
			ORDER BY next_attempt_at
			LIMIT 10000) AS ahead))`)

// DeliveryNextDue returns when the earliest non-final delivery can next be
// claimed: its next attempt time, or the end of its lease if that is later.
func (s driver) DeliveryNextDue(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, nextDue.at(&s.plans)).Scan(&at); err != nil || at == nil {
		return time.Time{}, false, err
	}
	return at.UTC(), true, nil
}

// DeliveryResend inserts the manual delivery d if both its message and its
// endpoint are its application's, whatever the endpoint subscribes to; its
// created_at comes from PostgreSQL's clock, its updated_at from the
// store's.
func (s driver) DeliveryResend(ctx context.Context, d *hookbridge.Delivery) error {
	d.UpdatedAt = storekit.TruncMS(s.now())
	// insertResend writes the delivery only if both the message and the
	// endpoint are the application's, and locks both FOR KEY SHARE, as
	// foreign keys would (migration 0021): a purge of the message or a
	// deletion of the endpoint waits for the transaction and then deletes
	// the delivery too, and one committed before the lock leaves nothing
	// to insert. created_at from PostgreSQL's clock (see the deliveries
	// table).
	const insertResend = `
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at)
		SELECT $1, m.app_id, m.id, e.id, 1, 1, 0, $5, date_trunc('milliseconds', clock_timestamp()), $6
		FROM messages m, endpoints e
		WHERE m.app_id = $2 AND m.id = $3 AND e.app_id = $2 AND e.id = $4
		FOR KEY SHARE OF m, e
		RETURNING created_at`
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, insertResend, d.ID, d.AppID, d.MsgID, d.EndpointID, d.NextAttempt, d.UpdatedAt).Scan(&d.CreatedAt)
		if storekit.IsNoRows(err) {
			if err := messageExists(ctx, tx, d.AppID, d.MsgID); err != nil {
				return err
			}
			return hookbridge.NotFound("endpoint")
		}
		if err != nil {
			return err
		}
		d.CreatedAt = d.CreatedAt.UTC()
		_, err = tx.Exec(ctx, resetPendingFrom, d.EndpointID)
		return err
	})
	if err != nil {
		return err
	}
	s.notifyDue(d.EndpointID)
	return nil
}

// insertManualBatch inserts the manual deliveries ds, all of the
// application's messages to its endpoint, due at their NextAttempt, and
// skips those whose message is gone (purged since it was read), or all of
// them if the endpoint is; it locks the messages and the endpoint FOR KEY
// SHARE, as insertResend does. created_at from PostgreSQL's clock (see the
// deliveries table). It returns how many it inserted, and makes the
// endpoint's pending deliveries claimable.
func (s driver) insertManualBatch(ctx context.Context, tx pgx.Tx, appID, endpointID string, ds []hookbridge.Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	const insertManual = `
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at)
		SELECT d.id, $2, d.msg_id, $3, 1, 1, 0, $4, date_trunc('milliseconds', clock_timestamp()), $5
		FROM unnest($1::text[], $6::text[]) AS d (id, msg_id)
		JOIN messages m ON m.id = d.msg_id AND m.app_id = $2
		JOIN endpoints e ON e.id = $3 AND e.app_id = $2
		FOR KEY SHARE OF m, e`
	ids, msgIDs := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		ids[i], msgIDs[i] = d.ID, d.MsgID
	}
	tag, err := tx.Exec(ctx, insertManual, ids, appID, endpointID, ds[0].NextAttempt, storekit.TruncMS(s.now()), msgIDs)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	_, err = tx.Exec(ctx, resetPendingFrom, endpointID)
	return int(tag.RowsAffected()), err
}
