package inbound_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// PayPal's published example. The notification and its headers are the
// sample in PayPal's Java SDK (paypal/PayPal-Java-SDK, rest-api-sample/src/
// main/java/com/paypal/api/sample/ValidateCert.java); the certificate is the
// one its PAYPAL-CERT-URL,
// https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77,
// served, as recorded in the test mocks of PayPal's Node SDK
// (paypal/PayPal-node-SDK). It expired in 2017, so it can only be checked as a
// certificate supplied offline.
const (
	paypalSampleWebhookID = "3RN13029J36659323"
	paypalSampleTransID   = "b2384410-f8d2-11e4-8bf3-77339302725b"
	paypalSampleTime      = "2015-05-12T18:14:14Z"
	paypalSampleSig       = "vSOIQFIZQHv8G2vpbOpD/4fSC4/MYhdHyv+AmgJyeJQq6q5avWyHIe/zL6qO5hle192HSqKbYveLoFXGJun2od2zXN3Q45VBXwdX3woXYGaNq532flAtiYin+tQ/0pNwRDsVIufCxa3a8HskaXy+YEfXNnwCSL287esD3HgOHmuAs0mYKQdbR4e8Evk8XOOQaZzGeV7GNXXz19gzzvyHbsbHmDz5VoRl9so5OoHqvnc5RtgjZfG8KA9lXh2MTPSbtdTLQb9ikKYnOGM+FasFMxk5stJisgmxaefpO9Q1qm3rCjaJ29aAOyDNr3Q7WkeN3w4bSXtFMwyRBOF28pJg9g=="
	paypalSampleBody      = `{"id":"WH-2W7266712B616591M-36507203HX6402335","create_time":"2015-05-12T18:14:14Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","summary":"Payment completed for $ 20.0 USD","resource":{"id":"7DW85331GX749735N","create_time":"2015-05-12T18:13:18Z","update_time":"2015-05-12T18:13:36Z","amount":{"total":"20.00","currency":"USD"},"payment_mode":"INSTANT_TRANSFER","state":"completed","protection_eligibility":"ELIGIBLE","protection_eligibility_type":"ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE","parent_payment":"PAY-1A142943SV880364LKVJEFPQ","transaction_fee":{"value":"0.88","currency":"USD"},"links":[{"href":"https://api.sandbox.paypal.com/v1/payments/sale/7DW85331GX749735N","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/payments/sale/7DW85331GX749735N/refund","rel":"refund","method":"POST"},{"href":"https://api.sandbox.paypal.com/v1/payments/payment/PAY-1A142943SV880364LKVJEFPQ","rel":"parent_payment","method":"GET"}]},"links":[{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2W7266712B616591M-36507203HX6402335","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2W7266712B616591M-36507203HX6402335/resend","rel":"resend","method":"POST"}]}`
	paypalSampleCertURL   = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
)

