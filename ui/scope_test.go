package ui

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// scopeFixture is two applications, each with an endpoint and a delivered
// message, and a consumer in A's portal.
type scopeFixture struct {
	st                 *stack
	a, b               string // application ids
	epA, epB           string
	msgA, msgB         string
	urlA, urlB         string
	consumer           *browser
	csrf               string
	secretB            string
	attemptsOfB        int
	eventIDB, eventIDA string
}

func newScopeFixture(t *testing.T) *scopeFixture {
	t.Helper()
	st := newStack(t)
	rcv := newReceiver(t)
	f := &scopeFixture{st: st, eventIDA: "a-evt-1", eventIDB: "b-evt-1"}
	f.a, f.b = st.app("A", "app-a"), st.app("B", "app-b")
	f.urlA, f.urlB = rcv.URL+"/a", rcv.URL+"/b"
	f.epA = st.admin("POST", "/api/v1/app/"+f.a+"/endpoint", map[string]any{"url": f.urlA}, http.StatusCreated)["id"].(string)
	f.epB = st.admin("POST", "/api/v1/app/"+f.b+"/endpoint", map[string]any{"url": f.urlB}, http.StatusCreated)["id"].(string)
	f.msgA = st.admin("POST", "/api/v1/app/"+f.a+"/msg", map[string]any{"eventType": "order.created", "eventId": f.eventIDA, "payload": map[string]any{"n": 1}}, http.StatusAccepted)["id"].(string)
	f.msgB = st.admin("POST", "/api/v1/app/"+f.b+"/msg", map[string]any{"eventType": "order.created", "eventId": f.eventIDB, "payload": map[string]any{"n": 2}}, http.StatusAccepted)["id"].(string)
	rcv.next(t)
	rcv.next(t)
	waitFor(t, "both attempts recorded", func() bool { return f.countAttempts(t, f.a) == 1 && f.countAttempts(t, f.b) == 1 })
	f.attemptsOfB = 1
	f.secretB = f.secret(t, f.b, f.epB)

	f.consumer = st.browser()
	f.consumer.openPortal(st.portalLink(f.a, nil))
	f.csrf = f.consumer.get("/portal/").want(t, http.StatusOK).csrf(t)
	return f
}

