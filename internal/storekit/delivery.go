package storekit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// ClaimWalk is how many entries of the due order a claim that skips
// endpoints reads at most, in either store: two claim batches' worth.
// Behind a skipped endpoint's backlog, reading on would find nothing; what
// lies beyond, the store takes endpoint by endpoint (docs/benchmarks.md,
// (v)).
const ClaimWalk = 512

// ScheduledDelivery is the pending delivery of msg to the endpoint that a
// fan-out writes, due at the message's time (DueAt); now is the store's.
func ScheduledDelivery(msg *hookbridge.Message, endpointID string, now time.Time) hookbridge.Delivery {
	return hookbridge.Delivery{
		ID: hookbridge.NewID(hookbridge.PrefixDelivery), AppID: msg.AppID, MsgID: msg.ID, EndpointID: endpointID,
		Status: hookbridge.StatusPending, Trigger: hookbridge.TriggerScheduled,
		NextAttempt: DueAt(msg), CreatedAt: now, UpdatedAt: now,
	}
}

// DueAt is when the deliveries of a new message are due: its time, or
// its DeliverAt when that is later (a scheduled message).
func DueAt(msg *hookbridge.Message) time.Time {
	if msg.DeliverAt.After(msg.CreatedAt) {
		return msg.DeliverAt
	}
	return msg.CreatedAt
}

// Scheduled is the DeliverAt a store keeps for msg: zero (NULL) unless
// it is later than the message's time.
func Scheduled(msg *hookbridge.Message) (deliverAt time.Time, ok bool) {
	if msg.DeliverAt.After(msg.CreatedAt) {
		return msg.DeliverAt, true
	}
	return time.Time{}, false
}

// ManualDelivery is the pending delivery a resend or a recovery adds, due
// at now; its id sorts by now.
func ManualDelivery(appID, msgID, endpointID string, now time.Time) hookbridge.Delivery {
	return hookbridge.Delivery{
		ID: hookbridge.NewIDAt(hookbridge.PrefixDelivery, now), AppID: appID, MsgID: msgID, EndpointID: endpointID,
		Status: hookbridge.StatusPending, Trigger: hookbridge.TriggerManual,
		NextAttempt: now, CreatedAt: now, UpdatedAt: now,
	}
}

// MayHandOver reports whether a new delivery to e may be offered to the
// Handoff (hookbridge.Handoff.Reserve): only if it is due at once and
// nothing would hold it back in a claim, e being neither FIFO, nor
// rate-limited, nor paused, and its application (appLimited) not
// rate-limited.
func MayHandOver(e *hookbridge.Endpoint, due, appLimited bool) bool {
	return due && !appLimited && !e.FIFO && e.RateLimit == nil && e.PausedUntil.IsZero()
}

// sortClaims orders claims as the dispatcher is handed them: earliest due
// first, then by delivery id. A claim statement returns its rows in no
// particular order.
func sortClaims(claims []hookbridge.Claim) {
	slices.SortFunc(claims, func(a, b hookbridge.Claim) int {
		return cmp.Or(a.Delivery.NextAttempt.Compare(b.Delivery.NextAttempt), strings.Compare(a.Delivery.ID, b.Delivery.ID))
	})
}

// checkResult rejects a result that would break the delivery invariants: a
// delivery ends in success or fail, or goes on sending at a set time; an
// operational event reports an attempt.
func checkResult(r hookbridge.AttemptResult) error {
	if r.Event != nil && r.Attempt == nil {
		return fmt.Errorf("delivery %s: an operational event needs the attempt it reports", r.DeliveryID)
	}
	switch r.Status {
	case hookbridge.StatusSuccess, hookbridge.StatusFail:
		return nil
	case hookbridge.StatusSending:
		if r.NextAttempt.IsZero() {
			return fmt.Errorf("delivery %s: status sending needs a next attempt time", r.DeliveryID)
		}
		return nil
	}
	return fmt.Errorf("delivery %s: cannot record status %s", r.DeliveryID, r.Status)
}

// checkResults is CheckResult for a batch, as RecordAttempts checks it
// before it writes anything.
func checkResults(results []hookbridge.AttemptResult) error {
	for _, r := range results {
		if err := checkResult(r); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	return nil
}
