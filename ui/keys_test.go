package ui

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var secretRE = regexp.MustCompile(`<code id="secret" class="secret">([^<]+)</code>`)

// statusWithKey is the status of GET path on the stack's API with key.
func (st *stack) statusWithKey(key, path string) int {
	st.t.Helper()
	req, _ := http.NewRequest("GET", st.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestKeysPage: the operator makes an API key on the dashboard and is
// shown it once; it works on the API for its scope, is listed with its
// name (and as the actor of its audit line, the user's), is rotated (the
// old secret stops working, the new one is shown once) and revoked; a bad
// scope is refused on its field.
func TestKeysPage(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.app("Shop", "shop")
	admin := st.browser()
	admin.signIn()
	empty := admin.get("/ui/keys").want(t, http.StatusOK)
	checkPage(t, "/ui/keys", empty, "'none'")
	if !strings.Contains(empty.Body, "No API keys yet") {
		t.Fatal("the page does not say there are none")
	}
	csrf := empty.csrf(t)

	bad := admin.post("/ui/keys", url.Values{"csrf": {csrf}, "name": {"shop sender"}, "scope": {"app"}, "app": {"nope"}}).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, `id="scope-error"`) || !strings.Contains(bad.Body, `value="shop sender"`) {
		t.Errorf("an unknown application is not reported on the scope field, with the form kept:\n%s", bad.Body)
	}

	made := admin.post("/ui/keys", url.Values{"csrf": {csrf}, "name": {"shop sender"}, "scope": {"app"}, "app": {"shop"}}).want(t, http.StatusOK)
	m := secretRE.FindStringSubmatch(made.Body)
	if m == nil {
		t.Fatalf("the new key is not shown:\n%s", made.Body)
	}
	key := html.UnescapeString(m[1])
	if st.statusWithKey(key, "/api/v1/app/shop/endpoint") != http.StatusOK || st.statusWithKey(key, "/api/v1/app") != http.StatusForbidden {
		t.Error("the key made on the page does not have its application's scope")
	}
	list := admin.get("/ui/keys").want(t, http.StatusOK)
	if strings.Contains(html.UnescapeString(list.Body), key) || !strings.Contains(list.Body, "shop sender") {
		t.Error("the list shows the key again, or not its name")
	}
	keys := st.admin("GET", "/api/v1/api-key", nil, http.StatusOK)["data"].([]any)
	if len(keys) != 1 {
		t.Fatalf("the API lists %d keys, want 1", len(keys))
	}
	id := keys[0].(map[string]any)["id"].(string)

	rotated := admin.post("/ui/keys/"+id+"/rotate", url.Values{"csrf": {csrf}}).want(t, http.StatusOK)
	m = secretRE.FindStringSubmatch(rotated.Body)
	if m == nil || html.UnescapeString(m[1]) == key {
		t.Fatal("rotation shows no new secret")
	}
	newKey := html.UnescapeString(m[1])
	if st.statusWithKey(key, "/api/v1/app/shop") != http.StatusUnauthorized || st.statusWithKey(newKey, "/api/v1/app/shop") != http.StatusOK {
		t.Error("after rotation the old secret still works, or the new one does not")
	}

	gone := admin.post("/ui/keys/"+id+"/revoke", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	if gone.Location != "/ui/keys?done=key-revoked" {
		t.Errorf("revoke redirected to %q", gone.Location)
	}
	if st.statusWithKey(newKey, "/api/v1/app/shop") != http.StatusUnauthorized {
		t.Error("a revoked key still works")
	}
}

// TestBrowserKeys: in Chromium, the operator reaches the API keys page
// from the navigation, makes an ingest key, is shown it once and sends a
// message with it, then revokes it.
func TestBrowserKeys(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Shop", "shop")
	ctx := newChrome(t)
	signInChrome(t, ctx, st)

	do(t, ctx, "open the keys page", chromedp.Click(chromedp.CSS(`nav a[href="/ui/keys"]`)))
	waitJS(t, ctx, "the keys page", `document.querySelector("h1")?.textContent === "API keys" && document.querySelector("#name")`)
	do(t, ctx, "make an ingest key",
		chromedp.SendKeys(chromedp.CSS("#name"), "producer"),
		chromedp.SetValue(chromedp.CSS("#scope"), "ingest"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/keys"] button[type="submit"]`)),
	)
	waitJS(t, ctx, "the new key", `document.querySelector("#secret")?.textContent.startsWith("hbk_key_")`)
	key := text(t, ctx, "#secret")
	if scope := text(t, ctx, "tbody td:nth-child(2) code"); scope != "ingest" {
		t.Errorf("the list shows scope %q, want ingest", scope)
	}

	req, _ := http.NewRequest("POST", st.URL+"/api/v1/app/"+app+"/msg", strings.NewReader(`{"eventType":"order.created","payload":{"id":"o1"}}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sending with the key made on the page: %d, want 202", resp.StatusCode)
	}

	do(t, ctx, "revoke it", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)))
	waitJS(t, ctx, "the revocation", `document.querySelector(".notice")?.textContent.includes("revoked") && !document.querySelector("#secret") && document.querySelector(".empty")`)
	if st.statusWithKey(key, "/api/v1/app/"+app+"/msg") != http.StatusUnauthorized {
		t.Error("the revoked key still works")
	}
}
