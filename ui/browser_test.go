package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/hookbridge/hookbridge"
)

// The browser tests drive Debian's headless Chromium through chromedp
// against the whole server (newStack). Without Chromium they skip, except
// under CI=true, where a missing browser is a failure: CI must run them.

// chromiumNames are the executables tried, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// newChrome starts a headless Chromium for the test, with a fresh profile,
// and returns a context whose actions run in its one tab.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "no Chromium found (looked for " + strings.Join(chromiumNames, ", ") + "); install it to run the browser tests, e.g. apt-get install chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it must not run under the
	// per-step timeouts below, which would stop the whole browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds each browser step; steps take milliseconds.
const stepTimeout = 15 * time.Second

// do runs browser actions, failing the test on an error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until a JavaScript expression is truthy in the current page.
// It re-evaluates across navigations (which end a page's own polls), so it
// can follow a form submission to the page after it.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (%s); last error: %v\npage: %s", what, expr, lastErr, pageText(ctx))
}

// text returns the text (innerText) of the first element matching a CSS
// selector, waiting for one to exist. It reads the element in one
// JavaScript evaluation, so a page that replaces its nodes meanwhile (a
// live refresh, the page after a redirect) cannot leave it holding a node
// that is gone.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? [e.innerText] : []; })()`, sel)
	deadline := time.Now().Add(stepTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := chromedp.Run(ectx, chromedp.Evaluate[[]string](expr))
		cancel()
		if err == nil && len(got) == 1 {
			return strings.TrimSpace(got[0])
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("text of %s: no such element; last error: %v\npage: %s", sel, lastErr, pageText(ctx))
	return ""
}

// pageText is the current page's text, for failure messages.
func pageText(ctx context.Context) string {
	ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ectx, chromedp.Evaluate[string]("location.href + '\\n' + document.body.innerText"))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the viewport as a PNG into the test's temp dir and, when
// docName is set, as docName in docs/img.
func screenshot(t *testing.T, ctx context.Context, name, docName string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if docName != "" {
		if err := os.WriteFile(filepath.Join("..", "docs", "img", docName), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserConsumer walks the consumer's path through the portal: open
// the link, add an endpoint subscribed to one event type, send a test
// event and see its attempt answered 200, rotate the secret, disable the
// endpoint.
func TestBrowserConsumer(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	ctx := newChrome(t)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	link := st.URL + st.portalLink(app, nil)

	do(t, ctx, "open the portal link", chromedp.Navigate(link))
	waitJS(t, ctx, "the endpoints page", `document.querySelector("h1")?.textContent === "Endpoints" && location.search === ""`)

	// Add an endpoint to the local receiver, for payment.captured only.
	do(t, ctx, "open the new endpoint form", chromedp.Click(chromedp.CSS(`a[href="/portal/endpoints/new"]`)))
	waitJS(t, ctx, "the endpoint form", `document.querySelector("#url")`)
	do(t, ctx, "fill the endpoint form",
		chromedp.SendKeys(chromedp.CSS("#url"), rcv.URL+"/webhooks"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Order sync"),
		chromedp.Click(chromedp.CSS(`input[name="filterTypes"][value="payment.captured"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"].btn-primary`)),
	)
	waitJS(t, ctx, "the new endpoint's page", `document.querySelector(".notice")?.textContent.includes("Endpoint added")`)
	secret := text(t, ctx, "#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown = %q", secret)
	}
	endpoints, err := st.store.ListEndpoints(context.Background(), app, hookbridge.ListOptions{Limit: 10})
	if err != nil || len(endpoints.Data) != 1 {
		t.Fatalf("endpoints = %+v, %v", endpoints, err)
	}
	ep := endpoints.Data[0]
	if ep.URL != rcv.URL+"/webhooks" || len(ep.EventTypes) != 1 || ep.EventTypes[0] != "payment.captured" || ep.Description != "Order sync" {
		t.Fatalf("stored endpoint = %+v", ep)
	}

	// Send a test event and watch its attempt come back with 200.
	do(t, ctx, "send a test event",
		chromedp.SetValue(chromedp.CSS("#eventType"), "payment.captured"),
		chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)),
	)
	body := rcv.next(t)
	if !strings.Contains(string(body), "payment.captured") {
		t.Errorf("the receiver got %s", body)
	}
	waitJS(t, ctx, "the attempt, answered 200", `document.querySelector('[data-status-code="200"]')`)
	do(t, ctx, "open the attempt", chromedp.Click(chromedp.CSS(".attempt summary")))
	if resp := text(t, ctx, ".attempt-body div:nth-child(2) pre"); !strings.Contains(resp, `{"received":true}`) {
		t.Errorf("response shown = %q", resp)
	}
	if req := text(t, ctx, ".attempt-body div:nth-child(1) pre"); !strings.Contains(req, "POST "+rcv.URL+"/webhooks") || !strings.Contains(req, "webhook-id: msg_") {
		t.Errorf("request shown = %q", req)
	}

	// Rotate the secret.
	do(t, ctx, "back to the endpoint", chromedp.Navigate(st.URL+"/portal/endpoints/"+ep.ID))
	waitJS(t, ctx, "the endpoint page", `document.querySelector('form[action$="/rotate"]')`)
	do(t, ctx, "rotate the secret", chromedp.Click(chromedp.CSS(`form[action$="/rotate"] button`)))
	waitJS(t, ctx, "the rotated secret", `document.querySelector(".notice")?.textContent.includes("rotated") && document.querySelector("#secret")`)
	if rotated := text(t, ctx, "#secret"); rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
		t.Errorf("secret after rotation = %q, before %q", rotated, secret)
	}

	// Disable the endpoint.
	do(t, ctx, "disable the endpoint", chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)))
	waitJS(t, ctx, "the disabled endpoint", `document.querySelector(".notice")?.textContent.includes("disabled")`)
	stored, err := st.store.GetEndpoint(context.Background(), app, ep.ID)
	if err != nil || !stored.Disabled || len(stored.Secrets) != 2 {
		t.Errorf("endpoint after disable = %+v, %v", stored, err)
	}
	screenshot(t, ctx, "portal-endpoint.png", "")
}

