package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFailedSignInsAreThrottled: wrong admin keys typed into the sign-in
// form get 401 until this address has failed too often, then 429 with
// Retry-After and a message that says when to try again; so do portal
// links whose token does not verify, which spend the same budget. The
// right key still signs in at once, and a valid portal link still opens
// the portal; after Retry-After a wrong key is a plain 401 again.
func TestFailedSignInsAreThrottled(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.app("Shop", "shop")
	b := st.browser()

	var throttled page
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatal("100 wrong admin keys, and never a 429")
		}
		p := b.post("/ui/login", url.Values{"key": {"hbk_wrong_" + strconv.Itoa(i)}, "next": {"/ui/"}})
		if p.Status == http.StatusTooManyRequests {
			if i == 0 {
				t.Fatal("the first wrong key was already throttled")
			}
			throttled = p
			break
		}
		p.want(t, http.StatusUnauthorized)
	}
	if !strings.Contains(throttled.Body, "Too many failed sign-ins") || !strings.Contains(throttled.Body, `name="key"`) {
		t.Errorf("the throttled sign-in page does not say why, or has no form:\n%s", throttled.Body)
	}
	secs, err := strconv.Atoi(throttled.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds", throttled.Header.Get("Retry-After"))
	}
	if !strings.Contains(throttled.Body, "Try again in "+strconv.Itoa(secs)+" seconds") {
		t.Errorf("the page does not say to wait %d seconds:\n%s", secs, throttled.Body)
	}

	p := b.get("/portal/?token="+url.QueryEscape("hbpt_forged")).want(t, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many failed attempts") {
		t.Errorf("a forged portal link from a throttled address: Retry-After %q, body:\n%s", p.Header.Get("Retry-After"), p.Body)
	}

	b.signIn()
	st.browser().openPortal(st.portalLink("shop", nil))

	st.clock.Advance(time.Duration(secs) * time.Second)
	st.browser().post("/ui/login", url.Values{"key": {"hbk_wrong_again"}}).want(t, http.StatusUnauthorized)
}
