package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testAttempts(t *testing.T, open Opener) {
	open.run(t, "ListGetExpunge", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep1 := newEndpoint(t, s, app.ID, nil)
		ep2 := newEndpoint(t, s, app.ID, nil)
		m1 := newMessage(t, s, app.ID, "order.created", at(1*time.Minute), "eu")
		m2 := newMessage(t, s, app.ID, "payment.captured", at(2*time.Minute))

		// Two rounds of sending, every (endpoint, message) pair with its
		// own status code per round; 0 is a connection error.
		codes := map[[2]string][]int{
			{ep1.ID, m1.ID}: {200},
			{ep2.ID, m1.ID}: {500, 204},
			{ep1.ID, m2.ID}: {0, 503},
			{ep2.ID, m2.ID}: {404},
		}
		var made []hookbridge.Attempt
		for round, now := range []time.Time{at(10 * time.Minute), at(20 * time.Minute)} {
			finish(t, s, now, func(c hookbridge.Claim) hookbridge.AttemptResult {
				cs := codes[[2]string{c.Endpoint.ID, c.Message.ID}]
				a := attemptFor(c, now, cs[round])
				made = append(made, *a)
				r := hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: a, Status: a.Status}
				if a.Status == hookbridge.StatusFail && round+1 < len(cs) {
					r.Status, r.NextAttempt = hookbridge.StatusSending, at(20*time.Minute)
				}
				return r
			})
		}
		if len(made) != 6 {
			t.Fatalf("made %d attempts, want 6", len(made))
		}
		// want is the attempts made that satisfy keep, newest first.
		want := func(keep func(a hookbridge.Attempt) bool) []hookbridge.Attempt {
			var out []hookbridge.Attempt
			for _, a := range made {
				if keep(a) {
					out = append(out, a)
				}
			}
			slices.SortFunc(out, func(a, b hookbridge.Attempt) int { return strings.Compare(b.ID, a.ID) })
			return out
		}
		status := func(st hookbridge.MessageStatus) *hookbridge.MessageStatus { return &st }
		class := func(c int) *int { return &c }
		for _, tc := range []struct {
			name string
			f    hookbridge.AttemptFilter
			keep func(a hookbridge.Attempt) bool
		}{
			{"All", hookbridge.AttemptFilter{}, func(a hookbridge.Attempt) bool { return true }},
			{"Success", hookbridge.AttemptFilter{Status: status(hookbridge.StatusSuccess)}, func(a hookbridge.Attempt) bool { return a.StatusCode/100 == 2 }},
			{"Fail", hookbridge.AttemptFilter{Status: status(hookbridge.StatusFail)}, func(a hookbridge.Attempt) bool { return a.StatusCode/100 != 2 }},
			{"Class2xx", hookbridge.AttemptFilter{StatusCodeClass: class(200)}, func(a hookbridge.Attempt) bool { return a.StatusCode/100 == 2 }},
			{"Class4xx", hookbridge.AttemptFilter{StatusCodeClass: class(400)}, func(a hookbridge.Attempt) bool { return a.StatusCode == 404 }},
			{"Class5xx", hookbridge.AttemptFilter{StatusCodeClass: class(500)}, func(a hookbridge.Attempt) bool { return a.StatusCode/100 == 5 }},
			{"NoResponse", hookbridge.AttemptFilter{StatusCodeClass: class(0)}, func(a hookbridge.Attempt) bool { return a.StatusCode == 0 }},
			{"Endpoint", hookbridge.AttemptFilter{EndpointID: ep1.ID}, func(a hookbridge.Attempt) bool { return a.EndpointID == ep1.ID }},
			{"Message", hookbridge.AttemptFilter{MsgID: m2.ID}, func(a hookbridge.Attempt) bool { return a.MsgID == m2.ID }},
			{"MessageAndEndpoint", hookbridge.AttemptFilter{MsgID: m1.ID, EndpointID: ep2.ID}, func(a hookbridge.Attempt) bool {
				return a.MsgID == m1.ID && a.EndpointID == ep2.ID
			}},
			{"EventType", hookbridge.AttemptFilter{EventTypes: []string{"payment.captured"}}, func(a hookbridge.Attempt) bool { return a.MsgID == m2.ID }},
			{"Channel", hookbridge.AttemptFilter{Channel: "eu"}, func(a hookbridge.Attempt) bool { return a.MsgID == m1.ID }},
			{"Before", hookbridge.AttemptFilter{Before: at(20 * time.Minute)}, func(a hookbridge.Attempt) bool { return a.CreatedAt.Before(at(20 * time.Minute)) }},
			{"After", hookbridge.AttemptFilter{After: at(10 * time.Minute)}, func(a hookbridge.Attempt) bool { return a.CreatedAt.After(at(10 * time.Minute)) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := func(a hookbridge.Attempt) string { return a.ID }
				got := pageAll(t, 2, key, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Attempt], error) {
					f := tc.f
					f.ListOptions = opt
					return s.ListAttempts(ctx, app.ID, f)
				}, hookbridge.OrderDefault)
				equal(t, "attempts", got, want(tc.keep))
			})
		}
		t.Run("Ascending", func(t *testing.T) {
			key := func(a hookbridge.Attempt) string { return a.ID }
			got := pageAll(t, 4, key, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Attempt], error) {
				return s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{ListOptions: opt})
			}, hookbridge.OrderAscending)
			w := want(func(hookbridge.Attempt) bool { return true })
			slices.Reverse(w)
			equal(t, "attempts", got, w)
		})

		b := newApp(t, s, "b")
		p, err := s.ListAttempts(ctx, b.ID, hookbridge.AttemptFilter{})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("application b lists %+v", p.Data)
		}
		// A delivery's first try and a later one: a store may keep them
		// apart (SQLite keeps the first in the delivery's row).
		for _, tc := range []struct {
			name string
			a    hookbridge.Attempt
		}{{"FirstTry", made[0]}, {"Retry", made[len(made)-1]}} {
			t.Run(tc.name, func(t *testing.T) {
				a := tc.a
				got := storedAs(t, "GetAttempt", a)(s.GetAttempt(ctx, app.ID, a.MsgID, a.ID))
				wantUTC(t, "GetAttempt", got.CreatedAt)
				otherMsg := m1.ID
				if a.MsgID == m1.ID {
					otherMsg = m2.ID
				}
				_, err := s.GetAttempt(ctx, app.ID, otherMsg, a.ID)
				wantCode(t, err, hookbridge.ENOTFOUND)
				_, err = s.GetAttempt(ctx, b.ID, a.MsgID, a.ID)
				wantCode(t, err, hookbridge.ENOTFOUND)

				wantCode(t, s.ExpungeAttemptContent(ctx, b.ID, a.MsgID, a.ID), hookbridge.ENOTFOUND)
				wantCode(t, s.ExpungeAttemptContent(ctx, app.ID, otherMsg, a.ID), hookbridge.ENOTFOUND)
				ok(t, s.ExpungeAttemptContent(ctx, app.ID, a.MsgID, a.ID))
				got, err = s.GetAttempt(ctx, app.ID, a.MsgID, a.ID)
				ok(t, err)
				a.Response = ""
				equal(t, "expunged attempt", *got, a)
			})
		}
		// Expunging those two left the others' responses alone.
		for _, a := range made[1 : len(made)-1] {
			storedAs(t, "GetAttempt", a)(s.GetAttempt(ctx, app.ID, a.MsgID, a.ID))
		}
	})
}
