package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Opener returns a new, empty store for one subtest and arranges (with
// t.Cleanup) for it to be closed. It is called from parallel subtests.
type Opener func(t *testing.T) hookbridge.Store

// run runs f as a parallel subtest, named name, on a store of its own.
func (open Opener) run(t *testing.T, name string, f func(t *testing.T, s hookbridge.Store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t, open(t))
	})
}

// Run runs the conformance suite against the stores open returns. Every
// subtest opens its own store and runs in parallel with the others.
func Run(t *testing.T, open Opener) {
	t.Run("Applications", func(t *testing.T) { testApplications(t, open) })
	t.Run("PortalExpirations", func(t *testing.T) { testPortalExpirations(t, open) })
	t.Run("EventTypes", func(t *testing.T) { testEventTypes(t, open) })
	t.Run("Endpoints", func(t *testing.T) { testEndpoints(t, open) })
	t.Run("Messages", func(t *testing.T) { testMessages(t, open) })
	t.Run("Scheduled", func(t *testing.T) { testScheduled(t, open) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open) })
	t.Run("EndpointMTLS", func(t *testing.T) { testEndpointMaterial(t, open, mtlsMaterial) })
	t.Run("EndpointOAuth", func(t *testing.T) { testEndpointMaterial(t, open, oauthMaterial) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, open) })
	t.Run("Attempts", func(t *testing.T) { testAttempts(t, open) })
	t.Run("Stats", func(t *testing.T) { testStats(t, open) })
	t.Run("DeliveryStats", func(t *testing.T) { testDeliveryStats(t, open) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Sources", func(t *testing.T) { testSources(t, open) })
	t.Run("BackfillState", func(t *testing.T) { testBackfillState(t, open) })
	t.Run("Payments", func(t *testing.T) { testPayments(t, open) })
	t.Run("Fairness", func(t *testing.T) { testFairness(t, open) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open) })
	t.Run("OperationalEvents", func(t *testing.T) { testOperationalEvents(t, open) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open) })
	t.Run("Tasks", func(t *testing.T) { testTasks(t, open) })
	t.Run("Capabilities", func(t *testing.T) { testCapabilities(t, open) })
}

// base is the suite's fixed clock reading. Times are whole milliseconds, as
// stores keep them.
var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// at is base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// lease is the lease length the delivery tests claim with.
const lease = 30 * time.Second