// TestBrowserOperator walks the operator's path: sign in, find a message
// by its eventId, re-send it and see the new attempt.
func TestBrowserOperator(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{
		"url": rcv.URL + "/webhooks", "filterTypes": []string{"payment.captured"},
	}, http.StatusCreated)
	for i := range 3 {
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{
			"eventType": "payment.captured", "eventId": fmt.Sprintf("pay_%d-captured", i+1),
			"payload": map[string]any{"paymentId": fmt.Sprintf("pay_%d", i+1), "amount": 2599, "currency": "EUR"},
		}, http.StatusAccepted)
		rcv.next(t)
	}
	ctx := newChrome(t)

	do(t, ctx, "open the dashboard", chromedp.Navigate(st.URL+"/ui/"))
	waitJS(t, ctx, "the sign-in form", `document.querySelector("#key")`)
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#key"), testAdminKey),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	waitJS(t, ctx, "the overview", `document.querySelector("h1")?.textContent === "Overview"`)

	do(t, ctx, "open the application", chromedp.Click(chromedp.CSS(`a[href="/ui/apps/`+app+`"]`)))
	waitJS(t, ctx, "the application page", `document.querySelector("#event_id")`)
	do(t, ctx, "search by eventId",
		chromedp.SendKeys(chromedp.CSS("#event_id"), "pay_2-captured"),
		chromedp.Click(chromedp.CSS(`form[role="search"] button[type="submit"]`)),
	)
	waitJS(t, ctx, "one search result", `location.search.includes("event_id=pay_2-captured") && document.querySelectorAll('#message-results a').length === 1`)
	do(t, ctx, "open the message", chromedp.Click(chromedp.CSS(`#message-results a`)))
	waitJS(t, ctx, "the message page", `document.querySelector(".meta")?.textContent.includes("pay_2-captured") && document.querySelectorAll("[data-status-code]").length === 1`)

	do(t, ctx, "re-send the message", chromedp.Click(chromedp.CSS(`form[action$="/resend"] button`)))
	body := rcv.next(t)
	if !strings.Contains(string(body), `"paymentId":"pay_2"`) {
		t.Errorf("the re-sent message = %s", body)
	}
	waitJS(t, ctx, "the manual attempt", `document.querySelector(".notice")?.textContent.includes("queued") && document.querySelectorAll('[data-status-code="200"]').length === 2`)
	if meta := text(t, ctx, ".attempt .attempt-meta"); !strings.Contains(meta, "manual") {
		t.Errorf("newest attempt = %q, want a manual one", meta)
	}
	screenshot(t, ctx, "dashboard-message.png", "")
}

