package ui

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
)

// clientCert is a self-signed client certificate for name, its PEM key,
// and its SHA-256 fingerprint as openssl prints it.
func clientCert(t *testing.T, name string) (certPEM, keyPEM, fingerprint string) {
	t.Helper()
	certPEM, keyPEM, der := testkit.SelfSigned(t, name)
	sum := sha256.Sum256(der)
	hexPairs := make([]string, len(sum))
	for i, b := range sum {
		hexPairs[i] = fmt.Sprintf("%02X", b)
	}
	return certPEM, keyPEM, strings.Join(hexPairs, ":")
}

// keyBody is the base64 of a PEM block, without its armour: what would be
// in a page that showed the key, however it were wrapped.
func keyBody(keyPEM string) string {
	lines := strings.Split(strings.TrimSpace(keyPEM), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

// TestBrowserEndpointAuth walks a consumer through the portal's forms for
// the endpoint's client certificate and OAuth credentials: a key that is
// not the certificate's is refused beside its field (and not put back in
// the page); a good pair is saved and shown by subject and fingerprint;
// OAuth credentials are saved and shown without their secret; both are
// removed again. What the forms saved is what the API stores.
func TestBrowserEndpointAuth(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Pizza Place", "merchant-42")
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://receiver.example/webhooks"}, http.StatusCreated)["id"].(string)
	cert, key, fingerprint := clientCert(t, "pizza-place-webhooks")
	_, otherKey, _ := clientCert(t, "someone-else")
	const secret = "s3cret-Quixote-0123456789"
	ctx := newChrome(t)
	page := func() string { return jsEval[string](t, ctx, `document.documentElement.outerHTML`) }
	notice := func(what, want string) {
		t.Helper()
		waitJS(t, ctx, what, `document.querySelector(".notice")?.textContent.includes(`+jsString(want)+`)`)
	}

	do(t, ctx, "open the portal link", chromedp.Navigate(st.URL+st.portalLink(app, nil)))
	waitJS(t, ctx, "the endpoints page", `document.querySelector("h1")?.textContent === "Endpoints"`)
	do(t, ctx, "open the endpoint", chromedp.Navigate(st.URL+"/portal/endpoints/"+ep))
	waitJS(t, ctx, "no certificate yet", `document.querySelector("#mtls-state")?.textContent.includes("None")`)
	if !strings.Contains(text(t, ctx, "#oauth-state"), "None") {
		t.Errorf("OAuth state before: %q", text(t, ctx, "#oauth-state"))
	}

	// A key that is not the certificate's: refused beside the key field,
	// the certificate kept in its field, the key not.
	do(t, ctx, "send a certificate with another key",
		chromedp.SetValue(chromedp.CSS("#clientCert"), cert),
		chromedp.SetValue(chromedp.CSS("#clientKey"), otherKey),
		chromedp.Click(chromedp.CSS(`#mtls-form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the key's error", `document.querySelector("#clientKey-error")`)
	if msg := text(t, ctx, "#clientKey-error"); !strings.Contains(msg, "does not match clientCert") {
		t.Errorf("key error = %q", msg)
	}
	if got := jsEval[string](t, ctx, `document.querySelector("#clientCert").value`); strings.TrimSpace(got) != strings.TrimSpace(cert) {
		t.Errorf("the certificate field after the refusal = %q", got)
	}
	if strings.Contains(page(), keyBody(otherKey)) {
		t.Error("a refused form put the private key back in the page")
	}

	do(t, ctx, "send the certificate with its key",
		chromedp.SetValue(chromedp.CSS("#clientKey"), key),
		chromedp.Click(chromedp.CSS(`#mtls-form button[type="submit"]`)),
	)
	notice("the saved certificate", "Client certificate saved")
	if got := text(t, ctx, "#mtls-fingerprint"); got != fingerprint {
		t.Errorf("fingerprint shown %q, want %q", got, fingerprint)
	}
	if state := text(t, ctx, "#mtls-state"); !strings.Contains(state, "CN=pizza-place-webhooks") || !strings.Contains(state, "set (never shown)") {
		t.Errorf("certificate state %q", state)
	}
	if strings.Contains(page(), keyBody(key)) {
		t.Error("the page shows the private key")
	}
	if m, err := st.store.GetEndpointMTLS(context.Background(), app, ep); err != nil || m.CertPEM != cert || m.KeyPEM != key {
		t.Fatalf("stored certificate %+v, %v", m, err)
	}

	do(t, ctx, "save OAuth credentials",
		chromedp.SetValue(chromedp.CSS("#tokenUrl"), "https://auth.example.com/oauth/token"),
		chromedp.SetValue(chromedp.CSS("#clientId"), "pizza-place"),
		chromedp.SetValue(chromedp.CSS("#clientSecret"), secret),
		chromedp.SetValue(chromedp.CSS("#scopes"), "webhooks.write  orders.read"),
		chromedp.Click(chromedp.CSS(`#oauth-form button[type="submit"]`)),
	)
	notice("the saved credentials", "OAuth credentials saved")
	if state := text(t, ctx, "#oauth-state"); !strings.Contains(state, "pizza-place") || !strings.Contains(state, "webhooks.write") ||
		!strings.Contains(state, "set (never shown)") {
		t.Errorf("OAuth state %q", state)
	}
	if strings.Contains(page(), secret) {
		t.Error("the page shows the client secret")
	}
	if url, sec := jsEval[string](t, ctx, `document.querySelector("#tokenUrl").value`), jsEval[string](t, ctx, `document.querySelector("#clientSecret").value`); url != "https://auth.example.com/oauth/token" || sec != "" {
		t.Errorf("the form to replace them holds token URL %q and secret %q, want the URL set and no secret", url, sec)
	}
	o, err := st.store.GetEndpointOAuth(context.Background(), app, ep)
	if err != nil || o.ClientSecret != secret || o.TokenURL != "https://auth.example.com/oauth/token" || strings.Join(o.Scopes, " ") != "webhooks.write orders.read" {
		t.Fatalf("stored OAuth %+v, %v", o, err)
	}
	screenshot(t, ctx, "portal-endpoint-auth.png", "")

	do(t, ctx, "remove the certificate", chromedp.Click(chromedp.CSS("#mtls-remove")))
	notice("the removed certificate", "Client certificate removed")
	do(t, ctx, "remove the credentials", chromedp.Click(chromedp.CSS("#oauth-remove")))
	notice("the removed credentials", "OAuth credentials removed")
	if !strings.Contains(text(t, ctx, "#mtls-state"), "None") || !strings.Contains(text(t, ctx, "#oauth-state"), "None") {
		t.Errorf("after removing: %q, %q", text(t, ctx, "#mtls-state"), text(t, ctx, "#oauth-state"))
	}
	if _, err := st.store.GetEndpointMTLS(context.Background(), app, ep); !hookbridge.IsNotFound(err) {
		t.Errorf("certificate after removing: %v", err)
	}
	if _, err := st.store.GetEndpointOAuth(context.Background(), app, ep); !hookbridge.IsNotFound(err) {
		t.Errorf("OAuth credentials after removing: %v", err)
	}
}

// TestEndpointAuthForms: the forms' handlers on both surfaces, without a
// browser: a read-only portal or dashboard role is refused them (and
// shown none), a form without the session's CSRF token is refused, and a
// portal session cannot reach another application's endpoint with them.
func TestEndpointAuthForms(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	a, b := st.app("A", "app-a"), st.app("B", "app-b")
	epA := st.admin("POST", "/api/v1/app/"+a+"/endpoint", map[string]any{"url": "https://receiver.example/a"}, http.StatusCreated)["id"].(string)
	epB := st.admin("POST", "/api/v1/app/"+b+"/endpoint", map[string]any{"url": "https://receiver.example/b"}, http.StatusCreated)["id"].(string)
	oauth := url.Values{"tokenUrl": {"https://auth.example.com/token"}, "clientId": {"c"}, "clientSecret": {"s"}}
	form := func(csrf string, v url.Values) url.Values {
		out := url.Values{"csrf": {csrf}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}

	ro := st.browser()
	ro.openPortal(st.portalLink(a, map[string]any{"readOnly": true}))
	pg := ro.get("/portal/endpoints/"+epA).want(t, http.StatusOK)
	if strings.Contains(pg.Body, `id="mtls-form"`) || strings.Contains(pg.Body, `id="oauth-form"`) {
		t.Error("a read-only portal shows the certificate and OAuth forms")
	}
	ro.post("/portal/endpoints/"+epA+"/oauth", form(pg.csrf(t), oauth)).want(t, http.StatusForbidden)

	c := st.browser()
	c.openPortal(st.portalLink(a, nil))
	csrf := c.get("/portal/").want(t, http.StatusOK).csrf(t)
	c.post("/portal/endpoints/"+epA+"/oauth", form("forged", oauth)).want(t, http.StatusForbidden)
	for _, path := range []string{"/oauth", "/oauth/delete", "/mtls", "/mtls/delete"} {
		c.post("/portal/endpoints/"+epB+path, form(csrf, oauth)).want(t, http.StatusNotFound)
	}
	if _, err := st.store.GetEndpointOAuth(context.Background(), a, epA); !hookbridge.IsNotFound(err) {
		t.Errorf("a refused form stored OAuth credentials: %v", err)
	}
	if _, err := st.store.GetEndpointOAuth(context.Background(), b, epB); !hookbridge.IsNotFound(err) {
		t.Errorf("another application's endpoint got OAuth credentials: %v", err)
	}

	// The operator's dashboard has the same forms.
	op := st.browser()
	op.signIn()
	csrf = op.get("/ui/").csrf(t)
	done := op.post("/ui/apps/"+b+"/endpoints/"+epB+"/oauth", form(csrf, oauth)).want(t, http.StatusSeeOther)
	if !strings.Contains(done.Location, "done=oauth-set") {
		t.Errorf("saving OAuth credentials went to %q", done.Location)
	}
	if o, err := st.store.GetEndpointOAuth(context.Background(), b, epB); err != nil || o.ClientSecret != "s" {
		t.Errorf("the dashboard's form stored %+v, %v", o, err)
	}
	// A secret no random token on the page (CSRF, ids) can contain by
	// chance, as a two-letter one could.
	const refused = "refused-client-secret"
	bad := op.post("/ui/apps/"+b+"/endpoints/"+epB+"/oauth", form(csrf, url.Values{"tokenUrl": {"ftp://x"}, "clientId": {"c"}, "clientSecret": {refused}})).
		want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, `id="tokenUrl-error"`) || strings.Contains(bad.Body, refused) {
		t.Errorf("a refused OAuth form: no error beside tokenUrl, or the secret put back:\n%s", bad.Body)
	}

	// The secret left blank: kept for the same client, new scopes saved.
	op.post("/ui/apps/"+b+"/endpoints/"+epB+"/oauth", form(csrf, url.Values{"tokenUrl": {"https://auth.example.com/token"},
		"clientId": {"c"}, "clientSecret": {""}, "scopes": {"orders.read"}})).want(t, http.StatusSeeOther)
	if o, err := st.store.GetEndpointOAuth(context.Background(), b, epB); err != nil || o.ClientSecret != "s" || strings.Join(o.Scopes, " ") != "orders.read" {
		t.Errorf("saved with the secret blank: %+v, %v; want the secret kept and the new scope", o, err)
	}
	// ... but not for another client: its secret is required.
	other := op.post("/ui/apps/"+b+"/endpoints/"+epB+"/oauth", form(csrf, url.Values{"tokenUrl": {"https://auth.example.com/token"},
		"clientId": {"another"}, "clientSecret": {""}})).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(other.Body, `id="clientSecret-error"`) {
		t.Errorf("a new client id without its secret: no error beside the secret:\n%s", other.Body)
	}
	if o, err := st.store.GetEndpointOAuth(context.Background(), b, epB); err != nil || o.ClientID != "c" {
		t.Errorf("after the refused form: %+v, %v; want the credentials as they were", o, err)
	}
	// Without credentials set, a blank secret is refused too.
	c.post("/portal/endpoints/"+epA+"/oauth", form(c.get("/portal/").csrf(t), url.Values{"tokenUrl": {"https://auth.example.com/token"},
		"clientId": {"c"}, "clientSecret": {""}})).want(t, http.StatusUnprocessableEntity)
}
