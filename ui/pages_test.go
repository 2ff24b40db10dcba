package ui

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/operational"
)

var nextRE = regexp.MustCompile(`<a href="([^"]+)">Older messages`)

// TestEveryPageRenders walks every page of both surfaces over a populated
// store, checking that each renders whole with the security headers.
func TestEveryPageRenders(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{
		"url": rcv.URL + "/hook", "description": "orders", "filterTypes": []string{"order.created"},
	}, http.StatusCreated)["id"].(string)
	msg := st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{
		"eventType": "order.created", "eventId": "ord_1-created", "payload": map[string]any{"orderId": "ord_1"},
	}, http.StatusAccepted)["id"].(string)
	rcv.next(t)

	admin := st.browser()
	admin.signIn()
	dashEP := "/ui/apps/" + app + "/endpoints/" + ep
	for _, path := range []string{
		"/ui/", "/ui/?range=1h", "/ui/?range=7d", "/ui/apps/" + app, "/ui/apps/merchant-42",
		"/ui/apps/" + app + "?event_id=ord_1-created", "/ui/apps/" + app + "?endpoint=" + ep + "&status=0",
		"/ui/apps/" + app + "/msg/" + msg, "/ui/event-types", "/ui/event-types/order.created", "/ui/operational",
		"/ui/apps/new", "/ui/apps/" + app + "/edit", "/ui/apps/" + app + "/delete",
		"/ui/apps/" + app + "/endpoints/new", dashEP, dashEP + "?reveal=1", dashEP + "?range=7d",
		dashEP + "/edit", dashEP + "/delete", "/ui/apps/merchant-42/endpoints/" + ep,
	} {
		p := admin.get(path).want(t, http.StatusOK)
		checkPage(t, path, p, "'none'")
	}

	consumer := st.browser()
	consumer.openPortal(st.portalLink(app, nil))
	for _, path := range []string{
		"/portal/", "/portal/endpoints/new", "/portal/endpoints/" + ep, "/portal/endpoints/" + ep + "?reveal=1",
		"/portal/endpoints/" + ep + "/edit", "/portal/endpoints/" + ep + "/delete",
		"/portal/msg", "/portal/msg?event_type=order.created", "/portal/msg/" + msg, "/portal/event-types",
		"/portal/endpoints/" + ep + "?range=1h",
	} {
		p := consumer.get(path).want(t, http.StatusOK)
		checkPage(t, path, p, "'self'")
	}
	for _, path := range []string{"/ui/static/style.css", "/portal/static/app.js", "/ui/static/icon.svg"} {
		p := consumer.get(path).want(t, http.StatusOK)
		if cc := p.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
	}
	consumer.get("/ui/static/nothing.css").want(t, http.StatusNotFound)

	// Paging through the message log: the next page's link keeps the
	// filter and continues after the last message shown.
	for i := range searchPageSize {
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{
			"eventType": "order.created", "eventId": fmt.Sprintf("ord_%d", i+2), "payload": map[string]any{"n": i},
		}, http.StatusAccepted)
	}
	first := consumer.get("/portal/msg?event_type=order.created").want(t, http.StatusOK)
	m := nextRE.FindStringSubmatch(first.Body)
	if m == nil {
		t.Fatalf("no link to the next page:\n%s", first.Body)
	}
	next := html.UnescapeString(m[1])
	if !strings.HasPrefix(next, "/portal/msg?event_type=order.created&iterator=msg_") {
		t.Errorf("next page link %q", next)
	}
	second := consumer.get(next).want(t, http.StatusOK)
	if !strings.Contains(second.Body, "/portal/msg/"+msg) || strings.Contains(second.Body, "Older messages") {
		t.Errorf("the second page does not end with the first message")
	}
	consumer.get("/portal/no-such-page").want(t, http.StatusNotFound)
	// The root sends a browser to the dashboard, which asks to sign in.
	if p := st.browser().get("/"); p.Status != http.StatusFound || p.Location != "/ui/" {
		t.Errorf("GET / = %d to %q", p.Status, p.Location)
	}
	if p := st.browser().get("/ui/apps/" + app); p.Status != http.StatusSeeOther || p.Location != "/ui/login?next="+url.QueryEscape("/ui/apps/"+app) {
		t.Errorf("signed out: %d to %q", p.Status, p.Location)
	}
}

// checkPage checks what every HTML page must have.
func checkPage(t *testing.T, path string, p page, frameAncestors string) {
	t.Helper()
	if !strings.Contains(p.Body, "</html>") {
		t.Errorf("%s: page not rendered whole", path)
	}
	h := p.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors " + frameAncestors, "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP allows inline code: %q", path, csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
	if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, " onclick=") {
		t.Errorf("%s: inline script or style on the page", path)
	}
}

