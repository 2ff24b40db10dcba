package inbound

import (
	"slices"
	"strings"
	"testing"
)

// FuzzCheckCertURL: whatever PAYPAL-CERT-URL says, an accepted URL is an
// https URL on one of PayPal's hosts under the certificate path, and nothing
// else.
func FuzzCheckCertURL(f *testing.F) {
	f.Add("https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77")
	f.Add("https://api.paypal.com:443/v1/notifications/certs/../certs/x")
	f.Add("https://evil.example\\@api.paypal.com/v1/notifications/certs/x")
	f.Add("https://api.paypal.com%2eevil.example/v1/notifications/certs/x")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := checkCertURL(raw)
		if err != nil {
			return
		}
		got := u.String()
		if u.Scheme != "https" || !slices.Contains(paypalCertHosts, u.Host) ||
			!strings.HasPrefix(u.Path, paypalCertPath) || strings.Contains(u.Path, "..") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
			!strings.HasPrefix(got, "https://"+u.Host+paypalCertPath) {
			t.Fatalf("checkCertURL(%q) accepted %q", raw, got)
		}
	})
}

func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertificates(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

func FuzzJSONID(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1"}`))
	f.Add([]byte(`{"id":12345678901234567890123}`))
	f.Add([]byte(`{"id":{"nested":1},"id":"dup"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = jsonID(body, "id")
	})
}

func FuzzParseUnixSeconds(f *testing.F) {
	f.Add("1614265330")
	f.Add("9223372036854775808")
	f.Fuzz(func(t *testing.T, s string) {
		ts, ok := parseUnixSeconds(s)
		if ok && ts.Unix() < 0 {
			t.Fatalf("parseUnixSeconds(%q) = %v, a negative time", s, ts)
		}
	})
}