// signInChrome signs the browser in to the dashboard and waits for the
// overview.
func signInChrome(t *testing.T, ctx context.Context, st *stack) {
	t.Helper()
	do(t, ctx, "open the dashboard", chromedp.Navigate(st.URL+"/ui/"))
	waitJS(t, ctx, "the sign-in form", `document.querySelector("#key")`)
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#key"), testAdminKey),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	waitJS(t, ctx, "the overview", `document.querySelector("h1")?.textContent === "Overview"`)
}

// TestBrowserApplicationLifecycle walks an application's life on the
// dashboard of an empty server: create it from the empty overview, see a
// bad uid refused beside its field, correct it, edit it (adding a metadata
// row with the script's button), and delete it after the confirm step.
func TestBrowserApplicationLifecycle(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	ctx := newChrome(t)
	signInChrome(t, ctx, st)

	// The empty overview offers to create one, not curl advice.
	if empty := text(t, ctx, ".empty-state"); !strings.Contains(empty, "No applications yet") || strings.Contains(empty, "POST") {
		t.Errorf("empty overview says %q", empty)
	}
	do(t, ctx, "open the form from the empty state", chromedp.Click(chromedp.CSS(`.empty-state a[href="/ui/apps/new"]`)))
	waitJS(t, ctx, "the application form", `document.querySelector("h1")?.textContent === "New application"`)
	do(t, ctx, "fill the form with a bad uid",
		chromedp.SendKeys(chromedp.CSS("#name"), "Pizza Place"),
		chromedp.SendKeys(chromedp.CSS("#uid"), "merchant 42"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaKey"]`), "region"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaValue"]`), "eu-west"),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the uid's error", `document.querySelector("#uid-error")`)
	if msg := text(t, ctx, "#uid-error"); !strings.Contains(msg, "must match") {
		t.Errorf("uid error = %q", msg)
	}
	waitJS(t, ctx, "the form keeping what was typed", `document.querySelector("#uid").getAttribute("aria-invalid") === "true" &&
		document.querySelector("#name").value === "Pizza Place" && document.querySelector('input[name="metaValue"]').value === "eu-west"`)
	if apps, _ := st.store.ListApplications(context.Background(), hookbridge.ListOptions{Limit: 10}); len(apps.Data) != 0 {
		t.Fatalf("a refused form created %d applications", len(apps.Data))
	}
	do(t, ctx, "correct the uid",
		chromedp.Clear(chromedp.CSS("#uid")),
		chromedp.SendKeys(chromedp.CSS("#uid"), "merchant-42"),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the new application's page", `document.querySelector(".notice")?.textContent.includes("Application created") && document.querySelector("h1")?.textContent === "Pizza Place"`)
	app, err := st.store.GetApplication(context.Background(), "merchant-42")
	if err != nil || app.Name != "Pizza Place" || app.Metadata["region"] != "eu-west" || app.RateLimit != nil {
		t.Fatalf("stored application = %+v, %v", app, err)
	}

	// Edit: rename, set a rate limit, add a metadata key in a row the
	// script adds.
	do(t, ctx, "open the edit form", chromedp.Click(chromedp.CSS(`a[href="/ui/apps/`+app.ID+`/edit"]`)))
	waitJS(t, ctx, "the edit form", `document.querySelector("#name")?.value === "Pizza Place"`)
	// One row for the key it has and two empty ones; the script adds a
	// fourth and puts the cursor in it.
	waitJS(t, ctx, "the metadata rows", `document.querySelectorAll('input[name="metaKey"]').length === 3`)
	do(t, ctx, "add a metadata row", chromedp.Click(chromedp.CSS(`button[data-add-rows]`)))
	waitJS(t, ctx, "a fourth metadata row", `document.querySelectorAll('input[name="metaKey"]').length === 4 && document.activeElement === [...document.querySelectorAll('input[name="metaKey"]')].pop()`)
	do(t, ctx, "edit the application",
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Pizza Place Berlin"),
		chromedp.SendKeys(chromedp.CSS("#rateLimit"), "25"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaKey"][aria-label="Key 4"]`), "tier"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaValue"][aria-label="Value 4"]`), "gold"),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the saved application", `document.querySelector(".notice")?.textContent.includes("Application saved")`)
	if meta := text(t, ctx, ".page-head > div"); !strings.Contains(meta, "rate limit 25/s") {
		t.Errorf("application meta = %q", meta)
	}
	if meta := text(t, ctx, ".app-metadata"); !strings.Contains(meta, "region: eu-west") || !strings.Contains(meta, "tier: gold") {
		t.Errorf("application metadata shown = %q", meta)
	}
	app, err = st.store.GetApplication(context.Background(), app.ID)
	if err != nil || app.Name != "Pizza Place Berlin" || app.UID != "merchant-42" || app.RateLimit == nil || *app.RateLimit != 25 ||
		len(app.Metadata) != 2 || app.Metadata["tier"] != "gold" {
		t.Fatalf("application after the edit = %+v, %v", app, err)
	}

	// Delete, after a confirm step that names it.
	do(t, ctx, "ask to delete", chromedp.Click(chromedp.CSS(`a[href="/ui/apps/`+app.ID+`/delete"]`)))
	waitJS(t, ctx, "the confirm step", `document.querySelector("h1")?.textContent === "Delete this application?"`)
	if subject := text(t, ctx, ".narrow strong"); subject != "Pizza Place Berlin" {
		t.Errorf("the confirm step names %q", subject)
	}
	if _, err := st.store.GetApplication(context.Background(), app.ID); err != nil {
		t.Fatalf("the application is gone before the confirm: %v", err)
	}
	do(t, ctx, "confirm", chromedp.Click(chromedp.CSS(`.narrow button[type="submit"]`)))
	waitJS(t, ctx, "the overview after the delete", `document.querySelector(".notice")?.textContent.includes("Application deleted") && document.querySelector(".empty-state")`)
	if _, err := st.store.GetApplication(context.Background(), app.ID); !hookbridge.IsNotFound(err) {
		t.Errorf("after the delete: %v, want not found", err)
	}
}

