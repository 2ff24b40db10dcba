package dispatch

import (
	"net/http"
	"strings"
	"testing"
)

func TestTrimPartialRune(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"ab\xc3\xa9", "ab\xc3\xa9"}, // é complete
		{"ab\xc3", "ab"},             // é cut after its first byte
		{"ab\xe2\x82", "ab"},         // € cut after two of three
		{"ab\xe2\x82\xac", "ab\xe2\x82\xac"},
		{"ab\xf0\x9f\x98", "ab"}, // 😀 cut after three of four
		{"ab\xff", "ab\xff"},     // invalid byte: left as it is
	}
	for _, tt := range tests {
		if got := string(trimPartialRune([]byte(tt.in))); got != tt.want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("é", 5000) // 10,000 bytes
	if got := truncate(long); len(got) != 4096 || !strings.HasSuffix(got, "é") {
		t.Errorf("truncate: %d bytes ending %q", len(got), got[len(got)-2:])
	}
}

func TestReservedHeaders(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "content-length", "host", "Content-Type", "transfer-encoding"} {
		if !reserved(http.CanonicalHeaderKey(h)) {
			t.Errorf("%s is not reserved", h)
		}
	}
	for _, h := range []string{"Authorization", "X-Tenant", "User-Agent", "svix-id"} {
		if reserved(http.CanonicalHeaderKey(h)) {
			t.Errorf("%s is reserved", h)
		}
	}
}
