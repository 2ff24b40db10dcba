package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// The dispatcher's manners, on the store's side: which endpoints hold their
// deliveries back, and what the dispatcher learnt about each endpoint.
//
// An endpoint is gated when it is paused (a Retry-After), rate-limited (its
// own limit or its application's) or FIFO. The plain claim query leaves its
// deliveries alone; claimGated hands them out one endpoint at a time, each
// within its budget. Gated endpoints are few, and both sides find them
// through partial indexes, so an installation without any pays nothing but
// two empty index lookups per claim.

// claimedColumns is what a claim returns of each delivery, as scanDelivery
// reads it.
const claimedColumns = `id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, created_at, updated_at`

// gatedEndpoints lists the gated endpoints, through endpoints_gated and
// applications_rate_limited.
const gatedEndpoints = `
	SELECT id FROM endpoints WHERE fifo <> 0 OR rate_limit IS NOT NULL OR paused_until IS NOT NULL
	UNION ALL
	SELECT id FROM endpoints WHERE app_id IN (SELECT id FROM applications WHERE rate_limit IS NOT NULL)`

// pendingLag is how far behind now a gated endpoint's pending_from stays:
// a message id is made before its transaction commits (the writer may have
// a queue), so a delivery to a message made a moment ago may still appear.
const pendingLag = time.Minute

const (
	// gatedBudgets reads what limits each gated endpoint: FIFO, the rate
	// limit in force (the endpoint's, else its application's), the pause,
	// the budget used in its second, and where its pending deliveries
	// start.
	gatedBudgets = `
		SELECT e.id, e.fifo, coalesce(e.rate_limit, a.rate_limit), e.paused_until, e.rl_window, e.rl_used,
			coalesce(e.pending_from, '')
		FROM endpoints e JOIN applications a ON a.id = e.app_id
		WHERE e.id IN (` + gatedEndpoints + `)`

	// pendingDeliveries walks an endpoint's non-final deliveries in
	// message order from pending_from (?2), through
	// deliveries_endpoint_msg.
	pendingDeliveries = `
		SELECT id, msg_id, next_attempt_at, coalesce(lease_until, 0) FROM deliveries INDEXED BY deliveries_endpoint_msg
		WHERE endpoint_id = ?1 AND msg_id >= ?2 AND next_attempt_at IS NOT NULL
		ORDER BY msg_id, id`

	// leaseDeliveries leases the deliveries in the JSON list ?3 to ?1
	// until ?2.
	leaseDeliveries = `
		UPDATE deliveries SET lease_owner = ?1, lease_until = ?2
		WHERE id IN (SELECT value FROM json_each(?3))
		RETURNING ` + claimedColumns

	// resetPendingFrom makes the gated claim look at an endpoint's whole
	// history again: a manual delivery (resend, recover) may be to a
	// message before its pending_from.
	resetPendingFrom = `UPDATE endpoints SET pending_from = NULL WHERE id = ? AND pending_from IS NOT NULL`

	spendBudget = `UPDATE endpoints SET rl_window = ?, rl_used = ?, pending_from = nullif(?, '') WHERE id = ?`
	endPause    = `UPDATE endpoints SET paused_until = NULL WHERE id = ? AND paused_until <= ?`
)

// gate is one gated endpoint's row of gatedBudgets.
type gate struct {
	id          string
	fifo        bool
	rate        sql.NullInt64
	paused      sql.NullInt64
	window      int64
	used        int64
	pendingFrom string
}

