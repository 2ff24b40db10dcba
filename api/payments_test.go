package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// stripePayment is a Stripe event about a PaymentIntent or one of its
// refunds: typ payment_intent.succeeded (captured),
// payment_intent.amount_capturable_updated (authorised),
// payment_intent.payment_failed, or refund.updated (refund re_<evt>). A
// single account's events name no account.
func stripePayment(evt, typ, pi, account string, amount int, created int64) []byte {
	obj := fmt.Sprintf(`{"id":%q,"object":"payment_intent","amount":%d,"amount_received":%d,"amount_capturable":%d,"currency":"eur","status":"succeeded"}`,
		pi, amount, amount, amount)
	if typ == "refund.updated" {
		obj = fmt.Sprintf(`{"id":"re_%s","object":"refund","amount":%d,"currency":"eur","status":"succeeded","payment_intent":%q}`, evt, amount, pi)
	}
	acct := ""
	if account != "" {
		acct = fmt.Sprintf(`"account":%q,`, account)
	}
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q,"created":%d,%s"data":{"object":%s}}`, evt, typ, created, acct, obj)
}

// canonicalSchemas compiles every version of every canonical type's
// schema: schemas[type][version].
func canonicalSchemas(t *testing.T) map[string]map[string]*jsonschema.Schema {
	t.Helper()
	out := map[string]map[string]*jsonschema.Schema{}
	for _, et := range hookbridge.CanonicalEventTypes {
		var versions map[string]json.RawMessage
		if err := json.Unmarshal(et.Schemas, &versions); err != nil {
			t.Fatal(err)
		}
		out[et.Name] = map[string]*jsonschema.Schema{}
		for v, raw := range versions {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			url := "https://hookbridge.invalid/" + et.Name + "-" + v + ".json"
			if err := c.AddResource(url, doc); err != nil {
				t.Fatal(err)
			}
			if out[et.Name][v], err = c.Compile(url); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// statePayload is the payment state part of a canonical payload.
type statePayload struct {
	ID             string  `json:"id"`
	Sequence       int64   `json:"sequence"`
	PreviousStatus *string `json:"previousStatus"`
	PaymentStatus  *string `json:"paymentStatus"`
	Stale          bool    `json:"stale"`
	OccurredAt     string  `json:"occurredAt"`
}

func (p statePayload) String() string {
	return fmt.Sprintf("%d %s→%s stale=%v", p.Sequence, derefStr(p.PreviousStatus), derefStr(p.PaymentStatus), p.Stale)
}

// payloads returns the application's messages oldest first, each payload
// checked against version 3 of its type's schema (and refused by the
// closed version 1 when it carries the state).
func (e *env) payloads(app string, schemas map[string]map[string]*jsonschema.Schema) ([]messageOut, []statePayload) {
	e.t.Helper()
	msgs := e.appMessages(app)
	slices.Reverse(msgs)
	out := make([]statePayload, len(msgs))
	for i, m := range msgs {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
		if err != nil {
			e.t.Fatal(err)
		}
		if err := schemas[m.EventType]["3"].Validate(inst); err != nil {
			e.t.Errorf("%s payload %s does not match version 3 of its schema: %v", m.EventType, m.Payload, err)
		}
		if err := json.Unmarshal(m.Payload, &out[i]); err != nil {
			e.t.Fatal(err)
		}
		if out[i].Sequence > 0 && schemas[m.EventType]["1"].Validate(inst) == nil {
			e.t.Errorf("%s payload %s matches version 1, which has no payment state", m.EventType, m.Payload)
		}
	}
	return msgs, out
}

// TestInboundPaymentStateFlagged: a payment's events carry its sequence and
// status; a late authorisation after the capture is delivered flagged
// stale (the default policy), and the events list shows what each did.
func TestInboundPaymentStateFlagged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	src := e.stripeSource("acme", "on", nil)
	schemas := canonicalSchemas(t)

	e.postStripe(src, stripePayment("evt_cap", "payment_intent.succeeded", "pi_1", "", 2599, 1714557600)).want(http.StatusOK)
	e.postStripe(src, stripePayment("evt_auth", "payment_intent.amount_capturable_updated", "pi_1", "", 2599, 1714557500)).want(http.StatusOK)
	e.postStripe(src, stripePayment("evt_ref", "refund.updated", "pi_1", "", 599, 1714557700)).want(http.StatusOK)
	// A repeat is dropped as before: no message, no sequence.
	e.postStripe(src, stripePayment("evt_auth", "payment_intent.amount_capturable_updated", "pi_1", "", 2599, 1714557500)).want(http.StatusOK)

	msgs, got := e.payloads(app, schemas)
	var seen []string
	for i, p := range got {
		seen = append(seen, msgs[i].EventType+" "+p.String())
	}
	want := []string{
		"payment.captured 1 →captured stale=false",
		"payment.authorized 2 captured→captured stale=true",
		"refund.succeeded 3 captured→partially_refunded stale=false",
	}
	if strings.Join(seen, "; ") != strings.Join(want, "; ") {
		t.Errorf("payloads:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	// The first event's previous status is null, not absent; a fresh
	// event carries no stale member; occurredAt is the processor's time.
	var first map[string]any
	_ = json.Unmarshal(msgs[0].Payload, &first)
	if v, ok := first["previousStatus"]; !ok || v != nil {
		t.Errorf("first payload's previousStatus: %v (present %v), want null", v, ok)
	}
	if _, ok := first["stale"]; ok {
		t.Errorf("a fresh event's payload has stale: %s", msgs[0].Payload)
	}
	if got[1].OccurredAt != "2024-05-01T09:58:20Z" {
		t.Errorf("occurredAt %q, want the event's created time", got[1].OccurredAt)
	}

	events := e.inboundEvents(src) // newest first
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	late := events[1]
	if !late.Stale || late.Held || !late.Forwarded || len(late.Payments) != 1 || !late.Payments[0].Stale ||
		late.Payments[0].Sequence != 2 || derefStr(late.Payments[0].PreviousStatus) != "captured" || !strings.Contains(late.Note, "stale") {
		t.Errorf("the late event as listed: %+v", late)
	}
	if ev := events[2]; ev.Stale || ev.Payments[0].PreviousStatus != nil || derefStr(ev.Payments[0].Status) != "captured" {
		t.Errorf("the first event as listed: %+v", ev)
	}
	got1 := e.do("GET", "/api/v1/source/"+src+"/events/"+late.ID, nil).want(http.StatusOK)
	var one inboundEventOut
	got1.decode(&one)
	if one.ID != late.ID || !one.Stale || derefStr(one.Body) == "" {
		t.Errorf("GET the event: %+v", one)
	}
	e.do("GET", "/api/v1/source/"+src+"/events/inb_nope", nil).want(http.StatusNotFound)
	e.do("GET", "/api/v1/source/"+src+"/events/"+hookbridge.NewID(hookbridge.PrefixInbound), nil).want(http.StatusNotFound)
}

// TestInboundHoldAndRelease: under the hold policy a stale notification is
// stored and not delivered, listed among the held, and delivered once when
// released, flagged stale; a release retried answers the same and
// delivers nothing more; an event never held cannot be released.
func TestInboundHoldAndRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	src := e.stripeSource("acme", "on", obj{"stalePolicy": "hold"})
	schemas := canonicalSchemas(t)

	e.postStripe(src, stripePayment("evt_cap", "payment_intent.succeeded", "pi_1", "", 1000, 1714557600)).want(http.StatusOK)
	wakes := e.wakes.Load()
	e.postStripe(src, stripePayment("evt_fail", "payment_intent.payment_failed", "pi_1", "", 1000, 1714557700)).want(http.StatusOK)
	if msgs := e.appMessages(app); len(msgs) != 1 {
		t.Fatalf("%d messages after the stale failure, want 1: it is held", len(msgs))
	}
	if e.wakes.Load() != wakes {
		t.Error("a held event woke the dispatcher")
	}
	var held listOut[inboundEventOut]
	e.do("GET", "/api/v1/source/"+src+"/events?held=true", nil).want(http.StatusOK).decode(&held)
	if len(held.Data) != 1 || !held.Data[0].Held || held.Data[0].Forwarded || !strings.Contains(held.Data[0].Note, "held") {
		t.Fatalf("held events: %+v", held.Data)
	}
	id := held.Data[0].ID
	capID := e.inboundEvents(src)[1].ID

	var released inboundEventOut
	e.do("POST", "/api/v1/source/"+src+"/events/"+id+"/release", nil).want(http.StatusOK).decode(&released)
	if released.Held || !released.Forwarded || len(released.MessageIDs) != 1 || derefStr(released.ReleasedBy) != "admin" ||
		released.ReleasedAt == nil || !released.Stale {
		t.Errorf("released: %+v", released)
	}
	msgs, payloads := e.payloads(app, schemas)
	if len(msgs) != 2 || msgs[1].EventType != "payment.failed" || payloads[1].String() != "2 captured→captured stale=true" ||
		msgs[1].ID != released.MessageIDs[0] {
		t.Fatalf("messages after the release: %v %v", msgs, payloads)
	}
	if e.wakes.Load() != wakes+1 {
		t.Errorf("wakes %d, want one for the released message", e.wakes.Load()-wakes)
	}

	var again inboundEventOut
	e.do("POST", "/api/v1/source/"+src+"/events/"+id+"/release", nil).want(http.StatusOK).decode(&again)
	if !slices.Equal(again.MessageIDs, released.MessageIDs) || derefStr(again.ReleasedAt) != derefStr(released.ReleasedAt) {
		t.Errorf("released again: %+v, want as the first release: %+v", again, released)
	}
	if n := len(e.appMessages(app)); n != 2 {
		t.Errorf("%d messages after a second release, want 2", n)
	}
	e.do("GET", "/api/v1/source/"+src+"/events?held=true", nil).want(http.StatusOK).decode(&held)
	if len(held.Data) != 0 {
		t.Errorf("still held: %+v", held.Data)
	}

	r := e.do("POST", "/api/v1/source/"+src+"/events/"+capID+"/release", nil).want(http.StatusConflict)
	if !strings.Contains(string(r.Body), "not held") {
		t.Errorf("409 body %s", r.Body)
	}
	e.do("POST", "/api/v1/source/"+src+"/events/"+hookbridge.NewID(hookbridge.PrefixInbound)+"/release", nil).want(http.StatusNotFound)
	e.do("POST", "/api/v1/source/"+hookbridge.NewID(hookbridge.PrefixSource)+"/events/"+id+"/release", nil).want(http.StatusNotFound)
	e.do("GET", "/api/v1/source/"+src+"/events?held=maybe", nil).want(http.StatusUnprocessableEntity)
}

// TestSourceStalePolicy: the policy is a source setting, forward-flagged
// unless set, checked by name.
func TestSourceStalePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Acme", "acme")
	created := e.createSource(obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "stalePolicy": "hold"})
	id := str(created, "id")
	if str(created, "stalePolicy") != "hold" {
		t.Errorf("created with %v", created["stalePolicy"])
	}
	r := e.do("POST", "/api/v1/source", obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "stalePolicy": "drop"}).
		want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); !slices.Equal(locs, []string{"body.stalePolicy"}) {
		t.Errorf("422 names %v", locs)
	}
	// PUT replaces the configuration: without the policy, the default.
	updated := e.do("PUT", "/api/v1/source/"+id, obj{"scheme": "stripe"}).want(http.StatusOK).object()
	if str(updated, "stalePolicy") != "forward-flagged" {
		t.Errorf("after PUT without it: %v", updated["stalePolicy"])
	}
	if got := e.do("GET", "/api/v1/source/"+id, nil).want(http.StatusOK).object(); str(got, "stalePolicy") != "forward-flagged" {
		t.Errorf("stored: %v", got["stalePolicy"])
	}
}

// TestInboundSingleAccountRollout: a source on a single Stripe account
// (no Connect: its notifications name no merchant) rolled out to a
// percentage forwards the payments whose bucket is below it, every event of
// a payment alike; where nothing can select a notification, or no
// application takes it, the stored note says what to change.
func TestInboundSingleAccountRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	src := e.stripeSource("acme", "shadow", nil)
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"state": "on", "percent": 10}).want(http.StatusOK)
	var in, out string
	for i := 0; in == "" || out == ""; i++ {
		pi := fmt.Sprintf("pi_%d", i)
		if hookbridge.MerchantBucket(pi) < 10 && in == "" {
			in = pi
		} else if hookbridge.MerchantBucket(pi) >= 10 && out == "" {
			out = pi
		}
	}
	for _, pi := range []string{in, out} {
		e.postStripe(src, stripePayment("evt_cap_"+pi, "payment_intent.succeeded", pi, "", 500, 1714557600)).want(http.StatusOK)
		e.postStripe(src, stripePayment("evt_ref_"+pi, "refund.updated", pi, "", 500, 1714557700)).want(http.StatusOK)
	}
	msgs := e.appMessages(app)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the two events of %s", len(msgs), in)
	}
	for _, m := range msgs {
		if !strings.Contains(string(m.Payload), in) {
			t.Errorf("forwarded %s, not of %s", m.Payload, in)
		}
	}
	for _, ev := range e.inboundEvents(src) {
		if strings.Contains(ev.EventID, out) && (ev.Forwarded || !strings.Contains(ev.Note, "raise the percentage")) {
			t.Errorf("event of %s: forwarded %v, note %q", out, ev.Forwarded, ev.Note)
		}
	}

	// A merchant list selects no notification without a merchant: the
	// note names what would.
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"merchants": []string{"acct_X"}, "percent": nil}).want(http.StatusOK)
	e.postStripe(src, stripePayment("evt_listed", "payment_intent.succeeded", in+"_2", "", 500, 1714557600)).want(http.StatusOK)
	if ev := e.inboundEvents(src)[0]; ev.Forwarded || !strings.Contains(ev.Note, "--percent") || !strings.Contains(ev.Note, "--all-merchants") {
		t.Errorf("under a merchant list: forwarded %v, note %q", ev.Forwarded, ev.Note)
	}
	// No default application: the note says to set one.
	other := e.createSource(obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "rollout": obj{"state": "on"}})
	e.postStripe(str(other, "id"), stripePayment("evt_noapp", "payment_intent.succeeded", "pi_z", "", 500, 1714557600)).want(http.StatusOK)
	if ev := e.inboundEvents(str(other, "id"))[0]; ev.Forwarded || !strings.Contains(ev.Note, "set the source's application") {
		t.Errorf("without an application: forwarded %v, note %q", ev.Forwarded, ev.Note)
	}
}

// TestInboundConcurrentPaymentSQLite and …Postgres: notifications of one
// payment arriving at the same instant (on two instances sharing
// PostgreSQL) are numbered one after the other: the sequences the
// delivered payloads carry are 1 to n, each once, and the statuses follow
// from replaying the events in that order.
func TestInboundConcurrentPaymentSQLite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	concurrentPayment(t, e, e)
}

func TestInboundConcurrentPaymentPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	open := func() *env {
		store, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return newEnvOn(t, store)
	}
	a, b := open(), open() // two instances on one database
	concurrentPayment(t, a, b)
}

func concurrentPayment(t *testing.T, a, b *env) {
	t.Helper()
	app := str(a.createApp("Acme", "acme"), "id")
	src := a.stripeSource("acme", "on", nil)
	schemas := canonicalSchemas(t)
	// Events of one payment, several of each kind, all at once, every
	// other one to the other instance, each twice (a retry racing its
	// first delivery).
	bodies := [][]byte{}
	for i := range 4 {
		bodies = append(bodies,
			stripePayment(fmt.Sprintf("evt_auth_%d", i), "payment_intent.amount_capturable_updated", "pi_race", "", 1000, 1714557600),
			stripePayment(fmt.Sprintf("evt_cap_%d", i), "payment_intent.succeeded", "pi_race", "", 1000, 1714557600),
			stripePayment(fmt.Sprintf("evt_ref_%d", i), "refund.updated", "pi_race", "", 250, 1714557600),
		)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, body := range bodies {
		for n := range 2 {
			e := a
			if (i+n)%2 == 1 {
				e = b
			}
			wg.Go(func() {
				<-start
				if r := e.postStripe(src, body); r.Status != http.StatusOK {
					t.Errorf("status %d: %s", r.Status, r.Body)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	msgs, payloads := a.payloads(app, schemas)
	if len(msgs) != len(bodies) {
		t.Fatalf("%d messages, want %d: one per event", len(msgs), len(bodies))
	}
	type ev struct {
		typ string
		p   statePayload
	}
	evs := make([]ev, len(msgs))
	for i := range msgs {
		evs[i] = ev{msgs[i].EventType, payloads[i]}
	}
	slices.SortFunc(evs, func(x, y ev) int { return int(x.p.Sequence - y.p.Sequence) })
	var replay hookbridge.PaymentState
	for i, x := range evs {
		if x.p.Sequence != int64(i+1) {
			t.Fatalf("sequences are not 1 to %d, each once: event %d has %d", len(evs), i+1, x.p.Sequence)
		}
		step := hookbridge.PaymentStep{EventType: x.typ, PaymentID: "pi_race", Currency: "EUR"}
		if x.typ == "refund.succeeded" {
			step.ObjectID, step.Amount = x.p.ID, new(int64(250))
		} else {
			step.Amount = new(int64(1000))
		}
		var want hookbridge.PaymentStep
		replay, want = replay.Advance(step)
		if derefStr(x.p.PreviousStatus) != string(want.Previous) || derefStr(x.p.PaymentStatus) != string(want.Status) || x.p.Stale != want.Stale {
			t.Errorf("event %d (%s): %s, want %s→%s stale=%v", i+1, x.typ, x.p, want.Previous, want.Status, want.Stale)
		}
	}
	st, err := a.store.GetPaymentState(context.Background(), src, "pi_race")
	if err != nil || st.Status != replay.Status || st.Sequence != int64(len(evs)) {
		t.Errorf("stored state %+v (%v), want %s after %d events", st, err, replay.Status, len(evs))
	}
}
