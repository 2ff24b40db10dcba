package ui

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// TestForgedLongSessions: cookies signed with the server's own session
// key (as anyone who read it from a database could sign them) are refused
// when they claim a longer life than a sign-in gives; the same cookies
// with an allowed life are accepted, so it is the lifetime that refuses
// them.
func TestForgedLongSessions(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Shop", "shop")
	now := st.clock.Now()
	forge := func(path, name string, s session) page {
		t.Helper()
		s.Nonce = newNonce()
		value, err := st.ui.keys.encode(&s)
		if err != nil {
			t.Fatal(err)
		}
		b := st.browser()
		u, _ := url.Parse(st.URL + path)
		b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
		return b.get(path)
	}
	adminKey := st.ui.keys.adminKeyFingerprint(hookbridge.HashKey(testAdminKey))
	admin := func(expires time.Time) session {
		return session{Kind: kindAdmin, Issued: now.Unix(), Expires: expires.Unix(), AdminKey: adminKey}
	}
	portal := func(expires time.Time) session {
		return session{Kind: kindPortal, Issued: now.Unix(), Expires: expires.Unix(), AppID: app, Iat: now.UnixMicro(), TokenNonce: "forged"}
	}
	nineteenYears := now.Add(19 * 365 * 24 * time.Hour)

	forge(dashPath, adminCookie, admin(now.Add(time.Hour))).want(t, http.StatusOK)
	if p := forge(dashPath, adminCookie, admin(nineteenYears)); p.Status != http.StatusSeeOther || p.Location != "/ui/login?next="+url.QueryEscape(dashPath) {
		t.Fatalf("a dashboard cookie good for 19 years: status %d, location %q; want the sign-in page", p.Status, p.Location)
	}
	noIssue := admin(now.Add(time.Hour))
	noIssue.Issued = 0
	forge(dashPath, adminCookie, noIssue).want(t, http.StatusSeeOther)

	forge(portalPath, portalCookie, portal(now.Add(time.Hour))).want(t, http.StatusOK)
	forge(portalPath, portalCookie, portal(nineteenYears)).want(t, http.StatusUnauthorized)
}