// claimGated leases the due deliveries of gated endpoints that their
// budgets allow, at most limit in all, and spends the budgets. It runs in
// the claim's transaction on the single writer, so no other claim can
// spend the same budget meanwhile.
func claimGated(ctx context.Context, tx *writeTx, owner string, until, now, clock time.Time, limit int, skip []string) ([]hookbridge.Delivery, error) {
	rows, err := tx.Stmt(ctx, stmtGatedBudgets).QueryContext(ctx)
	gates, err := scanRows(rows, err, func(r rowScanner) (gate, error) {
		var g gate
		return g, r.Scan(&g.id, &g.fifo, &g.rate, &g.paused, &g.window, &g.used, &g.pendingFrom)
	})
	if err != nil || len(gates) == 0 {
		return nil, err
	}
	// A random order, so that when the batch cannot take every gated
	// endpoint's share, the same ones are not always left out.
	rand.Shuffle(len(gates), func(i, j int) { gates[i], gates[j] = gates[j], gates[i] })

	nowMS := ms(now)
	window := nowMS - nowMS%1000
	// Message ids are made with the clock of whoever accepted the message;
	// the earlier of the claim's time and the store's own keeps the bound
	// behind both.
	idClock := now
	if clock.Before(idClock) {
		idClock = clock
	}
	bound := hookbridge.FirstIDAt(hookbridge.PrefixMessage, idClock.Add(-pendingLag))
	stale := hookbridge.FirstIDAt(hookbridge.PrefixMessage, idClock.Add(-2*pendingLag))
	var out []hookbridge.Delivery
	for _, g := range gates {
		if len(out) >= limit {
			break
		}
		if g.paused.Valid {
			if g.paused.Int64 > nowMS {
				continue
			}
			// The pause is over: the endpoint leaves the gated set
			// unless something else keeps it there.
			if _, err := tx.ExecContext(ctx, endPause, g.id, nowMS); err != nil {
				return nil, fmt.Errorf("end pause of %s: %w", g.id, err)
			}
		}
		if slices.Contains(skip, g.id) {
			continue
		}
		allow := limit - len(out)
		used := int64(0)
		if g.rate.Valid {
			if g.window == window {
				used = g.used
			}
			allow = min(allow, int(g.rate.Int64-used))
		}
		if g.fifo {
			allow = min(allow, 1)
		}
		if allow <= 0 {
			continue
		}
		ids, head, err := pickPending(ctx, tx, g, nowMS, allow)
		if err != nil {
			return nil, fmt.Errorf("pending deliveries of %s: %w", g.id, err)
		}
		var claimed []hookbridge.Delivery
		if len(ids) > 0 {
			rows, err := tx.QueryContext(ctx, leaseDeliveries, owner, ms(until), jsonList(ids))
			if claimed, err = scanRows(rows, err, scanDelivery); err != nil {
				return nil, fmt.Errorf("claim for %s: %w", g.id, err)
			}
		}
		// The budget row as it stays, unless this claim spent some.
		spentWindow, spent := g.window, g.used
		if g.rate.Valid && len(claimed) > 0 {
			spentWindow, spent = window, used+int64(len(claimed))
		}
		// Every delivery before the first non-final one is final; stay
		// pendingLag behind now for those that may still be committing.
		// With nothing pending before the bound, move up to it only once
		// the mark is two lags old, so that an idle endpoint is written
		// once a lag, not on every claim.
		from := g.pendingFrom
		switch {
		case head != "" && head <= bound:
			from = max(from, head)
		case g.pendingFrom < stale:
			from = bound
		}
		if spent != g.used || spentWindow != g.window || from != g.pendingFrom {
			if _, err := tx.ExecContext(ctx, spendBudget, spentWindow, spent, from, g.id); err != nil {
				return nil, fmt.Errorf("spend budget of %s: %w", g.id, err)
			}
		}
		out = append(out, claimed...)
	}
	return out, nil
}

// pickPending returns up to allow due, unleased deliveries of the gated
// endpoint, earliest message first (for FIFO: the first non-final one, if
// it is due and unleased), and the message id of its first non-final
// delivery ("" when it has none).
func pickPending(ctx context.Context, tx *writeTx, g gate, nowMS int64, allow int) (ids []string, head string, err error) {
	rows, err := tx.QueryContext(ctx, pendingDeliveries, g.id, g.pendingFrom)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, msgID   string
			next, lease int64
		)
		if err := rows.Scan(&id, &msgID, &next, &lease); err != nil {
			return nil, "", err
		}
		if head == "" {
			head = msgID
		}
		if next <= nowMS && lease <= nowMS {
			ids = append(ids, id)
		}
		if g.fifo || len(ids) >= allow {
			break
		}
	}
	return ids, head, rows.Err()
}

