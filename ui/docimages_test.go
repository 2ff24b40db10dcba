package ui

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookbridge/hookbridge"
)

var docImages = flag.String("doc-images", "", "write the README's screenshots of the dashboard and the portal to this directory (e.g. ../docs/img)")

// TestDocImages renders the README's screenshots over a day of seeded
// history. It runs only when asked:
//
//	go test ./ui -run TestDocImages -doc-images ../docs/img
func TestDocImages(t *testing.T) {
	if *docImages == "" {
		t.Skip("run with -doc-images DIR to write the README's screenshots")
	}
	dir, err := filepath.Abs(*docImages)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ok := newReceiver(t)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(flaky.Close)

	var pizza, pizzaEP string
	st := newStack(t, withSeed(func(st *stack) {
		pizza = st.admin("POST", "/api/v1/app", map[string]any{
			"name": "Pizza Place", "uid": "merchant-42", "metadata": map[string]string{"region": "eu-west", "plan": "pro"},
		}, http.StatusCreated)["id"].(string)
		pizzaEP = st.admin("POST", "/api/v1/app/"+pizza+"/endpoint", map[string]any{
			"url": ok.URL + "/webhooks/orders", "description": "Order sync (production)",
			"filterTypes": []string{"order.created", "order.ready", "payment.captured", "refund.succeeded"},
		}, http.StatusCreated)["id"].(string)
		st.admin("POST", "/api/v1/app/"+pizza+"/endpoint", map[string]any{
			"url": flaky.URL + "/hooks/accounting", "description": "Accounting export",
			"filterTypes": []string{"payment.captured", "refund.succeeded"}, "rateLimit": 20,
		}, http.StatusCreated)
		sushi := st.app("Sushi Bar", "merchant-7")
		st.admin("POST", "/api/v1/app/"+sushi+"/endpoint", map[string]any{"url": ok.URL + "/sushi"}, http.StatusCreated)
		st.app("Burger Barn", "merchant-19")
		partner := st.app("Delivery partner", "partner-rider")
		st.admin("POST", "/api/v1/app/"+partner+"/endpoint", map[string]any{"url": flaky.URL + "/rider", "filterTypes": []string{"order.ready"}}, http.StatusCreated)
		seedHistory(t, st)
	}))
	ctx := newChrome(t)
	// shot captures the viewport; full, the whole page (for a form).
	shot := func(name string) {
		t.Helper()
		capture(t, ctx, filepath.Join(dir, name), chromedp.CaptureScreenshot())
	}
	full := func(name string) {
		t.Helper()
		capture(t, ctx, filepath.Join(dir, name), chromedp.FullScreenshot(100))
	}
	// top scrolls the page so that the element is at the top.
	top := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(e => { e.scrollIntoView({block: "start"}); return true })(document.querySelector(`+jsString(sel)+`))`)); err != nil {
			t.Fatalf("scroll to %s: %v", sel, err)
		}
	}

	// Dashboard.
	do(t, ctx, "sign in", chromedp.Navigate(st.URL+"/ui/login"))
	do(t, ctx, "sign in", chromedp.SendKeys(chromedp.CSS("#key"), testAdminKey), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitJS(t, ctx, "the overview", `document.querySelector("h1")?.textContent === "Overview"`)
	shot("dashboard.png")

	// A new application, refused once for its uid.
	do(t, ctx, "the application form", chromedp.Click(chromedp.CSS(`.page-head a[href="/ui/apps/new"]`)))
	waitJS(t, ctx, "the application form", `document.querySelector("#name")`)
	do(t, ctx, "fill the application form",
		chromedp.SendKeys(chromedp.CSS("#name"), "Taco Truck"),
		chromedp.SendKeys(chromedp.CSS("#uid"), "merchant 88"),
		chromedp.SendKeys(chromedp.CSS("#rateLimit"), "50"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaKey"]`), "region"),
		chromedp.SendKeys(chromedp.CSS(`input[name="metaValue"]`), "eu-west"),
		chromedp.Click(chromedp.CSS(`form.form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the uid's error", `document.querySelector("#uid-error")`)
	full("dashboard-app-new.png")

	// An application: its endpoints, then its messages with their status.
	do(t, ctx, "the application", chromedp.Navigate(st.URL+"/ui/apps/"+pizza))
	waitJS(t, ctx, "the application", `document.querySelector("#message-results")`)
	shot("dashboard-app.png")
	top(`section[aria-labelledby="messages-title"]`)
	shot("dashboard-messages.png")

	// The endpoint form, the portal's, on the dashboard.
	do(t, ctx, "the endpoint form", chromedp.Navigate(st.URL+"/ui/apps/"+pizza+"/endpoints/new"))
	waitJS(t, ctx, "the endpoint form", `document.querySelector("#url")`)
	do(t, ctx, "fill the endpoint form",
		chromedp.SendKeys(chromedp.CSS("#url"), "https://pos.pizza.example/webhooks"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Point of sale"),
		chromedp.Click(chromedp.CSS(`input[name="filterTypes"][value="order.created"]`)),
		chromedp.Click(chromedp.CSS(`input[name="filterTypes"][value="order.cancelled"]`)),
	)
	full("dashboard-endpoint-new.png")

	// An endpoint's attempts over time.
	do(t, ctx, "the endpoint", chromedp.Navigate(st.URL+"/ui/apps/"+pizza+"/endpoints/"+pizzaEP))
	waitJS(t, ctx, "the endpoint's chart", `document.querySelector("svg.chart rect.bar-success")`)
	top(`section[aria-labelledby="chart-title"]`)
	shot("dashboard-endpoint.png")

	// Portal: a test event, then the message with its attempt.
	do(t, ctx, "open the portal", chromedp.Navigate(st.URL+st.portalLink(pizza, nil)))
	waitJS(t, ctx, "the portal", `document.querySelector("h1")?.textContent === "Endpoints"`)
	do(t, ctx, "the endpoint", chromedp.Navigate(st.URL+"/portal/endpoints/"+pizzaEP))
	waitJS(t, ctx, "the endpoint", `document.querySelector("#eventType")`)
	shot("portal-endpoint.png")
	do(t, ctx, "send a test event", chromedp.SetValue(chromedp.CSS("#eventType"), "payment.captured"), chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)))
	waitJS(t, ctx, "the attempt", `document.querySelector('[data-status-code="200"]')`)
	do(t, ctx, "open the attempt", chromedp.Click(chromedp.CSS(".attempt summary")))
	shot("portal-test-event.png")
}

// capture saves a screenshot.
func capture(t *testing.T, ctx context.Context, path string, action chromedp.Action[[]byte]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, action)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seedHistory records a day of attempts (hour by hour, some failing) for
// the dashboard's chart, straight through the store as a dispatcher would.
func seedHistory(t *testing.T, st *stack) {
	t.Helper()
	ctx := context.Background()
	apps, err := st.store.ListApplications(ctx, hookbridge.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	types := []string{"order.created", "order.ready", "payment.captured", "refund.succeeded"}
	for h := 23; h >= 0; h-- {
		hour := now.Add(-time.Duration(h) * time.Hour)
		// A daily curve: quiet at night, busy at lunch and dinner.
		n := 6 + int(14*peak(hour.Hour()))
		var msgs []*hookbridge.Message
		for i := range n {
			app := apps.Data[i%len(apps.Data)]
			created := hour.Add(-59*time.Minute + time.Duration(i*59/n)*time.Minute)
			payload, _ := json.Marshal(map[string]any{"orderId": fmt.Sprintf("ord_%d%02d", h, i), "amount": 1200 + 37*i, "currency": "EUR"})
			msgs = append(msgs, &hookbridge.Message{
				ID: hookbridge.NewIDAt(hookbridge.PrefixMessage, created), AppID: app.ID,
				EventType: types[(i/len(apps.Data)+h)%len(types)], Payload: payload, CreatedAt: created.Truncate(time.Millisecond),
			})
		}
		if _, err := st.store.CreateMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := st.store.ClaimDeliveries(ctx, "seed", now, time.Minute, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var results []hookbridge.AttemptResult
	for i, c := range claims {
		code, status := 200, hookbridge.StatusSuccess
		if c.Endpoint.URL[len(c.Endpoint.URL)-5:] == "rider" || i%11 == 0 {
			code, status = 503, hookbridge.StatusFail
		}
		at := c.Message.CreatedAt.Add(time.Second)
		results = append(results, hookbridge.AttemptResult{
			DeliveryID: c.Delivery.ID, Status: status,
			Attempt: &hookbridge.Attempt{
				ID: hookbridge.NewIDAt(hookbridge.PrefixAttempt, at), DeliveryID: c.Delivery.ID, AppID: c.Delivery.AppID,
				MsgID: c.Delivery.MsgID, EndpointID: c.Delivery.EndpointID, URL: c.Endpoint.URL, Status: status,
				StatusCode: code, Response: `{"ok":true}`, DurationMS: int64(20 + i%60), CreatedAt: at,
			},
		})
	}
	if _, err := st.store.RecordAttempts(ctx, "seed", results); err != nil {
		t.Fatal(err)
	}
}

// peak is 0 to 1 over the day, highest at 12:00 and 19:00.
func peak(hour int) float64 {
	d := func(h int) float64 { x := float64(hour - h); return 1 / (1 + x*x/4) }
	return max(d(12), d(19))
}