const paypalSandboxCert = "-----BEGIN CERTIFICATE-----\r\nMIIHqDCCBpCgAwIBAgIQCSVMkxB1Kw9SPZtpAr3lTDANBgkqhkiG9w0BAQsFADB1\r\nMQswCQYDVQQGEwJVUzEVMBMGA1UEChMMRGlnaUNlcnQgSW5jMRkwFwYDVQQLExB3\r\nd3cuZGlnaWNlcnQuY29tMTQwMgYDVQQDEytEaWdpQ2VydCBTSEEyIEV4dGVuZGVk\r\nIFZhbGlkYXRpb24gU2VydmVyIENBMB4XDTE1MDMxODAwMDAwMFoXDTE3MDMyMjEy\r\nMDAwMFowggElMR0wGwYDVQQPDBRQcml2YXRlIE9yZ2FuaXphdGlvbjETMBEGCysG\r\nAQQBgjc8AgEDEwJVUzEZMBcGCysGAQQBgjc8AgECEwhEZWxhd2FyZTEQMA4GA1UE\r\nBRMHMzAxNDI2NzEWMBQGA1UECRMNMjIxMSBOIDFzdCBTdDEOMAwGA1UEERMFOTUx\r\nMzExCzAJBgNVBAYTAlVTMRMwEQYDVQQIEwpDYWxpZm9ybmlhMREwDwYDVQQHEwhT\r\nYW4gSm9zZTEVMBMGA1UEChMMUGF5UGFsLCBJbmMuMRgwFgYDVQQLEw9QYXJ0bmVy\r\nIFN1cHBvcnQxNDAyBgNVBAMTK21lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5zYW5k\r\nYm94LnBheXBhbC5jb20wggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDI\r\nXgwJj1E+vPOLNA7e3nFsRpQq7G1CFcoCNeRgFIGRfd4itt2jBRPfHXf1eeXODQ6V\r\nwTMP6rVYrI3HBQu5SZRZKO3gALPiBWTcz5FhVovYDz/d/DtasA5L7l1xmRM+GGPE\r\ne/D3ETPeyym6GTAuIzR1ju1BuSQlVnIrcILDHrFZo0RyqFH1eNL3oYfgz+ZCv+WH\r\n65rhS60VowiLAb2lsARckJ2P8wKIps3YUxAqVG5SJ9H49ueBDI01wEzE/+59J8s9\r\nGThmbMTqP6x4MneAcGN1TPimGd9wZlbwwrCYDtCoqFDcxMVgvD83uPrIinFwTIOX\r\nw63QSv8/+ANuawBcNJDrAgMBAAGjggOAMIIDfDAfBgNVHSMEGDAWgBQ901Cl1qCt\r\n7vNKYApl0yHU+PjWDzAdBgNVHQ4EFgQUt5yLggZOjjfzULzZCgX2KZO3R/gwNgYD\r\nVR0RBC8wLYIrbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gucGF5cGFs\r\nLmNvbTAOBgNVHQ8BAf8EBAMCBaAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUF\r\nBwMCMHUGA1UdHwRuMGwwNKAyoDCGLmh0dHA6Ly9jcmwzLmRpZ2ljZXJ0LmNvbS9z\r\naGEyLWV2LXNlcnZlci1nMS5jcmwwNKAyoDCGLmh0dHA6Ly9jcmw0LmRpZ2ljZXJ0\r\nLmNvbS9zaGEyLWV2LXNlcnZlci1nMS5jcmwwQgYDVR0gBDswOTA3BglghkgBhv1s\r\nAgEwKjAoBggrBgEFBQcCARYcaHR0cHM6Ly93d3cuZGlnaWNlcnQuY29tL0NQUzCB\r\niAYIKwYBBQUHAQEEfDB6MCQGCCsGAQUFBzABhhhodHRwOi8vb2NzcC5kaWdpY2Vy\r\ndC5jb20wUgYIKwYBBQUHMAKGRmh0dHA6Ly9jYWNlcnRzLmRpZ2ljZXJ0LmNvbS9E\r\naWdpQ2VydFNIQTJFeHRlbmRlZFZhbGlkYXRpb25TZXJ2ZXJDQS5jcnQwDAYDVR0T\r\nAQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFnAHUApLkJkLQYWBSHuxOi\r\nzGdwCjw1mAT5G9+443fNDsgN3BAAAAFMLovtNgAABAMARjBEAiBTR7r3p76qUJzF\r\n23lsbD/cLsA0KlxoJRSIvIK0OIYWiQIgVQWja8tWBlpcoFP30Iym7IuczitSazpH\r\nfhKAVroTgXgAdgBo9pj4H2SCvjqM7rkoHUz8cVFdZ5PURNEKZ6y7T0/7xAAAAUwu\r\ni+z4AAAEAwBHMEUCIEP3VYyLQB7lOgFo4WstyOurmRe3xa0OVaeFL/bDohHOAiEA\r\n+xQrRVAfaeT4qBdBJzLyVLU4V9bh/qBMXJdjvYujhAcAdgBWFAaaL9fC7NP14b1E\r\nsj7HRna5vJkRXMDvlJhV1onQ3QAAAUwui+6EAAAEAwBHMEUCIQC/YUc5X6xyb3ho\r\no4VMSJqSoNg9KKkvLh9nUQCdwHi3/QIgNwcBc9ZZCR/aWXQ7hKH6d39kpkDX2Z43\r\nXPy/Kl5sKI4wDQYJKoZIhvcNAQELBQADggEBAHixEZNpb0M1MsvsfNI6lLKxrs9s\r\nJkcBcmxrFyhTC8KP+Qp+Z1fnMRQwpTLIMr1+uAMqCPAnIShGHeFNJpUFSMyW4o0l\r\n+pZGz/L/YJBs7XP3ChSGC17ZKeGSQFfMqMQXfY/L6+n/1HkAwqmewqUMEuUmWN3F\r\nkXJqVngIYGZtxXRyiv2azLOhrNP8BgNZK6d2gVxntQfGr4hnd8Juq8SJy/S4xpPY\r\nYPD8vW7/wSOdAe1/kU38QwDVBQ5PJePS2WFwz8YA/eKcyg9lfsianfw35SjehJbn\r\nwGwzUbjtibyJnv3eAeYDGxaI6vbuoE99pSmYGIwSBLJwZamJHjci6HL6wLg=\r\n-----END CERTIFICATE-----"