// TestEndpointStateShown: why an endpoint's messages wait is on its pages —
// a pause its receiver asked for (429 with Retry-After) and the run of
// failures on the dashboard and in the portal, strict order and a rate
// limit on the dashboard.
func TestEndpointStateShown(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(busy.Close)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	paused := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": busy.URL + "/hook"}, http.StatusCreated)["id"].(string)
	st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": rcv.URL + "/hook", "fifo": true, "rateLimit": 5}, http.StatusCreated)

	admin := st.browser()
	admin.signIn()
	before := admin.get("/ui/apps/"+app).want(t, http.StatusOK)
	if strings.Contains(before.Body, "paused until") || strings.Contains(before.Body, "failing since") {
		t.Fatal("a new endpoint is shown paused or failing")
	}
	for _, want := range []string{"in message order (FIFO)", "at most 5 per second"} {
		if !strings.Contains(before.Body, want) {
			t.Errorf("the application page does not say %q", want)
		}
	}

	st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "order.created", "payload": map[string]any{"orderId": "ord_1"}}, http.StatusAccepted)
	waitFor(t, "the pause to be recorded", func() bool {
		ep, err := st.store.GetEndpoint(t.Context(), app, paused)
		return err == nil && !ep.PausedUntil.IsZero() && !ep.FailingSince.IsZero()
	})
	after := admin.get("/ui/apps/"+app).want(t, http.StatusOK)
	for _, want := range []string{"paused until", "failing since"} {
		if !strings.Contains(after.Body, want) {
			t.Errorf("the application page does not say %q once the receiver asked for a pause", want)
		}
	}
	consumer := st.browser()
	consumer.openPortal(st.portalLink(app, nil))
	page := consumer.get("/portal/endpoints/"+paused).want(t, http.StatusOK)
	for _, want := range []string{"Paused until", "Failing since"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the portal's endpoint page does not say %q", want)
		}
	}
	list := consumer.get("/portal/").want(t, http.StatusOK)
	for _, want := range []string{"paused until", "failing since"} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("the portal's endpoint list does not say %q", want)
		}
	}

	// Once the pause is over it is no longer shown; the failures are, until
	// an attempt succeeds.
	st.clock.Advance(11 * time.Minute)
	later := admin.get("/ui/apps/"+app).want(t, http.StatusOK)
	if strings.Contains(later.Body, "paused until") || !strings.Contains(later.Body, "failing since") {
		t.Error("after the pause the application page still shows it, or no longer shows the failures")
	}
}

// TestOperationalWebhooksPage: the operator adds an operational endpoint
// from the dashboard, sees its signing secret, finds it where the API (and
// so the dispatcher) has it, and deletes it; a bad URL is refused on the
// form, naming the field.
func TestOperationalWebhooksPage(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	admin := st.browser()
	admin.signIn()
	empty := admin.get("/ui/operational").want(t, http.StatusOK)
	if !strings.Contains(empty.Body, "No operational endpoints yet") {
		t.Fatal("the page does not say there are none")
	}
	var offered []string
	for _, et := range operationalTypes {
		offered = append(offered, et.Name)
	}
	if !slices.Equal(offered, operational.EventTypes) {
		t.Errorf("the page offers %v, want operational.EventTypes %v", offered, operational.EventTypes)
	}
	for _, et := range operational.EventTypes {
		if !strings.Contains(empty.Body, `value="`+et+`"`) {
			t.Errorf("the form does not offer %s", et)
		}
	}
	csrf := empty.csrf(t)

	bad := admin.post("/ui/operational", url.Values{"csrf": {csrf}, "url": {"not a url"}}).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, `id="url-error"`) {
		t.Errorf("a bad URL is not reported on its field:\n%s", bad.Body)
	}

	created := admin.post("/ui/operational", url.Values{"csrf": {csrf}, "url": {"https://ops.example/hooks"},
		"filterTypes": {"endpoint.disabled", "message.attempt.exhausted"}}).want(t, http.StatusSeeOther)
	if !strings.HasPrefix(created.Location, "/ui/operational?done=op-created&reveal=ep_") {
		t.Fatalf("redirected to %q", created.Location)
	}
	page := admin.get(created.Location).want(t, http.StatusOK)
	list := st.admin("GET", "/api/v1/operational-webhook/endpoint", nil, http.StatusOK)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("the API lists %d operational endpoints, want 1", len(list))
	}
	ep := list[0].(map[string]any)
	id := ep["id"].(string)
	if ep["url"] != "https://ops.example/hooks" || fmt.Sprint(ep["filterTypes"]) != "[endpoint.disabled message.attempt.exhausted]" {
		t.Errorf("stored %v", ep)
	}
	secret := st.admin("GET", "/api/v1/operational-webhook/endpoint/"+id+"/secret", nil, http.StatusOK)["key"].(string)
	if !strings.Contains(html.UnescapeString(page.Body), secret) || !strings.Contains(page.Body, "https://ops.example/hooks") {
		t.Error("the page does not show the new endpoint with its secret")
	}
	if strings.Contains(html.UnescapeString(admin.get("/ui/operational").want(t, http.StatusOK).Body), secret) {
		t.Error("the secret is shown without being asked for")
	}

	admin.post("/ui/operational/"+id+"/delete", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	if list := st.admin("GET", "/api/v1/operational-webhook/endpoint", nil, http.StatusOK)["data"].([]any); len(list) != 0 {
		t.Errorf("%d operational endpoints left after the delete", len(list))
	}
}

