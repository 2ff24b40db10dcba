package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sqlite"
)

// portalAccess calls app-portal-access and returns the link and the token.
func (e *env) portalAccess(appID string, body any) (link *url.URL, token string) {
	e.t.Helper()
	out := e.do("POST", "/api/v1/auth/app-portal-access/"+appID, body).want(http.StatusOK).object()
	token = str(out, "token")
	link, err := url.Parse(str(out, "url"))
	if err != nil {
		e.t.Fatalf("url %q: %v", str(out, "url"), err)
	}
	return link, token
}

func TestAppPortalAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app := str(e.createApp("Pizza Place", "merchant-42"), "id")

	// By uid, with defaults: one hour, no flags, not read-only.
	link, token := e.portalAccess("merchant-42", obj{})
	if !strings.HasPrefix(token, portalTokenPrefix) || strings.Contains(token, ".") {
		t.Errorf("token %q", token)
	}
	if link.Scheme != "http" || link.Host != "example.com" || link.Path != PortalPath || link.Query().Get("token") != token {
		t.Errorf("url %v does not open the portal with the token", link)
	}
	access, err := e.api.VerifyPortalToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	wantExpiry := e.clock.Now().Add(time.Hour).Truncate(time.Second)
	if access.AppID != app || !access.Expires.Equal(wantExpiry) || access.ReadOnly || len(access.FeatureFlags) != 0 || access.Nonce == "" {
		t.Errorf("access = %+v, want app %s until %v", access, app, wantExpiry)
	}

	// Every option, and an empty body, which Svix SDKs never send but
	// curl users do.
	_, token = e.portalAccess(app, obj{"expiry": 7200, "readOnly": true, "featureFlags": []string{"beta", "beta", "gamma"}})
	access, err = e.api.VerifyPortalToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if !access.ReadOnly || !slices.Equal(access.FeatureFlags, []string{"beta", "gamma"}) ||
		!access.Expires.Equal(e.clock.Now().Add(2*time.Hour).Truncate(time.Second)) {
		t.Errorf("access = %+v", access)
	}
	r := e.do("POST", "/api/v1/auth/app-portal-access/"+app, nil).want(http.StatusOK).object()
	if _, token2 := str(r, "url"), str(r, "token"); token2 == token {
		t.Error("two tokens are equal; the nonce should make each unique")
	}

	// An unknown application is 404, unless the body creates it.
	e.do("POST", "/api/v1/auth/app-portal-access/nobody", obj{}).want(http.StatusNotFound)
	_, token = e.portalAccess("new-merchant", obj{"application": obj{"name": "New"}})
	created, err := e.store.GetApplication(ctx, "new-merchant")
	if err != nil {
		t.Fatalf("application not created: %v", err)
	}
	if access, err := e.api.VerifyPortalToken(ctx, token); err != nil || access.AppID != created.ID {
		t.Errorf("token for the created application: %+v, %v", access, err)
	}

	// The admin key is required.
	e.doWith("POST", "/api/v1/auth/app-portal-access/"+app, obj{}, map[string]string{}).want(http.StatusUnauthorized)
}

func TestAppPortalAccessBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("a", ""), "id")
	for _, tc := range []struct {
		name string
		body any
		loc  string
	}{
		{"ExpiryTooShort", obj{"expiry": 60}, "body.expiry"},
		{"ExpiryTooLong", obj{"expiry": 8 * 24 * 3600}, "body.expiry"},
		{"ExpiryNotANumber", obj{"expiry": "1h"}, "body.expiry"},
		{"BadFlag", obj{"featureFlags": []string{"no spaces"}}, "body.featureFlags"},
		{"BadApplication", obj{"application": obj{"name": ""}}, "body.application.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/auth/app-portal-access/"+app, tc.body).want(http.StatusUnprocessableEntity)
			if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != tc.loc {
				t.Errorf("locs = %v, want [%s]", locs, tc.loc)
			}
		})
	}
	e.do("POST", "/api/v1/auth/app-portal-access/"+app, `{"expiry":`).want(http.StatusBadRequest)
}

func TestVerifyPortalToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app := str(e.createApp("a", ""), "id")
	_, token := e.portalAccess(app, obj{})

	flip := []byte(token)
	i := len(portalTokenPrefix) + 10
	flip[i] ^= 1
	for _, tc := range []struct {
		name, token string
	}{
		{"Empty", ""},
		{"NoPrefix", strings.TrimPrefix(token, portalTokenPrefix)},
		{"OtherPrefix", "appsk_" + strings.TrimPrefix(token, portalTokenPrefix)},
		{"NotBase64", portalTokenPrefix + "!!!"},
		{"Truncated", token[:len(token)-4]},
		{"Tampered", string(flip)},
		{"AdminKey", testKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.api.VerifyPortalToken(ctx, tc.token)
			if hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED {
				t.Errorf("err = %v, want unauthorized", err)
			}
		})
	}

	// Another instance on the same store accepts the token; a server with
	// another store (another key) does not.
	twin := New(Config{Store: e.store, Now: e.clock.Now})
	if access, err := twin.VerifyPortalToken(ctx, token); err != nil || access.AppID != app {
		t.Errorf("instance sharing the store: %+v, %v", access, err)
	}
	other, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := New(Config{Store: other, Now: e.clock.Now}).VerifyPortalToken(ctx, token); hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED {
		t.Errorf("server with another key: err = %v, want unauthorized", err)
	}

	// Valid until the last second, refused from its expiry on.
	e.clock.Advance(time.Hour - time.Second)
	if _, err := e.api.VerifyPortalToken(ctx, token); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err = e.api.VerifyPortalToken(ctx, token)
	if hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
		t.Errorf("at expiry: err = %v, want expired", err)
	}
}

// TestExpireAll: Svix's expire-all ends the application's portal tokens
// issued so far, at once or after a grace; later tokens, and other
// applications' tokens, are not affected; a later call cannot lengthen an
// earlier grace.
func TestExpireAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app := str(e.createApp("a", "shop"), "id")
	other := str(e.createApp("b", ""), "id")
	_, old := e.portalAccess(app, obj{"expiry": 7 * 24 * 3600})
	_, otherToken := e.portalAccess(other, obj{"expiry": 4 * 3600})
	valid := func(what, token string, want bool) {
		t.Helper()
		_, err := e.api.VerifyPortalToken(ctx, token)
		if want && err != nil {
			t.Errorf("%s: %v, want valid", what, err)
		}
		if !want && (hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED || !strings.Contains(err.Error(), "revoked")) {
			t.Errorf("%s: %v, want revoked", what, err)
		}
	}

	// With a grace of an hour: still valid within it, with its expiry cut
	// to the grace's end, so a portal session made now ends then too.
	e.clock.Advance(time.Millisecond)
	e.do("POST", "/api/v1/auth/app/shop/expire-all", obj{"expiry": 3600}).want(http.StatusNoContent)
	access, err := e.api.VerifyPortalToken(ctx, old)
	if err != nil || !access.Expires.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("within the grace: %+v, %v; want valid until an hour from now", access, err)
	}
	e.clock.Advance(time.Millisecond)
	_, fresh := e.portalAccess(app, obj{"expiry": 4 * 3600})
	// A second call with a longer grace does not lengthen the first's.
	e.clock.Advance(time.Millisecond)
	e.do("POST", "/api/v1/auth/app/"+app+"/expire-all", obj{"expiry": 7200}).want(http.StatusNoContent)
	e.clock.Advance(time.Hour)
	valid("the first token after the first grace", old, false)
	valid("a token issued between the calls, within the second grace", fresh, true)
	valid("another application's token", otherToken, true)
	if ended, err := e.api.PortalAccessEnded(ctx, app, access.IssuedAt, access.Nonce); err != nil || !ended {
		t.Errorf("PortalAccessEnded = %v, %v for the first token", ended, err)
	}

	// Without a body's expiry: at once. Tokens issued afterwards work.
	e.clock.Advance(time.Millisecond)
	e.do("POST", "/api/v1/auth/app/"+app+"/expire-all", nil).want(http.StatusNoContent)
	valid("a token issued before an immediate expire-all", fresh, false)
	e.clock.Advance(time.Millisecond)
	_, after := e.portalAccess(app, obj{})
	valid("a token issued after it", after, true)

	// Bad input names the field; an unknown application is 404.
	for _, bad := range []any{-1, 7*24*3600 + 1, "soon"} {
		r := e.do("POST", "/api/v1/auth/app/"+app+"/expire-all", obj{"expiry": bad}).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.expiry" {
			t.Errorf("expiry %v: errors at %v", bad, locs)
		}
	}
	e.do("POST", "/api/v1/auth/app/nobody/expire-all", obj{}).want(http.StatusNotFound)
}

