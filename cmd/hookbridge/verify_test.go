package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookbridge/hookbridge/inbound"
)

// These tests replace the package's stdin, so none of them runs in parallel;
// Go runs them before any parallel test of the package starts.

// runVerifyCommand runs `hookbridge verify args...` with body on standard
// input, and returns the exit status and what it printed.
func runVerifyCommand(t *testing.T, body string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	saved := stdin
	stdin = strings.NewReader(body)
	t.Cleanup(func() { stdin = saved })
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"verify"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

const (
	cliStripeSecret = "whsec_cli_0123456789abcdef"
	cliNow          = 1772366400 // 2026-03-01T12:00:00Z
)

func cliStripeRequest(t *testing.T, body string, signedAt int64) (header string) {
	t.Helper()
	return stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: []byte(body), Secret: cliStripeSecret, Timestamp: time.Unix(signedAt, 0),
	}).Header
}

func TestVerifyCommand(t *testing.T) {
	body := `{"id":"evt_cli","type":"payment_intent.succeeded"}`
	sig := "Stripe-Signature: " + cliStripeRequest(t, body, cliNow-30)
	now := strconv.Itoa(cliNow)
	mollieBody := `{"id":"tr_1"}`
	mollieSig := hmacHex("mollie-secret", mollieBody)

	tests := []struct {
		name   string
		body   string
		args   []string
		code   int
		stdout string // the whole output when code is 0; a prefix otherwise
	}{
		{"valid", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", now}, 0, "valid\n"},
		{"one byte of body", strings.Replace(body, "cli", "clj", 1), []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", now}, 1, "invalid: stripe: signature_mismatch: "},
		{"wrong secret", body, []string{"--scheme", "stripe", "--secret", "whsec_other", "--header", sig, "--now", now}, 1, "invalid: stripe: signature_mismatch: "},
		{"stale", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", strconv.Itoa(cliNow + 600)}, 1, "invalid: stripe: timestamp_too_old: "},
		{"future", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", strconv.Itoa(cliNow - 600)}, 1, "invalid: stripe: timestamp_too_new: "},
		{"tolerance widened", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", strconv.Itoa(cliNow + 600), "--tolerance", "900"}, 0, "valid\n"},
		{"tolerance none", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", "4000000000", "--tolerance", "none"}, 0, "valid\n"},
		{"header missing", body, []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--now", now}, 1, "invalid: stripe: missing_header: "},
		{"empty body", "", []string{"--scheme", "stripe", "--secret", cliStripeSecret, "--header", sig, "--now", now}, 1, "invalid: stripe: empty_body: "},
		// Two --header flags with one name are two values of one header:
		// Mollie accepts any matching value.
		{"repeated header", mollieBody, []string{"--scheme", "mollie", "--secret", "mollie-secret", "--header", "X-Mollie-Signature: sha256=00", "--header", "x-mollie-signature: sha256=" + mollieSig}, 0, "valid\n"},
		{"generic hmac", mollieBody, []string{"--scheme", "hmac", "--secret", "mollie-secret", "--hmac-header", "X-Hub-Signature-256", "--hmac-prefix", "sha256=", "--header", "X-Hub-Signature-256: sha256=" + mollieSig}, 0, "valid\n"},
		{"adyen published example", adyenPublishedBody, []string{"--scheme", "adyen", "--secret", "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"}, 0, "valid\n"},
		{"braintree challenge", "", []string{"--scheme", "braintree", "--secret", "integration_private_key", "--public-key", "integration_public_key", "--url", "https://hooks.example/in/src_bt?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53"}, 0,
			"valid\nbt_challenge verification request, answered with integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runVerifyCommand(t, tc.body, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.code == 0 && stdout != tc.stdout || tc.code != 0 && !strings.HasPrefix(stdout, tc.stdout) {
				t.Fatalf("stdout %q, want %q", stdout, tc.stdout)
			}
			if tc.code == 1 && !strings.Contains(stderr, "refused") {
				t.Errorf("stderr %q does not say the notification was refused", stderr)
			}
		})
	}
}

// PayPal's published example, with its certificate supplied offline: valid,
// and the second line says what was not checked.
func TestVerifyCommand_PayPalCertFile(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "paypal.pem")
	if err := os.WriteFile(certFile, []byte(paypalPublishedCert), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--scheme", "paypal", "--key-id", "3RN13029J36659323", "--cert-file", certFile,
		"--header", "PAYPAL-TRANSMISSION-ID: b2384410-f8d2-11e4-8bf3-77339302725b",
		"--header", "PAYPAL-TRANSMISSION-TIME: 2015-05-12T18:14:14Z",
		"--header", "PAYPAL-TRANSMISSION-SIG: " + paypalPublishedSig,
		"--header", "PAYPAL-AUTH-ALGO: SHA256withRSA",
		"--header", "PAYPAL-CERT-URL: https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
		"--now", "1431454460"}
	code, stdout, stderr := runVerifyCommand(t, paypalPublishedBody, args...)
	if want := "valid\n" + inbound.OfflineCertNote + "\n"; code != 0 || stdout != want {
		t.Fatalf("exit %d, stdout %q (stderr %q); want 0, %q", code, stdout, stderr, want)
	}
	code, stdout, _ = runVerifyCommand(t, strings.Replace(paypalPublishedBody, "20.00", "21.00", 1), args...)
	if code != 1 || !strings.HasPrefix(stdout, "invalid: paypal: signature_mismatch: ") {
		t.Fatalf("tampered: exit %d, stdout %q", code, stdout)
	}
}

// The secret can come from HOOKBRIDGE_SECRET, out of the process list.
func TestVerifyCommand_SecretFromEnvironment(t *testing.T) {
	body := `{"id":"evt_env"}`
	t.Setenv("HOOKBRIDGE_SECRET", cliStripeSecret)
	code, stdout, stderr := runVerifyCommand(t, body, "--scheme", "stripe",
		"--header", "Stripe-Signature: "+cliStripeRequest(t, body, cliNow), "--now", strconv.Itoa(cliNow))
	if code != 0 || stdout != "valid\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// The notification's URL comes from HOOKBRIDGE_VERIFY_URL, never from
// HOOKBRIDGE_URL, which a user sets to the server's address for listen and
// source.
func TestVerifyCommand_URLFromEnvironment(t *testing.T) {
	const (
		key    = "square-signature-key"
		notice = "https://hooks.example.com/in/src_square"
		body   = `{"event_id":"ev_1"}`
	)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(notice + body))
	args := []string{"--scheme", "square", "--secret", key,
		"--header", "x-square-hmacsha256-signature: " + base64.StdEncoding.EncodeToString(m.Sum(nil))}

	t.Setenv("HOOKBRIDGE_URL", "http://127.0.0.1:8071")
	code, stdout, stderr := runVerifyCommand(t, body, args...)
	if code != 2 || !strings.Contains(stderr, "needs --url") {
		t.Fatalf("with HOOKBRIDGE_URL only: exit %d, stdout %q, stderr %q; want 2, needs --url", code, stdout, stderr)
	}
	t.Setenv("HOOKBRIDGE_VERIFY_URL", notice)
	if code, stdout, stderr = runVerifyCommand(t, body, args...); code != 0 || stdout != "valid\n" {
		t.Fatalf("with HOOKBRIDGE_VERIFY_URL: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, _, stderr = runVerifyCommand(t, "", "--help"); !strings.Contains(stderr, "(env HOOKBRIDGE_VERIFY_URL)") {
		t.Errorf("--help does not name HOOKBRIDGE_VERIFY_URL:\n%s", stderr)
	}
}

func TestVerifyCommand_UsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string // part of the message
	}{
		{"no scheme", []string{"--secret", "s"}, "--scheme is required"},
		{"unknown scheme", []string{"--scheme", "strype", "--secret", "s"}, "known schemes: adyen"},
		{"no secret", []string{"--scheme", "stripe"}, "signing secret"},
		{"header without colon", []string{"--scheme", "stripe", "--secret", "s", "--header", "Stripe-Signature"}, "Name: value"},
		{"now not a number", []string{"--scheme", "stripe", "--secret", "s", "--now", "yesterday"}, "--now"},
		{"tolerance not a number", []string{"--scheme", "stripe", "--secret", "s", "--tolerance", "5m"}, "--tolerance"},
		{"tolerance zero", []string{"--scheme", "stripe", "--secret", "s", "--tolerance", "0"}, "--tolerance"},
		{"missing cert file", []string{"--scheme", "paypal", "--key-id", "W", "--cert-file", "/nonexistent/paypal.pem"}, "--cert-file"},
		{"paypal without webhook id", []string{"--scheme", "paypal"}, "webhook ID"},
		{"square without url", []string{"--scheme", "square", "--secret", "k", "--header", "x-square-hmacsha256-signature: AAAA"}, "needs --url"},
		{"unexpected argument", []string{"--scheme", "stripe", "--secret", "s", "body.json"}, "unexpected argument"},
		{"unknown flag", []string{"--scheme", "stripe", "--secret", "s", "--secrets", "s"}, "secrets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runVerifyCommand(t, "{}", tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q on a usage error", stdout)
			}
		})
	}
}

