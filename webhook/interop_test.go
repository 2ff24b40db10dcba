package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/webhook"
)

// Receivers written against Svix's SDK must accept what Hookbridge sends, and
// this package must accept what Svix sends. Svix's Verify reads the real
// clock, so these messages are stamped with time.Now.

func TestSvixVerifiesOurSignatures(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"payment.captured","data":{"id":"pay_1"}}`)
	newSecret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		signWith  []string
		svixKey   string // the secret the Svix receiver holds
		svixNames bool   // send svix-* header names instead of webhook-*
	}{
		{"webhook headers", []string{vectorSecret}, vectorSecret, false},
		{"svix headers", []string{vectorSecret}, vectorSecret, true},
		{"receiver holds the secret without prefix", []string{vectorSecret}, strings.TrimPrefix(vectorSecret, "whsec_"), false},
		{"new secret", []string{newSecret}, newSecret, false},
		{"rotation, receiver has the new secret", []string{newSecret, vectorSecret}, newSecret, false},
		{"rotation, receiver has the old secret", []string{newSecret, vectorSecret}, vectorSecret, true},
		// Svix's SDK skips v1a entries; the HMAC entry beside it still counts.
		{"ed25519 entry beside", []string{svixPrivateKey, vectorSecret}, vectorSecret, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			mustSigner(t, tc.signWith...).SetHeaders(h, "msg_interop", time.Now(), body)
			if tc.svixNames {
				h = renameToSvix(h)
			}
			wh, err := svix.NewWebhook(tc.svixKey)
			if err != nil {
				t.Fatalf("svix.NewWebhook: %v", err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Errorf("svix Verify: %v", err)
			}
			if err := wh.Verify([]byte(strings.Replace(string(body), "pay_1", "pay_2", 1)), h); err == nil {
				t.Error("svix Verify accepted a tampered body")
			}
		})
	}
}

func TestWeVerifySvixSignatures(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"refund.succeeded","data":{"id":"re_1"}}`)
	wh, err := svix.NewWebhook(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}

	// Svix's signer and ours agree on the specification's vector.
	got, err := wh.Sign(vectorID, vectorTime, []byte(vectorPayload))
	if err != nil || got != vectorSignature {
		t.Fatalf("svix Sign(vector) = %q, %v; want %q", got, err, vectorSignature)
	}

	now := time.Now()
	sig, err := wh.Sign("msg_from_svix", now, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, svixNames := range []bool{true, false} {
		h := header("msg_from_svix", now.Unix(), sig)
		if svixNames {
			h = renameToSvix(h)
		}
		for _, secrets := range [][]string{
			{vectorSecret},
			{strings.TrimPrefix(vectorSecret, "whsec_")},
			{otherSecret, vectorSecret},
		} {
			v := mustVerifier(t, secrets...)
			if err := v.Verify(body, h); err != nil {
				t.Errorf("svix names %v, secrets %d: Verify: %v", svixNames, len(secrets), err)
			}
			checkErr(t, v.Verify([]byte(`{}`), h), webhook.ErrInvalidSignature, "")
		}
	}
}

// renameToSvix moves the webhook-* headers to their svix-* names, as the Svix
// service sends them.
func renameToSvix(h http.Header) http.Header {
	out := http.Header{}
	out.Set(webhook.SvixHeaderID, h.Get(webhook.HeaderID))
	out.Set(webhook.SvixHeaderTimestamp, h.Get(webhook.HeaderTimestamp))
	out.Set(webhook.SvixHeaderSignature, h.Get(webhook.HeaderSignature))
	return out
}
