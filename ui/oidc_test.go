package ui

import (
	"context"
	"errors"
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
)

// Sign-in through an OpenID Connect provider, against a real provider in
// the test process (idp_test.go): the browser (a cookie jar) follows each
// redirect itself, so a test can stop at any step and change what is sent.

var (
	adminUser  = map[string]any{"sub": "u-1001", "email": "ada@example.com", "email_verified": true, "groups": []string{"staff", idpAdminGroup}}
	viewerUser = map[string]any{"sub": "u-1002", "email": "vic@example.com", "email_verified": true, "groups": []string{idpViewerGroup}}
)

// getAbs is get for an absolute URL (the provider's).
func (b *browser) getAbs(raw string) page {
	b.t.Helper()
	resp, err := b.client.Get(raw)
	if err != nil {
		b.t.Fatalf("GET %s: %v", raw, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: sb.String(), Header: resp.Header}
}

// startOIDC follows the sign-in link to the provider, which approves, and
// returns the callback URL the provider sends the browser back to, not
// yet opened.
func (b *browser) startOIDC(p *idp, next string) string {
	b.t.Helper()
	start := b.get("/ui/oidc/login?next="+url.QueryEscape(next)).want(b.t, http.StatusFound)
	if !strings.HasPrefix(start.Location, p.Issuer+"/authorize?") {
		b.t.Fatalf("the sign-in link went to %q, want the provider's authorization endpoint", start.Location)
	}
	approved := b.getAbs(start.Location).want(b.t, http.StatusFound)
	if !strings.HasPrefix(approved.Location, b.st.URL+OIDCCallbackPath+"?") {
		b.t.Fatalf("the provider sent the browser to %q", approved.Location)
	}
	return approved.Location
}

// callback opens the callback URL on the dashboard.
func (b *browser) callback(callbackURL string) page {
	b.t.Helper()
	return b.get(strings.TrimPrefix(callbackURL, b.st.URL))
}

// signInOIDC signs in through the provider as whoever it signs in, and
// checks the page that leads on to next.
func (b *browser) signInOIDC(p *idp, next string) page {
	b.t.Helper()
	done := b.callback(b.startOIDC(p, next)).want(b.t, http.StatusOK)
	checkPage(b.t, OIDCCallbackPath, done, "'none'")
	if !strings.Contains(done.Body, `<meta http-equiv="refresh" content="0; url=`+next+`">`) {
		b.t.Fatalf("the signed-in page does not lead on to %s:\n%s", next, done.Body)
	}
	return done
}

// signedOut checks that the browser has no dashboard session.
func (b *browser) signedOut() {
	b.t.Helper()
	if p := b.get("/ui/"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/ui/login") {
		b.t.Fatalf("GET /ui/ = %d to %q, want the sign-in page: a session exists", p.Status, p.Location)
	}
}

var postFormRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// postForms lists the actions of a page's POST forms.
func postForms(body string) []string {
	var out []string
	for _, m := range postFormRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestOIDCSignIn walks good and bad sign-ins through the provider.
func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	app := st.app("Pizza Place", "merchant-42")

	t.Run("Admin", func(t *testing.T) {
		p.signIn(adminUser)
		b := st.browser()
		login := b.get("/ui/login?next=/ui/event-types").want(t, http.StatusOK)
		if !strings.Contains(login.Body, `href="/ui/oidc/login?next=%2fui%2fevent-types"`) || !strings.Contains(login.Body, `id="key"`) {
			t.Errorf("the sign-in page offers no single sign-on link with next, or lost the key form:\n%s", login.Body)
		}
		done := b.signInOIDC(p, "/ui/event-types")
		if !strings.Contains(done.Body, "ada@example.com") {
			t.Errorf("the signed-in page does not say who: %s", done.Body)
		}
		c := sessionCookie(t, done)
		if c.SameSite != http.SameSiteStrictMode || !c.HttpOnly || c.Path != "/ui/" {
			t.Errorf("session cookie %+v", c)
		}
		home := b.get("/ui/").want(t, http.StatusOK)
		if !strings.Contains(home.Body, "ada@example.com") || strings.Contains(home.Body, "read-only") {
			t.Errorf("the dashboard does not show the admin signed in")
		}
		if !strings.Contains(home.Body, `href="/ui/apps/new"`) {
			t.Errorf("an admin is not offered a new application")
		}
		// An admin changes things as the admin key does.
		b.get("/ui/apps/new").want(t, http.StatusOK)
		csrf := home.csrf(t)
		created := b.post("/ui/apps/new", url.Values{"csrf": {csrf}, "name": {"Taco Stand"}, "uid": {"merchant-7"}}).want(t, http.StatusSeeOther)
		if !strings.Contains(created.Location, "done=app-created") {
			t.Errorf("create application went to %q", created.Location)
		}
		if _, err := st.store.GetApplication(context.Background(), "merchant-7"); err != nil {
			t.Errorf("the admin's application was not created: %v", err)
		}
		// Signed in already, the sign-in link leads straight on.
		if pg := b.get("/ui/oidc/login?next=/ui/operational").want(t, http.StatusSeeOther); pg.Location != "/ui/operational" {
			t.Errorf("the sign-in link, signed in, went to %q", pg.Location)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		p.signIn(viewerUser)
		b := st.browser()
		b.signInOIDC(p, "/ui/")
		ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://receiver.example/ro"}, http.StatusCreated)["id"].(string)
		st.admin("POST", "/api/v1/api-key", map[string]any{"name": "ci", "scope": "ingest"}, http.StatusCreated) // listed, without its forms
		for _, path := range []string{"/ui/", "/ui/apps/" + app, "/ui/apps/" + app + "/endpoints/" + ep, "/ui/event-types",
			"/ui/event-types/order.created", "/ui/operational", "/ui/keys", "/ui/tasks"} {
			pg := b.get(path).want(t, http.StatusOK)
			checkPage(t, path, pg, "'none'")
			if !strings.Contains(pg.Body, "vic@example.com") || !strings.Contains(pg.Body, "read-only") {
				t.Errorf("%s does not show the read-only user signed in", path)
			}
			if forms := postForms(pg.Body); !slices.Equal(forms, []string{"/ui/logout"}) {
				t.Errorf("%s shows a read-only user forms that change things: %v", path, forms)
			}
			for _, link := range []string{`href="/ui/apps/new"`, `/edit"`, `/delete"`, `/endpoints/new"`} {
				if strings.Contains(pg.Body, link) {
					t.Errorf("%s links a read-only user to a form (%s)", path, link)
				}
			}
		}
		csrf := b.get("/ui/").csrf(t)
		for _, path := range []string{"/ui/apps/new", "/ui/apps/" + app + "/edit", "/ui/apps/" + app + "/delete",
			"/ui/apps/" + app + "/endpoints/new", "/ui/apps/" + app + "/endpoints/" + ep + "/edit"} {
			pg := b.get(path).want(t, http.StatusForbidden)
			if !strings.Contains(pg.Body, "read-only") {
				t.Errorf("GET %s: the refusal does not say why", path)
			}
		}
		for path, form := range map[string]url.Values{
			"/ui/apps/new":                                      {"name": {"Nope"}, "uid": {"nope"}},
			"/ui/apps/" + app + "/delete":                       {},
			"/ui/apps/" + app + "/portal":                       {},
			"/ui/apps/" + app + "/endpoints/" + ep + "/disable": {"disabled": {"true"}},
			"/ui/event-types":                                   {"name": {"nope.created"}},
			"/ui/operational":                                   {"url": {"https://ops.example/x"}},
			"/ui/keys":                                          {"name": {"nope"}, "scope": {"admin"}},
			"/ui/apps/" + app + "/replay":                       {"target": {ep}},
		} {
			form.Set("csrf", csrf)
			b.post(path, form).want(t, http.StatusForbidden)
		}
		if tasks, _ := st.store.ListTasks(context.Background(), hookbridge.TaskFilter{}); len(tasks.Data) != 0 {
			t.Errorf("a read-only user started a replay: %+v", tasks.Data)
		}
		if keys, _ := st.store.ListAPIKeys(context.Background(), hookbridge.ListOptions{}); len(keys.Data) != 1 {
			t.Errorf("a read-only user made an API key: %+v", keys.Data)
		}
		if _, err := st.store.GetApplication(context.Background(), "nope"); !hookbridge.IsNotFound(err) {
			t.Errorf("a read-only user created an application: %v", err)
		}
		if e, _ := st.store.GetEndpoint(context.Background(), app, ep); e == nil || e.Disabled {
			t.Errorf("a read-only user disabled an endpoint: %+v", e)
		}
		if _, err := st.store.GetApplication(context.Background(), app); err != nil {
			t.Errorf("a read-only user deleted the application: %v", err)
		}
		// Signing out needs no role.
		b.post("/ui/logout", url.Values{"csrf": {csrf}}).want(t, http.StatusOK)
		b.signedOut()
	})

	// Each bad token is refused at the callback, and no session is made.
	for _, c := range []struct {
		name   string
		tamper func(map[string]any)
		forge  func(string) string
	}{
		{name: "WrongAudience", tamper: func(c map[string]any) { c["aud"] = "another-client" }},
		{name: "Expired", tamper: func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}},
		{name: "WrongIssuer", tamper: func(c map[string]any) { c["iss"] = "https://login.evil.example" }},
		{name: "WrongNonce", tamper: func(c map[string]any) { c["nonce"] = newNonce() }},
		{name: "TamperedSignature", forge: func(tok string) string {
			// A read-only user's token made to say admin: the signature
			// no longer matches.
			return rewritePayload(tok, func(c map[string]any) { c["groups"] = []string{idpAdminGroup} })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p.signIn(viewerUser)
			p.setTamper(c.tamper)
			p.setForge(c.forge)
			b := st.browser()
			pg := b.callback(b.startOIDC(p, "/ui/")).want(t, http.StatusUnauthorized)
			if !strings.Contains(pg.Body, "did not pass the checks") {
				t.Errorf("the refusal does not say why:\n%s", pg.Body)
			}
			if len(pg.Header.Values("Set-Cookie")) != 1 || sessionCookieOf(pg) != nil {
				t.Errorf("a refused sign-in set cookies: %v", pg.Header.Values("Set-Cookie"))
			}
			b.signedOut()
		})
	}
	if logs := st.logs.String(); !strings.Contains(logs, "expected audience") || !strings.Contains(logs, "token is expired") ||
		!strings.Contains(logs, "nonce is not the sign-in's") || !strings.Contains(logs, "failed to verify signature") {
		t.Errorf("the log does not say why each token was refused:\n%s", logs)
	}

	t.Run("StateMismatch", func(t *testing.T) {
		p.signIn(adminUser)
		// An answer to a sign-in this browser did not start: another
		// browser's (an attacker's) code, or a forged state, is refused
		// before its code is exchanged.
		b := st.browser()
		b.startOIDC(p, "/ui/")
		attacker := st.browser()
		stolen := attacker.startOIDC(p, "/ui/")
		calls := p.tokenCalls()
		pg := b.callback(stolen).want(t, http.StatusForbidden)
		if !strings.Contains(pg.Body, "does not belong to the sign-in this browser started") {
			t.Errorf("the refusal does not say why:\n%s", pg.Body)
		}
		if p.tokenCalls() != calls {
			t.Error("the code of a mismatched state was exchanged")
		}
		b.signedOut()
		// The flow cookie was spent: the browser's own answer now has no
		// sign-in to belong to.
		b.callback(stolen).want(t, http.StatusBadRequest)
		// A browser that started nothing.
		st.browser().callback(st.browser().startOIDC(p, "/ui/")).want(t, http.StatusBadRequest)
	})

	t.Run("NextStaysOnTheDashboard", func(t *testing.T) {
		p.signIn(adminUser)
		for _, next := range []string{"//evil.example/ui/", "https://evil.example", "/ui/\\evil"} {
			b := st.browser()
			done := b.callback(b.startOIDC(p, next)).want(t, http.StatusOK)
			if !strings.Contains(done.Body, `content="0; url=/ui/"`) || !strings.Contains(done.Body, `id="continue"`) {
				t.Errorf("next %q: the signed-in page leads elsewhere than /ui/:\n%s", next, done.Body)
			}
		}
	})

	t.Run("ProviderRefused", func(t *testing.T) {
		p.signIn(adminUser)
		b := st.browser()
		cb, _ := url.Parse(b.startOIDC(p, "/ui/"))
		q := cb.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		cb.RawQuery = q.Encode()
		pg := b.callback(cb.String()).want(t, http.StatusUnauthorized)
		if !strings.Contains(pg.Body, "access_denied") {
			t.Errorf("the page does not give the provider's answer:\n%s", pg.Body)
		}
		b.signedOut()
	})

	t.Run("NoRole", func(t *testing.T) {
		for _, user := range []map[string]any{
			{"sub": "u-2001", "email": "nora@example.com", "email_verified": true},                              // no groups claim at all
			{"sub": "u-2002", "email": "noel@example.com", "email_verified": true, "groups": []string{"staff"}}, // none that maps
			{"sub": "u-2003", "email": "nat@example.com", "groups": idpAdminGroup + "s"},                        // a string, not a match
		} {
			p.signIn(user)
			b := st.browser()
			pg := b.callback(b.startOIDC(p, "/ui/")).want(t, http.StatusForbidden)
			if !strings.Contains(pg.Body, user["email"].(string)) || !strings.Contains(pg.Body, "names no group or role that gives access") {
				t.Errorf("%v: the refusal is not clear:\n%s", user, pg.Body)
			}
			if sessionCookieOf(pg) != nil {
				t.Errorf("%v: a user without a role got a session", user)
			}
			b.signedOut()
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		p.signIn(adminUser)
		b := st.browser()
		b.signInOIDC(p, "/ui/")
		csrf := b.get("/ui/").csrf(t)
		b.post("/ui/logout", url.Values{}).want(t, http.StatusForbidden) // without the session's token
		out := b.post("/ui/logout", url.Values{"csrf": {csrf}}).want(t, http.StatusOK)
		checkPage(t, "/ui/logout", out, "'none'")
		end := regexp.MustCompile(`id="end-session"`).MatchString(out.Body) &&
			strings.Contains(out.Body, `href="`+p.Issuer+`/logout?client_id=`+idpClientID+`"`)
		if !end {
			t.Errorf("the signed-out page does not link to the provider's sign-out:\n%s", out.Body)
		}
		if c := sessionCookieOf(out); c == nil || c.MaxAge >= 0 {
			t.Errorf("sign-out did not clear the session cookie: %+v", c)
		}
		b.signedOut()
	})
}

// TestOIDCActor: a change made from a dashboard page is made, through the
// API in-process, in the name of the user signed in through the provider;
// the admin key's is "admin".
func TestOIDCActor(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	src := st.admin("POST", "/api/v1/source", map[string]any{"scheme": "stripe", "credentials": map[string]any{"secret": "whsec_ui_test_3bGyaXkpHnTQZ1eK0a5n"}}, http.StatusCreated)["id"].(string)
	// A page that changes a source's rollout, as a dashboard page would.
	change := st.ui.admin(func(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
		return st.ui.callAPI(r, http.MethodPatch, apiPath("source", src, "rollout"), map[string]any{"state": r.PostForm.Get("state")}, nil)
	})
	p.signIn(adminUser)
	oidcUser := st.browser()
	oidcUser.signInOIDC(p, "/ui/")
	keyUser := st.browser()
	keyUser.signIn()
	for _, c := range []struct {
		b     *browser
		state string
	}{{oidcUser, "shadow"}, {keyUser, "on"}} {
		csrf := c.b.get("/ui/").csrf(t)
		req := httptest.NewRequest(http.MethodPost, "/ui/x", strings.NewReader(url.Values{"csrf": {csrf}, "state": {c.state}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(st.URL + "/ui/")
		for _, ck := range c.b.client.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		change(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("rollout change as %s: %d %s", c.state, rec.Code, rec.Body)
		}
	}
	audit := st.admin("GET", "/api/v1/source/"+src+"/rollout", nil, http.StatusOK)["data"].([]any)
	var actors []string
	for _, c := range audit {
		actors = append(actors, c.(map[string]any)["actor"].(string))
	}
	if want := []string{"admin", "ada@example.com", "admin"}; !slices.Equal(actors, want) {
		t.Errorf("rollout audit actors, newest first: %v, want %v", actors, want)
	}
}

// TestOIDCWithoutAdminKeySignIn: with the admin key's sign-in turned off,
// the sign-in page offers the provider only, the key is refused there (it
// still works on the API), and a session made with the key before is
// over.
func TestOIDCWithoutAdminKeySignIn(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p; o.noKey = true })

	login := st.browser().get("/ui/login").want(t, http.StatusOK)
	if strings.Contains(login.Body, `id="key"`) || strings.Contains(login.Body, `action="/ui/login"`) || !strings.Contains(login.Body, `href="/ui/oidc/login?next=%2fui%2f"`) {
		t.Errorf("the sign-in page with the key turned off:\n%s", login.Body)
	}
	b := st.browser()
	refused := b.post("/ui/login", url.Values{"key": {testAdminKey}, "next": {"/ui/"}}).want(t, http.StatusForbidden)
	if !strings.Contains(refused.Body, "turned off") || sessionCookieOf(refused) != nil {
		t.Errorf("the admin key signed in, or was refused unclearly:\n%s", refused.Body)
	}
	b.signedOut()
	st.admin("GET", "/api/v1/app", nil, http.StatusOK) // the API still takes the key

	// A session made with the key while its sign-in was on ends.
	on, err := New(context.Background(), Config{Store: st.store, API: st.api, AdminKeyHash: hookbridge.HashKey(testAdminKey)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	signIn := httptest.NewRequest(http.MethodPost, "/ui/login", strings.NewReader("key="+testAdminKey+"&next=/ui/"))
	signIn.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	on.ServeHTTP(rec, signIn)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-in with the key turned on: %d", rec.Code)
	}
	cookies := rec.Result().Cookies()
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.AddCookie(cookies[0])
	rec = httptest.NewRecorder()
	on.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the key's session where key sign-in is on: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	st.ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("the key's session where key sign-in is off: %d, want the sign-in page", rec.Code)
	}

	// The provider still signs in.
	p.signIn(adminUser)
	b.signInOIDC(p, "/ui/")
	if home := b.get("/ui/").want(t, http.StatusOK); !strings.Contains(home.Body, "ada@example.com") {
		t.Error("the dashboard does not show who signed in")
	}

	// Turning it off without a provider is refused.
	if _, err := New(context.Background(), Config{Store: st.store, API: st.api, NoAdminKeySignIn: true}); err == nil {
		t.Error("the key sign-in was turned off with no other way in")
	}
}

// TestOIDCSettingsEndSessions: a session is bound to the provider's
// settings; a new rule of who gets which role ends it.
func TestOIDCSettingsEndSessions(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	p.signIn(adminUser)
	b := st.browser()
	b.signInOIDC(p, "/ui/")
	u, _ := url.Parse(st.URL + "/ui/")
	cookies := b.client.Jar.Cookies(u)

	cfg := p.register(st.URL + OIDCCallbackPath)
	cfg.AdminValues = []string{"platform-admins"}
	changed, err := New(context.Background(), Config{Store: st.store, API: st.api, OIDC: cfg})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	st.ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the session under the same settings: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	changed.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("the session under changed role settings: %d, want the sign-in page", rec.Code)
	}
}

// TestOIDCProviderDown: a provider that does not answer stops neither the
// server nor the key's sign-in; its sign-in link says what is wrong.
func TestOIDCProviderDown(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	p.Close()
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	pg := st.browser().get("/ui/oidc/login").want(t, http.StatusBadGateway)
	if !strings.Contains(pg.Body, "could not be reached") {
		t.Errorf("the page does not say what is wrong:\n%s", pg.Body)
	}
	if !strings.Contains(st.logs.String(), "identity provider not reachable at start") {
		t.Errorf("the start did not warn:\n%s", st.logs.String())
	}
	st.browser().signIn()
}

func TestValidateOIDC(t *testing.T) {
	t.Parallel()
	good := func() *OIDCConfig {
		return &OIDCConfig{Issuer: "https://login.example.com/realms/ops", ClientID: "hb", RedirectURL: "https://hooks.example.com/ui/oidc/callback",
			AdminValues: []string{"admins"}}
	}
	if err := ValidateOIDC(good()); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(*OIDCConfig)
	}{
		{"Issuer", func(c *OIDCConfig) { c.Issuer = "" }},
		{"Issuer", func(c *OIDCConfig) { c.Issuer = "http://login.example.com" }},
		{"Issuer", func(c *OIDCConfig) { c.Issuer = "login.example.com" }},
		{"Issuer", func(c *OIDCConfig) { c.Issuer = "ftp://login.example.com" }},
		{"ClientID", func(c *OIDCConfig) { c.ClientID = "" }},
		{"RedirectURL", func(c *OIDCConfig) { c.RedirectURL = "" }},
		{"RedirectURL", func(c *OIDCConfig) { c.RedirectURL = "/ui/oidc/callback" }},
		{"RedirectURL", func(c *OIDCConfig) { c.RedirectURL = "https://hooks.example.com/callback" }},
		{"Scopes", func(c *OIDCConfig) { c.Scopes = []string{"openid", `"quoted"`} }},
		{"AdminValues", func(c *OIDCConfig) { c.AdminValues = []string{" ", ""} }},
		{"ReadOnlyValues", func(c *OIDCConfig) { c.ReadOnlyValues = []string{"admins"} }},
	} {
		cfg := good()
		c.change(cfg)
		var fe *OIDCConfigError
		if err := ValidateOIDC(cfg); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", cfg, err, c.field)
		}
	}
	for _, issuer := range []string{"http://localhost:5556/dex", "http://127.0.0.1:8080", "http://[::1]:9000"} {
		cfg := good()
		cfg.Issuer = issuer
		if err := ValidateOIDC(cfg); err != nil {
			t.Errorf("a loopback issuer %s: %v", issuer, err)
		}
	}
	n, _ := good().normalized()
	if !slices.Equal(n.Scopes, []string{"openid", "email", "profile"}) || n.RolesClaim != "groups" {
		t.Errorf("defaults: scopes %v, claim %q", n.Scopes, n.RolesClaim)
	}
	cfg := good()
	cfg.Scopes = []string{"groups"}
	if n, _ := cfg.normalized(); !slices.Equal(n.Scopes, []string{"openid", "groups"}) {
		t.Errorf("openid not added: %v", n.Scopes)
	}
}

