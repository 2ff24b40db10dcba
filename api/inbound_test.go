package api

import (
	"strings"
	"testing"
)

func TestCanonicalEventID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 300)
	for _, tc := range []struct {
		scheme, key string
		n           int
		want        string
	}{
		{"stripe", "evt_3PzE2e", 0, "stripe.evt_3PzE2e"},
		{"stripe", "evt_3PzE2e", 2, "stripe.evt_3PzE2e..2"},
		{"adyen", "AUTHORISATION:7914073381342284:true", 0, "adyen.AUTHORISATION.3a7914073381342284.3atrue"},
		{"hmac", "sha256:00ff", 1, "hmac.sha256.3a00ff..1"},
		{"square", "a.b", 0, "square.a.2eb"},
		{"square", "a b/é", 0, "square.a.20b.2f.c3.a9"},
	} {
		if got := canonicalEventID(tc.scheme, tc.key, tc.n); got != tc.want {
			t.Errorf("canonicalEventID(%q, %q, %d) = %q, want %q", tc.scheme, tc.key, tc.n, got, tc.want)
		}
	}

	// One-to-one: keys that a naive mapping would merge stay apart.
	seen := map[string]string{}
	for _, k := range []struct {
		key string
		n   int
	}{
		{"a.1", 0}, {"a", 1}, {"a..1", 0}, {"a.2e1", 0}, {"a:1", 0}, {"a_1", 0}, {"a-1", 0},
		{long, 0}, {long + "x", 0}, {long, 1}, {strings.Repeat(":", 200), 0}, {strings.Repeat(":", 201), 0},
	} {
		id := canonicalEventID("stripe", k.key, k.n)
		if msg := checkLimitedString(id, maxNameLen); msg != "" {
			t.Errorf("id of %.20q #%d: %q %s", k.key, k.n, id, msg)
		}
		tag := k.key + "#" + string(rune('0'+k.n))
		if prev, ok := seen[id]; ok {
			t.Errorf("%.20q and %.20q share the id %q", prev, tag, id)
		}
		seen[id] = tag
	}
}
