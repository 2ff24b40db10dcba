package ui

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testKeys(t *testing.T) keys {
	t.Helper()
	return keys{session: []byte("0123456789abcdef0123456789abcdef"), csrf: []byte("fedcba9876543210fedcba9876543210")}
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	k := testKeys(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := &session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Nonce: "n1", AppID: "app_1", Flags: []string{"beta"},
		Iat: now.UnixMicro()}
	value, err := k.encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := k.decode(value, kindPortal, now)
	if !ok || got.AppID != "app_1" || got.Nonce != "n1" || len(got.Flags) != 1 {
		t.Fatalf("decode = %+v, %v", got, ok)
	}
	payload, sig, _ := strings.Cut(value, ".")
	other := keys{session: []byte("another key, another key, another")}
	forged, _ := other.encode(&session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Nonce: "n1", AppID: "app_2", Iat: now.UnixMicro()})
	forgedPayload, _, _ := strings.Cut(forged, ".")
	for _, tc := range []struct {
		name  string
		value string
		kind  string
		now   time.Time
	}{
		{"OtherKind", value, kindAdmin, now},
		{"Expired", value, kindPortal, now.Add(time.Hour)},
		{"OtherKey", forged, kindPortal, now},
		{"SwappedPayload", forgedPayload + "." + sig, kindPortal, now},
		{"NoSignature", payload, kindPortal, now},
		{"Garbage", "!!.!!", kindPortal, now},
		{"TooLong", strings.Repeat("a", maxCookieLen+1), kindPortal, now},
	} {
		if _, ok := k.decode(tc.value, tc.kind, tc.now); ok {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// A session without a nonce would have a predictable CSRF token.
	bare, _ := k.encode(&session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Iat: now.UnixMicro()})
	if _, ok := k.decode(bare, kindPortal, now); ok {
		t.Error("a session without a nonce is accepted")
	}
}

// TestSessionLifetime: a cookie signed with the right key is still
// refused when its own times say it lives longer than a session of its
// kind may, when it claims to be made in the future, or when it does not
// say when it was made; one at the limit is accepted.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	k := testKeys(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		s    session
		ok   bool
	}{
		{"AdminAtLimit", session{Kind: kindAdmin, Issued: now.Unix(), Expires: now.Add(adminSessionTTL).Unix()}, true},
		{"AdminNineteenYears", session{Kind: kindAdmin, Issued: now.Unix(), Expires: now.Add(19 * year).Unix()}, false},
		{"AdminSecondTooLong", session{Kind: kindAdmin, Issued: now.Unix(), Expires: now.Add(adminSessionTTL + time.Second).Unix()}, false},
		{"AdminNoIssueTime", session{Kind: kindAdmin, Expires: now.Add(time.Hour).Unix()}, false},
		{"AdminFromTheFuture", session{Kind: kindAdmin, Issued: now.Add(time.Hour).Unix(), Expires: now.Add(2 * time.Hour).Unix()}, false},
		{"AdminSlightSkew", session{Kind: kindAdmin, Issued: now.Add(30 * time.Second).Unix(), Expires: now.Add(time.Hour).Unix()}, true},
		{"AdminIssuedLongAgo", session{Kind: kindAdmin, Issued: now.Add(-19 * year).Unix(), Expires: now.Add(time.Hour).Unix()}, false},
		{"FlowAtLimit", session{Kind: kindOIDCFlow, Issued: now.Unix(), Expires: now.Add(oidcFlowTTL).Unix()}, true},
		{"FlowADay", session{Kind: kindOIDCFlow, Issued: now.Unix(), Expires: now.Add(24 * time.Hour).Unix()}, false},
		{"PortalAtLimit", session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(hookbridge.MaxPortalLifetime).Unix(), Iat: now.UnixMicro()}, true},
		{"PortalNineteenYears", session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(19 * year).Unix(), Iat: now.UnixMicro()}, false},
		{"PortalTokenTooOld", session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Iat: now.Add(-hookbridge.MaxPortalLifetime).UnixMicro()}, false},
		{"PortalNoTokenIssue", session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()}, false},
		{"PortalTokenFromTheFuture", session{Kind: kindPortal, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Iat: now.Add(time.Hour).UnixMicro()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Nonce = "n"
			value, err := k.encode(&tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := k.decode(value, tc.s.Kind, now); ok != tc.ok {
				t.Errorf("accepted = %v, want %v", ok, tc.ok)
			}
		})
	}
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	k := testKeys(t)
	a := &session{Kind: kindPortal, Nonce: "a"}
	b := &session{Kind: kindPortal, Nonce: "b"}
	admin := &session{Kind: kindAdmin, Nonce: "a"}
	if !k.validCSRF(a, k.csrfToken(a)) {
		t.Error("a session's own token is refused")
	}
	for name, token := range map[string]string{"other session": k.csrfToken(b), "other kind": k.csrfToken(admin), "empty": "", "session MAC": "x"} {
		if k.validCSRF(a, token) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFrameAncestors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in        string
		want      string
		crossSite bool
		ok        bool
	}{
		{"", "'self'", false, true},
		{"'self'", "'self'", false, true},
		{"'none'", "'none'", false, true},
		{" 'self'   https://app.example.com ", "'self' https://app.example.com", true, true},
		{"https://*.example.com:443", "https://*.example.com:443", true, true},
		{"https:", "https:", true, true},
		{"'self'; script-src *", "", false, false},
		{"https://a.example,https://b.example", "", false, false},
		{"'none' 'self'", "", false, false},
		{"'unsafe-inline'", "", false, false},
	} {
		got, cross, err := parseFrameAncestors(tc.in)
		if (err == nil) != tc.ok || got != tc.want || cross != tc.crossSite {
			t.Errorf("parseFrameAncestors(%q) = %q, %v, %v; want %q, %v, ok %v", tc.in, got, cross, err, tc.want, tc.crossSite, tc.ok)
		}
	}
}