// TestRevokePortalLinks: the dashboard's "Revoke portal links" ends the
// portal sessions already open and the links already handed out (expire-all),
// and leaves new links working.
func TestRevokePortalLinks(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Shop", "shop")
	other := st.app("Other", "other")
	unused := st.portalLink(app, nil)
	consumer, bystander := st.browser(), st.browser()
	consumer.openPortal(st.portalLink(app, nil))
	bystander.openPortal(st.portalLink(other, nil))
	consumer.get("/portal/").want(t, http.StatusOK)

	admin := st.browser()
	admin.signIn()
	csrf := admin.get("/ui/apps/"+app).want(t, http.StatusOK).csrf(t)
	p := admin.post("/ui/apps/"+app+"/portal/expire-all", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	if !strings.Contains(admin.get(p.Location).want(t, http.StatusOK).Body, "Portal links revoked") {
		t.Error("no notice after revoking")
	}

	if p := consumer.get("/portal/").want(t, http.StatusUnauthorized); !strings.Contains(p.Body, "revoked") {
		t.Errorf("open session after revoking:\n%s", p.Body)
	}
	if p := st.browser().get(unused); p.Status == http.StatusSeeOther {
		t.Error("a link handed out before revoking still opens the portal")
	}
	bystander.get("/portal/").want(t, http.StatusOK)
	fresh := st.browser()
	fresh.openPortal(st.portalLink(app, nil))
	fresh.get("/portal/").want(t, http.StatusOK)
}

// TestPortalLogout: logging out a portal token (POST /api/v1/auth/logout
// with it) ends every portal session opened with that token and the link
// that carries it, and no other: another link of the same application
// keeps its session. On both stores, whose one read answers the check.
func TestPortalLogout(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name string
		opts []stackOption
	}{{"SQLite", nil}, {"PostgreSQL", []stackOption{onPostgres()}}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t, store.opts...)
			app := st.app("Shop", "shop")
			link := st.portalLink(app, nil)
			u, err := url.Parse(link)
			if err != nil {
				t.Fatal(err)
			}
			token := u.Query().Get("token")
			first, second, sibling := st.browser(), st.browser(), st.browser()
			first.openPortal(link)
			second.openPortal(link)
			sibling.openPortal(st.portalLink(app, nil))
			first.get("/portal/").want(t, http.StatusOK)

			logout, err := http.NewRequest("POST", st.URL+"/api/v1/auth/logout", nil)
			if err != nil {
				t.Fatal(err)
			}
			logout.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(logout)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("logout: %d, want 204", resp.StatusCode)
			}

			for name, b := range map[string]*browser{"first": first, "second": second} {
				if p := b.get("/portal/").want(t, http.StatusUnauthorized); !strings.Contains(p.Body, "revoked") {
					t.Errorf("%s session after its token's logout:\n%s", name, p.Body)
				}
			}
			if p := st.browser().get(link); p.Status == http.StatusSeeOther {
				t.Error("the logged-out token's link still opens the portal")
			}
			sibling.get("/portal/").want(t, http.StatusOK)
		})
	}
}

