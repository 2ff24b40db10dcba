package hookbridge

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ev is a step for the table below: "captured 1000", "refund re_1 300",
// "dispute dp_1", "closed dp_1 won", "failed @10" (at minute 10).
func ev(t *testing.T, spec string) PaymentStep {
	t.Helper()
	f := strings.Fields(spec)
	step := PaymentStep{PaymentID: "pi_1", Currency: "EUR"}
	if at := f[len(f)-1]; strings.HasPrefix(at, "@") {
		var m int
		fmt.Sscanf(at, "@%d", &m)
		step.OccurredAt = time.Date(2024, 5, 1, 10, m, 0, 0, time.UTC)
		f = f[:len(f)-1]
	}
	amount := func(s string) *int64 {
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		return &n
	}
	switch f[0] {
	case "authorized", "captured", "failed", "voided", "updated":
		step.EventType = "payment." + f[0]
		if len(f) > 1 {
			step.Amount = amount(f[1])
		}
	case "refund", "refund-failed":
		step.EventType, step.ObjectID = "refund.succeeded", f[1]
		if f[0] == "refund-failed" {
			step.EventType = "refund.failed"
		}
		if len(f) > 2 {
			step.Amount = amount(f[2])
		}
	case "dispute":
		step.EventType, step.ObjectID = "dispute.opened", f[1]
	case "closed":
		step.EventType, step.ObjectID = "dispute.closed", f[1]
		if len(f) > 2 {
			step.Outcome = DisputeOutcome(f[2])
		}
	default:
		t.Fatalf("unknown step %q", spec)
	}
	return step
}