func TestBuildChart(t *testing.T) {
	t.Parallel()
	r := chartRange{Key: "test", Width: time.Hour, Buckets: 4}
	since := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	c := buildChart("t", []hookbridge.AttemptCount{
		{Start: since, Success: 3},
		{Start: since.Add(2 * time.Hour), Success: 1, Fail: 4},
		{Start: since.Add(9 * time.Hour), Success: 99}, // outside the range: ignored
	}, since, r)
	if len(c.Bars) != 4 || c.Success != 4 || c.Fail != 4 {
		t.Fatalf("bars %d, totals %d/%d", len(c.Bars), c.Success, c.Fail)
	}
	if b := c.Bars[1]; b.HasSuccess || b.HasFails || b.SuccessH != 0 {
		t.Errorf("empty bucket drawn: %+v", b)
	}
	// The tallest stack (5) is scaled to the axis top (5), which is the
	// plot's full height; failures sit on top of successes.
	b := c.Bars[2]
	plotH := float64(chartH - chartTop - chartBottom)
	if b.SuccessH+b.FailH != plotH || b.FailY+b.FailH != b.SuccessY || b.SuccessY+b.SuccessH != c.PlotBottom {
		t.Errorf("stack geometry: %+v (plot height %v, bottom %v)", b, plotH, c.PlotBottom)
	}
	if top := c.YTicks[len(c.YTicks)-1]; top.Label != "5" || top.Pos != chartTop {
		t.Errorf("top tick = %+v", top)
	}
	if !strings.Contains(c.Bars[0].Label, "10:00 – 11:00 UTC") {
		t.Errorf("bucket label = %q", c.Bars[0].Label)
	}
	for n, want := range map[int64]int64{0: 2, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 180: 200, 4100: 5000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestChartWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 10, 37, 12, 0, time.UTC)
	since, until := findRange("24h").window(now)
	if !until.Equal(time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)) || until.Sub(since) != 24*time.Hour {
		t.Errorf("24h window = %v .. %v", since, until)
	}
	if findRange("nonsense").Key != chartRanges[0].Key {
		t.Error("an unknown range is not the default")
	}
}