// wantCode fails the test unless err carries the given hookbridge error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := hookbridge.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// ok fails the test on an error.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// equal fails the test unless got and want are deeply equal once both are
// normalised (see normalize).
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, w := normalize(got), normalize(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// storedAs returns a check of a store's read of one record, to be called
// on the read's results: storedAs(t, "GetSource", *src)(s.GetSource(ctx,
// id)). It fails the test on the read's error, or unless the record read
// equals want (see equal), and returns the record read.
func storedAs[T any](t *testing.T, what string, want T) func(got *T, err error) *T {
	return func(got *T, err error) *T {
		t.Helper()
		ok(t, err)
		equal(t, what, *got, want)
		return got
	}
}

// normalize returns a copy of v in which what the Store contract leaves
// open is made canonical: empty and nil slices and maps are nil, times are
// in UTC without a monotonic reading, and JSON values are compacted with
// their object keys sorted.
func normalize[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	normValue(rv)
	return v
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func normValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if !t.IsZero() {
			v.Set(reflect.ValueOf(t.UTC().Round(0)))
		} else {
			v.Set(reflect.ValueOf(time.Time{}))
		}
		return
	case v.Type() == rawType:
		if v.Len() == 0 {
			v.Set(reflect.Zero(rawType))
			return
		}
		v.Set(reflect.ValueOf(canonicalJSON(v.Interface().(json.RawMessage))))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			c := reflect.New(v.Type().Elem())
			c.Elem().Set(v.Elem())
			normValue(c.Elem())
			v.Set(c)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normValue(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			normValue(c.Index(i))
		}
		v.Set(c)
	case reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// canonicalJSON re-encodes a JSON value with sorted keys and no spaces, so
// that a store may keep JSON in any equivalent form.
func canonicalJSON(m json.RawMessage) json.RawMessage {
	var x any
	if err := json.Unmarshal(m, &x); err != nil {
		return m // not JSON: compare the bytes as they are
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return m
	}
	return bytes.TrimSpace(b.Bytes())
}

// wantUTC fails the test unless every time is in UTC.
func wantUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

// ids returns the key of every item, in order.
func ids[T any](items []T, key func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out
}

// pageAll walks a list page by page, limit items at a time, checking that
// every page but the last is full and not done, and returns every item.
func pageAll[T any](t *testing.T, limit int, key func(T) string, list func(hookbridge.ListOptions) (hookbridge.Page[T], error), order hookbridge.Ordering) []T {
	t.Helper()
	var all []T
	opt := hookbridge.ListOptions{Limit: limit, Order: order}
	for range 100 {
		p, err := list(opt)
		if err != nil {
			t.Fatalf("list (iterator %q): %v", opt.Iterator, err)
		}
		if opt.Iterator != "" && len(p.Data) == 0 {
			t.Fatalf("list (iterator %q): empty page after a page that was not done", opt.Iterator)
		}
		all = append(all, p.Data...)
		if p.Done {
			return all
		}
		if len(p.Data) != limit {
			t.Fatalf("list (iterator %q): page of %d items is not done, want %d items", opt.Iterator, len(p.Data), limit)
		}
		opt.Iterator = key(p.Data[len(p.Data)-1])
	}
	t.Fatal("list never done")
	return nil
}

// newApp creates an application.
func newApp(t *testing.T, s hookbridge.Store, name string) *hookbridge.Application {
	t.Helper()
	a := &hookbridge.Application{ID: hookbridge.NewID(hookbridge.PrefixApplication), Name: name, CreatedAt: base, UpdatedAt: base}
	ok(t, s.CreateApplication(t.Context(), a))
	return a
}

// newEndpoint creates an endpoint of the application, after edit (if not
// nil) has changed it.
func newEndpoint(t *testing.T, s hookbridge.Store, appID string, edit func(*hookbridge.Endpoint)) *hookbridge.Endpoint {
	t.Helper()
	e := &hookbridge.Endpoint{
		ID:        hookbridge.NewID(hookbridge.PrefixEndpoint),
		AppID:     appID,
		URL:       "https://receiver.example/hook",
		Secrets:   []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		CreatedAt: base,
		UpdatedAt: base,
	}
	if edit != nil {
		edit(e)
	}
	ok(t, s.CreateEndpoint(t.Context(), e))
	return e
}

// newMessage creates a message of the given type and channels, timestamped
// (and so first due) at created, and checks that it was created.
func newMessage(t *testing.T, s hookbridge.Store, appID, eventType string, created time.Time, channels ...string) *hookbridge.Message {
	t.Helper()
	m := &hookbridge.Message{
		ID:        hookbridge.NewID(hookbridge.PrefixMessage),
		AppID:     appID,
		EventType: eventType,
		Payload:   json.RawMessage(fmt.Sprintf(`{"type":%q,"n":1}`, eventType)),
		Channels:  channels,
		CreatedAt: created,
	}
	stored, created2, err := s.CreateMessage(t.Context(), m)
	ok(t, err)
	if !created2 {
		t.Fatalf("CreateMessage %s: created = false", m.ID)
	}
	equal(t, "CreateMessage result", *stored, *m)
	return m
}

// claimAll claims every delivery due at now for owner.
func claimAll(t *testing.T, s hookbridge.Store, owner string, now time.Time) []hookbridge.Claim {
	t.Helper()
	claims, err := s.ClaimDeliveries(t.Context(), owner, now, lease, hookbridge.MaxListLimit)
	ok(t, err)
	return claims
}

// deliveryIDs returns the claims' delivery ids.
func deliveryIDs(claims []hookbridge.Claim) []string {
	ids := make([]string, len(claims))
	for i, c := range claims {
		ids[i] = c.Delivery.ID
	}
	return ids
}

// finish claims every delivery due at now and records outcome(claim) for
// each, as a dispatcher would.
func finish(t *testing.T, s hookbridge.Store, now time.Time, outcome func(hookbridge.Claim) hookbridge.AttemptResult) []hookbridge.Claim {
	t.Helper()
	claims := claimAll(t, s, "finisher", now)
	results := make([]hookbridge.AttemptResult, len(claims))
	for i, c := range claims {
		results[i] = outcome(c)
	}
	rejected, err := s.RecordAttempts(t.Context(), "finisher", results)
	ok(t, err)
	if len(rejected) > 0 {
		t.Fatalf("RecordAttempts rejected %v", rejected)
	}
	return claims
}

// attemptFor is an Attempt of the claimed delivery made at now with the
// given HTTP status code (0: no response).
func attemptFor(c hookbridge.Claim, now time.Time, code int) *hookbridge.Attempt {
	status := hookbridge.StatusFail
	if code >= 200 && code < 300 {
		status = hookbridge.StatusSuccess
	}
	return &hookbridge.Attempt{
		ID:         hookbridge.NewID(hookbridge.PrefixAttempt),
		DeliveryID: c.Delivery.ID,
		AppID:      c.Delivery.AppID,
		MsgID:      c.Delivery.MsgID,
		EndpointID: c.Delivery.EndpointID,
		URL:        c.Endpoint.URL,
		Status:     status,
		Trigger:    c.Delivery.Trigger,
		StatusCode: code,
		Response:   fmt.Sprintf("response %d", code),
		DurationMS: 12,
		CreatedAt:  now,
	}
}

// succeed is the outcome of a delivery that got a 200 at now.
func succeed(now time.Time) func(hookbridge.Claim) hookbridge.AttemptResult {
	return func(c hookbridge.Claim) hookbridge.AttemptResult {
		return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, now, 200), Status: hookbridge.StatusSuccess}
	}
}

// giveUp is the outcome of a delivery whose last try got a 500 at now.
func giveUp(now time.Time) func(hookbridge.Claim) hookbridge.AttemptResult {
	return func(c hookbridge.Claim) hookbridge.AttemptResult {
		return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, now, 500), Status: hookbridge.StatusFail}
	}
}