func paypalHeaders(transID, transTime, sig, certURL string) http.Header {
	return headers(
		"PAYPAL-TRANSMISSION-ID", transID,
		"PAYPAL-TRANSMISSION-TIME", transTime,
		"PAYPAL-TRANSMISSION-SIG", sig,
		"PAYPAL-CERT-URL", certURL,
		"PAYPAL-AUTH-ALGO", "SHA256withRSA",
	)
}

func TestPayPal_PublishedExample(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "paypal", inbound.Credentials{KeyID: paypalSampleWebhookID, CertPEM: []byte(paypalSandboxCert)})
	sampleTime, _ := time.Parse(time.RFC3339, paypalSampleTime)
	req := func(body string, h http.Header) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: h, Now: sampleTime.Add(20 * time.Second)}
	}
	h := paypalHeaders(paypalSampleTransID, paypalSampleTime, paypalSampleSig, paypalSampleCertURL)

	v, err := s.Verify(context.Background(), req(paypalSampleBody, h))
	checkOutcome(t, v, err, "", []string{"WH-2W7266712B616591M-36507203HX6402335"})
	if v.Note != inbound.OfflineCertNote {
		t.Errorf("Note = %q, want %q", v.Note, inbound.OfflineCertNote)
	}
	if !v.SignedAt.Equal(sampleTime) {
		t.Errorf("SignedAt = %v, want %v", v.SignedAt, sampleTime)
	}

	otherID := headers()
	for k, vv := range h {
		otherID[k] = vv
	}
	otherID.Set("PAYPAL-TRANSMISSION-ID", "b2384410-f8d2-11e4-8bf3-77339302725c")
	runCases(t, s, []verifyCase{
		{name: "one byte of body", req: req(flipByte(paypalSampleBody), h), reason: inbound.ReasonSignatureMismatch},
		{name: "transmission id changed", req: req(paypalSampleBody, otherID), reason: inbound.ReasonSignatureMismatch},
	})
	runCases(t, mustNew(t, "paypal", inbound.Credentials{KeyID: "3RN13029J36659324", CertPEM: []byte(paypalSandboxCert)}), []verifyCase{
		{name: "another webhook's id", req: req(paypalSampleBody, h), reason: inbound.ReasonSignatureMismatch},
	})
}

// testPKI is a CA hierarchy standing in for DigiCert's, and a PayPal-style
// signing certificate issued under it, so that fetching and chain checks can
// be tested without the network.
type testPKI struct {
	roots      *x509.CertPool
	rootPEM    []byte
	interDER   []byte
	leafKey    *rsa.PrivateKey
	leafPEM    []byte // leaf alone, as PayPal serves it
	chainPEM   []byte // leaf and intermediate
	wrongCNPEM []byte // a valid chain for another name
	expiredPEM []byte // leaf and intermediate, the leaf expired
	serverCert tls.Certificate
	serverPool *x509.CertPool
}

const testIssuerURL = "http://cacerts.digicert.com/HookbridgeTestCA.crt"

