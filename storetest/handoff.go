package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// HandoffLog is the dispatcher's side of a hookbridge.Handoff, reduced to
// keeping count, for the stores' tests of the handoff contract: it takes
// every delivery offered (unless Refuse) and records what it was given, and
// the most reservations it ever had outstanding. Lock it to read the
// fields while a store may still call it.
type HandoffLog struct {
	sync.Mutex
	Reserved, Cancelled, Wakes, Refusals int
	Most                                 int      // outstanding reservations, at most
	CancelledIDs                         []string // endpoint ids given back
	Taken                                []hookbridge.Claim

	// Set before the store uses it:
	Refuse    bool                    // refuse every reservation
	OnReserve func(endpointID string) // if set, runs first in Reserve
}

// HandoffOwner is the lease owner HandoffLog writes on what it takes.
const HandoffOwner = "owner-1"

var _ hookbridge.Handoff = (*HandoffLog)(nil)

func (h *HandoffLog) Lease(now time.Time) (string, time.Time) {
	return HandoffOwner, now.Add(time.Minute)
}

func (h *HandoffLog) Reserve(endpointID string) bool {
	if h.OnReserve != nil {
		h.OnReserve(endpointID)
	}
	h.Lock()
	defer h.Unlock()
	if h.Refuse {
		return false
	}
	h.Reserved++
	h.Most = max(h.Most, h.Reserved-h.Cancelled-len(h.Taken))
	return true
}

func (h *HandoffLog) Take(claims []hookbridge.Claim) {
	h.Lock()
	defer h.Unlock()
	h.Taken = append(h.Taken, claims...)
}

func (h *HandoffLog) Cancel(ids []string) {
	h.Lock()
	defer h.Unlock()
	h.Cancelled += len(ids)
	h.CancelledIDs = append(h.CancelledIDs, ids...)
}

func (h *HandoffLog) Wake() {
	h.Lock()
	defer h.Unlock()
	h.Wakes++
}

func (h *HandoffLog) Refused() {
	h.Lock()
	defer h.Unlock()
	h.Refusals++
}

// AppendSuccesses appends to dst a successful first attempt for each claim,
// as the dispatcher records one: for benchmarks of the claim and result
// paths.
func AppendSuccesses(dst []hookbridge.AttemptResult, claims []hookbridge.Claim) []hookbridge.AttemptResult {
	for _, c := range claims {
		dst = append(dst, hookbridge.AttemptResult{
			DeliveryID: c.Delivery.ID,
			Attempt:    &hookbridge.Attempt{URL: c.Endpoint.URL, Status: hookbridge.StatusSuccess, StatusCode: 200, Response: "ok", DurationMS: 3},
			Status:     hookbridge.StatusSuccess,
		})
	}
	return dst
}

// BenchPayload is a typical thin payment event, for the stores'
// benchmarks.
var BenchPayload = json.RawMessage(`{"paymentId":"pay_8f2c1e","orderId":"ord_51aa","status":"captured",` +
	`"amount":4250,"currency":"EUR","processor":"adyen","processorRef":"8535516988037431",` +
	`"capturedAt":"2025-06-01T12:00:00Z","metadata":{"` + strings.Repeat("x", 200) + `":"y"}}`)

// BenchApp creates, for a benchmark, an application with one endpoint that
// takes every event.
func BenchApp(b testing.TB, s hookbridge.Store) *hookbridge.Application {
	b.Helper()
	ctx := context.Background()
	app := &hookbridge.Application{Name: "bench"}
	if err := s.CreateApplication(ctx, app); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateEndpoint(ctx, &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/"}); err != nil {
		b.Fatal(err)
	}
	return app
}

// BenchClaimRecord claims batch deliveries due at now as the owner "bench"
// and records a success for each, as a benchmark of the dispatcher's side
// does once a round; results is the slice to reuse, returned.
func BenchClaimRecord(b testing.TB, s hookbridge.Store, now time.Time, batch int, results []hookbridge.AttemptResult) []hookbridge.AttemptResult {
	ctx := context.Background()
	claims, err := s.ClaimDeliveries(ctx, "bench", now, time.Minute, batch)
	if err != nil {
		b.Fatal(err)
	}
	if len(claims) != batch {
		b.Fatalf("claimed %d, want %d", len(claims), batch)
	}
	results = AppendSuccesses(results[:0], claims)
	if rejected, err := s.RecordAttempts(ctx, "bench", results); err != nil || len(rejected) > 0 {
		b.Fatal(err, rejected)
	}
	return results
}
