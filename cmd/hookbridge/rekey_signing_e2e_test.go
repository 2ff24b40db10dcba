package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
)

// signedIn is what a user holds between requests: a dashboard session,
// a portal link and the portal session opened with it.
type signedIn struct {
	dashboard  []*http.Cookie
	portal     []*http.Cookie
	portalLink string // path and query
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// statusWith is the status of GET path on srv with cookies.
func statusWith(t *testing.T, srv *server, path string, cookies []*http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signInBoth signs in to the dashboard with the admin key and opens a
// portal link of application appID.
func signInBoth(t *testing.T, srv *server, appID string) signedIn {
	t.Helper()
	resp, err := noRedirects.PostForm("http://"+srv.Addr+"/ui/login", url.Values{"key": {testAPIKey}, "next": {"/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := signedIn{dashboard: resp.Cookies()}
	link, err := svixClient(t, srv).Authentication.AppPortalAccess(context.Background(), appID, svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link.Url)
	s.portalLink = u.RequestURI()
	resp, err = noRedirects.Get("http://" + srv.Addr + s.portalLink)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.portal = resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(s.dashboard) == 0 || len(s.portal) == 0 {
		t.Fatalf("sign-in: portal link %d, cookies %v and %v", resp.StatusCode, s.dashboard, s.portal)
	}
	return s
}

// checkSignedIn checks that the dashboard session, the portal session and
// the portal link still work on srv (live), or that none does.
func checkSignedIn(t *testing.T, srv *server, s signedIn, live bool, step string) {
	t.Helper()
	ok := map[bool]string{true: "works", false: "ended"}
	for _, c := range []struct {
		what, path string
		cookies    []*http.Cookie
		liveStatus int
	}{
		{"the dashboard session", "/ui/", s.dashboard, http.StatusOK},
		{"the portal session", "/portal/", s.portal, http.StatusOK},
		{"the portal link", s.portalLink, nil, http.StatusSeeOther},
	} {
		if got := statusWith(t, srv, c.path, c.cookies) == c.liveStatus; got != live {
			t.Errorf("%s: %s %s, want it %s", step, c.what, ok[got], ok[live])
		}
	}
}

// TestRekeySigningKeysSQLite: rekey keeps the dashboard session key and
// the portal token key (sealed again) unless told to replace them; with
// --rotate-signing-keys it refuses while serve runs, changing nothing,
// and with serve stopped it replaces both, so that every session and
// portal link made before ends and new ones work.
func TestRekeySigningKeysSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	var logs syncBuffer
	start := func() *server { return startLogged(t, &logs, func(c *serveConfig) { c.DB = db }) }
	srv := start()
	_, appID, _ := fillServer(t, srv, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_stripeRekeySigning0123456789")
	s := signInBoth(t, srv, appID)
	session, portal := storedKeys(t, srv)
	checkSignedIn(t, srv, s, true, "before")

	var out, errOut bytes.Buffer
	keyFile := db + keyFileSuffix
	before, _ := readKeyFile(keyFile)
	if code := run(ctx, []string{"rekey", "--db", db, "--rotate-signing-keys"}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "stop it, run rekey --rotate-signing-keys") {
		t.Fatalf("rekey --rotate-signing-keys while serve runs: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if after, _ := readKeyFile(keyFile); after != before {
		t.Fatalf("a refused rekey changed the key file")
	}

	// Without the option, a rekey keeps them.
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"rekey", "--db", db, "--wait", "30s"}, &out, &errOut); code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	checkSignedIn(t, srv, s, true, "after rekey")
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	srv = start()
	checkSignedIn(t, srv, s, true, "after rekey and a restart")
	if gotSession, gotPortal := storedKeys(t, srv); gotSession != session || gotPortal != portal {
		t.Fatal("rekey without --rotate-signing-keys replaced a signing key")
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"rekey", "--db", db, "--rotate-signing-keys"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "Replaced the dashboard session key and the portal token key") {
		t.Fatalf("rekey --rotate-signing-keys: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	srv = start()
	if gotSession, gotPortal := storedKeys(t, srv); gotSession == session || gotPortal == portal {
		t.Fatal("rekey --rotate-signing-keys kept a signing key")
	}
	checkSignedIn(t, srv, s, false, "after rekey --rotate-signing-keys")
	checkSignedIn(t, srv, signInBoth(t, srv, appID), true, "signed in again")
}

// TestRekeySigningKeysPostgres: on PostgreSQL rekey --rotate-signing-keys
// replaces both keys in the shared store; every instance started after
// ends the sessions and portal links made before.
func TestRekeySigningKeysPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	var logs syncBuffer
	start := postgresStarter(t, &logs, pgtest.Schema(t))
	srv := start(oldKey)
	app, err := svixClient(t, srv).Application.Create(ctx, svix.ApplicationIn{Name: "Shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := signInBoth(t, srv, app.Id)
	checkSignedIn(t, srv, s, true, "before")
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"rekey", "--db", srv.cfg.DB, "--secret-key", newKey + "," + oldKey, "--rotate-signing-keys"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "Replaced the dashboard session key and the portal token key") {
		t.Fatalf("rekey --rotate-signing-keys: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	srv = start(newKey)
	checkSignedIn(t, srv, s, false, "after rekey --rotate-signing-keys")
	checkSignedIn(t, srv, signInBoth(t, srv, app.Id), true, "signed in again")
}