func (f *scopeFixture) countAttempts(t *testing.T, app string) int {
	t.Helper()
	page, err := f.st.store.ListAttempts(context.Background(), app, hookbridge.AttemptFilter{ListOptions: hookbridge.ListOptions{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Data)
}

func (f *scopeFixture) secret(t *testing.T, app, ep string) string {
	t.Helper()
	e, err := f.st.store.GetEndpoint(context.Background(), app, ep)
	if err != nil {
		t.Fatal(err)
	}
	return e.Secrets[0].Key
}

// TestPortalScope checks that a portal session for application A gets 404
// for every page and every action that names application B's endpoint or
// message, and that nothing of B changes or leaks onto A's pages.
func TestPortalScope(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	c := f.consumer

	for _, path := range []string{
		"/portal/endpoints/" + f.epB,
		"/portal/endpoints/" + f.epB + "?reveal=1",
		"/portal/endpoints/" + f.epB + "/edit",
		"/portal/endpoints/" + f.epB + "/delete",
		"/portal/msg/" + f.msgB,
		"/portal/msg/" + f.eventIDB,
		// Path tricks: an encoded slash or dot-segments never leave the
		// session's application.
		"/portal/endpoints/..%2F..%2Fapp%2F" + f.b + "%2Fendpoint%2F" + f.epB,
		"/portal/msg/%2E%2E",
	} {
		t.Run("GET "+path, func(t *testing.T) {
			p := c.get(path)
			if p.Status != http.StatusNotFound {
				t.Errorf("status %d, want 404", p.Status)
			}
			if strings.Contains(p.Body, f.urlB) || strings.Contains(p.Body, f.secretB) {
				t.Error("B's endpoint leaked onto the page")
			}
		})
	}

	form := func(extra ...string) url.Values {
		v := url.Values{"csrf": {f.csrf}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/portal/endpoints/" + f.epB + "/edit", form("url", "https://attacker.example/x")},
		{"/portal/endpoints/" + f.epB + "/disable", form("disabled", "true")},
		{"/portal/endpoints/" + f.epB + "/rotate", form()},
		{"/portal/endpoints/" + f.epB + "/test", form("eventType", "order.created")},
		{"/portal/endpoints/" + f.epB + "/recover", form("since", "2020-01-01T00:00")},
		{"/portal/endpoints/" + f.epB + "/filter-test", form("filter", "true")},
		{"/portal/endpoints/" + f.epB + "/delete", form()},
		{"/portal/msg/" + f.msgB + "/resend", form("endpoint", f.epB)},
		{"/portal/msg/" + f.msgB + "/resend", form("endpoint", f.epA)},
		{"/portal/msg/" + f.msgA + "/resend", form("endpoint", f.epB)},
		{"/portal/msg/" + f.eventIDB + "/resend", form("endpoint", f.epB)},
	} {
		t.Run("POST "+tc.path+" "+tc.form.Get("endpoint"), func(t *testing.T) {
			p := c.post(tc.path, tc.form)
			if p.Status != http.StatusNotFound {
				t.Errorf("status %d, want 404; body %.300s", p.Status, p.Body)
			}
		})
	}

	// B is untouched: same URL, enabled, same secret, no new attempts.
	ctx := context.Background()
	epB, err := f.st.store.GetEndpoint(ctx, f.b, f.epB)
	if err != nil {
		t.Fatalf("B's endpoint: %v", err)
	}
	if epB.URL != f.urlB || epB.Disabled || epB.Secrets[0].Key != f.secretB || len(epB.Secrets) != 1 {
		t.Errorf("B's endpoint changed: %+v", epB)
	}
	backlog, err := f.st.store.Backlog(ctx, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.countAttempts(t, f.b); n != f.attemptsOfB || backlog.Pending+backlog.Sending != 0 {
		t.Errorf("B got %d attempts (had %d), backlog %+v: something was sent", n, f.attemptsOfB, backlog)
	}

	// A's lists show nothing of B, and searching for B's ids finds nothing.
	for _, path := range []string{"/portal/", "/portal/msg", "/portal/msg?event_id=" + f.msgB, "/portal/msg?event_id=" + f.eventIDB} {
		p := c.get(path).want(t, http.StatusOK)
		if strings.Contains(p.Body, f.urlB) || strings.Contains(p.Body, "/portal/msg/"+f.msgB) {
			t.Errorf("%s shows B's data", path)
		}
	}
	if p := c.get("/portal/msg?endpoint=" + f.epB + "&status=0"); p.Status != http.StatusUnprocessableEntity || strings.Contains(p.Body, "/portal/msg/"+f.msgB) {
		t.Errorf("filtering by B's endpoint: %d", p.Status)
	}

	// The portal session opens nothing of the dashboard.
	if p := c.get("/ui/"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/ui/login") {
		t.Errorf("/ui/ with a portal session: %d to %q", p.Status, p.Location)
	}
	c.post("/ui/apps/"+f.b+"/msg/"+f.msgB+"/resend", form("endpoint", f.epB)).want(t, http.StatusUnauthorized)
}

func TestPortalTokens(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	a := st.app("A", "app-a")

	t.Run("Expired", func(t *testing.T) {
		link := st.portalLink(a, nil) // valid for an hour
		st2 := st.browser()
		st2.openPortal(link)
		st2.get("/portal/").want(t, http.StatusOK)

		st.clock.Advance(time.Hour)
		defer st.clock.Advance(-time.Hour)
		// The link is refused, and so is the session made from it.
		if p := st.browser().get(link); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "expired") {
			t.Errorf("expired link: %d", p.Status)
		}
		st2.get("/portal/").want(t, http.StatusUnauthorized)
		st2.get("/portal/msg").want(t, http.StatusUnauthorized)
	})
	t.Run("Forged", func(t *testing.T) {
		link := st.portalLink(a, nil)
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		forged := token[:len(token)-2] + "AA"
		if forged == token {
			forged = token[:len(token)-2] + "BB"
		}
		for _, bad := range []string{forged, "hbpt_nothing", testAdminKey} {
			st.browser().get("/portal/?token="+url.QueryEscape(bad)).want(t, http.StatusUnauthorized)
		}
		// A forged cookie is no session either.
		b := st.browser()
		b.do("GET", "/portal/", nil, map[string]string{"Cookie": portalCookie + "=e30.AAAA"}).want(t, http.StatusUnauthorized)
	})
	t.Run("DeletedApplication", func(t *testing.T) {
		gone := st.app("Gone", "gone")
		link := st.portalLink(gone, nil)
		b := st.browser()
		b.openPortal(link)
		st.admin("DELETE", "/api/v1/app/"+gone, nil, http.StatusNoContent)
		b.get("/portal/").want(t, http.StatusNotFound)
		st.browser().get(link).want(t, http.StatusNotFound)
	})
	t.Run("ReadOnly", func(t *testing.T) {
		ep := st.admin("POST", "/api/v1/app/"+a+"/endpoint", map[string]any{"url": "https://receiver.example/ro"}, http.StatusCreated)["id"].(string)
		b := st.browser()
		b.openPortal(st.portalLink(a, map[string]any{"readOnly": true}))
		p := b.get("/portal/endpoints/"+ep).want(t, http.StatusOK)
		if strings.Contains(p.Body, `action="/portal/endpoints/`+ep+`/rotate"`) || strings.Contains(p.Body, "Add endpoint") {
			t.Error("a read-only portal shows forms that change things")
		}
		csrf := p.csrf(t) // the sign-out form
		b.post("/portal/endpoints/"+ep+"/disable", url.Values{"csrf": {csrf}, "disabled": {"true"}}).want(t, http.StatusForbidden)
		b.post("/portal/endpoints/"+ep+"/filter-test", url.Values{"csrf": {csrf}, "filter": {"true"}}).want(t, http.StatusForbidden)
		// Nor is it shown the pages that are only a form.
		for _, path := range []string{"/portal/endpoints/new", "/portal/endpoints/" + ep + "/edit", "/portal/endpoints/" + ep + "/delete"} {
			b.get(path).want(t, http.StatusForbidden)
		}
		if e, _ := st.store.GetEndpoint(context.Background(), a, ep); e.Disabled {
			t.Error("read-only session disabled the endpoint")
		}
	})
	t.Run("FeatureFlags", func(t *testing.T) {
		st.admin("POST", "/api/v1/event-type", map[string]any{"name": "beta.thing", "description": "gated", "featureFlag": "beta"}, http.StatusCreated)
		plain, flagged := st.browser(), st.browser()
		plain.openPortal(st.portalLink(a, nil))
		flagged.openPortal(st.portalLink(a, map[string]any{"featureFlags": []string{"beta"}}))
		if strings.Contains(plain.get("/portal/event-types").Body, "beta.thing") {
			t.Error("a gated event type is shown without its flag")
		}
		if !strings.Contains(flagged.get("/portal/endpoints/new").Body, "beta.thing") {
			t.Error("a gated event type is hidden although the token grants its flag")
		}
		csrf := plain.get("/portal/").csrf(t)
		p := plain.post("/portal/endpoints/new", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/x"}, "filterTypes": {"beta.thing"}}).want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(p.Body, `id="filterTypes-error"`) {
			t.Error("subscribing to a hidden type is not refused beside the field")
		}
	})
}

// TestCSRF checks that no form is accepted without the session's own CSRF
// token, nor from another site.
func TestCSRF(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	a := st.app("A", "app-a")
	ep := st.admin("POST", "/api/v1/app/"+a+"/endpoint", map[string]any{"url": "https://receiver.example/a"}, http.StatusCreated)["id"].(string)
	msg := st.admin("POST", "/api/v1/app/"+a+"/msg", map[string]any{"eventType": "order.created", "payload": map[string]any{}}, http.StatusAccepted)["id"].(string)

	consumer, other, admin := st.browser(), st.browser(), st.browser()
	consumer.openPortal(st.portalLink(a, nil))
	other.openPortal(st.portalLink(a, nil))
	admin.signIn()
	portalToken := consumer.get("/portal/").csrf(t)
	otherToken := other.get("/portal/").csrf(t)
	adminToken := admin.get("/ui/").csrf(t)
	if portalToken == otherToken {
		t.Fatal("two portal sessions share a CSRF token")
	}

	portalForms := map[string]url.Values{
		"/portal/endpoints/new":                    {"url": {"https://receiver.example/new"}},
		"/portal/endpoints/" + ep + "/edit":        {"url": {"https://receiver.example/changed"}},
		"/portal/endpoints/" + ep + "/disable":     {"disabled": {"true"}},
		"/portal/endpoints/" + ep + "/rotate":      {},
		"/portal/endpoints/" + ep + "/test":        {"eventType": {"order.created"}},
		"/portal/endpoints/" + ep + "/recover":     {"since": {"2020-01-01T00:00"}},
		"/portal/endpoints/" + ep + "/filter-test": {"filter": {"true"}},
		"/portal/endpoints/" + ep + "/delete":      {},
		"/portal/msg/" + msg + "/resend":           {"endpoint": {ep}},
		"/portal/logout":                           {},
	}
	dashEP := "/ui/apps/" + a + "/endpoints/" + ep
	adminForms := map[string]url.Values{
		"/ui/apps/new":                              {"name": {"New"}},
		"/ui/apps/" + a + "/edit":                   {"name": {"Renamed"}},
		"/ui/apps/" + a + "/delete":                 {},
		"/ui/apps/" + a + "/endpoints/new":          {"url": {"https://receiver.example/new"}},
		dashEP + "/edit":                            {"url": {"https://receiver.example/changed"}},
		dashEP + "/disable":                         {"disabled": {"true"}},
		dashEP + "/rotate":                          {},
		dashEP + "/test":                            {"eventType": {"order.created"}},
		dashEP + "/recover":                         {"since": {"2020-01-01T00:00"}},
		dashEP + "/filter-test":                     {"filter": {"true"}},
		dashEP + "/delete":                          {},
		"/ui/apps/" + a + "/portal":                 {},
		"/ui/apps/" + a + "/msg/" + msg + "/resend": {"endpoint": {ep}},
		"/ui/apps/" + a + "/replay":                 {"target": {ep}},
		"/ui/event-types":                           {"name": {"x.y"}, "description": {"x"}},
		"/ui/event-types/order.created":             {"description": {"changed"}},
		"/ui/event-types/order.created/archive":     {"archived": {"true"}},
		"/ui/operational":                           {"url": {"https://ops.example/hooks"}},
		"/ui/logout":                                {},
	}
	for _, tc := range []struct {
		name   string
		b      *browser
		forms  map[string]url.Values
		tokens []string
	}{
		{"Portal", consumer, portalForms, []string{"", "nonsense", otherToken, adminToken}},
		{"Dashboard", admin, adminForms, []string{"", "nonsense", portalToken}},
	} {
		for path, form := range tc.forms {
			for _, token := range tc.tokens {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if token != "" {
					f.Set("csrf", token)
				}
				if p := tc.b.post(path, f); p.Status != http.StatusForbidden {
					t.Errorf("%s: POST %s with token %.10q: %d, want 403", tc.name, path, token, p.Status)
				}
			}
		}
	}
	// Nothing changed.
	if app, err := st.store.GetApplication(context.Background(), a); err != nil || app.Name != "A" {
		t.Errorf("application after refused forms: %+v, %v", app, err)
	}
	if apps, _ := st.store.ListApplications(context.Background(), hookbridge.ListOptions{Limit: 10}); len(apps.Data) != 1 {
		t.Errorf("%d applications after refused forms, want 1", len(apps.Data))
	}
	if tasks, _ := st.store.ListTasks(context.Background(), hookbridge.TaskFilter{}); len(tasks.Data) != 0 {
		t.Errorf("a refused form started a task: %+v", tasks.Data)
	}
	if ends, _ := st.store.ListEndpoints(context.Background(), a, hookbridge.ListOptions{Limit: 10}); len(ends.Data) != 1 {
		t.Errorf("%d endpoints after refused forms, want 1", len(ends.Data))
	}
	e, err := st.store.GetEndpoint(context.Background(), a, ep)
	if err != nil || e.Disabled || e.URL != "https://receiver.example/a" || len(e.Secrets) != 1 {
		t.Errorf("endpoint after refused forms: %+v, %v", e, err)
	}
	et, _ := st.store.GetEventType(context.Background(), "order.created")
	if et.Archived || et.Description == "changed" {
		t.Errorf("event type after refused forms: %+v", et)
	}
	consumer.get("/portal/").want(t, http.StatusOK) // still signed in
	admin.get("/ui/").want(t, http.StatusOK)

	// With its token a form works, but not when the browser says it comes
	// from another site.
	f := url.Values{"csrf": {portalToken}, "disabled": {"true"}}
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
		if p := consumer.do("POST", "/portal/endpoints/"+ep+"/disable", f, h); p.Status != http.StatusForbidden {
			t.Errorf("cross-origin POST with %v: %d, want 403", h, p.Status)
		}
	}
	if p := st.browser().do("POST", "/ui/login", url.Values{"key": {testAdminKey}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); p.Status != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d, want 403", p.Status)
	}
	consumer.post("/portal/endpoints/"+ep+"/disable", f).want(t, http.StatusSeeOther)
	if e, _ := st.store.GetEndpoint(context.Background(), a, ep); !e.Disabled {
		t.Error("the form with its token did not disable the endpoint")
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	b := st.browser()
	p := b.post("/ui/login", url.Values{"key": {"hbk_wrong"}}).want(t, http.StatusUnauthorized)
	if !strings.Contains(p.Body, `id="key-error"`) || !strings.Contains(p.Body, `aria-invalid="true"`) {
		t.Error("a wrong key is not reported beside the field")
	}
	b.get("/ui/").want(t, http.StatusSeeOther)

	// next may only lead into the dashboard.
	for next, want := range map[string]string{
		"/ui/event-types":      "/ui/event-types",
		"//evil.example/ui/":   "/ui/",
		"https://evil.example": "/ui/",
		"/ui/\\evil":           "/ui/",
	} {
		p := st.browser().post("/ui/login", url.Values{"key": {testAdminKey}, "next": {next}}).want(t, http.StatusSeeOther)
		if p.Location != want {
			t.Errorf("next %q: went to %q, want %q", next, p.Location, want)
		}
	}

	b.signIn()
	b.get("/ui/").want(t, http.StatusOK)
	cookie := b.client.Jar.Cookies(mustURL(t, st.URL+"/ui/"))
	if len(cookie) != 1 || cookie[0].Name != adminCookie {
		t.Fatalf("cookies for /ui/: %v", cookie)
	}
	if len(b.client.Jar.Cookies(mustURL(t, st.URL+"/portal/"))) != 0 {
		t.Error("the admin cookie is sent to the portal")
	}

	// Sessions end after 12 hours, and when the admin key changes.
	st.clock.Advance(adminSessionTTL)
	b.get("/ui/").want(t, http.StatusSeeOther)
	st.clock.Advance(-adminSessionTTL)
	b.get("/ui/").want(t, http.StatusOK)
	// Another instance, started with another admin key, on the same store.
	rekeyed, err := New(context.Background(), Config{Store: st.store, API: st.api, AdminKeyHash: hookbridge.HashKey("hbk_another_key_0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/ui/", nil)
	req.AddCookie(cookie[0])
	rec := httptest.NewRecorder()
	rekeyed.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("session of the old admin key: %d, want 303 to sign in", rec.Code)
	}
	// ... while an instance with the same key accepts it.
	same, err := New(context.Background(), Config{Store: st.store, API: st.api, AdminKeyHash: hookbridge.HashKey(testAdminKey)})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	same.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("session on another instance with the same key: %d, want 200", rec.Code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestFormErrors checks that the API's refusals come back beside the field
// that caused them.
func TestFormErrors(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	a := st.app("A", "app-a")
	c := st.browser()
	c.openPortal(st.portalLink(a, nil))
	csrf := c.get("/portal/").csrf(t)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
		says  string
	}{
		{"PrivateAddress", url.Values{"url": {"http://10.1.2.3/hook"}}, "url", "refused"},
		{"NotAURL", url.Values{"url": {"not a url"}}, "url", ""},
		{"RateLimitOutOfRange", url.Values{"url": {"https://receiver.example/x"}, "rateLimit": {"0"}}, "rateLimit", "from 1 to 65535"},
		{"RateLimitNotANumber", url.Values{"url": {"https://receiver.example/x"}, "rateLimit": {"fast"}}, "rateLimit", "whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", csrf)
			p := c.post("/portal/endpoints/new", tc.form).want(t, http.StatusUnprocessableEntity)
			if !strings.Contains(p.Body, `id="`+tc.field+`-error"`) || !strings.Contains(p.Body, tc.says) {
				t.Errorf("no %s error saying %q:\n%s", tc.field, tc.says, p.Body)
			}
			// The form keeps what was typed.
			if u := tc.form.Get("url"); !strings.Contains(p.Body, `value="`+u+`"`) {
				t.Errorf("the URL field lost %q", u)
			}
		})
	}

	admin := st.browser()
	admin.signIn()
	acsrf := admin.get("/ui/event-types").csrf(t)
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"BadName", url.Values{"name": {"has space"}, "description": {"x"}}, "name"},
		{"SchemaNotJSON", url.Values{"name": {"ok.name"}, "description": {"x"}, "schemas": {"{"}}, "schemas"},
		{"SchemaNotObjects", url.Values{"name": {"ok.name"}, "description": {"x"}, "schemas": {`{"1": 5}`}}, "schemas"},
		{"Taken", url.Values{"name": {"order.created"}, "description": {"x"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", acsrf)
			p := admin.post("/ui/event-types", tc.form).want(t, http.StatusUnprocessableEntity)
			if tc.field != "" && !strings.Contains(p.Body, `id="`+tc.field+`-error"`) {
				t.Errorf("no %s error:\n%s", tc.field, p.Body)
			}
			if tc.field == "" && !strings.Contains(p.Body, `role="alert"`) {
				t.Errorf("no alert:\n%s", p.Body)
			}
		})
	}
}

// TestApplicationFormErrors checks that the dashboard's application form
// shows each refusal, the API's or its own, beside the field at fault, and
// keeps what was typed.
func TestApplicationFormErrors(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.app("Taken", "app-taken")
	mine := st.app("Mine", "app-mine")
	admin := st.browser()
	admin.signIn()
	csrf := admin.get("/ui/apps/new").want(t, http.StatusOK).csrf(t)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
		says  string
	}{
		{"NoName", url.Values{"name": {" "}}, "name", "at least one character"},
		{"UIDNotAnIdentifier", url.Values{"name": {"A"}, "uid": {"has space"}}, "uid", "must match"},
		{"UIDLikeAnID", url.Values{"name": {"A"}, "uid": {"app_123"}}, "uid", "must not start with"},
		{"UIDTaken", url.Values{"name": {"A"}, "uid": {"app-taken"}}, "uid", "already exists"},
		{"RateLimitOutOfRange", url.Values{"name": {"A"}, "rateLimit": {"0"}}, "rateLimit", "from 1 to 65535"},
		{"RateLimitNotANumber", url.Values{"name": {"A"}, "rateLimit": {"fast"}}, "rateLimit", "whole number"},
		{"ValueWithoutKey", url.Values{"name": {"A"}, "metaKey": {""}, "metaValue": {"eu"}}, "metadata", "Give each value a key"},
		{"KeyTwice", url.Values{"name": {"A"}, "metaKey": {"region", "region"}, "metaValue": {"eu", "us"}}, "metadata", "given twice"},
		{"ControlCharacter", url.Values{"name": {"A"}, "metaKey": {"region"}, "metaValue": {"e\x01u"}}, "metadata", "control characters"},
	} {
		for _, action := range []string{"/ui/apps/new", "/ui/apps/" + mine + "/edit"} {
			t.Run(tc.name+strings.ReplaceAll(action, "/", "_"), func(t *testing.T) {
				form := url.Values{"csrf": {csrf}}
				for k, v := range tc.form {
					form[k] = v
				}
				p := admin.post(action, form).want(t, http.StatusUnprocessableEntity)
				if !strings.Contains(p.Body, `id="`+tc.field+`-error"`) || !strings.Contains(p.Body, tc.says) {
					t.Errorf("no %s error saying %q:\n%s", tc.field, tc.says, p.Body)
				}
				if uid := tc.form.Get("uid"); uid != "" && !strings.Contains(p.Body, `value="`+uid+`"`) {
					t.Errorf("the uid field lost %q", uid)
				}
			})
		}
	}
	apps, err := st.store.ListApplications(context.Background(), hookbridge.ListOptions{Limit: 10})
	if err != nil || len(apps.Data) != 2 {
		t.Errorf("after refused forms: %d applications, %v", len(apps.Data), err)
	}
	if app, _ := st.store.GetApplication(context.Background(), mine); app.Name != "Mine" || app.UID != "app-mine" {
		t.Errorf("a refused edit changed the application: %+v", app)
	}
}

// TestDashboardEndpointForm: the dashboard adds endpoints with the portal's
// form and handlers: the API's refusals come back beside their field, and
// the operator may subscribe to event types behind a feature flag, which a
// portal without that flag does not offer.
func TestDashboardEndpointForm(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.admin("POST", "/api/v1/event-type", map[string]any{"name": "payout.sent", "description": "beta", "featureFlag": "payouts"}, http.StatusCreated)
	a := st.app("A", "app-a")
	b := st.app("B", "app-b")
	epB := st.admin("POST", "/api/v1/app/"+b+"/endpoint", map[string]any{"url": "https://receiver.example/b"}, http.StatusCreated)["id"].(string)
	admin := st.browser()
	admin.signIn()
	// An endpoint is found under its own application's path only.
	admin.get("/ui/apps/"+b+"/endpoints/"+epB).want(t, http.StatusOK)
	admin.get("/ui/apps/"+a+"/endpoints/"+epB).want(t, http.StatusNotFound)
	admin.get("/ui/apps/no-such-app/endpoints/new").want(t, http.StatusNotFound)
	form := admin.get("/ui/apps/"+a+"/endpoints/new").want(t, http.StatusOK)
	if !strings.Contains(form.Body, `value="payout.sent"`) {
		t.Error("the operator is not offered the flagged event type")
	}
	consumer := st.browser()
	consumer.openPortal(st.portalLink(a, nil))
	if strings.Contains(consumer.get("/portal/endpoints/new").want(t, http.StatusOK).Body, "payout.sent") {
		t.Error("a portal without the flag offers the flagged event type")
	}
	csrf := form.csrf(t)
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
		says  string
	}{
		{"PrivateAddress", url.Values{"url": {"http://10.1.2.3/hook"}}, "url", "refused"},
		{"BadChannel", url.Values{"url": {"https://receiver.example/x"}, "channels": {"eu, no/slash"}}, "channels", "must match"},
		{"RateLimitOutOfRange", url.Values{"url": {"https://receiver.example/x"}, "rateLimit": {"70000"}}, "rateLimit", "from 1 to 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", csrf)
			p := admin.post("/ui/apps/"+a+"/endpoints/new", tc.form).want(t, http.StatusUnprocessableEntity)
			if !strings.Contains(p.Body, `id="`+tc.field+`-error"`) || !strings.Contains(p.Body, tc.says) {
				t.Errorf("no %s error saying %q:\n%s", tc.field, tc.says, p.Body)
			}
		})
	}
	p := admin.post("/ui/apps/"+a+"/endpoints/new", url.Values{"csrf": {csrf}, "url": {"https://receiver.example/payouts"},
		"filterTypes": {"payout.sent"}, "channels": {"eu store-17,eu"}, "rateLimit": {"5"}}).want(t, http.StatusSeeOther)
	if !strings.HasPrefix(p.Location, "/ui/apps/"+a+"/endpoints/ep_") || !strings.HasSuffix(p.Location, "?done=created&reveal=1") {
		t.Fatalf("created: redirected to %q", p.Location)
	}
	ends, err := st.store.ListEndpoints(context.Background(), a, hookbridge.ListOptions{Limit: 10})
	if err != nil || len(ends.Data) != 1 {
		t.Fatalf("endpoints = %+v, %v", ends, err)
	}
	e := ends.Data[0]
	if e.URL != "https://receiver.example/payouts" || fmt.Sprint(e.EventTypes) != "[payout.sent]" || fmt.Sprint(e.Channels) != "[eu store-17]" || e.RateLimit == nil || *e.RateLimit != 5 {
		t.Errorf("stored endpoint = %+v", e)
	}
	page := admin.get(p.Location).want(t, http.StatusOK)
	if !strings.Contains(html.UnescapeString(page.Body), e.Secrets[0].Key) {
		t.Error("the new endpoint's page does not show its secret")
	}
	// Saving the edit form with the channels emptied clears them, and
	// keeps the rest.
	admin.post("/ui/apps/"+a+"/endpoints/"+e.ID+"/edit", url.Values{"csrf": {csrf}, "url": {e.URL}, "filterTypes": {"payout.sent"}, "channels": {""}}).want(t, http.StatusSeeOther)
	if got, _ := st.store.GetEndpoint(context.Background(), a, e.ID); len(got.Channels) != 0 || got.RateLimit != nil || len(got.EventTypes) != 1 {
		t.Errorf("after the edit: %+v", got)
	}
	// Delete, from the dashboard, back to the application's page.
	admin.get("/ui/apps/"+a+"/endpoints/"+e.ID+"/delete").want(t, http.StatusOK)
	if p := admin.post("/ui/apps/"+a+"/endpoints/"+e.ID+"/delete", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther); p.Location != "/ui/apps/"+a+"?done=deleted" {
		t.Errorf("deleted: redirected to %q", p.Location)
	}
	if _, err := st.store.GetEndpoint(context.Background(), a, e.ID); !hookbridge.IsNotFound(err) {
		t.Errorf("after the delete: %v", err)
	}
}