// TestPaymentAdvance: each sequence of events leaves the payment where the
// graph says, and marks the stale ones (with "!" in want).
func TestPaymentAdvance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		events []string
		want   string // each event's status after it, "!" marking a stale one
	}{
		{"InOrder", []string{"authorized 1000", "captured 1000", "refund re_1 300", "refund re_2 700"},
			"authorized captured partially_refunded refunded"},
		{"LateAuthorization", []string{"captured 1000", "authorized 1000"}, "captured captured!"},
		{"FailedAfterCaptured", []string{"authorized 1000", "captured 1000", "failed"}, "authorized captured captured!"},
		{"VoidAfterCapture", []string{"captured 1000", "voided"}, "captured captured!"},
		{"CaptureAfterVoid", []string{"authorized 1000", "voided", "captured 1000"}, "authorized voided voided!"},
		{"CaptureAfterRefund", []string{"captured 1000", "refund re_1 1000", "captured 1000"}, "captured refunded refunded!"},
		{"SkipsUnreported", []string{"refund re_1 500", "dispute dp_1"}, "partially_refunded disputed"},
		{"ReportedAgain", []string{"authorized", "authorized", "captured 100", "captured 100", "dispute dp_1", "dispute dp_1"},
			"authorized authorized captured captured disputed disputed"},
		{"RefundRepeated", []string{"captured 1000", "refund re_1 400", "refund re_1 400", "refund re_2 600"},
			"captured partially_refunded partially_refunded refunded"},
		{"OverRefund", []string{"captured 1000", "refund re_1 800", "refund re_2 300"}, "captured partially_refunded partially_refunded!"},
		{"RefundAfterFullRefund", []string{"captured 1000", "refund re_1 1000", "refund re_2 1"}, "captured refunded refunded!"},
		{"RefundBeforeCaptureKnown", []string{"authorized 1000", "refund re_1 1000"}, "authorized refunded"},
		{"RefundWithoutAmount", []string{"captured 1000", "refund re_1"}, "captured partially_refunded"},
		{"RefundOfFailed", []string{"failed", "refund re_1 100", "refund-failed re_1"}, "failed failed! failed!"},
		{"RefundFailedMovesNothing", []string{"captured 1000", "refund-failed re_1 100"}, "captured captured"},
		{"PartialCaptures", []string{"authorized 1000", "captured 400", "captured 600", "refund re_1 1000"},
			"authorized captured captured refunded"},
		{"DisputeWon", []string{"captured 1000", "dispute dp_1", "closed dp_1 won"}, "captured disputed dispute_won"},
		{"DisputeLostUnopened", []string{"captured 1000", "closed dp_1 lost"}, "captured dispute_lost"},
		{"DisputeOutcomeUnknown", []string{"captured 1000", "dispute dp_1", "closed dp_1"}, "captured disputed dispute_closed"},
		{"DisputeReopened", []string{"captured 1000", "dispute dp_1", "closed dp_1 won", "dispute dp_1", "closed dp_1 lost"},
			"captured disputed dispute_won dispute_won! dispute_won!"},
		{"SecondDispute", []string{"captured 1000", "dispute dp_1", "closed dp_1 won", "dispute dp_2"},
			"captured disputed dispute_won disputed"},
		{"LateDisputeOpened", []string{"captured 1000", "closed dp_1 lost", "dispute dp_1"}, "captured dispute_lost dispute_lost!"},
		{"RefundUnderDispute", []string{"captured 1000", "dispute dp_1", "refund re_1 100"}, "captured disputed disputed!"},
		{"DisputeOfVoided", []string{"voided", "dispute dp_1"}, "voided voided!"},
		{"RetryAfterFailure", []string{"failed @1", "authorized @5", "captured @6"}, "failed authorized captured"},
		{"LateFailureOfEarlierAttempt", []string{"authorized @5", "failed @1"}, "authorized authorized!"},
		{"LateAuthorizationOfFailedAttempt", []string{"failed @5", "authorized @1"}, "failed failed!"},
		{"CaptureFailedAfterAuthorization", []string{"authorized @5", "failed @6", "voided"}, "authorized failed voided"},
		{"UpdatesMoveNothing", []string{"updated", "captured 5", "updated"}, " captured captured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s PaymentState
			var got []string
			prev := PaymentNone
			for i, spec := range tc.events {
				next, step := s.Advance(ev(t, spec))
				if step.Sequence != int64(i+1) || next.Sequence != step.Sequence {
					t.Errorf("%s: sequence %d (state %d), want %d", spec, step.Sequence, next.Sequence, i+1)
				}
				if step.Previous != prev || step.Status != next.Status {
					t.Errorf("%s: previous %q status %q, state %q; want previous %q", spec, step.Previous, step.Status, next.Status, prev)
				}
				mark := ""
				if step.Stale {
					mark = "!"
					if next.Status != s.Status || next.Refunded != s.Refunded || len(next.Refunds) != len(s.Refunds) {
						t.Errorf("%s: a stale event changed the state: %+v to %+v", spec, s, next)
					}
				}
				got = append(got, string(step.Status)+mark)
				s, prev = next, next.Status
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("statuses %q, want %q", g, tc.want)
			}
		})
	}
}

// The amounts follow the events: partial captures add up within the
// authorisation, a repeated report does not count twice.
func TestPaymentAmounts(t *testing.T) {
	t.Parallel()
	var s PaymentState
	for _, spec := range []string{"authorized 1000", "captured 400", "captured 600", "captured 1000", "refund re_1 250", "refund re_1 250"} {
		s, _ = s.Advance(ev(t, spec))
	}
	if *s.Authorized != 1000 || *s.Captured != 1000 || s.Refunded != 250 || strings.Join(s.Refunds, ",") != "re_1" || s.Currency != "EUR" {
		t.Errorf("state %+v: want 1000 authorised and captured, 250 refunded once", s)
	}
	// Another currency's amount is not counted.
	usd := ev(t, "refund re_2 250")
	usd.Currency = "USD"
	s, step := s.Advance(usd)
	if s.Refunded != 250 || step.Stale || s.Status != PaymentPartiallyRefunded {
		t.Errorf("a refund in another currency: %+v, %+v", s, step)
	}
}

func TestStalePolicy(t *testing.T) {
	t.Parallel()
	if StalePolicy("").Or() != StaleForwardFlagged || StaleHold.Or() != StaleHold {
		t.Error("Or: the default is forward-flagged")
	}
	if !StaleHold.Valid() || !StaleForwardFlagged.Valid() || StalePolicy("").Valid() || StalePolicy("drop").Valid() {
		t.Error("Valid")
	}
}
