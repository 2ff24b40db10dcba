package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge/webhook"
)

// A receiver: read the raw body, verify it, and only then act on it.
func ExampleVerifier_Verify() {
	// The endpoint's signing secret, shown in the Hookbridge portal.
	verifier, err := webhook.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verify the bytes as received: decoding and re-encoding JSON
		// would change them.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(body, r.Header); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// Deliveries are at least once: skip a webhook-id seen before.
		fmt.Println("accepted", r.Header.Get(webhook.HeaderID))
		w.WriteHeader(http.StatusNoContent)
	})

	// A request as Hookbridge sends it, and a forged copy.
	body := []byte(`{"type":"payment.captured","data":{"id":"pay_1"}}`)
	signer, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	for _, payload := range [][]byte{body, bytes.Replace(body, []byte("pay_1"), []byte("pay_2"), 1)} {
		req := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(payload))
		signer.SetHeaders(req.Header, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Now(), body)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// accepted msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
	// 204
	// 401
}

// Tools that check a recorded request fix the clock with VerifyAt, and tell
// failures apart with errors.Is.
func ExampleVerifier_VerifyAt() {
	verifier, err := webhook.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)

	sent := time.Unix(1614265330, 0)
	fmt.Println(verifier.VerifyAt(sent.Add(time.Minute), body, h))

	err = verifier.VerifyAt(sent.Add(time.Hour), body, h)
	fmt.Println(errors.Is(err, webhook.ErrMessageTooOld))
	fmt.Println(err)

	err = verifier.VerifyAt(sent, []byte(`{"test": 0}`), h)
	fmt.Println(errors.Is(err, webhook.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
	// webhook: message timestamp too old: sent 1h0m0s ago, tolerance 5m0s
	// true
}

// The dispatcher's side: sign each request just before sending it.
func ExampleSigner_SetHeaders() {
	signer, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	req, err := http.NewRequest(http.MethodPost, "https://receiver.example/webhooks", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	signer.SetHeaders(req.Header, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)

	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		fmt.Printf("%s: %s\n", name, req.Header.Get(name))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// On a hot path, append into a reused buffer: with HMAC keys this does not
// allocate.
func ExampleSigner_AppendSignature() {
	signer, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 0, signer.SignatureLen())
	for _, id := range []string{"msg_1", "msg_2"} {
		buf = signer.AppendSignature(buf[:0], id, 1614265330, []byte(`{}`))
		fmt.Printf("%s %s\n", id, buf)
	}
	// Output:
	// msg_1 v1,ZztYR0IIDCBCUcYzh8ZE+qsQWpIgtHU7R1hpe8htaD4=
	// msg_2 v1,OA+zEDWPuGuOUOAU25UHVFVREYbDsQP1iR+RgbS++7c=
}

// Rotating a secret: for a while the sender signs with the new and the old
// secret, so receivers can switch at their own pace.
func ExampleNewSigner_rotation() {
	oldSecret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	newSecret, err := webhook.NewSecret()
	if err != nil {
		log.Fatal(err)
	}
	signer, err := webhook.NewSigner(newSecret, oldSecret)
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{}`)
	now := time.Now()
	h := http.Header{}
	signer.SetHeaders(h, "msg_1", now, body)
	fmt.Println(len(strings.Fields(h.Get(webhook.HeaderSignature))), "signatures")

	// A receiver still holding the old secret verifies, as does one that
	// already has the new one.
	for _, secret := range []string{oldSecret, newSecret} {
		verifier, err := webhook.NewVerifier(secret)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(verifier.VerifyAt(now, body, h))
	}
	// Output:
	// 2 signatures
	// <nil>
	// <nil>
}

// Ed25519 (v1a) signatures let receivers verify with a public key that
// cannot sign.
func ExampleNewKeyPair() {
	publicKey, privateKey, err := webhook.NewKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	signer, err := webhook.NewSigner(privateKey) // kept by the sender
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := webhook.NewVerifier(publicKey) // given to the receiver
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"type":"order.ready"}`)
	now := time.Now()
	h := http.Header{}
	signer.SetHeaders(h, "msg_1", now, body)
	fmt.Println(strings.HasPrefix(h.Get(webhook.HeaderSignature), "v1a,"))
	fmt.Println(verifier.VerifyAt(now, body, h))
	// Output:
	// true
	// <nil>
}

func ExampleNewSecret() {
	secret, err := webhook.NewSecret()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(secret, "whsec_"), len(secret))
	// Output: true 38
}