// TestLogout: Svix's logout ends the application's token it is called
// with, at once, on every route and every instance sharing the store; the
// application's other tokens live on; a read-only token may log itself
// out; the admin key cannot be logged out (400).
func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	shop := str(e.createApp("Shop", "shop"), "id")
	e.createEndpoint("shop", obj{"uid": "shop-ep"})
	key := e.portalToken("shop", obj{})
	sibling := e.portalToken("shop", obj{})
	e.withKey(key, "GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK)
	access, err := e.api.VerifyPortalToken(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	// An Idempotency-Key is no way around it: another token logging out
	// with the same key is logged out too, not answered from a record.
	idem := map[string]string{"Authorization": "Bearer " + key, IdempotencyKeyHeader: "logout-1"}
	if r := e.doWith("POST", "/api/v1/auth/logout", nil, idem); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("logout: %d %s, want 204", r.Status, r.Body)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/app/shop", nil},
		{"GET", "/api/v1/app/" + shop + "/endpoint", nil},
		{"POST", "/api/v1/app/shop/endpoint", obj{"url": "https://consumer.example.com/x"}},
		{"GET", "/api/v1/event-type", nil}, // names no application
		{"POST", "/api/v1/auth/logout", nil},
		{"POST", "/api/v1/auth/app-portal-access/shop", obj{}},
	} {
		r := e.withKey(key, c.method, c.path, c.body)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "logged out") {
			t.Errorf("%s %s with the logged-out key: %d %s, want 401 saying it was logged out", c.method, c.path, r.Status, r.Body)
		}
	}
	twin := New(Config{Store: e.store, Now: e.clock.Now})
	if _, err := twin.VerifyPortalToken(ctx, key); hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED {
		t.Errorf("another instance on the store: %v, want unauthorized", err)
	}
	if ended, err := e.api.PortalAccessEnded(ctx, shop, access.IssuedAt, access.Nonce); err != nil || !ended {
		t.Errorf("PortalAccessEnded = %v, %v for the logged-out token's sessions", ended, err)
	}

	// The application's other token works, and logs out on its own, with
	// the same Idempotency-Key.
	e.withKey(sibling, "GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusOK)
	e.doWith("POST", "/api/v1/auth/logout", nil, map[string]string{
		"Authorization": "Bearer " + sibling, IdempotencyKeyHeader: "logout-1",
	}).want(http.StatusNoContent)
	e.withKey(sibling, "GET", "/api/v1/app/shop/endpoint", nil).want(http.StatusUnauthorized)

	// A read-only token, and one within an expire-all grace, log out at once.
	ro := e.portalToken("shop", obj{"readOnly": true})
	e.withKey(ro, "POST", "/api/v1/auth/logout", nil).want(http.StatusNoContent)
	e.withKey(ro, "GET", "/api/v1/app/shop", nil).want(http.StatusUnauthorized)
	graced := e.portalToken("shop", obj{})
	e.clock.Advance(time.Millisecond)
	e.do("POST", "/api/v1/auth/app/shop/expire-all", obj{"expiry": 3600}).want(http.StatusNoContent)
	e.withKey(graced, "GET", "/api/v1/app/shop", nil).want(http.StatusOK)
	e.withKey(graced, "POST", "/api/v1/auth/logout", nil).want(http.StatusNoContent)
	e.withKey(graced, "GET", "/api/v1/app/shop", nil).want(http.StatusUnauthorized)

	// A token of a deleted application logs out, and is then refused
	// where no application is named too.
	goneID := str(e.createApp("Gone", ""), "id")
	gone := e.portalToken(goneID, obj{})
	e.do("DELETE", "/api/v1/app/"+goneID, nil).want(http.StatusNoContent)
	e.withKey(gone, "POST", "/api/v1/auth/logout", nil).want(http.StatusNoContent)
	e.withKey(gone, "GET", "/api/v1/event-type", nil).want(http.StatusUnauthorized)

	// The admin key is no session: 400 saying so, and it keeps working.
	r := e.do("POST", "/api/v1/auth/logout", nil).want(http.StatusBadRequest)
	if body := r.object(); body["code"] != hookbridge.EBADREQUEST || !strings.Contains(str(body, "detail"), "admin key") {
		t.Errorf("logout with the admin key: %s", r.Body)
	}
	e.do("GET", "/api/v1/app/shop", nil).want(http.StatusOK)
	e.doWith("POST", "/api/v1/auth/logout", nil, map[string]string{}).want(http.StatusUnauthorized)
}

func TestPortalLinkBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PublicURL = "https://hooks.example.org/" })
	app := str(e.createApp("a", ""), "id")
	link, _ := e.portalAccess(app, obj{})
	if got := link.Scheme + "://" + link.Host + link.Path; got != "https://hooks.example.org/portal/" {
		t.Errorf("with PublicURL: %v", link)
	}

	e = newEnv(t)
	app = str(e.createApp("a", ""), "id")
	r := e.doWith("POST", "/api/v1/auth/app-portal-access/"+app, obj{}, map[string]string{
		"Authorization": "Bearer " + testKey, "X-Forwarded-Proto": "https",
	}).want(http.StatusOK)
	if u := str(r.object(), "url"); !strings.HasPrefix(u, "https://example.com/portal/?token=") {
		t.Errorf("behind a TLS proxy: %s", u)
	}
}

func TestServeAuthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("a", "a-uid")
	req := httptest.NewRequest("GET", "/api/v1/app/a-uid", nil)
	rec := httptest.NewRecorder()
	e.api.ServeAuthenticated(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("in-process call: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("the same request from the network: %d, want 401", rec.Code)
	}
}