// TestEndpointFormFilter: the endpoint form sets, keeps and removes a
// filter through the API, and shows the API's refusal of one beside the
// field, with its place in the expression.
func TestEndpointFormFilter(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Pizza Place", "merchant-42")
	admin := st.browser()
	admin.signIn()
	csrf := admin.get("/ui/").want(t, http.StatusOK).csrf(t)
	base := "/ui/apps/" + app + "/endpoints"

	p := admin.post(base+"/new", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/a"}, "filter": {"paylod.amount > 1"}}).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, `id="filter-error"`) || !strings.Contains(p.Body, "line 1, column 1") || !strings.Contains(p.Body, "paylod.amount &gt; 1</textarea>") {
		t.Errorf("a refused filter is not shown beside the field, as typed:\n%s", p.Body)
	}
	if strings.Contains(p.Body, "/filter-test") {
		t.Error("the add form offers to test a filter for an endpoint that does not exist yet")
	}
	p = admin.post(base+"/new", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/a"}, "filter": {`payload.amount > 1`}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("add with a filter: %d\n%s", p.Status, p.Body)
	}
	eps, err := st.store.ListEndpoints(context.Background(), app, hookbridge.ListOptions{})
	if err != nil || len(eps.Data) != 1 || eps.Data[0].Filter != `payload.amount > 1` {
		t.Fatalf("endpoints after add: %+v, %v", eps.Data, err)
	}
	ep := eps.Data[0].ID
	if p := admin.get(base+"/"+ep).want(t, http.StatusOK); !strings.Contains(p.Body, "Only when <code class=\"break\">payload.amount &gt; 1</code>") {
		t.Error("the endpoint page does not show its filter")
	}
	edit := admin.get(base+"/"+ep+"/edit").want(t, http.StatusOK)
	if !strings.Contains(edit.Body, "payload.amount &gt; 1</textarea>") || !strings.Contains(edit.Body, `formaction="`+base+"/"+ep+`/filter-test#filter-results"`) {
		t.Error("the edit form does not show the filter and its test")
	}
	if p := admin.post(base+"/"+ep+"/edit", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/a"}, "filter": {"  "}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save without a filter: %d", p.Status)
	}
	if e, err := st.store.GetEndpoint(context.Background(), app, ep); err != nil || e.Filter != "" {
		t.Errorf("filter after saving it empty: %q, %v", e.Filter, err)
	}
	// Testing nothing is a mistake of the form's.
	p = admin.post(base+"/"+ep+"/filter-test", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/a"}, "filter": {""}}).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, `id="filter-error"`) {
		t.Error("testing an empty filter is not refused beside the field")
	}
	p = admin.post(base+"/"+ep+"/filter-test", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/a"}, "filter": {"true"}}).want(t, http.StatusOK)
	if !strings.Contains(p.Body, "No messages to test yet") {
		t.Error("a test without messages does not say so")
	}
}

// TestScheduledMessageShown: a message sent with deliverAt says on its
// page when it is to go out; once cancelled, it says so no longer and its
// endpoint shows the delivery canceled.
func TestScheduledMessageShown(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	rcv := newReceiver(t)
	app := st.app("Pizza Place", "merchant-42")
	st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": rcv.URL + "/hook"}, http.StatusCreated)
	at := st.clock.Now().Add(2 * time.Hour).UTC()
	msg := st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "order.created",
		"payload": map[string]any{"orderId": "ord_1"}, "deliverAt": at.Format(time.RFC3339)}, http.StatusAccepted)["id"].(string)

	admin := st.browser()
	admin.signIn()
	page := admin.get("/ui/apps/"+app+"/msg/"+msg).want(t, http.StatusOK)
	if !strings.Contains(page.Body, "scheduled for") || !strings.Contains(page.Body, at.Format("2006-01-02T15:04:05")) {
		t.Errorf("the message page does not say when the scheduled message goes out:\n%s", page.Body)
	}
	st.admin("POST", "/api/v1/app/"+app+"/msg/"+msg+"/cancel", nil, http.StatusNoContent)
	page = admin.get("/ui/apps/"+app+"/msg/"+msg).want(t, http.StatusOK)
	if strings.Contains(page.Body, "scheduled for") || !strings.Contains(page.Body, "badge-canceled") {
		t.Errorf("the cancelled message's page still shows it scheduled, or not its delivery canceled:\n%s", page.Body)
	}
}

