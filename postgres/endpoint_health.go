package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// The dispatcher's manners, on the store's side: which endpoints hold their
// deliveries back, and what the dispatcher learnt about each endpoint.
//
// An endpoint is gated when it is paused (a Retry-After), rate-limited (its
// own limit or its application's) or FIFO. The claim statement
// (claimDeliveries) hands out a gated endpoint's deliveries within its
// budget, under a lock on the endpoint's row, so that instances share one
// budget and one FIFO head. Gated endpoints are found through partial
// indexes, so an installation without any pays two empty index scans per
// claim.

// gatedEndpoints lists the gated endpoints, through endpoints_gated and
// applications_rate_limited.
const gatedEndpoints = `
	SELECT id FROM endpoints WHERE fifo OR rate_limit IS NOT NULL OR paused_until IS NOT NULL
	UNION ALL
	SELECT id FROM endpoints WHERE app_id IN (SELECT id FROM applications WHERE rate_limit IS NOT NULL)`

// pendingLag is how far behind now a gated endpoint's pending_from stays:
// a message id is made before its transaction commits, by whichever
// instance accepted it, so a delivery to a message made a moment ago may
// still appear. It also bounds the clock skew between instances that FIFO
// and rate limits tolerate.
const pendingLag = time.Minute

// resetPendingFrom makes the claim look at an endpoint's whole history
// again: a manual delivery (resend, recover) may be to a message before its
// pending_from.
const resetPendingFrom = `UPDATE endpoints SET pending_from = NULL WHERE id = $1 AND pending_from IS NOT NULL`

const (
	// lockEndpointHealth reads an endpoint's health under its row lock, so
	// that two instances reporting at once apply their reports in turn and
	// only one of them disables it.
	lockEndpointHealth = `
		SELECT app_id, coalesce(uid, ''), disabled, failing_since, paused_until
		FROM endpoints WHERE id = $1 FOR UPDATE`
	setHealth = `
		UPDATE endpoints SET failing_since = $1, paused_until = $2, disabled = $3,
			updated_at = CASE WHEN disabled <> $3 THEN greatest($4, updated_at + interval '1 millisecond') ELSE updated_at END
		WHERE id = $5`
	// pauseDeliveries moves the endpoint's waiting deliveries to the end
	// of its pause, so that NextDue does not wake dispatchers for
	// deliveries they may not claim. Leased ones are in flight and keep
	// their lease.
	pauseDeliveries = `
		UPDATE deliveries SET next_attempt_at = $1
		WHERE endpoint_id = $2 AND msg_id >= coalesce((SELECT pending_from FROM endpoints WHERE id = $2), '')
			AND next_attempt_at IS NOT NULL AND next_attempt_at < $1
			AND (lease_until IS NULL OR lease_until <= $3)`
)

// EndpointHealthRecord applies the dispatcher's reports about endpoints in
// one transaction (see storekit.ApplyReports).
func (s driver) EndpointHealthRecord(ctx context.Context, reports []hookbridge.EndpointReport, disableBefore time.Time) ([]hookbridge.DisabledEndpoint, error) {
	var disabled []hookbridge.DisabledEndpoint
	now := storekit.TruncMS(s.now())
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		disabled, err = storekit.ApplyReports(reports, func(r hookbridge.EndpointReport) (*hookbridge.DisabledEndpoint, error) {
			return applyReport(ctx, tx, r, disableBefore, now)
		})
		return err
	})
	return disabled, err
}

// applyReport applies one report (see storekit.ApplyReport) at now and
// returns the endpoint if it disabled it, having recorded its
// EventEndpointDisabled.
func applyReport(ctx context.Context, tx pgx.Tx, r hookbridge.EndpointReport, disableBefore, now time.Time) (*hookbridge.DisabledEndpoint, error) {
	var (
		h               storekit.Health
		failing, paused *time.Time
	)
	err := tx.QueryRow(ctx, lockEndpointHealth, r.EndpointID).Scan(&h.AppID, &h.UID, &h.Disabled, &failing, &paused)
	if storekit.IsNoRows(err) {
		return nil, nil // deleted meanwhile: nothing to keep
	}
	if err != nil {
		return nil, err
	}
	h.FailingSince, h.PausedUntil = fromNullTime(failing), fromNullTime(paused)
	h, pause, gone := storekit.ApplyReport(h, r, r.EndpointID, disableBefore)
	if !pause.IsZero() {
		if _, err := tx.Exec(ctx, pauseDeliveries, pause, r.EndpointID, storekit.TruncMS(r.At)); err != nil {
			return nil, fmt.Errorf("pause deliveries: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, setHealth, timeOrNull(h.FailingSince), timeOrNull(h.PausedUntil), h.Disabled, now, r.EndpointID); err != nil {
		return nil, err
	}
	if gone != nil {
		if err := recordEvent(ctx, tx, hookbridge.DisabledEvent(gone), now); err != nil {
			return nil, err
		}
	}
	return gone, nil
}
