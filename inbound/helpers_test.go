package inbound_test

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// testNow is the receiver's clock in tests that sign their own requests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// unix formats t as the decimal unix seconds processors put in headers.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func mustNew(t testing.TB, name string, creds inbound.Credentials, opts ...inbound.Option) inbound.Scheme {
	t.Helper()
	s, err := inbound.New(name, creds, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return s
}

// headers builds an http.Header from name, value pairs; a name given twice is
// a repeated header.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func macHex(h func() hash.Hash, key string, parts ...string) string {
	return hex.EncodeToString(mac(h, key, parts...))
}

func macBase64(h func() hash.Hash, key string, parts ...string) string {
	return base64.StdEncoding.EncodeToString(mac(h, key, parts...))
}

func mac(h func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// flipByte returns body with one byte changed.
func flipByte(body string) string {
	b := []byte(body)
	b[len(b)/2] ^= 0x01
	return string(b)
}

// verifyCase is one request and what verifying it must give: reason "" means
// valid, with ids as the event ids.
type verifyCase struct {
	name   string
	req    *inbound.Request
	reason inbound.Reason
	ids    []string
}

// runCases verifies each case with s and checks the outcome.
func runCases(t *testing.T, s inbound.Scheme, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.req.Now.IsZero() {
				tc.req.Now = testNow
			}
			v, err := s.Verify(context.Background(), tc.req)
			checkOutcome(t, v, err, tc.reason, tc.ids)
		})
	}
}

func checkOutcome(t *testing.T, v *inbound.Verified, err error, reason inbound.Reason, ids []string) {
	t.Helper()
	if reason != "" {
		if err == nil {
			t.Fatalf("verified, want refusal %s", reason)
		}
		var e *inbound.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *inbound.Error", err, err)
		}
		if e.Reason != reason {
			t.Fatalf("refused with %s (%v), want %s", e.Reason, err, reason)
		}
		if e.Detail == "" {
			t.Errorf("refusal %s has no detail", e.Reason)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if v == nil {
		t.Fatal("Verify returned neither a result nor an error")
	}
	if !equalStrings(v.EventIDs, ids) {
		t.Errorf("EventIDs = %q, want %q", v.EventIDs, ids)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// verifyOne verifies req at testNow and fails the test on a refusal.
func verifyOne(t *testing.T, s inbound.Scheme, req *inbound.Request) *inbound.Verified {
	t.Helper()
	if req.Now.IsZero() {
		req.Now = testNow
	}
	v, err := s.Verify(context.Background(), req)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return v
}
