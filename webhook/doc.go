// Package webhook signs and verifies webhooks under the Standard Webhooks
// scheme (https://www.standardwebhooks.com/), the scheme Hookbridge signs its
// deliveries with and the one Svix uses. It depends on the standard library
// only, so receivers can import it without taking on anything else.
//
// Every message carries three headers: webhook-id (a unique message id, the
// same on every retry), webhook-timestamp (unix seconds of this attempt) and
// webhook-signature. The signed content is
//
//	id + "." + timestamp + "." + body
//
// and the signature header holds one or more space-separated entries: "v1,"
// and the base64 HMAC-SHA256 of the content under a whsec_ secret, or "v1a,"
// and the base64 Ed25519 signature under a whsk_ private key. While a secret
// is rotated the sender signs with both the old and the new one.
//
// # Receiving
//
// Build a Verifier once, then verify each request with its raw body:
//
//	verifier, err := webhook.NewVerifier(os.Getenv("WEBHOOK_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.HandleFunc("POST /webhooks", func(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "cannot read body", http.StatusBadRequest)
//			return
//		}
//		if err := verifier.Verify(body, r.Header); err != nil {
//			http.Error(w, "invalid signature", http.StatusUnauthorized)
//			return
//		}
//		// The body is authentic. Drop it if webhook-id was seen before,
//		// otherwise handle it, then answer 2xx.
//	})
//
// # Invariants
//
//   - Verification fails closed: a message is accepted only if its timestamp
//     is within the tolerance (five minutes by default, both ways) and at
//     least one signature entry matches one of the verifier's keys.
//     Signatures are compared in constant time.
//   - Entries of unknown versions are skipped, never rejected, so a sender
//     can add a scheme without breaking receivers that do not know it.
//   - The svix-id, svix-timestamp and svix-signature headers are read when
//     the webhook-* ones are absent; what a Signer produces verifies with
//     Svix's libraries, and the other way round.
//   - A Signer and a Verifier are safe for concurrent use. Signing with HMAC
//     keys into a buffer of sufficient capacity (AppendSignature) does not
//     allocate.
package webhook
