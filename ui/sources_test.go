package ui

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookbridge/hookbridge"
)

const uiStripeSecret = "whsec_ui_sources_3bGyaXkpHnTQZ1eK0a5n"

// postStripe posts a Stripe event about a PaymentIntent to the source,
// signed with stripe-go's test helper.
func (st *stack) postStripe(src, evt, typ, pi string) {
	st.t.Helper()
	body := fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q,"created":1714557600,"data":{"object":{"id":%q,"object":"payment_intent","amount":1000,"amount_received":1000,"currency":"eur","status":"succeeded"}}}`,
		evt, typ, pi)
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: uiStripeSecret, Timestamp: st.clock.Now()})
	req, _ := http.NewRequest("POST", st.URL+"/in/"+src, bytes.NewReader(signed.Payload))
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		st.t.Fatalf("POST /in/%s: %d %s", src, resp.StatusCode, raw)
	}
}

// heldSource makes a Stripe source that holds stale notifications, routed
// to an application whose endpoint is rcv, and sends it a capture and then
// a late failure of the same payment, which it holds. It returns the
// source's id and the held event's.
func (st *stack) heldSource(rcv *receiver) (src, held string) {
	st.t.Helper()
	app := st.app("Pizza Place", "merchant-42")
	st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": rcv.URL + "/payments"}, http.StatusCreated)
	src = st.admin("POST", "/api/v1/source", map[string]any{"name": "Stripe EU", "scheme": "stripe",
		"credentials": map[string]any{"secret": uiStripeSecret}, "application": "merchant-42", "rollout": map[string]any{"state": "on"},
		"stalePolicy": "hold"}, http.StatusCreated)["id"].(string)
	st.postStripe(src, "evt_cap", "payment_intent.succeeded", "pi_1")
	rcv.next(st.t)
	st.postStripe(src, "evt_fail", "payment_intent.payment_failed", "pi_1")
	ev, err := st.store.ListInboundEvents(st.t.Context(), src, hookbridge.InboundFilter{Held: true})
	if err != nil || len(ev.Data) != 1 {
		st.t.Fatalf("held events: %+v, %v", ev.Data, err)
	}
	return src, ev.Data[0].ID
}

// TestDashboardSources: the sources page lists each source with its
// rollout and how many notifications it holds; a source's page lists what
// it received with each payment's step, marks the stale ones, and releases
// a held one, which is then delivered flagged; an event never held cannot
// be released.
func TestDashboardSources(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	src, held := st.heldSource(rcv)
	admin := st.browser()
	admin.signIn()

	list := admin.get("/ui/sources").want(t, http.StatusOK)
	checkPage(t, "/ui/sources", list, "'none'")
	for _, want := range []string{`href="/ui/sources/` + src + `"`, "Stripe EU", "1 held", "held until released", "on"} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("the sources page lacks %q", want)
		}
	}
	page := admin.get("/ui/sources/"+src).want(t, http.StatusOK)
	checkPage(t, "/ui/sources/"+src, page, "'none'")
	for _, want := range []string{"evt_fail", "evt_cap", "payment.failed: captured → captured", "payment.captured: — → captured",
		">held<", ">stale<", st.URL + "/in/" + src, `action="/ui/sources/` + src + `/events/` + held + `/release"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the source's page lacks %q", want)
		}
	}
	if forms := postForms(page.Body); !slices.Contains(forms, "/ui/sources/"+src+"/events/"+held+"/release") || len(forms) != 2 {
		t.Errorf("forms %v: want the release of the held event only (and sign-out)", forms)
	}
	heldOnly := admin.get("/ui/sources/"+src+"?held=1").want(t, http.StatusOK)
	if !strings.Contains(heldOnly.Body, "evt_fail") || strings.Contains(heldOnly.Body, "evt_cap") {
		t.Errorf("?held=1 lists more or less than the held event")
	}

	csrf := page.csrf(t)
	done := admin.post("/ui/sources/"+src+"/events/"+held+"/release", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	if done.Location != "/ui/sources/"+src+"?done=released" {
		t.Errorf("the release went to %q", done.Location)
	}
	if body := rcv.next(t); !strings.Contains(string(body), `"stale":true`) || !strings.Contains(string(body), `"sequence":2`) {
		t.Errorf("the released event delivered as %s", body)
	}
	after := admin.get(done.Location).want(t, http.StatusOK)
	for _, want := range []string{"Event released", "released by admin", ">forwarded<"} {
		if !strings.Contains(after.Body, want) {
			t.Errorf("after the release, the page lacks %q", want)
		}
	}
	if strings.Contains(after.Body, "/release\"") {
		t.Error("a release button is still offered")
	}
	// The capture was never held: the API's 409 shows as the error page.
	evs, _ := st.store.ListInboundEvents(t.Context(), src, hookbridge.InboundFilter{})
	capID := evs.Data[len(evs.Data)-1].ID
	refused := admin.post("/ui/sources/"+src+"/events/"+capID+"/release", url.Values{"csrf": {csrf}}).want(t, http.StatusConflict)
	if !strings.Contains(refused.Body, "not held") {
		t.Errorf("the refusal does not say why")
	}
	admin.get("/ui/sources/src_nope").want(t, http.StatusNotFound)
	admin.get("/ui/sources/"+hookbridge.NewID(hookbridge.PrefixSource)).want(t, http.StatusNotFound)
}

