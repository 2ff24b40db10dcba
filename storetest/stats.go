package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testStats(t *testing.T, open Opener) {
	open.run(t, "EndpointStats", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		quiet := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"refund.failed"} })
		m := make([]*hookbridge.Message, 5)
		for i := range m {
			m[i] = newMessage(t, s, app.ID, "order.created", at(time.Duration(i+1)*time.Minute))
		}
		// At ep: m0 succeeds, m1 fails, m2 is retrying, m3 is pending, and
		// m4 failed but was resent, so is pending again.
		now := at(time.Hour)
		claims := claimAll(t, s, "w", now)
		var results []hookbridge.AttemptResult
		var release []string
		for _, c := range claims {
			switch c.Message.ID {
			case m[0].ID:
				results = append(results, succeed(now)(c))
			case m[1].ID, m[4].ID:
				results = append(results, giveUp(now)(c))
			case m[2].ID:
				results = append(results, hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, now, 502),
					Status: hookbridge.StatusSending, NextAttempt: at(2 * time.Hour)})
			default:
				release = append(release, c.Delivery.ID)
			}
		}
		_, err := s.RecordAttempts(ctx, "w", results)
		ok(t, err)
		ok(t, s.ReleaseDeliveries(ctx, "w", release))
		_, err = s.Resend(ctx, app.ID, m[4].ID, ep.ID, now)
		ok(t, err)

		for _, tc := range []struct {
			name         string
			since, until time.Time
			want         hookbridge.EndpointStats
		}{
			{"All", time.Time{}, time.Time{}, hookbridge.EndpointStats{Success: 1, Fail: 1, Sending: 1, Pending: 2}},
			{"Window", at(2 * time.Minute), at(4 * time.Minute), hookbridge.EndpointStats{Fail: 1, Sending: 1}},
			{"Since", at(3 * time.Minute), time.Time{}, hookbridge.EndpointStats{Sending: 1, Pending: 2}},
			{"Until", time.Time{}, at(2 * time.Minute), hookbridge.EndpointStats{Success: 1}},
			{"Empty", at(time.Hour), time.Time{}, hookbridge.EndpointStats{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.EndpointStats(ctx, app.ID, ep.ID, tc.since, tc.until)
				ok(t, err)
				equal(t, "stats", got, tc.want)
			})
		}
		got, err := s.EndpointStats(ctx, app.ID, quiet.ID, time.Time{}, time.Time{})
		ok(t, err)
		equal(t, "endpoint owed nothing", got, hookbridge.EndpointStats{})

		b := newApp(t, s, "b")
		got, err = s.EndpointStats(ctx, b.ID, ep.ID, time.Time{}, time.Time{})
		if err != nil {
			wantCode(t, err, hookbridge.ENOTFOUND)
		} else {
			equal(t, "another application's endpoint", got, hookbridge.EndpointStats{})
		}
	})
}