var pki = sync.OnceValue(func() *testPKI {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	newCert := func(tmpl, parent *x509.Certificate, pub, signer any) (*x509.Certificate, []byte) {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		must(err)
		c, err := x509.ParseCertificate(der)
		must(err)
		return c, der
	}
	pemOf := func(ders ...[]byte) []byte {
		var out []byte
		for _, d := range ders {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return out
	}
	ca := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: testNow.Add(-10 * 365 * 24 * time.Hour), NotAfter: testNow.Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	root, rootDER := newCert(ca(1, "Hookbridge Test Root"), ca(1, "Hookbridge Test Root"), &rootKey.PublicKey, rootKey)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	inter, interDER := newCert(ca(2, "Hookbridge Test EV Server CA"), root, &interKey.PublicKey, rootKey)

	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	leaf := func(serial int64, cn string, notAfter time.Time) []byte {
		_, der := newCert(&x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"PayPal, Inc."}},
			DNSNames:  []string{cn},
			NotBefore: testNow.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IssuingCertificateURL: []string{testIssuerURL},
		}, inter, &leafKey.PublicKey, interKey)
		return der
	}
	good := leaf(10, "messageverificationcerts.sandbox.paypal.com", testNow.Add(365*24*time.Hour))

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, serverDER := newCert(&x509.Certificate{
		SerialNumber: big.NewInt(20), Subject: pkix.Name{CommonName: "test server"},
		DNSNames:  []string{"api.sandbox.paypal.com", "api.paypal.com", "api-m.paypal.com", "cacerts.digicert.com", "evil.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, root, &serverKey.PublicKey, rootKey)

	p := &testPKI{
		roots:      x509.NewCertPool(),
		rootPEM:    pemOf(rootDER),
		interDER:   interDER,
		leafKey:    leafKey,
		leafPEM:    pemOf(good),
		chainPEM:   pemOf(good, interDER),
		wrongCNPEM: pemOf(leaf(11, "api.sandbox.paypal.com", testNow.Add(365*24*time.Hour)), interDER),
		expiredPEM: pemOf(leaf(12, "messageverificationcerts.sandbox.paypal.com", testNow.Add(-time.Hour)), interDER),
		serverCert: tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		serverPool: x509.NewCertPool(),
	}
	p.roots.AddCert(root)
	p.serverPool.AddCert(root)
	return p
})

// otherCAPEM is a certificate that is not PayPal's.
func otherCAPEM(t *testing.T) string {
	t.Helper()
	return string(pki().rootPEM)
}

// paypalHost is an HTTPS server that answers for PayPal's and DigiCert's
// hosts: the client it hands out dials it whatever host a URL names, and
// trusts its certificate for those names. It counts the requests per path.
type paypalHost struct {
	*httptest.Server
	client *http.Client
	mu     sync.Mutex
	hits   map[string]int
	total  atomic.Int64
}

func newPayPalHost(t *testing.T) *paypalHost {
	t.Helper()
	p := pki()
	h := &paypalHost{hits: map[string]int{}}
	routes := map[string][]byte{
		"api.sandbox.paypal.com/v1/notifications/certs/CERT-leaf-only": p.leafPEM,
		"api.sandbox.paypal.com/v1/notifications/certs/CERT-chain":     p.chainPEM,
		"api.paypal.com/v1/notifications/certs/CERT-wrong-cn":          p.wrongCNPEM,
		"api.sandbox.paypal.com/v1/notifications/certs/CERT-expired":   p.expiredPEM,
		"api.sandbox.paypal.com/v1/notifications/certs/CERT-garbage":   []byte("<html>maintenance</html>"),
		"api.sandbox.paypal.com/v1/notifications/certs/CERT-big":       []byte(strings.Repeat("A", 100<<10)),
		"cacerts.digicert.com/HookbridgeTestCA.crt":                    p.interDER,
		"evil.example/v1/notifications/certs/CERT-chain":               p.chainPEM,
	}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Host + r.URL.Path
		h.mu.Lock()
		h.hits[key]++
		h.mu.Unlock()
		h.total.Add(1)
		if r.URL.Path == "/v1/notifications/certs/CERT-redirect" {
			http.Redirect(w, r, "https://evil.example/v1/notifications/certs/CERT-chain", http.StatusFound)
			return
		}
		body, ok := routes[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	h.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert}}
	h.StartTLS()
	t.Cleanup(h.Close)
	addr := h.Listener.Addr().String()
	h.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: p.serverPool},
	}}
	return h
}

func (h *paypalHost) count(hostPath string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[hostPath]
}