// TestDashboardSourcesReadOnly: a read-only user sees the sources and
// their held notifications but is offered no release, and one posted is
// refused.
func TestDashboardSourcesReadOnly(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	rcv := newReceiver(t)
	src, held := st.heldSource(rcv)
	p.signIn(viewerUser)
	b := st.browser()
	b.signInOIDC(p, "/ui/")
	for _, path := range []string{"/ui/sources", "/ui/sources/" + src, "/ui/sources/" + src + "?held=1"} {
		pg := b.get(path).want(t, http.StatusOK)
		if forms := postForms(pg.Body); !slices.Equal(forms, []string{"/ui/logout"}) {
			t.Errorf("%s shows a read-only user forms that change things: %v", path, forms)
		}
		if !strings.Contains(pg.Body, "Stripe EU") {
			t.Errorf("%s does not show the source", path)
		}
	}
	csrf := b.get("/ui/").csrf(t)
	b.post("/ui/sources/"+src+"/events/"+held+"/release", url.Values{"csrf": {csrf}}).want(t, http.StatusForbidden)
	if ev, err := st.store.GetInboundEvent(t.Context(), src, held); err != nil || !ev.Held {
		t.Errorf("a read-only user released the event: %+v, %v", ev, err)
	}
}

// TestBrowserSourceRelease: in Chromium, an operator finds the held
// notification from the sources page and releases it.
func TestBrowserSourceRelease(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	src, held := st.heldSource(rcv)
	ctx := newChrome(t)
	signInChrome(t, ctx, st)

	do(t, ctx, "open the sources", chromedp.Click(chromedp.CSS(`nav a[href="/ui/sources"]`)))
	waitJS(t, ctx, "the sources page", `document.querySelector("h1")?.textContent === "Sources"`)
	do(t, ctx, "open the held notifications", chromedp.Click(chromedp.CSS(`a[href="/ui/sources/`+src+`?held=1"]`)))
	waitJS(t, ctx, "the held notification", `document.querySelectorAll("tbody tr").length === 1 && document.getElementById(`+jsString(held)+`)`)
	do(t, ctx, "release it", chromedp.Click(chromedp.CSS(`form[action$="/`+held+`/release"] button`)))
	waitJS(t, ctx, "the notice", `document.querySelector(".notice")?.textContent.includes("released")`)
	if body := rcv.next(t); !strings.Contains(string(body), `"stale":true`) {
		t.Errorf("delivered %s", body)
	}
	row := text(t, ctx, "#"+held)
	if !strings.Contains(row, "forwarded") || !strings.Contains(row, "released by admin") {
		t.Errorf("the released row reads %q", row)
	}
	waitFor(t, "the event to be forwarded", func() bool {
		ev, err := st.store.GetInboundEvent(t.Context(), src, held)
		return err == nil && len(ev.MessageIDs) == 1 && ev.ReleasedAt.Before(time.Now().Add(time.Minute))
	})
}

// TestDashboardSourceBackfill: a source with API credentials shows its
// backfill (interval, last run, its error, counts), and an event the
// backfill brought is marked so.
func TestDashboardSourceBackfill(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.app("Pizza Place", "merchant-42")
	src := st.admin("POST", "/api/v1/source", map[string]any{"scheme": "stripe", "credentials": map[string]any{"secret": uiStripeSecret},
		"application": "merchant-42", "rollout": map[string]any{"state": "on"},
		"apiCredentials": map[string]any{"key": "rk_live_0123456789abcdef"}, "reconcileEverySeconds": 900}, http.StatusCreated)["id"].(string)
	admin := st.browser()
	admin.signIn()
	if page := admin.get("/ui/sources/"+src).want(t, http.StatusOK); !strings.Contains(page.Body, "every 15m0s") || !strings.Contains(page.Body, "never run") {
		t.Errorf("a source that never backfilled: the page lacks its backfill line")
	}
	ctx := t.Context()
	if err := st.store.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: src, LastRunAt: st.clock.Now(), LastError: "stripe answered 503",
		Runs: 1, Failures: 1, Fetched: 4, Backfilled: 3, Duplicates: 1, Requests: 7}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.store.CreateInboundEvent(ctx, &hookbridge.InboundEvent{SourceID: src, EventID: "evt_filled", Body: []byte(`{}`),
		Via: hookbridge.ViaBackfill}); err != nil {
		t.Fatal(err)
	}
	page := admin.get("/ui/sources/"+src).want(t, http.StatusOK)
	checkPage(t, "/ui/sources/"+src, page, "'none'")
	for _, want := range []string{"last run", "stripe answered 503", "1 runs, 1 failed", "3 events backfilled, 1 already received", "7 requests",
		"evt_filled", "via backfill"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the source's page lacks %q", want)
		}
	}
}
