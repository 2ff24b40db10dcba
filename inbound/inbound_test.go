package inbound_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// workingCredentials has usable credentials for every scheme.
var workingCredentials = map[string]inbound.Credentials{
	"standard-webhooks": {Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	"stripe":            {Secret: "whsec_test"},
	"adyen":             {Secret: "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"},
	"adyen-hmac-header": {Secret: "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"},
	"square":            {Secret: "signature-key"},
	"checkout":          {Secret: "signature-key"},
	"braintree":         {Secret: "private_key", PublicKey: "public_key"},
	"paypal":            {KeyID: "WEBHOOK1", CertPEM: []byte(paypalSandboxCert)},
	"razorpay":          {Secret: "webhook-secret"},
	"gocardless":        {Secret: "endpoint-secret"},
	"shopify":           {Secret: "api-secret"},
	"mollie":            {Secret: "signing-secret"},
	"worldpay":          {Secret: "shared-secret"},
	"mercadopago":       {Secret: "signature-secret"},
	"hmac":              {Secret: "secret", HMAC: inbound.HMACOptions{Header: "X-Signature"}},
}

func TestNamesAndRegistry(t *testing.T) {
	t.Parallel()
	names := inbound.Names()
	if len(names) != len(workingCredentials) {
		t.Fatalf("Names() = %q; the test knows %d schemes", names, len(workingCredentials))
	}
	for i, name := range names {
		if i > 0 && names[i-1] >= name {
			t.Errorf("Names() not sorted: %q before %q", names[i-1], name)
		}
		creds, ok := workingCredentials[name]
		if !ok {
			t.Errorf("scheme %q has no test credentials", name)
			continue
		}
		s := mustNew(t, name, creds)
		if s.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, s.Name())
		}
	}
}

func TestNewUnknownSchemeListsKnownOnes(t *testing.T) {
	t.Parallel()
	_, err := inbound.New("strype", inbound.Credentials{Secret: "x"})
	if !errors.Is(err, inbound.ErrConfig) {
		t.Fatalf("New(unknown) = %v, want ErrConfig", err)
	}
	for _, name := range inbound.Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

func TestNewRefusesUnusableCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme string
		creds  inbound.Credentials
		want   string // part of the error
	}{
		{"stripe", inbound.Credentials{}, "signing secret"},
		{"standard-webhooks", inbound.Credentials{}, "whsec_"},
		{"standard-webhooks", inbound.Credentials{Secret: "whsec_!!!"}, "base64"},
		{"standard-webhooks", inbound.Credentials{PublicKey: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "public key"},
		{"adyen", inbound.Credentials{Secret: "not hex"}, "not hex"},
		{"adyen", inbound.Credentials{}, "HMAC key"},
		{"adyen-hmac-header", inbound.Credentials{Secret: "abc"}, "not hex"},
		{"braintree", inbound.Credentials{Secret: "private"}, "public key"},
		{"braintree", inbound.Credentials{PublicKey: "public"}, "private key"},
		{"paypal", inbound.Credentials{}, "webhook ID"},
		{"paypal", inbound.Credentials{KeyID: "W", CertPEM: []byte("not a certificate")}, "certificate"},
		{"paypal", inbound.Credentials{KeyID: "W", CertPEM: []byte(otherCAPEM(t))}, "message-verification"},
		{"square", inbound.Credentials{}, "signature key"},
		{"checkout", inbound.Credentials{}, "signature key"},
		{"razorpay", inbound.Credentials{}, "secret"},
		{"gocardless", inbound.Credentials{}, "secret"},
		{"shopify", inbound.Credentials{}, "secret"},
		{"mollie", inbound.Credentials{}, "secret"},
		{"worldpay", inbound.Credentials{}, "secret"},
		{"mercadopago", inbound.Credentials{}, "secret"},
		{"hmac", inbound.Credentials{Secret: "s"}, "header"},
		{"hmac", inbound.Credentials{Secret: "s", HMAC: inbound.HMACOptions{Header: "X-Sig", Algorithm: "md5"}}, "md5"},
		{"hmac", inbound.Credentials{Secret: "s", HMAC: inbound.HMACOptions{Header: "X-Sig", Encoding: "base32"}}, "base32"},
		{"hmac", inbound.Credentials{HMAC: inbound.HMACOptions{Header: "X-Sig"}}, "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.scheme+"/"+tc.want, func(t *testing.T) {
			t.Parallel()
			_, err := inbound.New(tc.scheme, tc.creds)
			if !errors.Is(err, inbound.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%s) = %v, want ErrConfig mentioning %q", tc.scheme, err, tc.want)
			}
		})
	}
}