func TestOIDCRoles(t *testing.T) {
	t.Parallel()
	c := &oidcClient{cfg: OIDCConfig{RolesClaim: "groups", AdminValues: []string{"admins"}, ReadOnlyValues: []string{"viewers"}}}
	nested := &oidcClient{cfg: OIDCConfig{RolesClaim: "realm_access.roles", AdminValues: []string{"admins"}}}
	namespaced := &oidcClient{cfg: OIDCConfig{RolesClaim: "https://example.com/roles", ReadOnlyValues: []string{"viewers"}}}
	for _, tc := range []struct {
		c      *oidcClient
		claims map[string]any
		want   string
	}{
		{c, map[string]any{"groups": []any{"viewers", "admins"}}, RoleAdmin},
		{c, map[string]any{"groups": []any{"viewers"}}, RoleReadOnly},
		{c, map[string]any{"groups": "admins"}, RoleAdmin},
		{c, map[string]any{"groups": []any{"staff", 7}}, ""},
		{c, map[string]any{"groups": map[string]any{"admins": true}}, ""},
		{c, map[string]any{}, ""},
		{nested, map[string]any{"realm_access": map[string]any{"roles": []any{"admins"}}}, RoleAdmin},
		{nested, map[string]any{"realm_access": "admins"}, ""},
		{namespaced, map[string]any{"https://example.com/roles": []any{"viewers"}}, RoleReadOnly},
	} {
		if got := tc.c.role(tc.claims); got != tc.want {
			t.Errorf("claim %s of %v: role %q, want %q", tc.c.cfg.RolesClaim, tc.claims, got, tc.want)
		}
	}
	if got := verifiedEmail(map[string]any{"email": "a@example.com", "email_verified": false}); got != "" {
		t.Errorf("an unverified e-mail was taken: %q", got)
	}
	if got := verifiedEmail(map[string]any{"email": "a@example.com"}); got != "a@example.com" {
		t.Errorf("an e-mail whose verification is not said: %q", got)
	}
}