// TestServeAuthenticatedActor: an in-process call that names its actor
// (the dashboard's signed-in user) is audited under that name; the same
// context on a request from the network is still the admin key's.
func TestServeAuthenticatedActor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := str(e.createSource(obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}}), "id")
	ctx := WithActor(context.Background(), "ops@example.com")
	req := httptest.NewRequestWithContext(ctx, "PATCH", "/api/v1/source/"+src+"/rollout", strings.NewReader(`{"state": "shadow"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.api.ServeAuthenticated(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("in-process rollout change: %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequestWithContext(ctx, "PATCH", "/api/v1/source/"+src+"/rollout", strings.NewReader(`{"state": "on"}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("rollout change with the admin key: %d %s", rec.Code, rec.Body)
	}
	var audit listOut[rolloutChangeOut]
	e.do("GET", "/api/v1/source/"+src+"/rollout", nil).want(http.StatusOK).decode(&audit)
	var actors []string
	for _, c := range audit.Data {
		actors = append(actors, c.Actor)
	}
	if want := []string{"admin", "ops@example.com", "admin"}; !slices.Equal(actors, want) {
		t.Errorf("actors, newest first: %v, want %v", actors, want)
	}
}

func TestAppPortalAccessSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("a", "a-uid")
	srv := e.server()
	u, _ := url.Parse(srv.URL)
	sx, err := svix.New(testKey, &svix.SvixOptions{ServerUrl: u})
	if err != nil {
		t.Fatal(err)
	}
	expiry := uint64(24 * 3600)
	out, err := sx.Authentication.AppPortalAccess(context.Background(), "a-uid", svix.AppPortalAccessIn{
		Expiry: &expiry, FeatureFlags: []string{"beta"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Url, srv.URL+PortalPath+"?token=") || out.Token == "" {
		t.Errorf("out = %+v", out)
	}
	access, err := e.api.VerifyPortalToken(context.Background(), out.Token)
	if err != nil || !slices.Equal(access.FeatureFlags, []string{"beta"}) {
		t.Errorf("access = %+v, %v", access, err)
	}
}

// TestForgedLongPortalTokens: tokens signed with the server's own key (as
// anyone who read it from a database could sign them) are refused when
// their claims give them a longer life than MaxPortalLifetime from their
// issue time, an issue time in the future, or none; the same token with
// an allowed life is accepted, so it is the lifetime that refuses them.
// Nor does the server issue such a token.
func TestForgedLongPortalTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app := str(e.createApp("a", ""), "id")
	key, err := e.api.portalTokenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	forge := func(c portalClaims) string {
		t.Helper()
		c.V, c.App, c.Nonce = portalTokenVersion, app, "forged"
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return portalTokenPrefix + base64.RawURLEncoding.EncodeToString(append(b, portalMAC(key, b)...))
	}
	iat := now.UnixMicro()
	for _, tc := range []struct {
		name string
		c    portalClaims
		ok   bool
	}{
		{"AtLimit", portalClaims{Iat: iat, Exp: now.Add(hookbridge.MaxPortalLifetime).Unix()}, true},
		{"NineteenYears", portalClaims{Iat: iat, Exp: now.AddDate(19, 0, 0).Unix()}, false},
		{"SecondTooLong", portalClaims{Iat: iat, Exp: now.Add(hookbridge.MaxPortalLifetime + time.Second).Unix()}, false},
		{"NoIssueTime", portalClaims{Exp: now.Add(time.Hour).Unix()}, false},
		{"FromTheFuture", portalClaims{Iat: now.Add(time.Hour).UnixMicro(), Exp: now.Add(2 * time.Hour).Unix()}, false},
		{"IssuedLongAgo", portalClaims{Iat: now.AddDate(-19, 0, 0).UnixMicro(), Exp: now.Add(time.Hour).Unix()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := forge(tc.c)
			_, err := e.api.VerifyPortalToken(ctx, token)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED {
				t.Fatalf("err = %v, want unauthorized", err)
			}
			// The API refuses it as a bearer token alike.
			status := e.doWith("GET", "/api/v1/app/"+app+"/endpoint", nil, map[string]string{"Authorization": "Bearer " + token}).Status
			if want := map[bool]int{true: http.StatusOK, false: http.StatusUnauthorized}[tc.ok]; status != want {
				t.Fatalf("as a bearer token: status %d, want %d", status, want)
			}
		})
	}
	if _, err := e.api.issuePortalToken(ctx, PortalAccess{AppID: app, IssuedAt: now, Expires: now.AddDate(19, 0, 0), Nonce: "n"}); err == nil {
		t.Fatal("issued a token good for 19 years")
	}
}
