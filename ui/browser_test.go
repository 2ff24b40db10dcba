package ui

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// text returns the text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
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
