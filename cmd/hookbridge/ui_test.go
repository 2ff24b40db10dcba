package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeMountsUI checks that serve puts the dashboard and the portal
// beside the API: the root leads to the dashboard, a portal link from the
// API opens the portal, and the API keeps its JSON answers.
func TestServeMountsUI(t *testing.T) {
	t.Parallel()
	srv := startTestServer(t)
	base := "http://" + srv.Addr
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	api := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}

	if resp := get("/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET / = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get("/ui/login"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /ui/login = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	api("POST", "/api/v1/app", `{"name": "Pizza Place", "uid": "merchant-42"}`)
	link, _ := api("POST", "/api/v1/auth/app-portal-access/merchant-42", `{}`)["url"].(string)
	if !strings.HasPrefix(link, base+"/portal/?token=hbpt_") {
		t.Fatalf("portal link %q", link)
	}
	if resp := get(strings.TrimPrefix(link, base)); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Errorf("portal link = %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := get("/api/v1/nothing"); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unrouted API path = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
