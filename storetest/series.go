package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// testDeliveryStats covers the operator's figures: attempts per time bucket
// and the backlog of deliveries not final yet.
func testDeliveryStats(t *testing.T, open Opener) {
	open.run(t, "AttemptCountsAndBacklog", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a := newApp(t, s, "a")
		newEndpoint(t, s, a.ID, nil)
		b := newApp(t, s, "b")
		newEndpoint(t, s, b.ID, nil)
		idle := newApp(t, s, "idle")

		am := make([]*hookbridge.Message, 4)
		for i := range am {
			am[i] = newMessage(t, s, a.ID, "order.created", at(time.Minute))
		}
		bm := []*hookbridge.Message{
			newMessage(t, s, b.ID, "order.created", at(time.Minute)),
			newMessage(t, s, b.ID, "order.created", at(time.Minute)),
		}

		// Attempt times are chosen to land on bucket edges: with 15-minute
		// buckets from at(0), [0,15m) holds a success and a failure of a,
		// [15m,30m) a failure of a (retrying) and a success of b, and
		// [45m,60m) a success of a at the last millisecond; b's attempt at
		// at(1h) is outside [at(0), at(1h)).
		results := map[string]func(hookbridge.Claim) hookbridge.AttemptResult{
			am[0].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(0), 200), Status: hookbridge.StatusSuccess}
			},
			am[1].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(5*time.Minute), 500), Status: hookbridge.StatusFail}
			},
			am[2].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(17*time.Minute), 502),
					Status: hookbridge.StatusSending, NextAttempt: at(2 * time.Hour)}
			},
			am[3].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(time.Hour-time.Millisecond), 204), Status: hookbridge.StatusSuccess}
			},
			bm[0].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(20*time.Minute), 200), Status: hookbridge.StatusSuccess}
			},
			bm[1].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(time.Hour), 200), Status: hookbridge.StatusSuccess}
			},
		}
		claims := finish(t, s, at(time.Hour), func(c hookbridge.Claim) hookbridge.AttemptResult {
			return results[c.Message.ID](c)
		})
		if len(claims) != len(results) {
			t.Fatalf("claimed %d deliveries, want %d", len(claims), len(results))
		}

		quarter := 15 * time.Minute
		for _, tc := range []struct {
			name         string
			appID        string
			since, until time.Time
			width        time.Duration
			want         []hookbridge.AttemptCount
		}{
			{"OneApplication", a.ID, at(0), at(time.Hour), quarter, []hookbridge.AttemptCount{
				{Start: at(0), Success: 1, Fail: 1},
				{Start: at(quarter), Fail: 1},
				{Start: at(3 * quarter), Success: 1},
			}},
			{"AllApplications", "", at(0), at(time.Hour), quarter, []hookbridge.AttemptCount{
				{Start: at(0), Success: 1, Fail: 1},
				{Start: at(quarter), Success: 1, Fail: 1},
				{Start: at(3 * quarter), Success: 1},
			}},
			{"BucketsStartAtSince", a.ID, at(15 * time.Minute), at(30 * time.Minute), 5 * time.Minute, []hookbridge.AttemptCount{
				{Start: at(15 * time.Minute), Fail: 1},
			}},
			{"OneBucket", "", at(0), at(2 * time.Hour), 2 * time.Hour, []hookbridge.AttemptCount{
				{Start: at(0), Success: 4, Fail: 2},
			}},
			{"IdleApplication", idle.ID, at(0), at(time.Hour), quarter, nil},
			{"EmptyWindow", "", at(time.Hour), at(time.Hour), quarter, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.AttemptCounts(ctx, tc.appID, "", tc.since, tc.until, tc.width)
				ok(t, err)
				equal(t, "attempt counts", got, tc.want)
			})
		}

		// Backlog: a's am[2] is retrying, due at at(2h); a new message is
		// pending, due at at(3h).
		newMessage(t, s, a.ID, "order.created", at(3*time.Hour))
		for _, tc := range []struct {
			name string
			now  time.Time
			want hookbridge.Backlog
		}{
			{"NothingDue", at(90 * time.Minute), hookbridge.Backlog{Pending: 1, Sending: 1}},
			{"RetryDue", at(2 * time.Hour), hookbridge.Backlog{Pending: 1, Sending: 1, Due: 1}},
			{"BothDue", at(3 * time.Hour), hookbridge.Backlog{Pending: 1, Sending: 1, Due: 2}},
		} {
			t.Run("Backlog"+tc.name, func(t *testing.T) {
				got, err := s.Backlog(ctx, tc.now)
				ok(t, err)
				equal(t, "backlog", got, tc.want)
			})
		}
		// Claimed deliveries are still backlog until their result is recorded.
		if n := len(claimAll(t, s, "w", at(3*time.Hour))); n != 2 {
			t.Fatalf("claimed %d, want 2", n)
		}
		got, err := s.Backlog(ctx, at(3*time.Hour))
		ok(t, err)
		equal(t, "backlog while claimed", got, hookbridge.Backlog{Pending: 1, Sending: 1, Due: 2})
	})

	open.run(t, "AttemptCountsOfOneEndpoint", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a := newApp(t, s, "a")
		good := newEndpoint(t, s, a.ID, nil)
		bad := newEndpoint(t, s, a.ID, nil)
		other := newApp(t, s, "other")
		newMessage(t, s, a.ID, "order.created", at(0))
		newMessage(t, s, a.ID, "order.created", at(0))
		// Each message goes to both endpoints: good answers 200, bad 500.
		finish(t, s, at(time.Minute), func(c hookbridge.Claim) hookbridge.AttemptResult {
			code, status := 200, hookbridge.StatusSuccess
			if c.Delivery.EndpointID == bad.ID {
				code, status = 500, hookbridge.StatusFail
			}
			return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(time.Minute), code), Status: status}
		})
		for _, tc := range []struct {
			name              string
			appID, endpointID string
			want              []hookbridge.AttemptCount
		}{
			{"Succeeding", a.ID, good.ID, []hookbridge.AttemptCount{{Start: at(0), Success: 2}}},
			{"Failing", a.ID, bad.ID, []hookbridge.AttemptCount{{Start: at(0), Fail: 2}}},
			{"Both", a.ID, "", []hookbridge.AttemptCount{{Start: at(0), Success: 2, Fail: 2}}},
			{"OtherApplication", other.ID, good.ID, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.AttemptCounts(ctx, tc.appID, tc.endpointID, at(0), at(time.Hour), time.Hour)
				ok(t, err)
				equal(t, "attempt counts", got, tc.want)
			})
		}
	})
}