func TestParseAPIError(t *testing.T) {
	t.Parallel()
	e := parseAPIError(http.StatusUnprocessableEntity, []byte(`{"detail":[
		{"loc":["body","url"],"msg":"must not be empty","type":"value_error"},
		{"loc":["body","schemas","1"],"msg":"must be a JSON Schema object","type":"value_error"},
		{"loc":["body","url"],"msg":"second","type":"value_error"}]}`))
	if e.Fields["url"] != "must not be empty; second" || e.Fields["schemas"] != "must be a JSON Schema object" {
		t.Errorf("fields = %v", e.Fields)
	}
	e = parseAPIError(http.StatusConflict, []byte(`{"code":"conflict","detail":"taken"}`))
	if e.Detail != "taken" || e.Fields != nil {
		t.Errorf("409 = %+v", e)
	}
	if e = parseAPIError(http.StatusBadGateway, []byte(`<html>`)); e.Detail != "Bad Gateway" {
		t.Errorf("non-JSON = %+v", e)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q", n, got)
		}
	}
	for s, ok := range map[string]bool{"ep_01ABC": true, "merchant-42": true, "a.b": true, "": false, ".": false, "..": false, "a/b": false, "a b": false, strings.Repeat("x", 257): false} {
		if validRef(s) != ok {
			t.Errorf("validRef(%q) = %v", s, !ok)
		}
	}
	if got := apiPath("app", "a/b", "endpoint", ".."); got != "/api/v1/app/a%2Fb/endpoint/.." {
		t.Errorf("apiPath = %q", got)
	}
	if tm, ok := parseInputTime("2025-06-01T12:30"); !ok || !tm.Equal(time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)) {
		t.Errorf("parseInputTime = %v, %v", tm, ok)
	}
	if _, ok := parseInputTime("yesterday"); ok {
		t.Error("parseInputTime accepted nonsense")
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	dests := func(statuses ...hookbridge.MessageStatus) []hookbridge.MessageEndpoint {
		var d []hookbridge.MessageEndpoint
		for _, s := range statuses {
			d = append(d, hookbridge.MessageEndpoint{Status: s})
		}
		return d
	}
	for _, tc := range []struct {
		name                 string
		dests                []hookbridge.MessageEndpoint
		state, class, detail string
	}{
		{"NoEndpoint", nil, "none", "", ""},
		{"Succeeded", dests(hookbridge.StatusSuccess, hookbridge.StatusSuccess), "succeeded", "success", ""},
		{"Failed", dests(hookbridge.StatusFail), "failed", "fail", ""},
		{"OneFailed", dests(hookbridge.StatusSuccess, hookbridge.StatusFail), "failed", "fail", "1 succeeded, 1 failed"},
		{"NotAttempted", dests(hookbridge.StatusPending), "pending", "pending", ""},
		// A delivery being retried is pending, even next to a failure.
		{"Retrying", dests(hookbridge.StatusFail, hookbridge.StatusSending, hookbridge.StatusSuccess), "pending", "pending", "1 succeeded, 1 failed, 1 pending"},
	} {
		o := outcomeOf(tc.dests)
		if o.State() != tc.state || o.Class() != tc.class || o.Detail() != tc.detail {
			t.Errorf("%s: %q %q %q, want %q %q %q", tc.name, o.State(), o.Class(), o.Detail(), tc.state, tc.class, tc.detail)
		}
	}
}

func TestListField(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "[]", " , ": "[]", "eu": "[eu]", "eu, store-17": "[eu store-17]", "eu store-17\n,us": "[eu store-17 us]"} {
		if got := fmt.Sprint(listField(in)); got != want {
			t.Errorf("listField(%q) = %s, want %s", in, got, want)
		}
	}
	if listField(" ") != nil {
		t.Error("an empty list is not nil (null: no filter)")
	}
}