func TestVerifyCommand_Help(t *testing.T) {
	code, _, stderr := runVerifyCommand(t, "", "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"hookbridge verify --scheme NAME", "--cert-file", "HOOKBRIDGE_SECRET", "standard-webhooks"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("help does not mention %q", want)
		}
	}
}

func hmacHex(key, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// Published examples, from the same sources as in the inbound package's tests:
// Adyen/adyen-go-api-library, src/hmacvalidator/hmacvalidator_test.go, and
// PayPal's Java SDK sample ValidateCert.java with the certificate recorded in
// PayPal's Node SDK test mocks.
const (
	adyenPublishedBody = `{"live":"false","notificationItems":[{"NotificationRequestItem":{` +
		`"additionalData":{"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="},` +
		`"amount":{"currency":"EUR","value":1000},"eventCode":"EVENT","merchantAccountCode":"merchantAccount",` +
		`"merchantReference":"reference","originalReference":"originalReference","pspReference":"pspReference","success":"true"}}]}`

	paypalPublishedSig  = "vSOIQFIZQHv8G2vpbOpD/4fSC4/MYhdHyv+AmgJyeJQq6q5avWyHIe/zL6qO5hle192HSqKbYveLoFXGJun2od2zXN3Q45VBXwdX3woXYGaNq532flAtiYin+tQ/0pNwRDsVIufCxa3a8HskaXy+YEfXNnwCSL287esD3HgOHmuAs0mYKQdbR4e8Evk8XOOQaZzGeV7GNXXz19gzzvyHbsbHmDz5VoRl9so5OoHqvnc5RtgjZfG8KA9lXh2MTPSbtdTLQb9ikKYnOGM+FasFMxk5stJisgmxaefpO9Q1qm3rCjaJ29aAOyDNr3Q7WkeN3w4bSXtFMwyRBOF28pJg9g=="
	paypalPublishedBody = `{"id":"WH-2W7266712B616591M-36507203HX6402335","create_time":"2015-05-12T18:14:14Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","summary":"Payment completed for $ 20.0 USD","resource":{"id":"7DW85331GX749735N","create_time":"2015-05-12T18:13:18Z","update_time":"2015-05-12T18:13:36Z","amount":{"total":"20.00","currency":"USD"},"payment_mode":"INSTANT_TRANSFER","state":"completed","protection_eligibility":"ELIGIBLE","protection_eligibility_type":"ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE","parent_payment":"PAY-1A142943SV880364LKVJEFPQ","transaction_fee":{"value":"0.88","currency":"USD"},"links":[{"href":"https://api.sandbox.paypal.com/v1/payments/sale/7DW85331GX749735N","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/payments/sale/7DW85331GX749735N/refund","rel":"refund","method":"POST"},{"href":"https://api.sandbox.paypal.com/v1/payments/payment/PAY-1A142943SV880364LKVJEFPQ","rel":"parent_payment","method":"GET"}]},"links":[{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2W7266712B616591M-36507203HX6402335","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2W7266712B616591M-36507203HX6402335/resend","rel":"resend","method":"POST"}]}`
	paypalPublishedCert = `-----BEGIN CERTIFICATE-----
MIIHqDCCBpCgAwIBAgIQCSVMkxB1Kw9SPZtpAr3lTDANBgkqhkiG9w0BAQsFADB1
MQswCQYDVQQGEwJVUzEVMBMGA1UEChMMRGlnaUNlcnQgSW5jMRkwFwYDVQQLExB3
d3cuZGlnaWNlcnQuY29tMTQwMgYDVQQDEytEaWdpQ2VydCBTSEEyIEV4dGVuZGVk
IFZhbGlkYXRpb24gU2VydmVyIENBMB4XDTE1MDMxODAwMDAwMFoXDTE3MDMyMjEy
MDAwMFowggElMR0wGwYDVQQPDBRQcml2YXRlIE9yZ2FuaXphdGlvbjETMBEGCysG
AQQBgjc8AgEDEwJVUzEZMBcGCysGAQQBgjc8AgECEwhEZWxhd2FyZTEQMA4GA1UE
BRMHMzAxNDI2NzEWMBQGA1UECRMNMjIxMSBOIDFzdCBTdDEOMAwGA1UEERMFOTUx
MzExCzAJBgNVBAYTAlVTMRMwEQYDVQQIEwpDYWxpZm9ybmlhMREwDwYDVQQHEwhT
YW4gSm9zZTEVMBMGA1UEChMMUGF5UGFsLCBJbmMuMRgwFgYDVQQLEw9QYXJ0bmVy
IFN1cHBvcnQxNDAyBgNVBAMTK21lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5zYW5k
Ym94LnBheXBhbC5jb20wggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDI
XgwJj1E+vPOLNA7e3nFsRpQq7G1CFcoCNeRgFIGRfd4itt2jBRPfHXf1eeXODQ6V
wTMP6rVYrI3HBQu5SZRZKO3gALPiBWTcz5FhVovYDz/d/DtasA5L7l1xmRM+GGPE
e/D3ETPeyym6GTAuIzR1ju1BuSQlVnIrcILDHrFZo0RyqFH1eNL3oYfgz+ZCv+WH
65rhS60VowiLAb2lsARckJ2P8wKIps3YUxAqVG5SJ9H49ueBDI01wEzE/+59J8s9
GThmbMTqP6x4MneAcGN1TPimGd9wZlbwwrCYDtCoqFDcxMVgvD83uPrIinFwTIOX
w63QSv8/+ANuawBcNJDrAgMBAAGjggOAMIIDfDAfBgNVHSMEGDAWgBQ901Cl1qCt
7vNKYApl0yHU+PjWDzAdBgNVHQ4EFgQUt5yLggZOjjfzULzZCgX2KZO3R/gwNgYD
VR0RBC8wLYIrbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gucGF5cGFs
LmNvbTAOBgNVHQ8BAf8EBAMCBaAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUF
BwMCMHUGA1UdHwRuMGwwNKAyoDCGLmh0dHA6Ly9jcmwzLmRpZ2ljZXJ0LmNvbS9z
aGEyLWV2LXNlcnZlci1nMS5jcmwwNKAyoDCGLmh0dHA6Ly9jcmw0LmRpZ2ljZXJ0
LmNvbS9zaGEyLWV2LXNlcnZlci1nMS5jcmwwQgYDVR0gBDswOTA3BglghkgBhv1s
AgEwKjAoBggrBgEFBQcCARYcaHR0cHM6Ly93d3cuZGlnaWNlcnQuY29tL0NQUzCB
iAYIKwYBBQUHAQEEfDB6MCQGCCsGAQUFBzABhhhodHRwOi8vb2NzcC5kaWdpY2Vy
dC5jb20wUgYIKwYBBQUHMAKGRmh0dHA6Ly9jYWNlcnRzLmRpZ2ljZXJ0LmNvbS9E
aWdpQ2VydFNIQTJFeHRlbmRlZFZhbGlkYXRpb25TZXJ2ZXJDQS5jcnQwDAYDVR0T
AQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFnAHUApLkJkLQYWBSHuxOi
zGdwCjw1mAT5G9+443fNDsgN3BAAAAFMLovtNgAABAMARjBEAiBTR7r3p76qUJzF
23lsbD/cLsA0KlxoJRSIvIK0OIYWiQIgVQWja8tWBlpcoFP30Iym7IuczitSazpH
fhKAVroTgXgAdgBo9pj4H2SCvjqM7rkoHUz8cVFdZ5PURNEKZ6y7T0/7xAAAAUwu
i+z4AAAEAwBHMEUCIEP3VYyLQB7lOgFo4WstyOurmRe3xa0OVaeFL/bDohHOAiEA
+xQrRVAfaeT4qBdBJzLyVLU4V9bh/qBMXJdjvYujhAcAdgBWFAaaL9fC7NP14b1E
sj7HRna5vJkRXMDvlJhV1onQ3QAAAUwui+6EAAAEAwBHMEUCIQC/YUc5X6xyb3ho
o4VMSJqSoNg9KKkvLh9nUQCdwHi3/QIgNwcBc9ZZCR/aWXQ7hKH6d39kpkDX2Z43
XPy/Kl5sKI4wDQYJKoZIhvcNAQELBQADggEBAHixEZNpb0M1MsvsfNI6lLKxrs9s
JkcBcmxrFyhTC8KP+Qp+Z1fnMRQwpTLIMr1+uAMqCPAnIShGHeFNJpUFSMyW4o0l
+pZGz/L/YJBs7XP3ChSGC17ZKeGSQFfMqMQXfY/L6+n/1HkAwqmewqUMEuUmWN3F
kXJqVngIYGZtxXRyiv2azLOhrNP8BgNZK6d2gVxntQfGr4hnd8Juq8SJy/S4xpPY
YPD8vW7/wSOdAe1/kU38QwDVBQ5PJePS2WFwz8YA/eKcyg9lfsianfw35SjehJbn
wGwzUbjtibyJnv3eAeYDGxaI6vbuoE99pSmYGIwSBLJwZamJHjci6HL6wLg=
-----END CERTIFICATE-----
`
)