// TestBrowserDashboardEndpoints: the operator adds two endpoints to an
// application with the portal's endpoint form, sees them listed, sees the
// status of a message that succeeded and of one that failed, sees each
// endpoint's attempts on its chart, and opens the application's portal in
// a new tab in one click.
func TestBrowserDashboardEndpoints(t *testing.T) {
	t.Parallel()
	st := newStack(t, withoutRetries())
	good := newReceiver(t)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	app := st.app("Pizza Place", "merchant-42")
	ctx := newChrome(t)
	signInChrome(t, ctx, st)

	addEndpoint := func(url, eventType, channels string) string {
		t.Helper()
		do(t, ctx, "open the application", chromedp.Navigate(st.URL+"/ui/apps/"+app))
		waitJS(t, ctx, "the add endpoint button", `document.querySelector('a[href="/ui/apps/`+app+`/endpoints/new"]')`)
		do(t, ctx, "open the endpoint form", chromedp.Click(chromedp.CSS(`a[href="/ui/apps/`+app+`/endpoints/new"]`)))
		waitJS(t, ctx, "the endpoint form", `document.querySelector("#url") && document.querySelector("#channels")`)
		do(t, ctx, "fill the endpoint form",
			chromedp.SendKeys(chromedp.CSS("#url"), url),
			chromedp.Click(chromedp.CSS(`input[name="filterTypes"][value="`+eventType+`"]`)),
			chromedp.SendKeys(chromedp.CSS("#channels"), channels),
			chromedp.Click(chromedp.CSS(`form.form button.btn-primary`)),
		)
		waitJS(t, ctx, "the new endpoint's page", `document.querySelector(".notice")?.textContent.includes("Endpoint added") && location.pathname.startsWith("/ui/apps/`+app+`/endpoints/ep_")`)
		if secret := text(t, ctx, "#secret"); !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("secret shown = %q", secret)
		}
		path, err := chromedp.Run(ctx, chromedp.Evaluate[string]("location.pathname"))
		if err != nil {
			t.Fatal(err)
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	okEP := addEndpoint(good.URL+"/orders", "payment.captured", "")
	badEP := addEndpoint(bad.URL+"/refunds", "refund.succeeded", "eu, store-17")
	stored, err := st.store.GetEndpoint(context.Background(), app, badEP)
	if err != nil || stored.URL != bad.URL+"/refunds" || fmt.Sprint(stored.EventTypes) != "[refund.succeeded]" || fmt.Sprint(stored.Channels) != "[eu store-17]" {
		t.Fatalf("stored endpoint = %+v, %v", stored, err)
	}

	// Both are listed on the application's page.
	do(t, ctx, "back to the application", chromedp.Navigate(st.URL+"/ui/apps/"+app))
	waitJS(t, ctx, "both endpoints listed", `document.querySelectorAll('section[aria-labelledby="endpoints-title"] tbody tr').length === 2`)
	for _, u := range []string{good.URL + "/orders", bad.URL + "/refunds"} {
		waitJS(t, ctx, "the endpoint "+u, `[...document.querySelectorAll('section[aria-labelledby="endpoints-title"] td.url a')].some(a => a.textContent === `+jsString(u)+`)`)
	}

	// A message that succeeds and one that fails (no retries here).
	okMsg := st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "payment.captured", "payload": map[string]any{"paymentId": "pay_1"}}, http.StatusAccepted)["id"].(string)
	badMsg := st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "refund.succeeded", "channels": []string{"eu"}, "payload": map[string]any{"refundId": "re_1"}}, http.StatusAccepted)["id"].(string)
	good.next(t)
	waitFor(t, "both deliveries final", func() bool {
		for _, msg := range []string{okMsg, badMsg} {
			dests, err := st.store.ListMessageEndpoints(context.Background(), app, msg, hookbridge.ListOptions{Limit: 10})
			if err != nil || len(dests.Data) != 1 || !dests.Data[0].Status.Final() {
				return false
			}
		}
		return true
	})
	do(t, ctx, "reload the application", chromedp.Navigate(st.URL+"/ui/apps/"+app))
	statusOf := func(msg string) string {
		t.Helper()
		return text(t, ctx, `#message-results tr:has(a[href$="/msg/`+msg+`"]) td:last-child`)
	}
	waitJS(t, ctx, "the message list", `document.querySelectorAll("#message-results tbody tr").length === 2`)
	if s := statusOf(okMsg); s != "succeeded" {
		t.Errorf("status of the delivered message = %q", s)
	}
	if s := statusOf(badMsg); s != "failed" {
		t.Errorf("status of the failed message = %q", s)
	}

	// Each endpoint's chart shows its own attempts.
	for _, tc := range []struct{ ep, bar, other string }{{okEP, "bar-success", "bar-fail"}, {badEP, "bar-fail", "bar-success"}} {
		do(t, ctx, "open the endpoint", chromedp.Navigate(st.URL+"/ui/apps/"+app+"/endpoints/"+tc.ep))
		waitJS(t, ctx, "the endpoint's chart", `document.querySelector("svg.chart rect.`+tc.bar+`") && !document.querySelector("svg.chart rect.`+tc.other+`") &&
			document.querySelector("svg.chart desc").textContent.includes("attempts succeeded")`)
	}
	// Picking a period reloads the chart (static/app.js submits the form).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(s => { s.value = "1h"; s.dispatchEvent(new Event("change")); return true })(document.querySelector("#range"))`)); err != nil {
		t.Fatalf("pick the last hour: %v", err)
	}
	waitJS(t, ctx, "the chart of the last hour", `location.search === "?range=1h" && document.querySelector("#chart-title").textContent.includes("last hour") && document.querySelector("svg.chart rect.bar-fail")`)
	screenshot(t, ctx, "dashboard-endpoint.png", "")

	// The portal, in one click, in a new tab.
	do(t, ctx, "back to the application", chromedp.Navigate(st.URL+"/ui/apps/"+app))
	waitJS(t, ctx, "the portal button", `document.querySelector('form[action$="/portal"][target="_blank"] button')`)
	opened := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return strings.Contains(info.URL, "/portal/") })
	do(t, ctx, "open the portal", chromedp.Click(chromedp.CSS(`form[action$="/portal"] button`)))
	var id target.ID
	select {
	case id = <-opened:
	case <-time.After(stepTimeout):
		t.Fatal("no new tab opened")
	}
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	// Attach to the tab without a timeout, which would close it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("attach to the new tab: %v", err)
	}
	waitJS(t, tab, "the application's portal", `location.pathname === "/portal/" && location.search === "" &&
		document.querySelector(".brand")?.textContent.includes("Pizza Place") && document.querySelectorAll(".endpoint-card").length === 2`)
	do(t, tab, "the portal's messages", chromedp.Navigate(st.URL+"/portal/msg"))
	waitJS(t, tab, "the portal's status column", `[...document.querySelectorAll("#message-results tbody td:last-child")].map(td => td.textContent.trim()).sort().join() === "failed,succeeded"`)
}