// sessionCookie returns the dashboard session cookie a page sets, failing
// without one.
func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	c := sessionCookieOf(p)
	if c == nil {
		t.Fatalf("no session cookie set: %v", p.Header.Values("Set-Cookie"))
	}
	return c
}

func sessionCookieOf(p page) *http.Cookie {
	for _, line := range p.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == adminCookie {
			return c
		}
	}
	return nil
}

// TestRevealNeedsAdmin: a signing secret lets its holder forge webhooks,
// so revealing one, on an endpoint's page or an operational endpoint's, is
// the admin role's (or a portal link that may make changes), not a
// read-only one's: refused with 403 and never on the page, and no link
// to it offered.
func TestRevealNeedsAdmin(t *testing.T) {
	t.Parallel()
	p := newIDP(t)
	st := newStack(t, func(o *stackOptions) { o.oidc = p })
	app := st.app("Pizza Place", "merchant-42")
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://receiver.example/a"}, http.StatusCreated)["id"].(string)
	op := st.admin("POST", "/api/v1/operational-webhook/endpoint", map[string]any{"url": "https://ops.example/hooks"}, http.StatusCreated)["id"].(string)
	epSecret := st.admin("GET", "/api/v1/app/"+app+"/endpoint/"+ep+"/secret", nil, http.StatusOK)["key"].(string)
	opSecret := st.admin("GET", "/api/v1/operational-webhook/endpoint/"+op+"/secret", nil, http.StatusOK)["key"].(string)
	epPage, opPage := "/ui/apps/"+app+"/endpoints/"+ep, "/ui/operational"

	reveal := func(t *testing.T, b *browser, path, query, secret string, want int) {
		t.Helper()
		pg := b.get(path+query).want(t, want)
		if got := strings.Contains(html.UnescapeString(pg.Body), secret); got != (want == http.StatusOK) {
			t.Errorf("GET %s%s: secret on the page %v, want %v", path, query, got, want == http.StatusOK)
		}
		if want != http.StatusOK && !strings.Contains(pg.Body, "read-only") {
			t.Errorf("GET %s%s: the refusal does not say why", path, query)
		}
		offered := strings.Contains(b.get(path).Body, html.EscapeString(query))
		if offered != (want == http.StatusOK) {
			t.Errorf("GET %s: link to reveal offered %v, want %v", path, offered, want == http.StatusOK)
		}
	}
	for _, c := range []struct {
		name string
		user map[string]any
		want int
	}{
		{"Admin", adminUser, http.StatusOK},
		{"ReadOnly", viewerUser, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			p.signIn(c.user)
			b := st.browser()
			b.signInOIDC(p, "/ui/")
			reveal(t, b, epPage, "?reveal=1", epSecret, c.want)
			reveal(t, b, opPage, "?reveal="+op, opSecret, c.want)
		})
	}
	for _, c := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"Portal", nil, http.StatusOK},
		{"PortalReadOnly", map[string]any{"readOnly": true}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := st.browser()
			b.openPortal(st.portalLink(app, c.body))
			reveal(t, b, "/portal/endpoints/"+ep, "?reveal=1", epSecret, c.want)
		})
	}
}