// Every scheme refuses an empty body, and a nil request, before looking at
// anything else.
func TestEveryScheme_EmptyBodyIsNeverValid(t *testing.T) {
	t.Parallel()
	for _, name := range inbound.Names() {
		s := mustNew(t, name, workingCredentials[name])
		for _, req := range []*inbound.Request{
			nil,
			{Header: http.Header{}, Now: testNow},
			{Body: []byte{}, Header: http.Header{"Stripe-Signature": {"t=1,v1=00"}}, URL: "https://hooks.example/in/src_1", Now: testNow},
		} {
			v, err := s.Verify(context.Background(), req)
			if inbound.ReasonOf(err) != inbound.ReasonEmptyBody {
				t.Errorf("%s: Verify(empty) = %+v, %v; want %s", name, v, err, inbound.ReasonEmptyBody)
			}
		}
	}
}

func TestAcknowledgements(t *testing.T) {
	t.Parallel()
	for _, name := range inbound.Names() {
		ack := mustNew(t, name, workingCredentials[name]).Ack()
		if ack.Status < 200 || ack.Status > 299 {
			t.Errorf("%s: Ack().Status = %d, want 2xx", name, ack.Status)
		}
		wantBody := ""
		if strings.HasPrefix(name, "adyen") {
			wantBody = "[accepted]"
		}
		if string(ack.Body) != wantBody {
			t.Errorf("%s: Ack().Body = %q, want %q", name, ack.Body, wantBody)
		}
	}
	// The body handed out is the caller's to change.
	s := mustNew(t, "adyen", workingCredentials["adyen"])
	s.Ack().Body[0] = 'X'
	if got := string(s.Ack().Body); got != "[accepted]" {
		t.Errorf("Ack body after a caller changed its copy = %q", got)
	}
}

func TestVerifyHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "stripe", workingCredentials["stripe"])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Verify(ctx, &inbound.Request{Body: []byte("{}"), Header: http.Header{}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify(cancelled) = %v, want context.Canceled", err)
	}
}

func TestErrorFormatAndTemporary(t *testing.T) {
	t.Parallel()
	e := &inbound.Error{Scheme: "stripe", Reason: inbound.ReasonTooOld, Detail: "signed 10m0s before this clock"}
	if got, want := e.Error(), "stripe: timestamp_too_old: signed 10m0s before this clock"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Temporary() {
		t.Error("a stale timestamp is not temporary")
	}
	if !(&inbound.Error{Reason: inbound.ReasonCertificateUnavailable}).Temporary() {
		t.Error("an unavailable certificate is temporary")
	}
	if inbound.ReasonOf(errors.New("other")) != "" || inbound.ReasonOf(nil) != "" {
		t.Error("ReasonOf of a non-refusal is not empty")
	}
}

// The zero Request.Now is the real clock: a request signed now verifies, one
// signed an hour ago does not.
func TestZeroNowIsTheRealClock(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "stripe", inbound.Credentials{Secret: "whsec_clock"})
	body := `{"id":"evt_clock"}`
	for _, tc := range []struct {
		signed time.Time
		want   inbound.Reason
	}{
		{time.Now(), ""},
		{time.Now().Add(-time.Hour), inbound.ReasonTooOld},
	} {
		ts := unix(tc.signed)
		h := headers("Stripe-Signature", "t="+ts+",v1="+stripeSig("whsec_clock", ts, body))
		v, err := s.Verify(context.Background(), &inbound.Request{Body: []byte(body), Header: h})
		wantIDs := []string{"evt_clock"}
		if tc.want != "" {
			wantIDs = nil
		}
		checkOutcome(t, v, err, tc.want, wantIDs)
	}
}