// signPayPal signs a notification as PayPal does, with the test leaf key.
func signPayPal(t *testing.T, transID, transTime, webhookID, body string) string {
	t.Helper()
	msg := fmt.Sprintf("%s|%s|%s|%d", transID, transTime, webhookID, crc32.ChecksumIEEE([]byte(body)))
	digest := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, pki().leafKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestPayPal_FetchedCertificate(t *testing.T) {
	t.Parallel()
	host := newPayPalHost(t)
	const webhookID = "8PT597110X687430LKGECATA"
	s := mustNew(t, "paypal", inbound.Credentials{KeyID: webhookID},
		inbound.WithHTTPClient(host.client), inbound.WithRoots(pki().roots))

	body := `{"id":"WH-77687562XN25889J8-8Y6T55435R66168T6","event_type":"PAYMENT.CAPTURE.COMPLETED"}`
	transID, transTime := "69cd13f0-d67a-11e5-baa3-778b53f4ae55", testNow.Add(-5*time.Second).Format(time.RFC3339)
	sig := signPayPal(t, transID, transTime, webhookID, body)
	certs := "https://api.sandbox.paypal.com/v1/notifications/certs/"
	req := func(certURL string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: paypalHeaders(transID, transTime, sig, certURL)}
	}
	withHeader := func(name, value string) *inbound.Request {
		r := req(certs + "CERT-chain")
		r.Header.Set(name, value)
		return r
	}
	ids := []string{"WH-77687562XN25889J8-8Y6T55435R66168T6"}
	signedAt := func(d time.Duration) *inbound.Request {
		ts := testNow.Add(d).Format(time.RFC3339)
		return &inbound.Request{Body: []byte(body), Header: paypalHeaders(transID, ts, signPayPal(t, transID, ts, webhookID, body), certs+"CERT-chain")}
	}

	runCases(t, s, []verifyCase{
		{name: "chain served", req: req(certs + "CERT-chain"), ids: ids},
		{name: "host in capitals, explicit port 443", req: req("https://API.sandbox.paypal.com:443/v1/notifications/certs/CERT-chain"), ids: ids},
		{name: "one byte of body", req: &inbound.Request{Body: []byte(flipByte(body)), Header: paypalHeaders(transID, transTime, sig, certs+"CERT-chain")}, reason: inbound.ReasonSignatureMismatch},
		{name: "signature of another webhook", req: withHeader("PAYPAL-TRANSMISSION-SIG", signPayPal(t, transID, transTime, "OTHERWEBHOOK", body)), reason: inbound.ReasonSignatureMismatch},
		{name: "stale", req: signedAt(-301 * time.Second), reason: inbound.ReasonTooOld},
		{name: "future", req: signedAt(301 * time.Second), reason: inbound.ReasonTooNew},
		{name: "fractional seconds", req: signedAt(-1500 * time.Millisecond), ids: ids},
		{name: "missing header", req: &inbound.Request{Body: []byte(body), Header: headers("PAYPAL-TRANSMISSION-ID", transID, "PAYPAL-TRANSMISSION-SIG", sig)}, reason: inbound.ReasonMissingHeader},
		{name: "missing certificate URL", req: withHeader("PAYPAL-CERT-URL", ""), reason: inbound.ReasonMissingHeader},
		{name: "malformed time", req: withHeader("PAYPAL-TRANSMISSION-TIME", "yesterday"), reason: inbound.ReasonMalformedHeader},
		{name: "malformed signature", req: withHeader("PAYPAL-TRANSMISSION-SIG", "%%%"), reason: inbound.ReasonMalformedHeader},
		{name: "SHA1 refused", req: withHeader("PAYPAL-AUTH-ALGO", "SHA1withRSA"), reason: inbound.ReasonUnsupportedAlgorithm},
		{name: "wrong name on the certificate", req: req("https://api.paypal.com/v1/notifications/certs/CERT-wrong-cn"), reason: inbound.ReasonUntrustedCertificate},
		{name: "expired certificate", req: req(certs + "CERT-expired"), reason: inbound.ReasonUntrustedCertificate},
		{name: "not a certificate", req: req(certs + "CERT-garbage"), reason: inbound.ReasonUntrustedCertificate},
		{name: "too large", req: req(certs + "CERT-big"), reason: inbound.ReasonCertificateUnavailable},
		{name: "not found", req: req(certs + "CERT-none"), reason: inbound.ReasonCertificateUnavailable},
		{name: "redirect not followed", req: req(certs + "CERT-redirect"), reason: inbound.ReasonCertificateUnavailable},
	})

	// The allow-list: none of these is fetched.
	before := host.total.Load()
	runCases(t, s, []verifyCase{
		{name: "http", req: req("http://api.sandbox.paypal.com/v1/notifications/certs/CERT-chain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "other host", req: req("https://evil.example/v1/notifications/certs/CERT-chain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "lookalike host", req: req("https://api.sandbox.paypal.com.evil.example/v1/notifications/certs/CERT-chain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "user info", req: req("https://evil.example@api.sandbox.paypal.com/v1/notifications/certs/CERT-chain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "other port", req: req("https://api.sandbox.paypal.com:8443/v1/notifications/certs/CERT-chain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "other path", req: req("https://api.sandbox.paypal.com/v1/oauth2/token"), reason: inbound.ReasonUntrustedCertificate},
		{name: "dot-dot path", req: req(certs + "../../oauth2/token"), reason: inbound.ReasonUntrustedCertificate},
		{name: "escaped path", req: req(certs + "CERT%2Fchain"), reason: inbound.ReasonUntrustedCertificate},
		{name: "query", req: req(certs + "CERT-chain?x=1"), reason: inbound.ReasonUntrustedCertificate},
		{name: "not a URL", req: req("::"), reason: inbound.ReasonUntrustedCertificate},
	})
	if got := host.total.Load(); got != before {
		t.Errorf("%d requests reached the server for refused certificate URLs", got-before)
	}
}

// PayPal serves the leaf alone; the intermediate comes from the issuer URL in
// the leaf, and both are cached.
func TestPayPal_LeafOnlyCompletedFromIssuerAndCached(t *testing.T) {
	t.Parallel()
	host := newPayPalHost(t)
	const webhookID = "WEBHOOK-LEAF"
	s := mustNew(t, "paypal", inbound.Credentials{KeyID: webhookID},
		inbound.WithHTTPClient(host.client), inbound.WithRoots(pki().roots))
	certURL := "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-leaf-only"
	for i := range 3 {
		body := fmt.Sprintf(`{"id":"WH-%d"}`, i)
		ts := testNow.Format(time.RFC3339)
		v, err := s.Verify(context.Background(), &inbound.Request{
			Body: []byte(body), Header: paypalHeaders("t", ts, signPayPal(t, "t", ts, webhookID, body), certURL), Now: testNow,
		})
		checkOutcome(t, v, err, "", []string{fmt.Sprintf("WH-%d", i)})
		if v != nil && v.Note != "" {
			t.Errorf("Note = %q for a fetched, checked certificate", v.Note)
		}
	}
	if n := host.count("api.sandbox.paypal.com/v1/notifications/certs/CERT-leaf-only"); n != 1 {
		t.Errorf("certificate fetched %d times, want 1", n)
	}
	if n := host.count("cacerts.digicert.com/HookbridgeTestCA.crt"); n != 1 {
		t.Errorf("issuer fetched %d times, want 1", n)
	}

	// A cached certificate is still checked against the clock.
	ts := testNow.Add(400 * 24 * time.Hour).Format(time.RFC3339)
	_, err := s.Verify(context.Background(), &inbound.Request{
		Body: []byte(`{}`), Header: paypalHeaders("t", ts, signPayPal(t, "t", ts, webhookID, `{}`), certURL), Now: testNow.Add(400 * 24 * time.Hour),
	})
	checkOutcome(t, nil, err, inbound.ReasonUntrustedCertificate, nil)
}

// Without the test root, the chain leads nowhere trusted.
func TestPayPal_UntrustedRoot(t *testing.T) {
	t.Parallel()
	host := newPayPalHost(t)
	s := mustNew(t, "paypal", inbound.Credentials{KeyID: "W"}, inbound.WithHTTPClient(host.client), inbound.WithRoots(x509.NewCertPool()))
	ts := testNow.Format(time.RFC3339)
	runCases(t, s, []verifyCase{{
		name:   "untrusted root",
		req:    &inbound.Request{Body: []byte(`{}`), Header: paypalHeaders("t", ts, signPayPal(t, "t", ts, "W", `{}`), "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-chain")},
		reason: inbound.ReasonUntrustedCertificate,
	}})
}

// An unavailable certificate is a temporary refusal: PayPal should retry.
func TestPayPal_UnavailableIsTemporary(t *testing.T) {
	t.Parallel()
	host := newPayPalHost(t)
	s := mustNew(t, "paypal", inbound.Credentials{KeyID: "W"}, inbound.WithHTTPClient(host.client), inbound.WithRoots(pki().roots))
	ts := testNow.Format(time.RFC3339)
	_, err := s.Verify(context.Background(), &inbound.Request{
		Body: []byte(`{}`), Header: paypalHeaders("t", ts, signPayPal(t, "t", ts, "W", `{}`), "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-none"), Now: testNow,
	})
	var e *inbound.Error
	if !errors.As(err, &e) || !e.Temporary() {
		t.Fatalf("Verify = %v, want a temporary refusal", err)
	}
}