// TestBrowserOIDC signs in through the identity provider (idp_test.go, on
// another site than the dashboard, whose page the user acts on, so the
// browser applies its cross-site cookie rules to the redirects back), with
// the admin key's sign-in turned off: the deep link survives the trip, the dashboard shows who is
// signed in, sign-out links to the provider's; then a read-only user sees
// no forms.
func TestBrowserOIDC(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p; o.noKey = true })
	app := st.app("Pizza Place", "merchant-42")
	ctx := newChrome(t)

	p.signIn(adminUser)
	p.setInteractive(true)
	do(t, ctx, "open an application's page", chromedp.Navigate(st.URL+"/ui/apps/"+app))
	waitJS(t, ctx, "the sign-in page, without the key form", `document.querySelector("#sso") && !document.querySelector("#key")`)
	do(t, ctx, "sign in with single sign-on", chromedp.Click(chromedp.CSS("#sso")))
	waitJS(t, ctx, "the provider's page", `location.origin === `+jsString(p.Issuer)+` && document.querySelector("#approve")`)
	do(t, ctx, "approve at the provider", chromedp.Click(chromedp.CSS("#approve")))
	waitJS(t, ctx, "the application's page, signed in", `location.pathname === "/ui/apps/`+app+`" && document.querySelector("h1")?.textContent === "Pizza Place"`)
	if who := text(t, ctx, ".who"); who != "Signed in as\nada@example.com" {
		t.Errorf("signed in as %q", who)
	}
	waitJS(t, ctx, "the admin's actions", `document.querySelector('a[href="/ui/apps/`+app+`/edit"]')`)
	screenshot(t, ctx, "dashboard-oidc.png", "")

	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button`)))
	waitJS(t, ctx, "the signed-out page", `document.querySelector("h1")?.textContent === "Signed out"`)
	if href, want := jsEval[string](t, ctx, `document.querySelector("#end-session").href`), p.Issuer+"/logout?client_id="+idpClientID; href != want {
		t.Errorf("provider sign-out link %q, want %q", href, want)
	}
	do(t, ctx, "back to the dashboard", chromedp.Navigate(st.URL+"/ui/"))
	waitJS(t, ctx, "the sign-in page", `document.querySelector("#sso")`)

	p.signIn(viewerUser)
	do(t, ctx, "sign in as a read-only user", chromedp.Click(chromedp.CSS("#sso")))
	waitJS(t, ctx, "the provider's page", `document.querySelector("#approve")`)
	do(t, ctx, "approve at the provider", chromedp.Click(chromedp.CSS("#approve")))
	waitJS(t, ctx, "the overview, read-only", `document.querySelector("h1")?.textContent === "Overview" && document.querySelector(".who")?.textContent.includes("read-only")`)
	if n := jsEval[int](t, ctx, `document.querySelectorAll('form[method="post"]:not([action="/ui/logout"]), a[href="/ui/apps/new"]').length`); n != 0 {
		t.Errorf("a read-only user is shown %d forms or form links", n)
	}
}

// jsEval evaluates a JavaScript expression in the current page.
func jsEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestBrowserEndpointFilter walks a consumer's filter in the portal: try
// a filter on the recent messages from the endpoint form, see a mistake
// placed in it, save a good one, and get only the messages it takes.
func TestBrowserEndpointFilter(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": rcv.URL + "/webhooks"}, http.StatusCreated)["id"].(string)
	send := func(amount int, currency string) string {
		t.Helper()
		return st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{
			"eventType": "payment.captured",
			"payload":   map[string]any{"amount": amount, "currency": currency},
		}, http.StatusAccepted)["id"].(string)
	}
	var before []string
	for _, m := range []struct {
		amount   int
		currency string
	}{{7500, "EUR"}, {120, "EUR"}, {9000, "USD"}} {
		before = append(before, send(m.amount, m.currency))
		rcv.next(t) // no filter yet: every message goes out
	}

	ctx := newChrome(t)
	do(t, ctx, "open the portal link", chromedp.Navigate(st.URL+st.portalLink(app, nil)))
	waitJS(t, ctx, "the endpoints page", `document.querySelector("h1")?.textContent === "Endpoints"`)
	do(t, ctx, "open the endpoint form", chromedp.Navigate(st.URL+"/portal/endpoints/"+ep+"/edit"))
	waitJS(t, ctx, "the filter field", `document.querySelector("#filter")`)

	// Test a filter on the recent messages: nothing is saved.
	const big = `payload.amount >= 5000 && payload.currency == "EUR"`
	do(t, ctx, "test a filter",
		chromedp.SendKeys(chromedp.CSS("#filter"), big),
		chromedp.Click(chromedp.CSS(`button[formaction*="/filter-test"]`)),
	)
	waitJS(t, ctx, "the test's results", `document.querySelector("#filter-results")`)
	if h := text(t, ctx, "#filter-results h2"); h != "1 of the last 3 messages would have been sent" {
		t.Errorf("results heading = %q", h)
	}
	for i, want := range []string{"true", "false", "false"} {
		got := jsEval[string](t, ctx, `document.querySelector('#filter-results tr[data-msg=`+jsString(before[i])+`]')?.dataset.delivered ?? "missing"`)
		if got != want {
			t.Errorf("message %d (%s): delivered = %s, want %s", i, before[i], got, want)
		}
	}
	if got := jsEval[string](t, ctx, `document.querySelector("#filter").value`); got != big {
		t.Errorf("the filter field after the test = %q, want what was typed", got)
	}
	if stored, err := st.store.GetEndpoint(context.Background(), app, ep); err != nil || stored.Filter != "" {
		t.Fatalf("after a test the stored filter is %q (%v), want none", stored.Filter, err)
	}

	// A filter with a mistake is placed at its line and column.
	do(t, ctx, "test a broken filter",
		chromedp.Clear(chromedp.CSS("#filter")),
		chromedp.SendKeys(chromedp.CSS("#filter"), `payload.amount >= 5000 && payload.currency = "EUR"`),
		chromedp.Click(chromedp.CSS(`button[formaction*="/filter-test"]`)),
	)
	waitJS(t, ctx, "the filter's error", `document.querySelector("#filter-error")`)
	if msg := text(t, ctx, "#filter-error"); !strings.Contains(msg, "line 1, column 44") {
		t.Errorf("filter error = %q, want its place", msg)
	}
	if got := jsEval[string](t, ctx, `document.querySelector("#filter").getAttribute("aria-invalid") ?? ""`); got != "true" {
		t.Errorf("the broken filter's field is not marked invalid")
	}

	// Save a good one: only the messages it takes are sent from now on.
	do(t, ctx, "save the filter",
		chromedp.Clear(chromedp.CSS("#filter")),
		chromedp.SendKeys(chromedp.CSS("#filter"), big),
		chromedp.Click(chromedp.CSS(`form.form button.btn-primary`)),
	)
	waitJS(t, ctx, "the saved endpoint", `document.querySelector(".notice")?.textContent.includes("saved")`)
	if shown := text(t, ctx, ".endpoint-filter code"); shown != big {
		t.Errorf("the endpoint page shows the filter %q", shown)
	}
	small := send(120, "EUR")
	large := send(6000, "EUR")
	if body := string(rcv.next(t)); !strings.Contains(body, `"amount":6000`) {
		t.Errorf("the receiver got %s, want the 6000 EUR payment", body)
	}
	owed, err := st.store.ListMessageEndpoints(context.Background(), app, small, hookbridge.ListOptions{})
	if err != nil || len(owed.Data) != 0 {
		t.Errorf("the 120 EUR payment is owed to %+v (%v), want no endpoint", owed.Data, err)
	}
	if owed, err := st.store.ListMessageEndpoints(context.Background(), app, large, hookbridge.ListOptions{}); err != nil || len(owed.Data) != 1 {
		t.Errorf("the 6000 EUR payment is owed to %+v (%v), want the endpoint", owed.Data, err)
	}
	screenshot(t, ctx, "portal-endpoint-filter.png", "")
}

// TestBrowserBulkReplay: the operator searches an application's messages
// by event type, replays what the search found to an endpoint made after
// them, and follows the task on the Background tasks page, which refreshes
// itself until the task is finished; the endpoint gets those messages
// and no other.
func TestBrowserBulkReplay(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	first, late := newReceiver(t), newReceiver(t)
	app := st.app("Pizza Place", "merchant-7")
	st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": first.URL + "/hooks"}, http.StatusCreated)
	for i := range 5 {
		eventType := "payment.captured"
		if i%2 == 1 {
			eventType = "order.created"
		}
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{
			"eventType": eventType, "payload": map[string]any{"n": i},
		}, http.StatusAccepted)
		first.next(t)
	}
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": late.URL + "/hooks"}, http.StatusCreated)["id"].(string)
	ctx := newChrome(t)
	signInChrome(t, ctx, st)

	do(t, ctx, "open the application", chromedp.Navigate(st.URL+"/ui/apps/"+app))
	waitJS(t, ctx, "the search form", `document.querySelector("#event_type")`)
	do(t, ctx, "search by event type",
		chromedp.SetValue(chromedp.CSS("#event_type"), "payment.captured"),
		chromedp.Click(chromedp.CSS(`form[role="search"] button[type="submit"]`)),
	)
	waitJS(t, ctx, "three results and the replay form", `location.search.includes("event_type=payment.captured") && document.querySelectorAll("#message-results tbody tr").length === 3 && document.querySelector("#replay-target")`)

	// Without an endpoint picked, the replay is refused beside the form.
	do(t, ctx, "replay without an endpoint", chromedp.Click(chromedp.CSS("#replay-submit")))
	waitJS(t, ctx, "the refusal", `document.querySelector("#replay-error")?.textContent.includes("Pick the endpoint")`)
	do(t, ctx, "replay to the new endpoint",
		chromedp.SetValue(chromedp.CSS("#replay-target"), ep),
		chromedp.Click(chromedp.CSS("#replay-submit")),
	)
	waitJS(t, ctx, "the tasks page", `location.pathname === "/ui/tasks" && document.querySelector(".notice")?.textContent.includes("Replay started")`)
	// The page refreshes itself (data-poll) until the task is finished.
	waitJS(t, ctx, "the finished task", `document.querySelector("[data-task] .badge")?.textContent === "finished" && document.querySelector("[data-task] .task-count")?.textContent.trim() === "3 / 3"`)

	var got []string
	for range 3 {
		got = append(got, string(late.next(t)))
	}
	slices.Sort(got)
	if want := []string{`{"n":0}`, `{"n":2}`, `{"n":4}`}; !slices.Equal(got, want) {
		t.Errorf("the new endpoint got %v, want the payment.captured messages %v", got, want)
	}
	select {
	case body := <-late.got:
		t.Errorf("the new endpoint got a fourth message: %s", body)
	default:
	}
	tasks, err := st.store.ListTasks(context.Background(), hookbridge.TaskFilter{})
	if err != nil || len(tasks.Data) != 1 || tasks.Data[0].Kind != hookbridge.TaskEndpointBulkReplay || tasks.Data[0].EndpointID != ep {
		t.Errorf("tasks = %+v, %v; want the one bulk replay to %s", tasks.Data, err, ep)
	}
}