// TestPortalSendAgain: the endpoint page's "Send messages again" form
// starts a recovery of the failed messages, or a replay of those the
// endpoint never received (it was added after them), as a background task
// of that endpoint; a choice the form does not offer is refused beside it.
func TestPortalSendAgain(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Pizza Place", "merchant-42")
	for range 3 {
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "order.created", "payload": map[string]any{}}, http.StatusAccepted)
	}
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://receiver.example/late"}, http.StatusCreated)["id"].(string)

	consumer := st.browser()
	consumer.openPortal(st.portalLink(app, nil))
	page := consumer.get("/portal/endpoints/"+ep).want(t, http.StatusOK)
	if !strings.Contains(page.Body, `value="missing"`) {
		t.Fatal("the endpoint page offers no replay of the messages it never received")
	}
	csrf := page.csrf(t)
	since := st.clock.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04")
	p := consumer.post("/portal/endpoints/"+ep+"/recover", url.Values{"csrf": {csrf}, "what": {"everything"}, "since": {since}}).
		want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Body, `id="what-error"`) {
		t.Error("an unknown choice is not refused beside the field")
	}
	for _, c := range []struct{ what, kind, done string }{
		{"missing", hookbridge.TaskEndpointReplay, "replaying-missing"},
		{"failed", hookbridge.TaskEndpointRecover, "recovering"},
	} {
		p := consumer.post("/portal/endpoints/"+ep+"/recover", url.Values{"csrf": {csrf}, "what": {c.what}, "since": {since}})
		if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "done="+c.done) {
			t.Fatalf("send again (%s): %d to %q", c.what, p.Status, p.Location)
		}
		tasks, err := st.store.ListTasks(context.Background(), hookbridge.TaskFilter{Kind: c.kind})
		if err != nil || len(tasks.Data) != 1 || tasks.Data[0].EndpointID != ep || tasks.Data[0].AppID != app {
			t.Fatalf("%s tasks after the form: %+v, %v; want one for the endpoint", c.kind, tasks.Data, err)
		}
		// The endpoint's page follows the task: its progress, until it ends.
		id := tasks.Data[0].ID
		testkit.WaitFor(t, "the task "+id+" to end", func() bool {
			task, err := st.store.GetTask(context.Background(), id)
			return err == nil && task.Status != hookbridge.TaskRunning
		})
		shown := consumer.get(p.Location).want(t, http.StatusOK)
		row := regexp.MustCompile(`(?s)<tr data-task="` + id + `">.*?</tr>`).FindString(shown.Body)
		count := regexp.MustCompile(`task-count">(\d+) / (\d+)<`).FindStringSubmatch(row)
		if !strings.Contains(row, "finished") || count == nil || count[1] != count[2] {
			t.Errorf("the endpoint page shows the task %s as %q, want it finished, all it selected queued", id, row)
		}
	}
	// Another application's endpoint page shows none of these tasks.
	other := st.app("Other", "other")
	otherEP := st.admin("POST", "/api/v1/app/"+other+"/endpoint", map[string]any{"url": "https://receiver.example/other"}, http.StatusCreated)["id"].(string)
	elsewhere := st.browser()
	elsewhere.openPortal(st.portalLink(other, nil))
	if body := elsewhere.get("/portal/endpoints/"+otherEP).want(t, http.StatusOK).Body; strings.Contains(body, "data-task=") {
		t.Errorf("another application's endpoint page lists tasks:\n%s", body)
	}
}

// TestCancelTask: a running task has a Cancel button on the tasks page;
// pressing it stops the task (failed, "canceled") and says so, and the
// button goes; pressed again, the page says the task is not running.
func TestCancelTask(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Shop", "shop")
	// At one message a second, the task is still running when canceled.
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://receiver.example/hooks", "rateLimit": 1}, http.StatusCreated)["id"].(string)
	for i := range 10 {
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "order.created", "payload": map[string]any{"n": i}}, http.StatusAccepted)
	}
	since := time.Now().Add(-time.Hour).Format(time.RFC3339)
	task := st.admin("POST", "/api/v1/app/"+app+"/endpoint/"+ep+"/bulk-replay", map[string]any{"since": since}, http.StatusAccepted)["id"].(string)
	button := `action="/ui/tasks/` + task + `/cancel"`

	admin := st.browser()
	admin.signIn()
	page := admin.get("/ui/tasks").want(t, http.StatusOK)
	if !strings.Contains(page.Body, button) {
		t.Fatalf("no Cancel button for the running task:\n%s", page.Body)
	}
	csrf := page.csrf(t)
	p := admin.post("/ui/tasks/"+task+"/cancel", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	after := admin.get(p.Location).want(t, http.StatusOK)
	if !strings.Contains(after.Body, "Task canceled") || strings.Contains(after.Body, button) {
		t.Errorf("after canceling, the notice is missing or the button is still there:\n%s", after.Body)
	}
	got := st.admin("GET", "/api/v1/background-task/"+task, nil, http.StatusOK)
	if data, _ := got["data"].(map[string]any); got["status"] != "failed" || data["error"] != "canceled" {
		t.Errorf("task after canceling = %v", got)
	}
	again := admin.post("/ui/tasks/"+task+"/cancel", url.Values{"csrf": {csrf}}).want(t, http.StatusConflict)
	if !strings.Contains(again.Body, "not running") {
		t.Errorf("canceling again does not say the task is not running:\n%s", again.Body)
	}
}