func TestFraming(t *testing.T) {
	t.Parallel()
	st := newStack(t, withFrameAncestors("'self'  https://app.example.com"))
	a := st.app("A", "app-a")
	b := st.browser()
	link := st.portalLink(a, nil)

	p := b.get(link)
	cookie := p.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "SameSite=Lax") || !strings.Contains(cookie, "HttpOnly") || strings.Contains(cookie, "Secure") {
		t.Errorf("portal cookie over HTTP: %s", cookie)
	}
	p = b.get("/portal/").want(t, http.StatusOK)
	checkPage(t, "/portal/", p, "'self' https://app.example.com")
	if xfo := p.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options %q would forbid the allowed origin", xfo)
	}
	// Over HTTPS, a portal that another site may frame needs a cookie that
	// the browser sends inside that site's iframe.
	p = st.browser().do("GET", link, nil, map[string]string{"X-Forwarded-Proto": "https"})
	cookie = p.Header.Get("Set-Cookie")
	for _, want := range []string{"SameSite=None", "Secure", "Partitioned", "HttpOnly", "Path=/portal/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("portal cookie over HTTPS lacks %s: %s", want, cookie)
		}
	}
	// The dashboard is never framed.
	p = st.browser().get("/ui/login").want(t, http.StatusOK)
	checkPage(t, "/ui/login", p, "'none'")
	if p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("dashboard X-Frame-Options %q", p.Header.Get("X-Frame-Options"))
	}
}