const (
	endpointHealth = `SELECT app_id, coalesce(uid, ''), disabled, failing_since, paused_until FROM endpoints WHERE id = ?`
	setHealth      = `
		UPDATE endpoints SET failing_since = ?1, paused_until = ?2, disabled = ?3,
			updated_at = CASE WHEN disabled <> ?3 THEN max(?4, updated_at + 1) ELSE updated_at END
		WHERE id = ?5`
	// pauseDeliveries moves the endpoint's waiting deliveries to the end
	// of its pause, so that the claimer's idea of the next due time
	// (NextDue) does not wake it for deliveries it may not claim. Leased
	// ones are in flight and keep their lease.
	pauseDeliveries = `
		UPDATE deliveries INDEXED BY deliveries_endpoint_msg SET next_attempt_at = ?1
		WHERE endpoint_id = ?2 AND msg_id >= coalesce((SELECT pending_from FROM endpoints WHERE id = ?2), '')
			AND next_attempt_at IS NOT NULL AND next_attempt_at < ?1
			AND (lease_until IS NULL OR lease_until <= ?3)`
)

// EndpointHealthRecord applies the dispatcher's reports about endpoints in
// one transaction (see storekit.ApplyReports). It leaves the rows kept
// behind the log where they are (kept.go): it changes endpoints, and of
// deliveries only those a pause holds back, which are unleased or leased
// no longer; a kept delivery is leased, for far longer than it is kept.
func (s driver) EndpointHealthRecord(ctx context.Context, reports []hookbridge.EndpointReport, disableBefore time.Time) ([]hookbridge.DisabledEndpoint, error) {
	var disabled []hookbridge.DisabledEndpoint
	err := s.writeGroupedAs(ctx, rowsUntouched, nil, func(ctx context.Context, tx *writeTx) error {
		// Endpoints change here: what fan-outs read of them (disabled,
		// paused, failing) must be read again.
		clear(tx.subs)
		var err error
		disabled, err = storekit.ApplyReports(reports, func(r hookbridge.EndpointReport) (*hookbridge.DisabledEndpoint, error) {
			return applyReport(ctx, tx, r, disableBefore, storekit.TruncMS(s.now()))
		})
		return err
	})
	return disabled, err
}

// applyReport applies one report (see storekit.ApplyReport) at now and
// returns the endpoint if it disabled it, having recorded its
// EventEndpointDisabled.
func applyReport(ctx context.Context, tx *writeTx, r hookbridge.EndpointReport, disableBefore, now time.Time) (*hookbridge.DisabledEndpoint, error) {
	var (
		h               storekit.Health
		failing, paused sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, endpointHealth, r.EndpointID).Scan(&h.AppID, &h.UID, &h.Disabled, &failing, &paused)
	if storekit.IsNoRows(err) {
		return nil, nil // deleted meanwhile: nothing to keep
	}
	if err != nil {
		return nil, err
	}
	h.FailingSince, h.PausedUntil = fromNullMS(failing), fromNullMS(paused)
	h, pause, gone := storekit.ApplyReport(h, r, r.EndpointID, disableBefore)
	if !pause.IsZero() {
		if _, err := tx.ExecContext(ctx, pauseDeliveries, ms(pause), r.EndpointID, ms(storekit.TruncMS(r.At))); err != nil {
			return nil, fmt.Errorf("pause deliveries: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, setHealth, msOrNull(h.FailingSince), msOrNull(h.PausedUntil), h.Disabled, ms(now), r.EndpointID); err != nil {
		return nil, err
	}
	if gone != nil {
		if err := recordEvent(ctx, tx, hookbridge.DisabledEvent(gone), now); err != nil {
			return nil, err
		}
	}
	return gone, nil
}
