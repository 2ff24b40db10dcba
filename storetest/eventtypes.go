package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testEventTypes(t *testing.T, open Opener) {
	open.run(t, "CRUD", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		et := &hookbridge.EventType{
			Name:        "payment.captured",
			Description: "An authorised payment was captured.",
			FeatureFlag: "beta",
			Schemas:     json.RawMessage(`{"1": {"type": "object"}}`),
			CreatedAt:   base,
			UpdatedAt:   base,
		}
		ok(t, s.CreateEventType(ctx, et))
		got := storedAs(t, "GetEventType", *et)(s.GetEventType(ctx, et.Name))
		wantUTC(t, "GetEventType", got.CreatedAt, got.UpdatedAt)

		wantCode(t, s.CreateEventType(ctx, &hookbridge.EventType{Name: et.Name}), hookbridge.ECONFLICT)

		upd := &hookbridge.EventType{Name: et.Name, Description: "changed", Archived: true, Deprecated: true}
		ok(t, s.UpdateEventType(ctx, upd))
		if !upd.UpdatedAt.After(base) {
			t.Errorf("UpdatedAt = %v, want it set to now", upd.UpdatedAt)
		}
		want := *upd
		want.CreatedAt = base
		storedAs(t, "after update", want)(s.GetEventType(ctx, et.Name))

		ok(t, s.DeleteEventType(ctx, et.Name))
		_, err := s.GetEventType(ctx, et.Name)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEventType(ctx, et.Name), hookbridge.ENOTFOUND)
		wantCode(t, s.UpdateEventType(ctx, &hookbridge.EventType{Name: "nope"}), hookbridge.ENOTFOUND)
	})

	open.run(t, "UpdateSinceRead", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		ok(t, s.CreateEventType(ctx, &hookbridge.EventType{Name: "refund.failed"}))
		a, err := s.GetEventType(ctx, "refund.failed")
		ok(t, err)
		b, err := s.GetEventType(ctx, "refund.failed")
		ok(t, err)
		a.RetrySchedule = []time.Duration{time.Minute}
		ok(t, s.UpdateEventType(ctx, a))
		b.Description = "changed"
		wantCode(t, s.UpdateEventType(ctx, b), hookbridge.ECONFLICT)
		got, err := s.GetEventType(ctx, "refund.failed")
		ok(t, err)
		equal(t, "after the stale update", []any{got.Description, got.RetrySchedule}, []any{"", a.RetrySchedule})
		equal(t, "UpdatedAt returned", got.UpdatedAt, a.UpdatedAt)

		got.Description = "changed"
		movesUpdatedAt(t, a.UpdatedAt, func() time.Time { return got.UpdatedAt }, func() error { return s.UpdateEventType(ctx, got) })

		ok(t, s.DeleteEventType(ctx, "refund.failed"))
		wantCode(t, s.UpdateEventType(ctx, got), hookbridge.ENOTFOUND)
	})

	open.run(t, "RetrySchedule", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		et := &hookbridge.EventType{Name: "invoice.paid",
			RetrySchedule: []time.Duration{1500 * time.Millisecond, time.Minute, 36 * time.Hour}}
		ok(t, s.CreateEventType(ctx, et))
		got, err := s.GetEventType(ctx, et.Name)
		ok(t, err)
		equal(t, "created with a schedule", got.RetrySchedule, et.RetrySchedule)
		page, err := s.ListEventTypes(ctx, hookbridge.ListOptions{Limit: 10}, false)
		ok(t, err)
		equal(t, "listed", page.Data[0].RetrySchedule, et.RetrySchedule)

		// Empty (one try, no retry) is not nil (the server's schedule).
		got.RetrySchedule = []time.Duration{}
		ok(t, s.UpdateEventType(ctx, got))
		got, err = s.GetEventType(ctx, et.Name)
		ok(t, err)
		if got.RetrySchedule == nil || len(got.RetrySchedule) != 0 {
			t.Errorf("after setting an empty schedule: %#v, want empty, not nil", got.RetrySchedule)
		}
		got.RetrySchedule = nil
		ok(t, s.UpdateEventType(ctx, got))
		got, err = s.GetEventType(ctx, et.Name)
		ok(t, err)
		if got.RetrySchedule != nil {
			t.Errorf("after clearing the schedule: %#v, want nil", got.RetrySchedule)
		}
	})

	open.run(t, "CreateFillsTimes", func(t *testing.T, s hookbridge.Store) {
		et := &hookbridge.EventType{Name: "order.created"}
		ok(t, s.CreateEventType(t.Context(), et))
		if et.CreatedAt.IsZero() || et.UpdatedAt.IsZero() {
			t.Errorf("times not filled in: %+v", et)
		}
		storedAs(t, "GetEventType", *et)(s.GetEventType(t.Context(), et.Name))
	})

	open.run(t, "List", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		// Created out of order: the list is by name, not by creation.
		for _, name := range []string{"order.ready", "dispute.opened", "refund.failed", "order.created", "payment.failed", "payment.voided"} {
			ok(t, s.CreateEventType(ctx, &hookbridge.EventType{Name: name, Archived: name == "payment.voided" || name == "dispute.opened"}))
		}
		key := func(et hookbridge.EventType) string { return et.Name }
		for _, archived := range []bool{false, true} {
			list := func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.EventType], error) {
				return s.ListEventTypes(ctx, opt, archived)
			}
			want := []string{"order.created", "order.ready", "payment.failed", "refund.failed"}
			name := "Active"
			if archived {
				want = []string{"dispute.opened", "order.created", "order.ready", "payment.failed", "payment.voided", "refund.failed"}
				name = "WithArchived"
			}
			for _, tc := range listCases(want) {
				t.Run(name+"/"+tc.name, func(t *testing.T) {
					got := ids(pageAll(t, tc.limit, key, list, tc.order), key)
					equal(t, "names", got, tc.want)
				})
			}
		}
	})

	open.run(t, "MissingEventTypes", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		ok(t, s.CreateEventType(ctx, &hookbridge.EventType{Name: "order.created"}))
		ok(t, s.CreateEventType(ctx, &hookbridge.EventType{Name: "order.cancelled", Archived: true}))
		for _, tc := range []struct {
			names, want []string
		}{
			{nil, nil},
			{[]string{"order.created"}, nil},
			{[]string{"order.cancelled"}, []string{"order.cancelled"}}, // archived: no new subscriptions
			{[]string{"nope"}, []string{"nope"}},
			{[]string{"order.created", "a.b", "order.cancelled", "c.d"}, []string{"a.b", "order.cancelled", "c.d"}},
		} {
			got, err := s.MissingEventTypes(ctx, tc.names)
			ok(t, err)
			equal(t, "MissingEventTypes", got, tc.want)
		}
	})
}
